"""A run plan: every option and input checked, defaults applied, in one place.

``build_plan`` is what both ``pdee run`` and ``pdee.run`` call; its keyword arguments
are the CLI's options (sizes as ``"512MB"`` or bytes, durations in seconds), and every
mistake is a ``UsageError`` with the one-line message the CLI prints.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..lifecycle.cron import CronSchedule, CronTimes
from ..lifecycle.scheduler import (
    DEFAULT_CHAOS,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_INTERVAL_S,
    Arrivals,
    Mode,
    Policy,
)
from ..provision.image import DEFAULT_TAG
from ..provision.packages import Requirement
from ..runtime.expressions import steps_named
from .controls import QUEUES, Controls, check_cron_trigger, controls, cron_schedule
from .environment import build_env
from .events import MAX_SPAN_S, MAX_SPAN_YEARS, Schedule, load_events, load_schedule, parse_events
from .options import RunKeywords, RunOptions
from .props import with_inputs, with_results, with_stores
from .reading import dumps_checked, parse_json
from .requirements import requirements
from .sizes import format_size, parse_size, plural
from .steps import Step, StrPath, load_inputs, load_sources, read_json_file
from .synced import SyncedWorkflow

if TYPE_CHECKING:
    from typing_extensions import Unpack

PLATFORM_MAX_MEMORY = 10 * 2**30
# The platform runs on AWS Lambda, which gives one vCPU at 1,769MB of memory and CPU in
# proportion below that (inferred: the platform's tracebacks show Lambda's paths).
LAMBDA_MEMORY_PER_CPU = 1769 * 2**20
DEFAULT_CPUS = 1.0  # an EE's CPU limit unless told: one core, so the host stays responsive
MIN_CPUS = 0.01
PAGE = 4096
PLATFORM_MAX_TIMEOUT_S = 750.0
# The platform's default execution timeout by trigger: 30 s (HTTP, email), 60 s (timer).
DEFAULT_TIMEOUT_S = {"timer": 60.0}
HTTP_TIMEOUT_S = 30.0
TRIGGERS = ("http", "timer", "email")  # what --trigger names, for step files
# The start of the progress line a run under --debug-port prints as its first execution
# starts to wait for the debugger (the CLI prints the attach note then).
DEBUG_WAIT = "the first execution waits for a debugger on"
MAX_EES = 64  # pdee's own bound on --concurrency and --warm-workers, not the platform's
# The virtual clock's bounds: a gap between events (interval, idle timeout) of at most a
# year (the platform's longest delay), and a run that spans at most a century, so that
# every time it reaches stays within what datetime carries (see events.MAX_SPAN_S).
MAX_GAP_S = 365 * 86400.0
MAX_EVENTS = 10**12
MAX_TMP_BYTES = 2**40  # pdee's bound: /tmp is memory (tmpfs), 1TB is past any host
MIN_RATE_PER_MINUTE = 60.0 / MAX_GAP_S


@dataclass(frozen=True)
class RunPlan:
    """Everything a run was asked to do, checked."""

    steps: list[Step]
    events: list[dict[str, Any]] | None  # None: the trigger's default event for each one
    arrivals: Arrivals  # virtual arrival time of each execution, made as it is walked
    inputs: dict[str, Any]
    policy: Policy
    tmp_size_bytes: int
    memory_bytes: int
    timeout_s: float
    network: str = "bridge"
    image: str = DEFAULT_TAG
    arrivals_described: dict[str, Any] = field(default_factory=dict)
    origin: datetime | None = None  # the wall-clock time of virtual 0 (default: now)
    packages: list[Requirement] = field(default_factory=list)  # what the steps import
    offline: bool = False  # packages only from pdee's cache
    env: dict[str, str] = field(default_factory=dict, repr=False)  # secrets: never shown
    cpus: float = DEFAULT_CPUS
    cpus_from: str = "default"  # "default", "given" or "platform" (scaled with memory)
    allow_link_local: bool = False
    # Data store props: pd.inputs[name] is a Store kept in the file (None: for the run).
    data_stores: dict[str, Path | None] = field(default_factory=dict)
    # pd.flow.suspend: resumed this many virtual seconds later, with this $resume_data;
    # None: cancelled at the suspend's timeout.
    resume_after_s: float | None = None
    resume_data: Any = None
    workflow: SyncedWorkflow | None = None  # the synced workflow the steps came from
    recycle: bool = True  # a cold start may remake a used EE fresh instead of a new one
    given_trigger: str | None = None  # --trigger: step files' trigger (None: the default)
    # Where timeout_s came from: "given" (--timeout), "workflow.yaml" (its
    # settings.lambda_timeout) or "default" (the trigger's: 30 s, 60 s for a timer).
    timeout_from: str = "default"
    # The throttle and the event queue (--throttle, --queue-size, workflow.yaml's).
    controls: Controls = field(default_factory=Controls)
    cron: CronSchedule | None = None  # the timer's schedule the arrivals follow
    # Auto-retry of errored executions (--auto-retry, else workflow.yaml's setting).
    auto_retry: bool = False
    # --debug-port: the host port of the first Python step's debugger (the next step's
    # is one more, ...); None: no debugger, and nothing of one is loaded.
    debug_port: int | None = None

    @property
    def executions(self) -> int:
        return len(self.arrivals)

    @property
    def trigger(self) -> str:
        """What the default event and timeout are: http, timer, email or other (--trigger;
        else the synced workflow's first trigger; step files: http)."""
        if self.given_trigger is not None:
            return self.given_trigger
        return self.workflow.trigger if self.workflow is not None else "http"

    @property
    def notes(self) -> list[str]:
        """What pdee cannot do of this workflow, said once per run."""
        found = []
        workflow = self.workflow
        if workflow is not None and workflow.inactive:
            found.append(
                f"workflow {workflow.name} is inactive (inactive: true in workflow.yaml): the "
                f"platform does not run it; pdee runs it as asked"
            )
        if workflow is not None and workflow.disabled:
            names = ", ".join(workflow.disabled)
            steps = "step" if len(workflow.disabled) == 1 else "steps"
            found.append(
                f"pdee does not run the disabled {steps} {names} (disabled: true), as the "
                f"platform does not; later steps find no such step in pd.steps"
            )
        if workflow is not None:
            for synced in workflow.steps:
                if synced.filtered and not synced.disabled:
                    found.append(
                        f"step {synced.namespace}'s filter (_filter) is not evaluated: the "
                        f"step runs, and the workflow goes on, whatever its rules say"
                    )
        before = {"trigger"}  # what pd.steps holds when a step runs
        for step in self.steps:
            if step.action is not None and step.stand_in is None:
                found.append(f"step {step.name} runs {step.action} as pdee emulates it")
            if step.stand_in is not None:
                what = (
                    "it returns what --step-result gave"
                    if step.stand_in.given
                    else f"it returns null unless --step-result {step.name}=JSON says"
                )
                found.append(f"pdee does not run step {step.name} ({step.stand_in.what}); {what}")
            for prop, why in step.unset.items():
                found.append(
                    f"step {step.name}'s prop {prop} is {why}, which pdee cannot give: "
                    f'give pd.inputs["{prop}"] in --inputs under "$steps"'
                )
            for prop, value in step.expressions.items():
                for name in steps_named(value):
                    if name not in before:
                        found.append(
                            f"step {step.name}'s prop {prop} reads steps.{name}, which is not "
                            f"a step before it: pdee reads it as undefined"
                        )
            before.add(step.name)
        if self.trigger == "other" and self.workflow is not None and self.events is None:
            found.append(
                f"trigger {self.workflow.triggers[0]} is an app's event source: each "
                f"execution gets pdee's HTTP event; give the events it emits with --event-file"
            )
        return found + self.controls.notes

    @property
    def code_bytes(self) -> int:
        """What the steps' code takes in /tmp, where the platform keeps it."""
        return code_bytes(self.steps)


def code_bytes(steps: list[Step]) -> int:
    """What ``steps``' code takes in /tmp (tmpfs counts whole pages)."""
    return sum(-(-len(step.code.encode()) // PAGE) * PAGE for step in steps if step.runs)


def _arrivals(
    count: int | None,
    seed: int,
    interval: float | None,
    rate: float | None,
    schedule: Schedule | None,
    user_events: list[dict[str, Any]] | None,
    cron: CronSchedule | None = None,
) -> tuple[Arrivals, dict[str, Any]]:
    """The virtual arrival times, and how the report describes them."""
    _one_arrival_option(interval, rate, schedule, cron)
    if cron is not None:
        count = count if count is not None else len(user_events) if user_events else 1
        times = cron.times(datetime.now(timezone.utc), count)
        if count > 1:
            _check_span(count, times[1] - times[0], "--cron")
        described: dict[str, Any] = {
            "kind": "cron",
            "cron": cron.expression,
            "timezone": cron.timezone,
        }
        return Arrivals(count, seed, timestamps=times), described
    if schedule is not None:
        count = len(schedule.events) if count is None else count
        if count > len(schedule.events):
            raise UsageError(
                f"--events {count}: the schedule holds {plural(len(schedule.events), 'event')}; "
                f"give at most that many"
            )
        described = {"kind": "schedule"}
        return Arrivals(count, seed, timestamps=schedule.timestamps), described
    if count is None:
        count = len(user_events) if user_events else 1
    if rate is not None:
        if not rate >= MIN_RATE_PER_MINUTE:
            raise UsageError(
                f"--rate {rate:g}: give a positive number of events per minute, at least "
                f"{MIN_RATE_PER_MINUTE:.2g} (one a year)"
            )
        _check_span(count, 60.0 / rate, "--rate")
        described = {"kind": "rate", "per_minute": rate}
        return Arrivals(count, seed, rate_per_minute=rate), described
    interval = DEFAULT_INTERVAL_S if interval is None else interval
    if not 0 <= interval <= MAX_GAP_S:
        raise UsageError(f"--interval {interval:g}: give 0 (a burst) to {MAX_GAP_S:.0f} s (a year)")
    _check_span(count, interval, "--interval")
    described = {"kind": "interval", "interval_s": interval}
    return Arrivals(count, seed, interval_s=interval), described


def _cron_origin(arrivals: Arrivals) -> datetime | None:
    """The wall-clock time of virtual 0 for a cron schedule's arrivals: its first
    instant (None for other arrivals: the run's start)."""
    times = arrivals.timestamps
    if isinstance(times, CronTimes):
        return times.first()
    return None


def _one_arrival_option(*set_times: object) -> None:
    """Raises UsageError if more than one of ``--interval``, ``--rate``, ``--schedule``
    and ``--cron`` is given."""
    if sum(x is not None for x in set_times) > 1:
        raise UsageError(
            "--interval, --rate, --schedule and --cron each set arrival times; use one"
        )


def _check_span(count: int, gap_s: float, option: str) -> None:
    """Raises UsageError if ``count`` arrivals ``gap_s`` apart span more virtual time
    than pdee's clock carries."""
    if (count - 1) * gap_s > MAX_SPAN_S:
        raise UsageError(
            f"{option}: {count} events {gap_s:g} s apart span more than {MAX_SPAN_YEARS} "
            f"years of virtual time; give fewer events or a shorter gap"
        )


def _policy(
    mode: Mode,
    concurrency: int,
    idle_timeout: float | None,
    chaos: float | None,
    warm_workers: int,
    seed: int,
) -> Policy:
    if mode is not Mode.REALISTIC:
        for name, value in (("--idle-timeout", idle_timeout), ("--chaos", chaos)):
            if value is not None:
                raise UsageError(
                    f"{name} applies to --mode realistic only, not --mode {mode.value}"
                )
    if mode is Mode.COLD and warm_workers:
        raise UsageError("--warm-workers keeps EEs for reuse; --mode cold never reuses one")
    if not 1 <= concurrency <= MAX_EES:
        raise UsageError(f"--concurrency {concurrency}: give 1 to {MAX_EES}")
    if not 0 <= warm_workers <= MAX_EES:
        raise UsageError(f"--warm-workers {warm_workers}: give 0 to {MAX_EES}")
    if idle_timeout is not None and not 0 < idle_timeout <= MAX_GAP_S:
        raise UsageError(
            f"--idle-timeout {idle_timeout:g}: give a positive number of seconds, at most "
            f"{MAX_GAP_S:.0f} (a year)"
        )
    if chaos is not None and not 0 <= chaos <= 1:
        raise UsageError(f"--chaos {chaos:g}: give a probability from 0 to 1")
    return Policy(
        mode=mode,
        concurrency=concurrency,
        idle_timeout_s=DEFAULT_IDLE_TIMEOUT_S if idle_timeout is None else idle_timeout,
        chaos=DEFAULT_CHAOS if chaos is None else chaos,
        warm_workers=warm_workers,
        seed=seed,
    )


def _size(value: str | int, option: str) -> int:
    """Bytes of a size given as text (``"512MB"``) or as a number of bytes."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise UsageError(f"{option}: {value!r} is not a size; write it like 512MB or 2GB")
    if isinstance(value, int):
        if value <= 0:
            raise UsageError(f"{option}: {value} bytes; give a size like 512MB or 2GB")
        return value
    return parse_size(value, option)


def _cpus(cpus: float | str | None, memory_bytes: int) -> tuple[float, str]:
    """Each EE's CPU limit and where it came from."""
    if cpus is None:
        return DEFAULT_CPUS, "default"
    if cpus == "platform":
        return max(MIN_CPUS, round(memory_bytes / LAMBDA_MEMORY_PER_CPU, 3)), "platform"
    shown = cpus if isinstance(cpus, str) and cpus.isprintable() else repr(cpus)
    try:
        value = float(cpus)
    except (TypeError, ValueError):
        raise UsageError(
            f"--cpus {shown}: give a number of CPUs like 0.5 or 2, or platform"
        ) from None
    if isinstance(cpus, bool) or not MIN_CPUS <= value <= MAX_EES:
        raise UsageError(f"--cpus {shown}: give {MIN_CPUS} to {MAX_EES} CPUs, or platform")
    return value, "given"


def _mode(mode: Mode | str) -> Mode:
    try:
        return Mode(mode.lower() if isinstance(mode, str) else mode)  # "Warm" as the CLI takes it
    except ValueError:
        choices = ", ".join(m.value for m in Mode)
        raise UsageError(f"--mode {mode}: give one of {choices}") from None


def _number(value: Any, option: str, kind: type = float) -> Any:
    """``value`` as an int or a finite float, refusing text, bools, NaN and infinities
    (API callers' mistakes; the CLI's parser lets ``nan`` and ``inf`` through)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{option}: {value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{option} {value}: give a finite number")
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise UsageError(f"{option}: {value!r} is not a whole number")
    return kind(value)


def _resume(after: float | None, data: Any) -> tuple[float | None, Any]:
    """``--resume-after`` and ``--resume-data`` (JSON text, ``@FILE``, or, from Python,
    any JSON data).

    Raises:
        UsageError: a time out of range, data that is not JSON, or data without a time.
    """
    after = _number(after, "--resume-after")
    if after is not None and not 0 < after <= MAX_GAP_S:
        raise UsageError(
            f"--resume-after {after:g}: give a positive number of seconds, at most "
            f"{MAX_GAP_S:.0f} (a year)"
        )
    if data is None:
        return after, None
    if after is None:
        raise UsageError("--resume-data is what resumes a suspend: give --resume-after too")
    if isinstance(data, str) and data.startswith("@"):
        return after, read_json_file(Path(data[1:]), "resume data file")
    if isinstance(data, str):
        return after, parse_json(data, "--resume-data")
    dumps_checked(data, "resume_data")
    return after, data


def _user_events(
    event: str | dict[str, Any] | None, event_file: StrPath | None
) -> list[dict[str, Any]] | None:
    if isinstance(event, dict):
        if event_file is not None:
            raise UsageError("--event and --event-file both give events; use one of them")
        return parse_events(dumps_checked(event, "--event"), "--event")
    return load_events(event, Path(event_file) if event_file is not None else None)


def _trigger(given: str | None, synced: SyncedWorkflow | None) -> str | None:
    """``--trigger``, checked: one of ``TRIGGERS``, and, for a synced workflow, the one its
    ``workflow.yaml`` names (the files are what the platform runs; one that names no
    trigger takes it).

    Raises:
        UsageError: another trigger, or one that differs from the workflow's.
    """
    if given is None:
        return None
    given = given.lower() if isinstance(given, str) else given  # "HTTP", as --mode Warm
    if given not in TRIGGERS:
        shown = given[:40] if isinstance(given, str) and given.isprintable() else repr(given)
        raise UsageError(f"--trigger {shown}: give one of {', '.join(TRIGGERS)}")
    if synced is not None and synced.triggers and synced.trigger != given:
        raise UsageError(
            f"--trigger {given}: workflow {synced.name}'s trigger is {synced.trigger} "
            f"({synced.triggers[0]} in its workflow.yaml); drop --trigger"
        )
    return given


def build_plan(steps: Sequence[StrPath], **options: Unpack[RunKeywords]) -> RunPlan:
    """Check every option and input file; the plan to run.

    Args:
        steps: the step files, in workflow order; or one workflow folder synced by the
            platform's GitHub Sync (its ``workflow.yaml`` gives the steps).
        options: ``pdee run``'s options (``RunOptions`` declares each one's type, default
            and meaning): sizes as ``"512MB"`` or bytes, durations in seconds, files as
            paths or their content as Python data.

    Raises:
        UsageError: anything wrong, with how to fix it (a keyword that is no option too).
    """
    return plan_from(steps, RunOptions.of(options, "build_plan"))


def _memory(value: str | int) -> int:
    memory_bytes = _size(value, "--memory")
    if memory_bytes > PLATFORM_MAX_MEMORY:
        raise UsageError(f"--memory {value} is over the platform's maximum of 10GB")
    return memory_bytes


def _timeout(value: Any) -> float | None:
    timeout: float | None = _number(value, "--timeout")
    if timeout is not None and not 0 < timeout <= PLATFORM_MAX_TIMEOUT_S:
        raise UsageError(f"--timeout {timeout:g} is out of range; the platform allows 0 < s <= 750")
    return timeout


def _events(value: Any) -> int | None:
    events: int | None = _number(value, "--events", int)
    if events is not None and not 1 <= events <= MAX_EVENTS:
        raise UsageError(f"--events {events}: give at least 1 execution, at most {MAX_EVENTS:,}")
    return events


def _tmp_size(value: str | int) -> int:
    tmp_size_bytes = _size(value, "--tmp-size")
    if tmp_size_bytes > MAX_TMP_BYTES:
        raise UsageError(
            f"--tmp-size {value} is over pdee's bound of {format_size(MAX_TMP_BYTES)} "
            f"(the platform's /tmp is 2GB); give a smaller size"
        )
    return tmp_size_bytes


def validate_options(given: RunOptions) -> None:
    """Check the options on their own, reading no file: what no edit of a step or input
    file can fix (``build_plan`` checks it first; ``--watch`` before it waits).

    Raises:
        UsageError: an option out of range or of the wrong kind, or two that contradict
            each other.
    """
    _trigger(given.trigger, None)
    if given.cron is not None:
        cron_schedule(given.cron, given.timezone, None)
    _one_arrival_option(given.interval, given.rate, given.schedule, given.cron)
    if given.schedule is not None and (given.event is not None or given.event_file is not None):
        raise UsageError("--schedule holds the events; drop --event and --event-file")
    if given.event is not None:  # inline JSON (with --event-file: refused, read neither)
        _user_events(given.event, given.event_file)
    memory_bytes = _memory(given.memory)
    _timeout(given.timeout)
    _events(given.events)
    _cpus(given.cpus, memory_bytes)
    _number(given.seed, "--seed", int)
    _arrivals(  # the spacing's ranges; --cron's is checked above, --schedule's file later
        1, 0, _number(given.interval, "--interval"), _number(given.rate, "--rate"), None, None
    )
    port = _number(given.debug_port, "--debug-port", int)
    if port is not None:
        _port_range(port, 1)  # a port for each Python step: checked with the steps
    _one_at_a_time(given)
    _policy(
        _mode(given.mode),
        _number(given.concurrency, "--concurrency", int),
        _number(given.idle_timeout, "--idle-timeout"),
        _number(given.chaos, "--chaos"),
        _number(given.warm_workers, "--warm-workers", int),
        0,
    )
    data = given.resume_data
    if isinstance(data, str) and data.startswith("@") and given.resume_after is not None:
        data = None  # @FILE: a watched file, read with the others
    _resume(given.resume_after, data)
    _tmp_size(given.tmp_size)
    controls(given.throttle, _number(given.queue_size, "--queue-size", int), None, QUEUES)
    _auto_retry(given.auto_retry, None)


def plan_from(steps: Sequence[StrPath], given: RunOptions) -> RunPlan:
    """``build_plan`` for options already taken in (``RunOptions.of``, which names the
    function a misspelled keyword was given to).

    Raises:
        UsageError: anything wrong, with how to fix it.
    """
    if isinstance(steps, (str, PathLike)):
        raise UsageError("steps: give a list of step files, e.g. ['step.py']")
    validate_options(given)  # what no edit of a file fixes, before the files are read
    workflow, synced = load_sources([Path(step) for step in steps])
    given_trigger = _trigger(given.trigger, synced)
    # --cron, else (when no other option sets arrival times) the synced timer's schedule.
    spaced = any(x is not None for x in (given.interval, given.rate, given.schedule))
    cron, _ = cron_schedule(
        given.cron, given.timezone, synced if given.cron is None and not spaced else None
    )
    if given.cron is not None:
        check_cron_trigger(given_trigger, synced)
        if synced is None:
            given_trigger = "timer"  # step files on a schedule: a timer's events and timeout
    trigger = given_trigger or (synced.trigger if synced is not None else "http")
    user_events = _user_events(given.event, given.event_file)
    schedule = load_schedule(Path(given.schedule)) if given.schedule is not None else None
    memory_bytes = _memory(given.memory)
    timeout = _timeout(given.timeout)
    timeout_from = "given"
    if timeout is None and synced is not None and synced.lambda_timeout_s is not None:
        timeout, timeout_from = synced.lambda_timeout_s, "workflow.yaml"
    if timeout is None:
        timeout, timeout_from = DEFAULT_TIMEOUT_S.get(trigger, HTTP_TIMEOUT_S), "default"
    events = _events(given.events)
    cpus_value, cpus_from = _cpus(given.cpus, memory_bytes)
    seed = given.seed
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    arrivals, described = _arrivals(
        events,
        _number(seed, "--seed", int),
        _number(given.interval, "--interval"),
        _number(given.rate, "--rate"),
        schedule,
        user_events,
        cron,
    )
    debug_port = _debug_port(given, workflow)
    policy = _policy(
        _mode(given.mode),
        _number(given.concurrency, "--concurrency", int),
        _number(given.idle_timeout, "--idle-timeout"),
        _number(given.chaos, "--chaos"),
        _number(given.warm_workers, "--warm-workers", int),
        seed,
    )
    if isinstance(given.inputs, dict):
        dumps_checked(given.inputs, "inputs")
        inputs = given.inputs
    else:
        inputs = load_inputs(Path(given.inputs) if given.inputs is not None else None)
    resumed_after, resumed_with = _resume(given.resume_after, given.resume_data)
    workflow, stores = with_stores(with_inputs(workflow, inputs), given.data_stores)
    workflow = with_results(workflow, given.step_results)
    tmp_size_bytes = _tmp_size(given.tmp_size)
    code = code_bytes(workflow)
    if code >= tmp_size_bytes:
        raise UsageError(
            f"--tmp-size {given.tmp_size}: the steps' own code takes {format_size(code)} of "
            f"/tmp (the platform keeps it in /tmp/__pdg__), leaving nothing; give a larger size"
        )
    return RunPlan(
        steps=workflow,
        events=schedule.events if schedule else user_events,
        controls=controls(
            given.throttle, _number(given.queue_size, "--queue-size", int), synced, trigger
        ),
        cron=cron,
        arrivals=arrivals,
        inputs=inputs,
        policy=policy,
        tmp_size_bytes=tmp_size_bytes,
        memory_bytes=memory_bytes,
        timeout_s=timeout,
        network=given.network,
        image=given.image,
        arrivals_described=described,
        origin=schedule.origin if schedule else _cron_origin(arrivals),
        packages=requirements([step for step in workflow if step.runs]),
        offline=bool(given.offline),
        env=build_env(given.env, Path(given.env_file) if given.env_file is not None else None),
        cpus=cpus_value,
        cpus_from=cpus_from,
        allow_link_local=bool(given.allow_link_local),
        data_stores=stores,
        resume_after_s=resumed_after,
        resume_data=resumed_with,
        workflow=synced,
        recycle=bool(given.recycle),
        given_trigger=given_trigger,
        timeout_from=timeout_from,
        auto_retry=_auto_retry(given.auto_retry, synced),
        debug_port=debug_port,
    )


def _auto_retry(given: Any, synced: SyncedWorkflow | None) -> bool:
    """--auto-retry (or --no-auto-retry), else the synced workflow's setting, else off.

    Raises:
        UsageError: the value given is not true, false or None.
    """
    if given is None:
        return bool(synced is not None and synced.auto_retry)
    if not isinstance(given, bool):
        raise UsageError(f"auto_retry {given!r}: give True or False")
    return given


def _debug_port(given: RunOptions, steps: Sequence[Step]) -> int | None:
    """--debug-port's port, checked: a port for each Python step (``debugged_steps``)
    from it on, and one execution at a time.

    Raises:
        UsageError: a port out of range, no step to debug, or --concurrency above 1.
    """
    port: int | None = _number(given.debug_port, "--debug-port", int)
    if port is None:
        return None
    count = len(debugged_steps(steps))
    if count == 0:
        raise UsageError("--debug-port: the workflow has no Python step to debug")
    _port_range(port, count)
    _one_at_a_time(given)
    return port


def _port_range(port: int, count: int) -> None:
    """Raises UsageError if ``count`` ports from ``port`` on are not all 1024 to 65535."""
    if not 1024 <= port <= 65536 - count:
        last = f" (and the next {count - 1} for the other Python steps)" if count > 1 else ""
        raise UsageError(f"--debug-port {port}: give a port from 1024 to {65536 - count}{last}")


def _one_at_a_time(given: RunOptions) -> None:
    """Raises UsageError if --debug-port is given with --concurrency above 1."""
    concurrency = _number(given.concurrency, "--concurrency", int)
    if given.debug_port is not None and concurrency != 1:
        raise UsageError(
            f"--debug-port debugs one execution at a time: drop --concurrency {concurrency}"
        )


def debugged_steps(steps: Sequence[Step]) -> list[Step]:
    """The steps a debugger attaches to under --debug-port: the user's Python code (not
    stand-ins, not the registry actions pdee emulates), in workflow order."""
    return [step for step in steps if step.runs and step.action is None]
