"""``pdee check`` and ``pdee.check``: the two runs behind the verdicts (``verdicts``).

- a **warm** run: one EE, a cold first execution, then ``warm`` executions on the same
  EE, all with the same event, so that each execution meets what the earlier ones left;
- a **chaos** run: the platform's realistic lifecycle with concurrency 2 and frequent
  random destruction, so that no EE sees every event.

The two run at once, each with its own EEs, unless data stores kept in files make the
chaos run depend on what the warm run left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..backends import Backend
from ..engine.execute import connections_for, docker_backend, execute
from ..engine.runner import Runner
from ..errors import UsageError
from ..interrupts import Interrupted, Terminated, deferred
from ..plan.events import trigger_event
from ..plan.options import CHECK_OPTION_NAMES, RunOptions
from ..plan.run_plan import RunPlan, build_plan
from ..plan.steps import StrPath
from ..results.records import Execution, RunResult
from .retries import judge_retries
from .verdicts import DEFAULT_HORIZON, CheckResult, final_attempt, judge

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..plan.options import CheckKeywords

DEFAULT_WARM = 5
CHAOS = 0.25
CHAOS_CONCURRENCY = 2
CHAOS_EVENTS = 12
CHAOS_INTERVAL_S = 2.0
# check's own keyword arguments, beside the run options it takes.
CHECK_KEYWORDS = ("warm", "horizon", "backend", "on_run")


def check_warm(warm: Any) -> None:
    """Raises UsageError if ``warm`` is not 1 to 1000 warm executions."""
    if isinstance(warm, bool) or not isinstance(warm, int) or not 1 <= warm <= 1000:
        raise UsageError(f"--warm {warm!r}: give 1 to 1000 warm executions")


def check_horizon(horizon: Any) -> None:
    """Raises UsageError if ``horizon`` is not a number of executions."""
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise UsageError(f"--horizon {horizon!r}: give at least 1 execution")


def plans(
    steps: Sequence[StrPath], *, warm: int = DEFAULT_WARM, **options: Unpack[CheckKeywords]
) -> tuple[RunPlan, RunPlan]:
    """The warm run's plan and the chaos run's, checked.

    Raises:
        UsageError: an option is wrong.
    """
    check_warm(warm)
    RunOptions.of(options, "check", CHECK_OPTION_NAMES, CHECK_KEYWORDS)
    chaos_plan = build_plan(
        steps,
        events=CHAOS_EVENTS,
        mode="realistic",
        concurrency=CHAOS_CONCURRENCY,
        chaos=CHAOS,
        # A --cron schedule spaces the chaos run's events instead.
        interval=None if options.get("cron") is not None else CHAOS_INTERVAL_S,
        **options,
    )
    # One event for every warm execution, so that a different result means a different
    # EE state, not a different event.
    first = (
        chaos_plan.events[0]
        if chaos_plan.events
        else trigger_event(chaos_plan.trigger, 0, "eopdeecheck", datetime.now(timezone.utc), None)
    )
    warm_options: dict[str, Any] = {**options, "event_file": None, "event": first}
    warm_options["seed"] = chaos_plan.policy.seed
    warm_plan = build_plan(steps, events=1 + warm, mode="warm", **warm_options)
    return warm_plan, chaos_plan


def check(
    steps: Sequence[StrPath],
    *,
    warm: int = DEFAULT_WARM,
    horizon: int = DEFAULT_HORIZON,
    backend: Backend | None = None,
    on_run: Callable[[str], None] | None = None,
    **options: Unpack[CheckKeywords],
) -> CheckResult:
    """Run the scenarios of ``pdee check`` and judge them.

    Example::

        result = pdee.check(["upload.py"])
        assert result.safe, [v.summary for v in result.verdicts]

    Args:
        steps: the step files, in workflow order, or one workflow folder.
        warm: warm executions on one EE after the cold one.
        horizon: executions within which growth must not fill /tmp or memory.
        backend: where EEs run (default: the Docker daemon, as ``pdee.run``).
        on_run: told the name of each run as it starts ("warm", "chaos").
        options: the options ``pdee.run`` takes that describe the EE and the step's
            inputs (``memory``, ``tmp_size``, ``event``, ``data_stores``...:
            ``CheckKeywords``), with the same defaults.

    Returns:
        The verdicts (``.safe``, ``.verdict("warm")``) and the runs behind them.

    Raises:
        UsageError: a bad argument (``--horizon`` below 1 too), or a keyword that is not
            one of check's; and what ``pdee.run`` raises.
    """
    check_horizon(horizon)
    warm_plan, chaos_plan = plans(steps, warm=warm, **options)
    started = time.monotonic()
    tell = on_run or (lambda _name: None)
    if any(path is not None for path in warm_plan.data_stores.values()):
        # Stores kept in files: the chaos run sees what the warm run left, in order.
        tell("warm")
        watch = ColdWatch()
        warm_run = watch.run(warm_plan, backend)
        chaos_run = None
        if _cold_passed(warm_run):
            tell("chaos")
            chaos_run = execute(chaos_plan, backend)
    else:
        warm_run, chaos_run = _both(warm_plan, chaos_plan, backend, tell)
    runs = {"warm": warm_run} | ({"chaos": chaos_run} if chaos_run else {})
    verdicts = judge(warm_run, chaos_run, horizon)
    if warm_plan.auto_retry:  # what each retry did again, or met in /tmp
        verdicts.append(judge_retries(runs))
    return CheckResult(verdicts, runs, time.monotonic() - started)


def _cold_passed(warm_run: RunResult) -> bool:
    return bool(warm_run.executions) and final_attempt(warm_run, warm_run.executions[0]).passed


class ColdWatch:
    """Ends a check's runs as soon as the warm run's cold execution fails: that failure
    is the check's verdict, every other one is moot (``judge``), and the rest of the
    runs, which may take a while, would be spent for nothing."""

    def __init__(self) -> None:
        self.failed = threading.Event()
        self.runners: list[Runner] = []  # the runs to end
        self.cold_attempts = {0}  # the cold execution, and its retries (auto-retry)

    def __call__(self, execution: Execution) -> None:
        """A warm run's ``on_execution``. With auto-retry, the cold execution's failed
        attempt that a retry follows is not its end: its last attempt is."""
        if execution.index not in self.cold_attempts:
            return
        if execution.retried and execution.retry is not None:
            self.cold_attempts.add(execution.retry.retried_as or 0)
        elif not execution.passed and not self.failed.is_set():
            self.failed.set()
            for runner in self.runners:
                runner.abort()

    def runner(self, backend: Backend, warm_plan: RunPlan) -> Runner:
        """The warm run, watched."""
        warm = Runner(backend, warm_plan, on_execution=self)
        self.runners.append(warm)
        return warm

    def finish(self, warm: Runner) -> RunResult:
        """Run ``warm`` (``runner``); what it did, also when the watch ended it.

        Raises:
            What ``Runner.run`` raises, but the end the watch asked for.
        """
        try:
            return warm.run()
        except Terminated:
            if not self.failed.is_set():
                raise
            warm.result.interrupted = False  # ended on purpose, not by a signal
            return warm.result

    def run(self, warm_plan: RunPlan, backend: Backend | None) -> RunResult:
        """The warm run alone, on ``backend`` (or the Docker daemon), watched."""
        if backend is None:
            with docker_backend(connections_for(warm_plan)) as owned:
                return self.run(warm_plan, owned)
        warm = self.runner(backend, warm_plan)
        try:
            return self.finish(warm)
        except KeyboardInterrupt:  # as ``execute`` says them
            raise Interrupted(warm.result) from None
        except Terminated:
            raise Terminated(warm.result) from None


def _both(
    warm_plan: RunPlan,
    chaos_plan: RunPlan,
    backend: Backend | None,
    tell: Callable[[str], None],
) -> tuple[RunResult, RunResult | None]:
    """The warm and the chaos run at once, each with its own EEs: a check takes about
    as long as the longer run. The chaos run is judged only if the warm run's cold
    execution passed, as when one ran after the other.

    Raises:
        What ``pdee.run`` raises, from either run; a Ctrl-C or SIGTERM ends both, every
        EE removed.
    """
    if backend is None:
        wanted = connections_for(warm_plan) + connections_for(chaos_plan)
        with docker_backend(wanted) as owned:
            return _both(warm_plan, chaos_plan, owned, tell)
    chaos = Runner(backend, chaos_plan)
    watch = ColdWatch()
    warm = watch.runner(backend, warm_plan)
    watch.runners.append(chaos)
    outcome: dict[str, Any] = {}

    def run_chaos() -> None:
        try:
            outcome["result"] = chaos.run()
        except BaseException as exc:  # told to the main thread below
            outcome["error"] = exc

    thread = threading.Thread(target=run_chaos, name="pdee-check-chaos", daemon=True)
    tell("warm")
    tell("chaos")
    thread.start()
    try:
        warm_run = watch.finish(warm)
        thread.join()
    except BaseException:
        chaos.abort()
        with deferred():  # a second Ctrl-C waits until the chaos run's EEs are gone
            thread.join()
        raise
    if watch.failed.is_set():  # the chaos run was ended with it
        return warm_run, None
    if "error" in outcome:
        raise outcome["error"]
    return warm_run, outcome["result"] if _cold_passed(warm_run) else None
