"""What a lane does with its EE: start it and load the workflow, run one execution.

Each function runs on a lane's thread and tells the run's main thread what happened
only through the lane's news (``lanes``): an EE that started (``Started``), where an
execution is on the virtual clock (``Running``) and the record of one that ended
(``Finished``). The messages it sends and the replies it takes are the runtime's
``protocol``; a reply becomes a record in ``results.reply``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..backends import EE, build_command
from ..backends.channel import ReplyProgress, unreadable_result
from ..errors import EEError, EEGone, EEUnresponsive, ImageError
from ..lifecycle.scheduler import Decision, Start
from ..plan.run_plan import RunPlan, debugged_steps
from ..plan.steps import Step
from ..results import reply
from ..results.records import Status, StepError, StoreUse
from ..runtime import protocol
from ..services.data_stores import WRITES, DataStore
from .lanes import Finished, Lane, Started

# How long past the execution's timeout pdee waits for the runtime's own answer before it
# ends the execution itself (a timeout) and destroys the EE. The runtime answers within
# milliseconds of the deadline, unless its EE starves it (a fork bomb: seen here up to
# 4 s late under a 3 s timeout) or is paused; pdee, on the host, is not starved.
REPLY_GRACE_S = 2.0
LOAD_TIMEOUT_S = 60.0
# Data store writes an execution's record keeps, with auto-retry (for pdee check).
WRITES_KEPT = 100
# Under --debug-port the runtime alone ends an execution at its timeout, which does not
# run while a debugger holds a step: pdee waits for its answer this long (a week).
DEBUG_REPLY_TIMEOUT_S = 7 * 86400.0
# Where the Python steps' debug servers listen on an EE's own loopback (the first
# step's, then one more for each next one); the host's ports are --debug-port's.
EE_DEBUG_PORT = 5678

log = logging.getLogger(__name__)


@dataclass
class EEWork:
    """The work of one run's lanes: the plan it loads into every EE, and the data stores
    whose calls it answers on the virtual clock (``origin_ts``: Unix time of virtual 0)."""

    plan: RunPlan
    new_ee: Callable[[str], EE]  # a new EE of the run, by id (for a failed recycle)
    stores: dict[str, DataStore] = field(default_factory=dict)
    origin_ts: float = 0.0
    # The steps' wall clock on the virtual clock (``clock_ts`` in Load and Run, Unix
    # seconds); off for serve, whose steps read the real clock.
    virtual_clock: bool = True
    measure: bool = True  # the exact peaks; off only for the benchmark's baseline
    debug_waited: bool = False  # the first execution under --debug-port has been sent

    def start(self, lane: Lane) -> None:
        """Start the lane's EE and load the workflow into it; post ``Started``.

        Raises:
            ImageError: the EE's runtime speaks another protocol.
            EEError: the EE did not start or load.
        """
        started = time.monotonic()
        hello = lane.ee.start()
        if hello.get("protocol") != protocol.PROTOCOL_VERSION:
            raise ImageError(
                f"image {self.plan.image} speaks runtime protocol {hello.get('protocol')}, "
                f"this pdee {protocol.PROTOCOL_VERSION}; rebuild it with "
                f"{build_command(self.plan.image)}"
            )
        self._load(lane)
        lane.start_s = time.monotonic() - started
        lane.post(Started(lane.ee.id, hello))

    def recycle(self, lane: Lane) -> None:
        """Make the lane's used EE new again and load the workflow, as a start does; an
        EE that cannot be made new (a process outlived SIGKILL, a SysV IPC object, an
        EE that broke) is destroyed and a new one started in its place. Either way the
        whole cost is the lane's ``start_s``, which the cold start that takes it counts.

        Raises:
            ImageError, EEError: as ``start``, for the new EE.
        """
        started = time.monotonic()
        lane.start_s = None
        try:
            swept = lane.ee.request({"type": protocol.RESET}, timeout_s=LOAD_TIMEOUT_S)
            if swept["type"] != protocol.RESET:
                raise _out_of_turn(lane, swept, protocol.RESET)
            if swept["clean"]:
                self._load(lane)
                lane.start_s = time.monotonic() - started
                return
            why = swept["why"]
        except EEError as exc:
            why = str(exc)
        log.info("EE %s is not recycled (%s): a new one replaces it", lane.ee.id, why)
        lane.ee.destroy()
        if lane.closing:
            return
        lane.ee = self.new_ee(lane.ee.id)
        lane.recycled = False
        self.start(lane)
        lane.start_s = time.monotonic() - started

    def _load(self, lane: Lane) -> None:
        """Load the workflow into the lane's started (or reset) EE.

        Raises:
            EEError: the EE did not load it.
        """
        loaded = lane.ee.request(self.load_message(lane.virtual_s), timeout_s=LOAD_TIMEOUT_S)
        if loaded["type"] != protocol.READY:
            raise _out_of_turn(lane, loaded, protocol.LOAD)
        lane.packages_bytes = loaded["packages_bytes"]

    def load_message(self, at_s: float = 0.0) -> protocol.Load:
        """The Load of the plan, into an EE starting at virtual time ``at_s``."""
        plan = self.plan
        message: protocol.Load = {
            "type": protocol.LOAD,
            "steps": [step_message(step) for step in plan.steps],
            "env": plan.env,
            "measure": self.measure,
            "memory_bytes": plan.memory_bytes,
            "timeout_s": plan.timeout_s,
        }
        if self.virtual_clock:  # the steps' wall clock when they are imported
            message["clock_ts"] = self.origin_ts + at_s
        if plan.debug_port is not None:
            message["debug"] = debug_setup(plan)
        return message

    def execute(self, lane: Lane, decision: Decision, message: protocol.Run) -> None:
        """Run one execution; a cold one starts the EE first, unless a standby EE did.
        Post ``Finished`` with its record.

        Either way the EE's start is part of the execution's virtual time.
        """
        cold_start_s = 0.0
        if decision.start is Start.COLD:
            if lane.start_s is None:  # virtual time runs during the start itself
                lane.mark_running(decision.at_s)
                lane.virtual_s = decision.at_s
                self.start(lane)
            assert lane.start_s is not None
            cold_start_s = lane.start_s
        lane.mark_running(decision.at_s + cold_start_s)
        started = time.monotonic()
        cold_start_ms = round(cold_start_s * 1000, 3) if decision.start is Start.COLD else None
        gone = False
        # Where the execution starts on the virtual clock, as a Unix time: its store
        # calls happen then, plus the real time the execution has taken so far.
        virtual_start = self.origin_ts + decision.at_s + cold_start_s - started
        if self.virtual_clock:  # the steps' wall clock: the same instant as the stores'
            message["clock_ts"] = virtual_start + started
        uses: dict[str, list[int]] = {}
        writes: list[dict[str, Any]] = []  # with auto-retry: what each write wrote

        def on_call(call: dict[str, Any]) -> dict[str, Any]:
            name = call.get("store")
            store = self.stores.get(name) if isinstance(name, str) else None
            if store is None:
                return {"error": f"no data store {str(name)[:100]!r} in this run"}
            use = uses.setdefault(store.name, [0, 0])
            op = call.get("op")
            write = isinstance(op, str) and op in WRITES
            use[write] += 1
            try:
                answer = store.answer(call, virtual_start + time.monotonic())
            except Exception as exc:  # pdee's own fault: the call fails, the run goes on
                # its traceback under --debug; the step gets the one line
                log.debug("data store %r: a %r call failed", store.name, op, exc_info=True)
                return {"error": f"pdee could not answer the call ({type(exc).__name__}: {exc})"}
            # A write made (a call the store took: its key is text), kept with auto-retry.
            kept = self.plan.auto_retry and len(writes) < WRITES_KEPT
            if write and kept and "error" not in answer:
                writes.append(_write(store.name, call))
            return answer

        def known() -> reply.Known:  # once the request is over: its store calls counted
            return reply.Known(
                decision,
                cold_start_ms,
                context_id=message["context"]["id"],
                trace_id=message["context"]["trace_id"],
                stores={name: StoreUse(r, w) for name, (r, w) in uses.items()},
                packages_bytes=lane.packages_bytes,
            )

        timeout_s = self.plan.timeout_s + REPLY_GRACE_S
        if self.plan.debug_port is not None:
            timeout_s = DEBUG_REPLY_TIMEOUT_S
            if not self.debug_waited:  # the first execution waits for the debugger
                message["debug_wait"] = self.debug_waited = True
        try:
            answered = lane.ee.request(message, timeout_s=timeout_s, on_call=on_call)
        except (EEGone, EEUnresponsive) as exc:  # the EE is lost; the run goes on
            gone = True
            status, error = lost_error(exc, self.plan.timeout_s)
            duration_ms = (time.monotonic() - started) * 1000
            execution = reply.lost(known(), status, error, exc.logs, duration_ms)
        else:
            if answered["type"] != protocol.RESULT:
                raise _out_of_turn(lane, answered, protocol.RUN)
            try:
                execution = reply.execution(known(), answered)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:  # malformed
                why = f"it is malformed ({type(exc).__name__}: {str(exc)[:200]})"
                execution = reply.execution(known(), unreadable_result(why, ReplyProgress()))
        if writes:
            execution = replace(execution, store_writes=writes)
        lane.post(
            Finished(
                ee=decision.ee,
                execution=execution,
                elapsed_s=cold_start_s + time.monotonic() - started,
                gone=gone,
            )
        )


def _write(store: str, call: dict[str, Any]) -> dict[str, Any]:
    """One data store write as the record keeps it: the value as a digest, so that a
    retry that writes the same again can be told from one that writes anew."""
    value = json.dumps(call.get("value"), sort_keys=True, default=str)
    return {
        "store": store,
        "op": call.get("op"),
        "key": call.get("key"),
        "step": call.get("step"),
        "digest": hashlib.sha256(value.encode()).hexdigest()[:16],
        "ttl": call.get("ttl"),
    }


def _out_of_turn(lane: Lane, answered: protocol.Reply, asked: str) -> EEError:
    return EEError(f"EE {lane.ee.id} answered {asked!r} with {answered['type']!r}")


def debug_setup(plan: RunPlan) -> protocol.DebugSetup:
    """Where each Python step's debug server listens in the EE, and its file's path on
    the user's machine (what a debugger names it by)."""
    steps = debugged_steps(plan.steps)
    return {
        "ports": {step.name: EE_DEBUG_PORT + n for n, step in enumerate(steps)},
        "paths": {step.name: str(Path(step.path).absolute()) for step in steps},
    }


def debug_ports(plan: RunPlan) -> dict[int, int]:
    """Each host port of --debug-port and the EE port it relays to."""
    assert plan.debug_port is not None
    count = len(debugged_steps(plan.steps))
    return {plan.debug_port + n: EE_DEBUG_PORT + n for n in range(count)}


def step_message(step: Step) -> protocol.CodeStep | protocol.StandInStep:
    """One step as the EE's runtime loads it."""
    if step.stand_in is not None:
        return {"name": step.name, "stand_in": True, "return_value": step.stand_in.return_value}
    message: protocol.CodeStep = {
        "name": step.name,
        "code": step.code,
        # The platform keeps a step's code under its sha256; the runtime need not hash.
        "code_hash": hashlib.sha256(step.code.encode()).hexdigest(),
        "source": str(step.path),
        "inputs": step.inputs,
        "stores": step.stores or {},
        "expressions": step.expressions,
    }
    if step.action is not None:  # a registry action the runtime emulates
        message["action"] = step.action
    return message


def lost_error(exc: EEGone | EEUnresponsive, timeout_s: float) -> tuple[Status, StepError]:
    """How an execution ended whose EE's container ended under it, or stopped answering
    (a timeout: the EE is destroyed, as for one that timed out itself)."""
    if isinstance(exc, EEUnresponsive):
        message = (
            f"the execution ran past {timeout_s:g} s and its EE did not answer for "
            f"{REPLY_GRACE_S:g} s more (its processes starved pdee's runtime, or the EE was "
            f"paused); pdee ended it and destroyed the EE"
        )
        return Status.TIMEOUT, StepError("Timeout", message, exc.step)
    if exc.oom_killed:
        return Status.OOM, StepError("OutOfMemory", str(exc), exc.step)
    return Status.ERROR, StepError("EEGone", str(exc), exc.step)
