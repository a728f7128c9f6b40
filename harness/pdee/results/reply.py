"""The runtime's reply to a run, made the record of an execution (``Execution``).

What the runtime says of an execution (``protocol.Result``) and what pdee knows of it
itself (``Known``: where and when it ran, its context, its data store calls) become one
``Execution``, with the notes a user should read about it: a step's process restarted,
stray lines on the reply channel, the platform's files deleted. An execution whose EE
was lost under it has no reply: ``lost`` makes its record from what pdee saw.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..backends.channel import UNREADABLE
from ..lifecycle.scheduler import Decision
from ..plan.sizes import plural
from ..runtime import protocol
from .records import (
    Debugged,
    Execution,
    MemoryUsage,
    Pause,
    Status,
    StepError,
    StepResult,
    StoreUse,
    TmpUsage,
)


@dataclass(frozen=True)
class Known:
    """What pdee knows of an execution besides the runtime's reply."""

    decision: Decision  # where and when it ran, as the scheduler placed it
    cold_start_ms: float | None = None  # what its EE's start took, for a cold start
    context_id: str | None = None  # pd.steps["trigger"]["context"]["id"]
    trace_id: str | None = None
    stores: Mapping[str, StoreUse] = field(default_factory=dict)  # by data store prop
    packages_bytes: int = 0  # what the workflow's packages take of /tmp


def execution(known: Known, reply: protocol.Result) -> Execution:
    """The record of one execution, from what pdee knows of it and the runtime's reply."""
    decision, tmp, memory, error = known.decision, reply["tmp"], reply["memory"], reply["error"]
    pause = reply["pause"]
    return Execution(
        index=decision.index,
        ee=decision.ee,
        start=decision.start,
        status=Status(reply["status"]),
        arrived_at_s=round(decision.arrived_at_s, 6),
        at_s=round(decision.at_s, 6),
        duration_ms=round(float(reply["duration_ms"]), 3),
        error=StepError.from_json(error) if error else None,
        exit_reason=reply["exit_reason"],
        respond=reply["respond"],
        steps={name: StepResult.from_json(step) for name, step in reply["steps"].items()},
        tmp=TmpUsage(
            used_bytes=int(tmp["used_bytes"]),
            peak_used_bytes=int(tmp["peak_used_bytes"]),
            files=int(tmp["files"]),
            size_bytes=int(tmp["size_bytes"]),
            packages_bytes=known.packages_bytes,
            platform_files_intact=reply["platform_files_intact"] is not False,
            some_files=list(tmp["some_files"]),
        ),
        memory=MemoryUsage(
            peak_bytes=int(memory["peak_bytes"]), limit_bytes=int(memory["limit_bytes"])
        ),
        cold_start_ms=known.cold_start_ms,
        restarted_steps=list(reply["restarted_steps"]),
        notes=notes(reply),
        stores=dict(known.stores),
        pause=Pause.from_json(pause) if pause else None,
        emails=[dict(email) for email in reply["emails"]],
        context_id=known.context_id,
        trace_id=known.trace_id,
        debug=_debugged(reply.get("debug")),
    )


def _debugged(note: protocol.DebugNote | None) -> Debugged | None:
    if note is None:
        return None
    return Debugged(float(note["held_ms"]), float(note["waited_ms"]))


def notes(reply: protocol.Result) -> list[str]:
    """What the user should know of an execution beyond its status and steps."""
    reasons = reply["restart_reasons"]
    said = [
        f"the process of step {step!r} was restarted "
        f"({reasons.get(step, 'its last one ended')}); /tmp was kept, module globals "
        f"were not"
        for step in reply["restarted_steps"]
    ]
    said += [
        f"step {step!r} wrote {plural(count, 'line')} to the runtime's reply channel, which it "
        f"inherits; they were ignored (replies carry an id a stray line cannot have)"
        for step, count in reply["stray_lines"].items()
    ]
    error = reply["error"]
    if error is not None and error.get("type") == UNREADABLE:
        said.append(
            "pdee could not read the EE's result of this execution: its steps' results, /tmp "
            "and memory readings are not known (shown as none and zeros)"
        )
    hint = missing_input_hint(error)
    if hint:
        said.append(hint)
    debug = reply.get("debug")
    if debug is not None and debug["held_ms"] > 0:
        said.append(
            f"a debugger held this execution stopped for {debug['held_ms'] / 1000:.1f} s; its "
            f"timeout did not run meanwhile"
        )
    if reply["platform_files_intact"] is False:
        said.append(
            "a step deleted the platform's files in /tmp/__pdg__: on the platform, later "
            "executions in this EE fail once a step process restarts"
        )
    return said


def lost(
    known: Known, status: Status, error: StepError, logs: Mapping[str, str], duration_ms: float
) -> Execution:
    """The record of an execution that got no reply: its EE ended under it, or stopped
    answering. It keeps what pdee saw of it: the logs of the steps that started."""
    decision = known.decision
    return Execution(
        index=decision.index,
        ee=decision.ee,
        start=decision.start,
        status=status,
        arrived_at_s=round(decision.arrived_at_s, 6),
        at_s=round(decision.at_s, 6),
        duration_ms=round(duration_ms, 3),
        error=error,
        steps={name: StepResult(None, {}, text, 0.0) for name, text in logs.items()},
        cold_start_ms=known.cold_start_ms,
        stores=dict(known.stores),
        context_id=known.context_id,
        trace_id=known.trace_id,
    )


def missing_input_hint(error: Mapping[str, Any] | None) -> str | None:
    """What gives a step the ``pd.inputs`` key it failed to find (a ``KeyError`` raised
    where the traceback's code reads ``inputs["name"]``): a data store prop comes from
    ``--data-store``, any other prop from ``--inputs``; None for any other error."""
    if error is None or error.get("type") != "KeyError":
        return None
    try:
        name = ast.literal_eval(str(error.get("message")))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    traceback = str(error.get("traceback") or "")
    if not isinstance(name, str) or not name.isidentifier():
        return None
    if not re.search(rf"""inputs\s*\[\s*(['"]){re.escape(name)}\1\s*\]""", traceback):
        return None
    step = f"step {error['step']!r}" if error.get("step") else "a step"
    return (
        f"{step} read pd.inputs[{name!r}], which this run does not give: "
        f"`--data-store {name}` makes it a data store, `--inputs FILE` (a JSON object "
        f"with {name!r}) gives any other prop"
    )
