"""The parts of an execution that pauses: what follows ``pd.flow.delay``, ``suspend``
and ``rerun``. Pure: no Docker, no threads.

On the platform, a workflow that pauses at the end of a step continues later as "a
separate instance of the workflow code": a new execution, with a new ``context.id`` and
the same ``trace_id``, whose ``pd.steps`` still holds what the earlier steps returned and
exported. In pdee that later part is an arrival on the virtual clock, which the
scheduler places like any event: warm on the same EE, on another one, or cold after the
EE expired.

- ``delay(ms)``: the next step runs ``ms`` later.
- ``rerun(ms, context, max_retries)``: the same step runs again ``ms`` later, with
  ``pd.context["run"]`` = ``{"runs": n + 1, "context": context}``; past ``max_retries``
  reruns the step's call does not pause (the runtime decides that) and the workflow goes
  on.
- ``suspend(timeout_ms)``: the next step runs when someone calls its ``resume_url``:
  ``resume_after_s`` later (``pdee run --resume-after``), with ``resume_data`` as the
  suspended step's ``$resume_data`` export; without it, or past the timeout, the
  suspend is cancelled and the later steps do not run. On ``pdee serve`` (``by_url``)
  the part waits, until its timeout, for a call to its ``resume_url`` (the runner's
  ``engine.flow_urls``); a call to a ``cancel_url`` cancels any paused part.

A run spans at most a century of virtual time (``pdee.plan.events.MAX_SPAN_S``): a part
that would start past it is not run, and its pause's outcome says so (a yearly rerun
loop ends there, with the run's report, rather than past the year 9999).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from ..plan.events import MAX_SPAN_S, MAX_SPAN_YEARS
from ..results.records import Execution, Pause
from ..runtime import protocol

YEAR_S = MAX_SPAN_S / MAX_SPAN_YEARS
# The outcome of a suspend waiting for its resume_url (pdee serve), until it is resumed
# or cancelled.
WAITING = "waiting for its resume_url"
# Why a later part never ran: serve --reload deployed code with other steps before it.
REDEPLOYED = "redeployed: its steps changed"


@dataclass(frozen=True)
class Part:
    """What one part of an execution needs to run: its event, where it starts, and what
    the earlier parts left it."""

    index: int  # the part's own execution index
    first_index: int  # the index of the execution's first part (its own, for part 1)
    number: int = 1  # 1 for the execution's first part
    event: dict[str, Any] | None = None  # the trigger's event (None: the default one)
    trace_id: str | None = None  # the first part's, for the later ones
    start_step: int = 0  # the index of the step the part starts at
    prior_steps: dict[str, Any] = field(default_factory=dict)  # pd.steps of earlier parts
    run: dict[str, Any] | None = None  # pd.context["run"] of the first step, when rerun
    attempt: int = 1  # auto-retry: which attempt at its first step (2 and on: a retry)
    # Bodies the event refers to as pdee-blob://<token> (pdee serve's uploads): each
    # token's base64 ``data`` and content ``type``, served to the steps in the EE.
    blobs: dict[str, dict[str, str]] | None = field(default=None, repr=False)

    def following(
        self,
        index: int,
        start_step: int,
        prior_steps: dict[str, Any],
        run: dict[str, Any] | None = None,
        attempt: int = 1,
    ) -> Part:
        """The part after this one, as execution ``index``: the same execution (its
        first part, event, trace id and uploads), from step ``start_step`` on, with
        ``prior_steps`` as its ``pd.steps``."""
        return Part(
            index=index,
            first_index=self.first_index,
            number=self.number + 1,
            event=self.event,
            trace_id=self.trace_id,
            start_step=start_step,
            prior_steps=prior_steps,
            run=run,
            attempt=attempt,
            blobs=self.blobs,
        )

    def message(self) -> protocol.RunPart:
        """What the runtime's ``run`` message gets beyond the event and context."""
        extra: protocol.RunPart = {"blobs": self.blobs} if self.blobs else {}
        if self.number == 1:
            return extra
        return {
            **extra,
            "start_step": self.start_step,
            "prior_steps": self.prior_steps,
            "run": self.run,
        }


@dataclass(frozen=True)
class Resumption:
    """A paused execution's next part, arriving at virtual time ``at_s``."""

    at_s: float
    part: Part
    # A suspend waiting for its resume_url (pdee serve): at ``at_s``, its timeout, it is
    # cancelled rather than run.
    until_called: bool = False


def follow(
    part: Part,
    execution: Execution,
    step_names: list[str],
    end_s: float,
    next_index: int,
    resume_after_s: float | None,
    resume_data: Any = None,
    by_url: bool = False,
) -> tuple[Execution, Resumption | None]:
    """What comes after ``part``, which ended at virtual ``end_s`` as ``execution``: the
    execution's record with its pause's outcome, and the next part if there is one
    (``next_index`` is the index it takes). ``by_url``: the flow URLs answer (``pdee
    serve``), so a suspend waits for its ``resume_url`` until its timeout.
    """
    pause = execution.pause
    if pause is None:
        return execution, None
    done = {
        name: {"$return_value": step.return_value, **step.exports}
        for name, step in execution.steps.items()
    }
    prior = {**part.prior_steps, **done}
    at = step_names.index(pause.step)
    start, run, waiting = at + 1, None, False
    resume_at_s = end_s + pause.ms / 1000
    if pause.kind == "rerun":
        start = at
        runs = (part.run or {}).get("runs", 1) if part.start_step == at else 1
        run = {"runs": int(runs) + 1, "context": pause.context}
        prior.pop(pause.step, None)  # the step's own last result is not in its pd.steps
    elif pause.kind == "suspend":
        if resume_after_s is not None and resume_after_s * 1000 <= pause.ms:
            resume_at_s = end_s + resume_after_s
            prior[pause.step] = {**prior.get(pause.step, {}), "$resume_data": resume_data}
        elif by_url:  # resumed when its resume_url is called; cancelled at its timeout
            waiting = True
        else:
            return _with(execution, outcome="cancelled", resume_at_s=resume_at_s), None
    if start >= len(step_names):  # the last step delayed: nothing is left to run
        return _with(execution, outcome="nothing after it"), None
    if not resume_at_s <= MAX_SPAN_S:  # NaN too
        landing = resume_at_s if math.isfinite(resume_at_s) else None
        return _with(execution, outcome=past_the_clock(resume_at_s), resume_at_s=landing), None
    following = part.following(next_index, start, prior, run)
    if waiting:  # until its resume_url is called, or its timeout (``resume_at_s``)
        return _with(execution, outcome=WAITING, resume_at_s=resume_at_s), Resumption(
            resume_at_s, following, until_called=True
        )
    recorded = _with(execution, outcome="resumed", resume_at_s=resume_at_s, resumed_as=next_index)
    return recorded, Resumption(resume_at_s, following)


def resumed_by_url(resumption: Resumption, at_s: float, data: Any, step: str) -> Resumption:
    """``resumption`` as a call to its ``resume_url`` at ``at_s`` makes it: due now; a
    suspend's part with ``data`` as the suspended ``step``'s ``$resume_data`` (a delay's
    or a rerun's as it was, early)."""
    part = resumption.part
    if resumption.until_called:
        prior = {**part.prior_steps, step: {**part.prior_steps.get(step, {}), "$resume_data": data}}
        part = replace(part, prior_steps=prior)
    return Resumption(at_s, part)


def redeployed(execution: Execution) -> Execution:
    """``execution``'s record once a redeploy changed the workflow's steps before its
    next part ran (``pdee serve --reload``): that part never runs, as its start step
    means another step in the new code; its pause is cancelled, or its retry is not made
    (a record with neither to come is as it was)."""
    pause, retry = execution.pause, execution.retry
    if pause is not None and pause.outcome in ("resumed", WAITING):
        pause = replace(pause, outcome=f"cancelled ({REDEPLOYED})", resumed_as=None)
        execution = replace(execution, pause=pause)
    if retry is not None and retry.outcome == "retried":
        retry = replace(retry, outcome=f"not retried ({REDEPLOYED})", retried_as=None)
        execution = replace(execution, retry=retry)
    return execution


def past_the_clock(at_s: float) -> str:
    """The outcome of a pause whose next part would land at virtual ``at_s``, past the
    century pdee's virtual clock carries: the part is not run."""
    years = f"{at_s / YEAR_S:.1f} years" if math.isfinite(at_s) else "an unknown time"
    return (
        f"not run: it would start {years} into the run, past the {MAX_SPAN_YEARS} years "
        f"pdee's virtual clock carries"
    )


def _with(execution: Execution, **outcome: Any) -> Execution:
    assert execution.pause is not None
    return replace(execution, pause=replace(execution.pause, **outcome))


__all__ = [
    "REDEPLOYED",
    "WAITING",
    "Part",
    "Pause",
    "Resumption",
    "follow",
    "redeployed",
    "resumed_by_url",
]
