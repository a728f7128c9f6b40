"""Typed records of a run: what every execution and every EE did.

These are what ``pdee.run`` returns and what the report, the terminal and the JUnit
writer read. Each has ``to_json()``, the report's form of it (a contract: CI jobs parse
it), and ``from_json``, back from it. The runtime's replies become records in one place,
``results.reply``.

A run's executions are an ``ExecutionLog`` (``results.log``): a sequence whose records
wait on disk (logs included), with only a ``Brief`` of each in memory, so that a run of
100,000 executions, or of megabytes of logs each, takes no more of pdee's memory than a
short one.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..lifecycle.retry import AutoRetrySetting
from ..lifecycle.scheduler import Retire, Start
from ..plan.settings import ControlsSetting
from ..plan.sizes import plural
from .log import ExecutionLog

# The paths of the files an execution left in /tmp that stay in memory for the tables.
BRIEF_FILES_NAMED = 3


class Status(str, enum.Enum):
    """How an execution ended; ``execution.status == "ok"`` holds, as it is a ``str``."""

    OK = "ok"  # every step returned
    EXIT = "exit"  # a step ended the workflow with pd.flow.exit: a success
    ERROR = "error"  # a step raised, returned non-JSON, or the payload was too big
    TIMEOUT = "timeout"  # the execution ran past --timeout
    OOM = "oom"  # a step ran out of memory
    # Never run: the event queue was full ("Event Queue Full"), or a throttle of 0 paused
    # the workflow; the platform shows it as an error.
    DROPPED = "dropped"

    @property
    def passed(self) -> bool:
        """True for ``ok`` and ``exit``, which the platform counts as successes."""
        return self in (Status.OK, Status.EXIT)


class Ended:
    """``passed`` and ``failed`` from a ``status`` and ``retried``: one rule for an
    execution and for its ``Brief``."""

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def status(self) -> Status: ...

        @property
        def retried(self) -> bool: ...

    @property
    def passed(self) -> bool:
        """It ended ok or by ``pd.flow.exit``: a success on the platform."""
        return self.status.passed

    @property
    def failed(self) -> bool:
        """It failed and no retry followed: the execution failed."""
        return not self.passed and not self.retried


@dataclass(frozen=True)
class StepError:
    """Why an execution failed: the exception's type and message, the step, its traceback."""

    type: str
    message: str
    step: str | None = None
    traceback: str | None = None
    file: str | None = None  # the step's file, as given to pdee
    line: int | None = None  # the step's line nearest to where it was raised

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepError:
        return cls(
            type=str(data.get("type")),
            message=str(data.get("message")),
            step=data.get("step"),
            traceback=data.get("traceback"),
            file=data.get("file"),
            line=data.get("line"),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # shallow: its values are JSON already


@dataclass(frozen=True)
class StepResult:
    """What one step of one execution gave: return value, exports, logs, time.

    ``logs`` holds stdout and stderr as they came; ``stderr_lines`` numbers (from 0)
    its lines that came from stderr.
    """

    return_value: Any
    exports: dict[str, Any]
    logs: str
    duration_ms: float
    logs_truncated: bool = False
    stderr_lines: list[int] = field(default_factory=list)
    stand_in: bool = False  # a step pdee did not run: the return value it was given
    # Files in /tmp the step opened through Python without emptying them (to read,
    # append or update), up to 20: what an auto-retry did with what its failed attempt left.
    tmp_opened: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepResult:
        return cls(
            return_value=data.get("return_value"),
            exports=data.get("exports") or {},
            logs=data.get("logs", ""),
            duration_ms=float(data.get("duration_ms", 0.0)),
            logs_truncated=bool(data.get("logs_truncated", False)),
            stderr_lines=list(data.get("stderr_lines") or []),
            stand_in=bool(data.get("stand_in", False)),
            tmp_opened=[str(path) for path in data.get("tmp_opened") or []],
        )

    def log_lines(self) -> list[tuple[str, str]]:
        """The logs line by line, each with the stream it came from."""
        stderr = set(self.stderr_lines)
        return [
            ("stderr" if number in stderr else "stdout", line)
            for number, line in enumerate(self.logs.splitlines())
        ]

    def to_json(self) -> dict[str, Any]:
        data = {
            "return_value": self.return_value,
            "exports": self.exports,
            "logs": self.logs,
            "stderr_lines": self.stderr_lines,
            "duration_ms": self.duration_ms,
        }
        if self.logs_truncated:
            data["logs_truncated"] = True
        if self.stand_in:
            data["stand_in"] = True
        if self.tmp_opened:
            data["tmp_opened"] = self.tmp_opened
        return data


@dataclass(frozen=True)
class TmpUsage:
    """What /tmp held when the execution ended (bytes used, as ``df``, and files), the
    most it held while the steps ran, its size, and how much of it the workflow's
    packages take (in ``/tmp/__pdg__/dist/python``)."""

    used_bytes: int
    peak_used_bytes: int
    files: int
    size_bytes: int
    packages_bytes: int = 0
    # False when a step deleted the platform's own files (/tmp/__pdg__: steps' code and
    # packages): on the platform, this EE's next restarted step process fails.
    platform_files_intact: bool = True
    # Up to 10 of the files /tmp held at the end, outside /tmp/__pdg__ (paths).
    some_files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # shallow: its values are JSON already


@dataclass(frozen=True)
class MemoryUsage:
    """The step processes' peak memory during the execution, and their limit."""

    peak_bytes: int
    limit_bytes: int

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # shallow: its values are JSON already


@dataclass(frozen=True)
class Pause:
    """How an execution paused after one of its steps (``pd.flow.delay``, ``suspend`` or
    ``rerun``), and what came of it."""

    kind: str  # "delay", "suspend" or "rerun"
    step: str  # the step that called it; the workflow paused at its end
    ms: float  # the delay, or the suspend's timeout
    resume_url: str
    cancel_url: str
    context: Any = None  # rerun's context
    # "resumed" (as execution ``resumed_as``, at virtual ``resume_at_s``), "cancelled"
    # (a suspend nobody resumed, or, on ``pdee serve``, any pause whose cancel_url was
    # called: its later steps do not run), "nothing after it", or "pending" (due at
    # ``resume_at_s``, but the run ended first: ``pdee serve`` stopped, or a Ctrl-C; its
    # later steps never ran). On ``pdee serve`` a suspend is "waiting for its resume_url"
    # (until ``resume_at_s``, its timeout) while its execution runs on.
    outcome: str | None = None
    resume_at_s: float | None = None
    resumed_as: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pause:
        return cls(
            kind=str(data["kind"]),
            step=str(data["step"]),
            ms=float(data["ms"]),
            resume_url=str(data["resume_url"]),
            cancel_url=str(data["cancel_url"]),
            context=data.get("context"),
            outcome=data.get("outcome"),
            resume_at_s=data.get("resume_at_s"),
            resumed_as=data.get("resumed_as"),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # shallow: its values are JSON already


@dataclass(frozen=True)
class Retry:
    """How an errored part was retried (auto-retry: ``pdee.engine.retries``), and what
    came of it: a retry is a later part of the same execution, from the failed step."""

    step: str  # the step that failed: the retry runs it again, and the steps after it
    attempt: int  # which attempt at that step failed (1: the first try; 9: the last)
    # "retried" (as execution ``retried_as``, at virtual ``resume_at_s``), "pending" (due
    # at ``resume_at_s``, but the run ended first), or why not ("not retried: ...").
    outcome: str
    resume_at_s: float | None = None
    retried_as: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Retry:
        return cls(
            step=str(data["step"]),
            attempt=int(data["attempt"]),
            outcome=str(data["outcome"]),
            resume_at_s=data.get("resume_at_s"),
            retried_as=data.get("retried_as"),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # shallow: its values are JSON already


@dataclass(frozen=True)
class StoreUse:
    """What one execution did with one data store: its reads and writes."""

    reads: int = 0
    writes: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # shallow: its values are JSON already


@dataclass(frozen=True)
class StoreAtEnd:
    """A data store as the run left it: where it is kept, and its records (each with
    its value and its expiry, a Unix time on the virtual clock, or None)."""

    name: str
    path: str | None  # None: it lived for the run only
    records: dict[str, dict[str, Any]]
    reads: int = 0  # over the whole run
    writes: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Debugged:
    """How a debugger held an execution (``--debug-port``): stopped in its steps, when
    its timeout did not run, and waiting for the debugger to attach (the first one)."""

    held_ms: float
    waited_ms: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Execution(Ended):
    """One event's execution: where it ran, how it ended, what each step gave."""

    index: int
    ee: str
    start: Start
    status: Status
    arrived_at_s: float  # virtual time the event arrived
    at_s: float  # virtual time it started (later if it waited for a busy EE)
    duration_ms: float
    error: StepError | None = None
    exit_reason: str | None = None
    respond: dict[str, Any] | None = None
    steps: dict[str, StepResult] = field(default_factory=dict)
    tmp: TmpUsage | None = None
    memory: MemoryUsage | None = None
    cold_start_ms: float | None = None
    restarted_steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stores: dict[str, StoreUse] = field(default_factory=dict)  # by data store prop
    context_id: str | None = None  # pd.steps["trigger"]["context"]["id"]: each part its own
    trace_id: str | None = None  # the same for every part of one execution
    part: int = 1  # 2 and on: a paused execution's later part, a new execution instance
    first_index: int | None = None  # the index of the execution's first part, for parts 2+
    pause: Pause | None = None  # how this part paused, if it did
    emails: list[dict[str, Any]] = field(default_factory=list)  # pd.send.email: never sent
    # Auto-retry: which attempt at its first step this part is (2 and on: a retry), how
    # its error was retried, the failed attempt's files a retry found in /tmp (None: not
    # a retry), and its data store writes ({store, op, key, step, digest}: kept only
    # with auto-retry, for pdee check's retry verdict).
    attempt: int = 1
    retry: Retry | None = None
    found_files: list[str] | None = None
    store_writes: list[dict[str, Any]] = field(default_factory=list)
    debug: Debugged | None = None  # run under --debug-port

    @property
    def retried(self) -> bool:
        """It failed and a retry followed: the execution's outcome is the retry's."""
        return self.retry is not None and self.retry.outcome == "retried"

    def __repr__(self) -> str:
        if self.status is Status.DROPPED:
            return f"<Execution #{self.index} dropped>"
        return f"<Execution #{self.index} {self.status.value} on {self.ee} ({self.start.value})>"

    @classmethod
    def not_run(cls, index: int, arrived_at_s: float, error: StepError) -> Execution:
        """The record of an arrival that never ran (``dropped``): no EE, no start."""
        at_s = round(arrived_at_s, 6)
        return cls(index, "", Start.COLD, Status.DROPPED, at_s, at_s, 0.0, error=error)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Execution:
        """The record back from its report form (``to_json``)."""
        tmp, memory, error = data.get("tmp"), data.get("memory"), data.get("error")
        return cls(
            index=int(data["index"]),
            ee=str(data["ee"] or ""),
            start=Start(data["start"] or Start.COLD),  # a dropped one has none
            status=Status(data["status"]),
            arrived_at_s=float(data["arrived_at_s"]),
            at_s=float(data["at_s"]),
            duration_ms=float(data["duration_ms"]),
            error=StepError.from_json(error) if error else None,
            exit_reason=data.get("exit_reason"),
            respond=data.get("respond"),
            steps={name: StepResult.from_json(step) for name, step in data["steps"].items()},
            tmp=TmpUsage(**tmp) if tmp else None,
            memory=MemoryUsage(**memory) if memory else None,
            cold_start_ms=data.get("cold_start_ms"),
            restarted_steps=list(data.get("restarted_steps", [])),
            notes=list(data.get("notes", [])),
            stores={name: StoreUse(**use) for name, use in data.get("stores", {}).items()},
            context_id=data.get("context_id"),
            trace_id=data.get("trace_id"),
            part=int(data.get("part", 1)),
            first_index=data.get("first_index"),
            pause=Pause.from_json(data["pause"]) if data.get("pause") else None,
            emails=list(data.get("emails", [])),
            attempt=int(data.get("attempt", 1)),
            retry=Retry.from_json(data["retry"]) if data.get("retry") else None,
            found_files=data.get("found_files"),
            store_writes=list(data.get("store_writes", [])),
            debug=Debugged(**data["debug"]) if data.get("debug") else None,
        )

    @property
    def brief(self) -> Brief:
        """What the tables and the summary need of it."""
        return Brief(
            index=self.index,
            ee=self.ee,
            start=self.start,
            status=self.status,
            at_s=self.at_s,
            duration_ms=self.duration_ms,
            tmp_used=self.tmp.used_bytes if self.tmp else None,
            tmp_peak=self.tmp.peak_used_bytes if self.tmp else None,
            packages_bytes=self.tmp.packages_bytes if self.tmp else 0,
            memory_peak=self.memory.peak_bytes if self.memory else None,
            flow=self.flow,
            tmp_files=self.tmp.files if self.tmp else 0,
            tmp_named=tuple(self.tmp.some_files[:BRIEF_FILES_NAMED]) if self.tmp else (),
            attempt=self.attempt,
            retried=self.retried,
            first_index=self.first_index,
        )

    @property
    def flow(self) -> str:
        """Where this part came from and where the execution went after it, in short."""
        came = f"part {self.part} of #{self.first_index}" if self.first_index is not None else ""
        if self.attempt > 1:  # an auto-retry, and the failed attempt's files it found
            came = f"retry {self.attempt - 1} of #{self.first_index} (part {self.part})"
            if self.found_files:
                came += f", found {', '.join(self.found_files[:3])}"
                came += " …" if len(self.found_files) > 3 else ""
        pause = self.pause
        went = ""
        if pause is not None:
            went = f"{pause.kind} {pause.ms / 1000:g}s after {pause.step}: "
            went += f"→ #{pause.resumed_as}" if pause.outcome == "resumed" else str(pause.outcome)
        retry = self.retry
        if retry is not None:
            went = f"attempt {retry.attempt} of {retry.step} failed: "
            went += f"retry → #{retry.retried_as}" if self.retried else retry.outcome
        return "; ".join(text for text in (came, went) if text)

    def to_json(self) -> dict[str, Any]:
        ran = self.status is not Status.DROPPED
        return {
            "index": self.index,
            "ee": self.ee if ran else None,
            "start": self.start.value if ran else None,
            "arrived_at_s": self.arrived_at_s,
            "at_s": self.at_s,
            "status": self.status.value,
            "error": self.error.to_json() if self.error else None,
            "exit_reason": self.exit_reason,
            "respond": self.respond,
            "steps": {name: step.to_json() for name, step in self.steps.items()},
            "tmp": self.tmp.to_json() if self.tmp else None,
            "memory": self.memory.to_json() if self.memory else None,
            "duration_ms": self.duration_ms,
            "cold_start_ms": self.cold_start_ms,
            "restarted_steps": self.restarted_steps,
            "notes": self.notes,
            "stores": {name: use.to_json() for name, use in self.stores.items()},
            "context_id": self.context_id,
            "trace_id": self.trace_id,
            "part": self.part,
            "first_index": self.first_index,
            "pause": self.pause.to_json() if self.pause else None,
            "emails": self.emails,
            "attempt": self.attempt,
            "retry": self.retry.to_json() if self.retry else None,
            "found_files": self.found_files,
            "store_writes": self.store_writes,
            "debug": self.debug.to_json() if self.debug else None,
        }


@dataclass(frozen=True, slots=True)
class Brief(Ended):
    """One execution in a few fields: what stays in memory of it during a run."""

    index: int
    ee: str
    start: Start
    status: Status
    at_s: float
    duration_ms: float
    tmp_used: int | None
    tmp_peak: int | None
    packages_bytes: int
    memory_peak: int | None
    flow: str = ""  # where a paused execution's parts went: "delay 1200s → #21"
    tmp_files: int = 0  # the files it left in /tmp (outside /tmp/__pdg__)
    tmp_named: tuple[str, ...] = ()  # the first few of them (up to BRIEF_FILES_NAMED)
    attempt: int = 1  # 2 and on: an auto-retry
    retried: bool = False  # it failed, and a retry followed
    first_index: int | None = None  # the execution's first part, for parts 2 and on


@dataclass(frozen=True)
class InstalledPackage:
    """A package every EE gets (dependencies included): its version, and the bytes it
    takes installed in /tmp."""

    name: str
    version: str
    bytes: int

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # shallow: its values are JSON already


@dataclass
class EELife:
    """One EE's life on the virtual clock: when it started, what it ran, why it went away."""

    id: str
    warm_worker: bool
    started_at_s: float
    executions: list[int] = field(default_factory=list)
    retired: Retire | None = None
    retired_at_s: float | None = None
    recycled: bool = False  # a used container made fresh again, not a new one

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "warm_worker": self.warm_worker,
            "started_at_s": self.started_at_s,
            "recycled": self.recycled,
            "executions": self.executions,
            "retired": self.retired.value if self.retired else None,
            "retired_at_s": self.retired_at_s,
        }


@dataclass(kw_only=True)
class Settings:
    """What the run was asked to do and what it ran on (the report's ``settings``, whose
    keys are these fields, in this order)."""

    mode: str
    concurrency: int
    idle_timeout_s: float
    chaos: float
    warm_workers: int
    arrivals: dict[str, Any]
    seed: int
    tmp_size_bytes: int
    memory_bytes: int
    container_memory_bytes: int
    timeout_s: float
    # Where timeout_s came from: "given", "workflow.yaml" (settings.lambda_timeout), "default"
    timeout_from: str = "default"
    # What gave the default event and timeout: http, timer, email or other (--trigger, else
    # the synced workflow's first trigger, else http).
    trigger: str = "http"
    python: str | None = None  # the EE's, from the first EE that starts
    python_note: str | None = None  # set when it is not the platform's
    memory_source: str | None = None  # where the EE's runtime reads step memory
    # The steps' wall clock: "virtual (time-machine 3.6.0, in the step's process)", the
    # fallback "virtual (time functions only: ...)", or "real" (serve).
    clock: str | None = None
    image: str
    image_id: str
    base_image: str | None
    network: str
    executions: int
    steps: list[str]
    pdee_version: str
    run_id: str
    # The packages every EE gets: name, version, bytes installed (dependencies included).
    packages: list[InstalledPackage] = field(default_factory=list)
    env: list[str] = field(default_factory=list)  # the variables' names (never values)
    cpus: float = 1.0  # each EE's CPU limit
    cpus_from: str = "default"  # "default", "given" or "platform" (scaled with memory)
    link_local: str = "blocked"  # whether EEs reach 169.254.0.0/16, and why
    # The data stores the steps get, by key (the prop, or a synced workflow's storeId):
    # the file each is kept in (None: the run's).
    data_stores: dict[str, str | None] = field(default_factory=dict)
    # The throttle and the event queue, and where each came from (``plan.controls``).
    controls: ControlsSetting = field(default_factory=ControlsSetting)
    # The synced workflow the steps came from: name, id, folder, triggers, trigger.
    workflow: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # what pdee cannot do of the workflow
    recycle: bool = True  # cold starts may remake used EEs fresh (see EELife.recycled)
    # Auto-retry of errored executions: their retries as later parts ("auto_retry" false:
    # off), with each retry's delay after the attempt before it (seconds).
    auto_retry: AutoRetrySetting = field(default_factory=AutoRetrySetting)
    debug_port: int | None = None  # --debug-port: the run was debugged

    def to_json(self) -> dict[str, Any]:
        return {item.name: _json(getattr(self, item.name)) for item in fields(self)}


def _json(value: Any) -> Any:
    """A field's report form: a record's ``to_json()`` (in a list too), else a copy."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, list):
        return [_json(item) for item in value]
    return deepcopy(value)


@dataclass(frozen=True)
class Summary:
    """Counts over a run: executions by status and start, EEs by fate."""

    executions: int
    ok: int  # ok or exit
    failed: int
    by_status: dict[Status, int]
    dropped: int  # never run (counted in failed too)
    cold: int
    warm: int
    ees_started: int  # new containers and recycled ones, each a new EE to its steps
    ees_recycled: int  # of those, used containers made new again
    ees_reused: int
    ees_expired: int
    ees_destroyed_at_random: int
    ees_retired: dict[Retire, int]
    max_tmp_used_bytes: int
    max_tmp_peak_used_bytes: int
    max_memory_peak_bytes: int
    # Auto-retry: failed parts a retry followed (not counted as failed), executions
    # retried at least once, and of those, the ones that failed even so.
    retried_parts: int = 0
    retried: int = 0
    failed_after_retries: int = 0

    @classmethod
    def of(cls, executions: Sequence[Brief], ees: list[EELife]) -> Summary:
        statuses = Counter(execution.status for execution in executions)
        starts = Counter(e.start for e in executions if e.status is not Status.DROPPED)
        retired = Counter(ee.retired for ee in ees if ee.retired)
        retried = {_first(e) for e in executions if e.retried}
        return cls(
            executions=len(executions),
            ok=sum(n for status, n in statuses.items() if status.passed),
            failed=sum(execution.failed for execution in executions),
            by_status={status: statuses[status] for status in Status},
            dropped=statuses[Status.DROPPED],
            cold=starts[Start.COLD],
            warm=starts[Start.WARM],
            ees_started=len(ees),
            ees_recycled=sum(ee.recycled for ee in ees),
            ees_reused=sum(len(ee.executions) > 1 for ee in ees),
            ees_expired=retired[Retire.IDLE],
            ees_destroyed_at_random=retired[Retire.CHAOS],
            ees_retired={reason: retired[reason] for reason in Retire},
            max_tmp_used_bytes=max((e.tmp_used or 0 for e in executions), default=0),
            max_tmp_peak_used_bytes=max((e.tmp_peak or 0 for e in executions), default=0),
            max_memory_peak_bytes=max((e.memory_peak or 0 for e in executions), default=0),
            retried_parts=sum(execution.retried for execution in executions),
            retried=len(retried),
            failed_after_retries=len({_first(e) for e in executions if e.failed} & retried),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "executions": self.executions,
            "ok": self.ok,
            "failed": self.failed,
            "by_status": {status.value: n for status, n in self.by_status.items()},
            "dropped": self.dropped,
            "cold": self.cold,
            "warm": self.warm,
            "ees_started": self.ees_started,
            "ees_recycled": self.ees_recycled,
            "ees_reused": self.ees_reused,
            "ees_expired": self.ees_expired,
            "ees_destroyed_at_random": self.ees_destroyed_at_random,
            "ees_retired": {reason.value: n for reason, n in self.ees_retired.items()},
            "max_tmp_used_bytes": self.max_tmp_used_bytes,
            "max_tmp_peak_used_bytes": self.max_tmp_peak_used_bytes,
            "max_memory_peak_bytes": self.max_memory_peak_bytes,
            "retried_parts": self.retried_parts,
            "retried": self.retried,
            "failed_after_retries": self.failed_after_retries,
        }


def _first(brief: Brief) -> int:
    """The index of the execution a part belongs to (its first part's)."""
    return brief.index if brief.first_index is None else brief.first_index


@dataclass
class RunResult:
    """What a run did: its settings, every execution (in event order), every EE's life."""

    run_id: str
    settings: Settings
    executions: ExecutionLog = field(default_factory=ExecutionLog)
    ees: dict[str, EELife] = field(default_factory=dict)
    interrupted: bool = False  # Ctrl-C or SIGTERM cut the run short
    aborted: str | None = None  # why the backend failure stopped it, if it did
    # Paused executions whose later part was still to come when the run ended (their
    # pause's outcome: "pending"): ``pdee serve`` stopped, or a Ctrl-C.
    pending_parts: int = 0
    data_stores: list[StoreAtEnd] = field(default_factory=list)  # as the run left them

    def __post_init__(self) -> None:
        if not isinstance(self.executions, ExecutionLog):
            self.executions = ExecutionLog(self.executions)

    @property
    def summary(self) -> Summary:
        return Summary.of(self.executions.briefs(), list(self.ees.values()))

    @property
    def passed(self) -> bool:
        """Every execution ok or ended by pd.flow.exit (a failed part a retry followed is
        judged by the retry), and the run went to its end."""
        passed = not any(brief.failed for brief in self.executions.briefs())
        return passed and not self.interrupted and not self.aborted

    def __repr__(self) -> str:
        s = self.summary
        end = " interrupted" if self.interrupted else (" aborted" if self.aborted else "")
        executions = plural(s.executions, "execution")
        return f"<RunResult {self.run_id}: {executions}, {s.failed} failed{end}>"
