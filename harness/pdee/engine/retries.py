"""Auto-retry: an errored part's retry as a later part of the same execution. Pure: no
Docker, no threads (the runner calls it on its own thread).

On the platform, with "Auto-retry Errors" on, an execution whose step raised is retried
"from that failed step": the earlier steps do not run again, and what they returned and
exported is kept, as for the later part of a paused execution (``parts``). So a retry
is an arrival on the run's clock (virtual for ``run`` and ``check``, real for ``serve``),
placed by the scheduler like any event: warm on the EE whose /tmp still holds what the
failed attempt wrote, on another one, or cold after its EE expired (the later retries
come hours apart, past the idle timeout). ``pdee.lifecycle.retry`` has the timing and
the rules (8 retries, none after out-of-memory or a timeout).

The failed step "will export a ``$summary`` property that tells you how many times the
step has been retried, and an ``$attempt`` object" with ``error``, ``cancel_url``,
``rerun_url`` and ``resume_ts`` (the settings page): pdee adds both to the failed step's
exports in the failed part's record. Its ``cancel_url`` and ``rerun_url`` are pdee's own
(``URL_BASE``) and answer nowhere, on ``serve`` too: the retry cannot be cancelled or run
early. (``serve`` answers the flow URLs of paused parts only, ``engine.flow_urls``: a
failed part's own flow URLs lead to no retry.)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..lifecycle.retry import MAX_RETRIES, backoff_s, why_not
from ..lifecycle.scheduler import Decision, Start
from ..plan.events import MAX_SPAN_S, iso_ms
from ..results.records import Execution, Retry, StepResult
from ..runtime.pd import URL_BASE
from .parts import Part, Resumption, past_the_clock


@dataclass
class Retries:
    """A run's auto-retry: whether it is on, and what it must remember between parts
    (what each EE's last execution left in /tmp, what each failed attempt left)."""

    on: bool
    step_names: list[str]
    origin: datetime  # the wall-clock time of the run's time 0
    left_by_ee: dict[str, list[str]] = field(default_factory=dict)
    # A retry's index: the EE its failed attempt ran on, and the files it left in /tmp.
    failed_left: dict[int, tuple[str, list[str]]] = field(default_factory=dict)

    def after(
        self,
        part: Part,
        execution: Execution,
        decision: Decision,
        end_s: float,
        next_index: int,
        step_names: list[str] | None = None,
    ) -> tuple[Execution, Resumption | None]:
        """The record of ``part`` (which ended at ``end_s`` as ``execution``) with what
        auto-retry adds, and its retry if it gets one (``next_index`` is the index the
        retry takes; ``step_names``: the steps the part ran, default the run's)."""
        names = self.step_names if step_names is None else step_names
        left_before = self.left_by_ee.get(decision.ee, [])
        self.left_by_ee[decision.ee] = list(execution.tmp.some_files) if execution.tmp else []
        if part.attempt > 1:
            ee, files = self.failed_left.pop(part.index, ("", []))
            same = decision.start is Start.WARM and decision.ee == ee
            found = [path for path in files if path in left_before] if same else []
            execution = replace(execution, attempt=part.attempt, found_files=found)
        if not self.on or execution.passed:
            return execution, None
        error = execution.error
        step = error.step if error is not None and error.step in names else None
        at = names.index(step) if step is not None else -1
        attempt = part.attempt if at == part.start_step else 1
        why = why_not(execution.status.value, step, attempt)
        if step is None or why is not None:
            if step is not None and attempt > MAX_RETRIES:  # the last try: still exported
                execution = _exported(execution, step, attempt, None)
            if step is None:
                step = error.step if error is not None and error.step else "?"
            return replace(execution, retry=Retry(step, attempt, str(why))), None
        at_s = end_s + backoff_s(attempt)
        if not at_s <= MAX_SPAN_S:
            retry = Retry(step, attempt, past_the_clock(at_s))
            return replace(execution, retry=retry), None
        done = {
            name: {"$return_value": result.return_value, **result.exports}
            for name, result in execution.steps.items()
            if name != step
        }
        following = part.following(
            next_index,
            at,
            {**part.prior_steps, **done},
            run=part.run if at == part.start_step else None,
            attempt=attempt + 1,
        )
        self.failed_left[next_index] = (decision.ee, self.left_by_ee[decision.ee])
        execution = _exported(execution, step, attempt, self.origin + timedelta(seconds=at_s))
        retry = Retry(step, attempt, "retried", resume_at_s=at_s, retried_as=next_index)
        return replace(execution, retry=retry), Resumption(at_s, following)


def pending(execution: Execution) -> Execution:
    """The record of a failed part whose retry never ran: the run ended before its time
    (``pdee serve`` stopped, or a Ctrl-C)."""
    assert execution.retry is not None
    return replace(execution, retry=replace(execution.retry, outcome="pending", retried_as=None))


def _exported(execution: Execution, step: str, attempt: int, next_at: datetime | None) -> Execution:
    """``execution`` with the failed step's ``$summary`` and ``$attempt`` exports."""
    error = execution.error
    assert error is not None
    if next_at is None:
        summary = f"failed on attempt {attempt}, after {attempt - 1} retries: no more retries"
    else:
        summary = (
            f"retried {attempt - 1} of {MAX_RETRIES} times; retry {attempt} at {iso_ms(next_at)}"
        )
    where = f"{URL_BASE}/{execution.context_id or 'execution'}/retry"
    details: dict[str, Any] = {
        "error": {"name": error.type, "message": error.message, "stack": error.traceback},
        "cancel_url": f"{where}/cancel",
        "rerun_url": f"{where}/rerun",
        "resume_ts": iso_ms(next_at) if next_at is not None else None,
    }
    result = execution.steps.get(step) or StepResult(None, {}, "", 0.0)
    exports = {**result.exports, "$summary": summary, "$attempt": details}
    return replace(execution, steps={**execution.steps, step: replace(result, exports=exports)})
