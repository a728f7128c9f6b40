"""Typed records of a run: what every execution and every EE did.

These are what ``pdee.run`` returns and what the report, the terminal and the JUnit
writer read. Each has ``to_json()``, the report's form of it (a contract: CI jobs parse
it). Replies from the EE's runtime become records in one place, ``Execution.from_reply``.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .scheduler import Decision, Retire, Start


class Status(str, enum.Enum):
    """How an execution ended; ``execution.status == "ok"`` holds, as it is a ``str``."""

    OK = "ok"  # every step returned
    EXIT = "exit"  # a step ended the workflow with pd.flow.exit: a success
    ERROR = "error"  # a step raised, returned non-JSON, or the payload was too big
    TIMEOUT = "timeout"  # the execution ran past --timeout
    OOM = "oom"  # a step ran out of memory

    @property
    def passed(self) -> bool:
        """True for ``ok`` and ``exit``, which the platform counts as successes."""
        return self in (Status.OK, Status.EXIT)


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
    def from_json(cls, data: dict[str, Any]) -> StepError:
        return cls(
            type=str(data.get("type")),
            message=str(data.get("message")),
            step=data.get("step"),
            traceback=data.get("traceback"),
            file=data.get("file"),
            line=data.get("line"),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepResult:
        return cls(
            return_value=data.get("return_value"),
            exports=data.get("exports") or {},
            logs=data.get("logs", ""),
            duration_ms=float(data.get("duration_ms", 0.0)),
            logs_truncated=bool(data.get("logs_truncated", False)),
            stderr_lines=list(data.get("stderr_lines") or []),
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MemoryUsage:
    """The step processes' peak memory during the execution, and their limit."""

    peak_bytes: int
    limit_bytes: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Execution:
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

    @property
    def passed(self) -> bool:
        return self.status.passed

    def __repr__(self) -> str:
        return f"<Execution #{self.index} {self.status.value} on {self.ee} ({self.start.value})>"

    @classmethod
    def from_reply(
        cls, decision: Decision, reply: dict[str, Any], cold_start_ms: float | None
    ) -> Execution:
        """The record of one execution, from the scheduler's decision and the runtime's reply."""
        notes = [
            f"step {step!r}'s process was restarted (the last one was killed); "
            f"/tmp was kept, module globals were not"
            for step in reply.get("restarted_steps", [])
        ]
        notes += [
            f"step {step!r} wrote {count} line(s) to the runtime's reply channel, which it "
            f"inherits; they were ignored (replies carry an id a stray line cannot have)"
            for step, count in (reply.get("stray_lines") or {}).items()
        ]
        if reply.get("platform_files_intact") is False:
            notes.append(
                "a step deleted the platform's files in /tmp/__pdg__: on the platform, later "
                "executions in this EE fail once a step process restarts"
            )
        tmp, memory, error = reply.get("tmp"), reply.get("memory"), reply.get("error")
        return cls(
            index=decision.index,
            ee=decision.ee,
            start=decision.start,
            status=Status(reply["status"]),
            arrived_at_s=round(decision.arrived_at_s, 6),
            at_s=round(decision.at_s, 6),
            duration_ms=round(float(reply["duration_ms"]), 3),
            error=StepError.from_json(error) if error else None,
            exit_reason=reply.get("exit_reason"),
            respond=reply.get("respond"),
            steps={
                name: StepResult.from_json(step) for name, step in reply.get("steps", {}).items()
            },
            tmp=TmpUsage(
                used_bytes=int(tmp["used_bytes"]),
                peak_used_bytes=int(tmp.get("peak_used_bytes", tmp["used_bytes"])),
                files=int(tmp.get("files", 0)),
                size_bytes=int(tmp.get("size_bytes", 0)),
                packages_bytes=int(tmp.get("packages_bytes", 0)),
            )
            if tmp
            else None,
            memory=MemoryUsage(
                peak_bytes=int(memory["peak_bytes"]), limit_bytes=int(memory.get("limit_bytes", 0))
            )
            if memory
            else None,
            cold_start_ms=cold_start_ms,
            restarted_steps=list(reply.get("restarted_steps", [])),
            notes=notes,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "ee": self.ee,
            "start": self.start.value,
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
        }


@dataclass
class EELife:
    """One EE's life on the virtual clock: when it started, what it ran, why it went away."""

    id: str
    warm_worker: bool
    started_at_s: float
    executions: list[int] = field(default_factory=list)
    retired: Retire | None = None
    retired_at_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "warm_worker": self.warm_worker,
            "started_at_s": self.started_at_s,
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
    python: str | None = None  # the EE's, from the first EE that starts
    python_note: str | None = None  # set when it is not the platform's
    memory_source: str | None = None  # where the EE's runtime reads step memory
    image: str
    image_id: str
    base_image: str | None
    network: str
    executions: int
    steps: list[str]
    pdee_version: str
    run_id: str
    # The packages every EE gets: name, version, bytes installed (dependencies included).
    packages: list[dict[str, Any]] = field(default_factory=list)
    env: list[str] = field(default_factory=list)  # the variables' names (never values)
    cpus: float = 1.0  # each EE's CPU limit
    cpus_from: str = "default"  # "default", "given" or "platform" (scaled with memory)
    link_local: str = "blocked"  # whether EEs reach 169.254.0.0/16, and why

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Summary:
    """Counts over a run: executions by status and start, EEs by fate."""

    executions: int
    ok: int  # ok or exit
    failed: int
    by_status: dict[Status, int]
    cold: int
    warm: int
    ees_started: int
    ees_reused: int
    ees_expired: int
    ees_destroyed_at_random: int
    ees_retired: dict[Retire, int]
    max_tmp_used_bytes: int
    max_tmp_peak_used_bytes: int
    max_memory_peak_bytes: int

    @classmethod
    def of(cls, executions: list[Execution], ees: list[EELife]) -> Summary:
        statuses = Counter(execution.status for execution in executions)
        starts = Counter(execution.start for execution in executions)
        retired = Counter(ee.retired for ee in ees if ee.retired)
        return cls(
            executions=len(executions),
            ok=sum(n for status, n in statuses.items() if status.passed),
            failed=sum(n for status, n in statuses.items() if not status.passed),
            by_status={status: statuses[status] for status in Status},
            cold=starts[Start.COLD],
            warm=starts[Start.WARM],
            ees_started=len(ees),
            ees_reused=sum(len(ee.executions) > 1 for ee in ees),
            ees_expired=retired[Retire.IDLE],
            ees_destroyed_at_random=retired[Retire.CHAOS],
            ees_retired={reason: retired[reason] for reason in Retire},
            max_tmp_used_bytes=max((e.tmp.used_bytes for e in executions if e.tmp), default=0),
            max_tmp_peak_used_bytes=max(
                (e.tmp.peak_used_bytes for e in executions if e.tmp), default=0
            ),
            max_memory_peak_bytes=max(
                (e.memory.peak_bytes for e in executions if e.memory), default=0
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "executions": self.executions,
            "ok": self.ok,
            "failed": self.failed,
            "by_status": {status.value: n for status, n in self.by_status.items()},
            "cold": self.cold,
            "warm": self.warm,
            "ees_started": self.ees_started,
            "ees_reused": self.ees_reused,
            "ees_expired": self.ees_expired,
            "ees_destroyed_at_random": self.ees_destroyed_at_random,
            "ees_retired": {reason.value: n for reason, n in self.ees_retired.items()},
            "max_tmp_used_bytes": self.max_tmp_used_bytes,
            "max_tmp_peak_used_bytes": self.max_tmp_peak_used_bytes,
            "max_memory_peak_bytes": self.max_memory_peak_bytes,
        }


@dataclass
class RunResult:
    """What a run did: its settings, every execution (in event order), every EE's life."""

    run_id: str
    settings: Settings
    executions: list[Execution] = field(default_factory=list)
    ees: dict[str, EELife] = field(default_factory=dict)
    interrupted: bool = False  # Ctrl-C or SIGTERM cut the run short
    aborted: str | None = None  # why the backend failure stopped it, if it did

    @property
    def summary(self) -> Summary:
        return Summary.of(self.executions, list(self.ees.values()))

    @property
    def passed(self) -> bool:
        """Every execution ok or ended by pd.flow.exit, and the run went to its end."""
        return all(e.passed for e in self.executions) and not self.interrupted and not self.aborted

    def __repr__(self) -> str:
        s = self.summary
        end = " interrupted" if self.interrupted else (" aborted" if self.aborted else "")
        return f"<RunResult {self.run_id}: {s.executions} executions, {s.failed} failed{end}>"
