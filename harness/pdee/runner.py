"""A run: the plan's events, executed in EEs as the scheduler decides.

``Runner(engine, plan).run()`` (or ``run_plan``) is what ``pdee run`` does, without
the CLI; the bench calls it directly, and unit tests give it fake EEs.

The main thread walks the events in arrival order on the virtual clock, asks the
scheduler where each goes, and hands the work to the EE's *lane*: a thread that owns
one EE, starts its container, runs its executions one at a time and destroys it. So
up to ``concurrency`` executions run for real at once, each in its own container.

The virtual clock: an execution that starts at virtual time ``s`` and takes ``d``
seconds for real ends at ``s + d``. Before the scheduler decides for an event arriving
at ``t``, the main thread waits until it knows, for every execution in flight, whether
it ends before ``t`` (it finished) or after (it has already run longer than ``t - s``).
A 10-minute gap between events therefore costs no real time, and a burst costs what
its executions cost. Where cold starts recur, a *standby* EE starts ahead in the
background; its measured start still counts on the virtual clock.

Every container the run makes is removed on the way out, whatever the way out is.
"""

from __future__ import annotations

import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from . import __version__
from .driver import EE, DockerEngine, EEGone, EESpec, ImageInfo
from .errors import ImageError
from .events import Workflow, context, default_event
from .interrupts import deferred
from .runtime import fingerprint
from .scheduler import Decision, Mode, Policy, Retire, Retirement, Scheduler, Start
from .workflow import Step

# How long past the step timeout pdee waits for the runtime's own answer.
REPLY_GRACE_S = 15.0
PLATFORM_PYTHON = "3.12"
# On the way out: how long lanes get to finish the Docker call they are in.
LANE_JOIN_S = 30.0


@dataclass(frozen=True)
class RunPlan:
    """Everything ``pdee run`` was asked to do."""

    steps: list[Step]
    events: list[dict[str, Any]] | None  # None: a default HTTP event for each execution
    arrivals: list[float]  # virtual arrival time of each execution, in seconds
    inputs: dict[str, Any]
    policy: Policy
    tmp_size_bytes: int
    memory_bytes: int
    timeout_s: float
    network: str
    image: str
    arrivals_described: dict[str, Any] = field(default_factory=dict)
    origin: datetime | None = None  # the wall-clock time of virtual 0 (default: now)

    @property
    def executions(self) -> int:
        return len(self.arrivals)


@dataclass
class RunResult:
    """What a run did: its settings, every execution, every EE's life."""

    run_id: str
    settings: dict[str, Any]
    executions: list[dict[str, Any]] = field(default_factory=list)
    ees: dict[str, dict[str, Any]] = field(default_factory=dict)


OnExecution = Callable[[dict[str, Any]], None]


def check_image(engine: DockerEngine, tag: str) -> ImageInfo:
    """The image, if it holds this pdee's runtime.

    Raises:
        ImageError: missing, or built from other runtime code.
    """
    info = engine.image(tag)
    expected = fingerprint()
    if info.runtime_fingerprint != expected:
        raise ImageError(
            f"image {tag} holds runtime {info.runtime_fingerprint or 'unknown'}, this pdee "
            f"needs {expected}; rebuild it with `make image`"
        )
    return info


def python_note(python: str, base_image: str | None) -> str | None:
    """A warning when the EE's Python is not the platform's."""
    if python.startswith(PLATFORM_PYTHON + "."):
        return None
    return (
        f"the EE runs Python {python} (base image {base_image or 'unknown'}), the platform "
        f"runs {PLATFORM_PYTHON}: build the image FROM python:3.12-slim where you can "
        f"(make image BASE_IMAGE=python:3.12-slim)"
    )


@dataclass
class _Done:
    """A lane's report to the main thread: an execution ended, an EE said hello, or a failure."""

    ee: str
    record: dict[str, Any] | None = None
    elapsed_s: float = 0.0  # the execution's real time, cold start included
    gone: bool = False
    hello: dict[str, Any] | None = None
    failure: BaseException | None = None


class _Lane:
    """One EE and the thread that drives it; tasks run in the order they are given."""

    def __init__(self, ee: EE) -> None:
        self.ee = ee
        self.tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        # (virtual time, time.monotonic()) at one moment of the execution in progress:
        # its virtual clock runs with real time from there.
        self.running: tuple[float, float] | None = None
        self.start_s: float | None = None  # how long its EE took to start, once it has
        self.thread = threading.Thread(target=self._loop, name=f"pdee-{ee.id}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while (task := self.tasks.get()) is not None:
            task()

    def give(self, task: Callable[[], None]) -> None:
        self.tasks.put(task)

    def close(self) -> None:
        """No more tasks: the thread ends after the ones it has."""
        self.tasks.put(None)


class Runner:
    """Carries out one plan."""

    def __init__(
        self, engine: DockerEngine, plan: RunPlan, on_execution: OnExecution | None = None
    ):
        self.engine = engine
        self.plan = plan
        self.on_execution = on_execution or (lambda _record: None)
        self.run_id = uuid.uuid4().hex[:12]
        self.spec = EESpec(plan.image, plan.tmp_size_bytes, plan.memory_bytes, plan.network)
        self.scheduler = Scheduler(plan.policy)
        self.rng = random.Random(plan.policy.seed)
        self.workflow = Workflow.create(self.rng, plan.steps[-1].name)
        self.origin = plan.origin or datetime.now(timezone.utc)
        self.result = RunResult(run_id=self.run_id, settings={})
        self.every_lane: list[_Lane] = []  # so that the way out misses none
        self.lanes: dict[str, _Lane] = {}  # live EEs, by id
        # EEs started ahead, in the background, which the next cold starts take: in
        # cold mode one per slot; otherwise one, once an EE went away mid-run (a sign
        # of churn, chaos or expiry) so that short runs pay for no spare container.
        self.standby: list[_Lane] = []
        self.standby_wanted = plan.policy.concurrency if plan.policy.mode is Mode.COLD else 0
        self.standby_made = 0
        self.dispatched = 0
        self.in_flight: dict[str, Decision] = {}
        self.clock_s = 0.0  # the latest virtual time pdee knows of
        self.cond = threading.Condition()
        self.inbox: list[_Done] = []
        self.closing = False

    def settings(self, image: ImageInfo) -> dict[str, Any]:
        """The report's settings; ``python`` is filled in when the first EE says hello."""
        plan, policy = self.plan, self.plan.policy
        return {
            "mode": policy.mode.value,
            "concurrency": policy.concurrency,
            "idle_timeout_s": policy.idle_timeout_s,
            "chaos": policy.chaos,
            "warm_workers": policy.warm_workers,
            "arrivals": plan.arrivals_described,
            "seed": policy.seed,
            "tmp_size_bytes": plan.tmp_size_bytes,
            "memory_bytes": plan.memory_bytes,
            "container_memory_bytes": self.spec.container_memory_bytes,
            "timeout_s": plan.timeout_s,
            "python": None,
            "python_note": None,
            "image": image.tag,
            "image_id": image.id,
            "base_image": image.base_image,
            "network": plan.network,
            "executions": plan.executions,
            "steps": [step.name for step in plan.steps],
            "pdee_version": __version__,
            "run_id": self.run_id,
        }

    # -- the main thread --

    def run(self) -> RunResult:
        """Run every execution of the plan.

        Raises:
            ImageError, UsageError: before any container starts.
            EEError: an EE could not start or its runtime failed.
        """
        image = check_image(self.engine, self.plan.image)
        self.engine.check_network(self.plan.network)
        self.result.settings = self.settings(image)
        try:
            for ee_id in self.scheduler.begin():
                self._open_lane(ee_id, 0.0, warm_worker=True)
            for index, arrived_at_s in enumerate(self.plan.arrivals):
                self._sync(arrived_at_s)
                arrival = self.scheduler.arrive(index, arrived_at_s)
                self._retire(arrival.retired)
                for ee_id in arrival.prestarted:
                    self._open_lane(ee_id, arrived_at_s, warm_worker=True)
                decision = arrival.decision
                if decision is None:
                    assert arrival.wait_for is not None
                    self._wait_for_ee(arrival.wait_for)
                    decision = self.scheduler.resume(index, arrived_at_s, arrival.wait_for)
                self._dispatch(decision)
            self._wait(lambda: not self.in_flight)
            self._retire(self.scheduler.end(self.clock_s))
        finally:
            with deferred():  # a second Ctrl-C must not cut the clean-up short
                self._close()
            # In event order, also when the run was cut short and reported as it stands.
            self.result.executions.sort(key=lambda record: record["index"])
        return self.result

    def _open_lane(
        self, ee_id: str, at_s: float, warm_worker: bool, lane: _Lane | None = None
    ) -> _Lane:
        """A lane for EE ``ee_id`` (a new one, or ``lane`` taken from the standby)."""
        if lane is None:
            lane = self._new_lane(ee_id)
            if warm_worker:
                self._give_start(lane)
        lane.ee.id = ee_id
        self.lanes[ee_id] = lane
        self.result.ees[ee_id] = {
            "id": ee_id,
            "warm_worker": warm_worker,
            "started_at_s": round(at_s, 6),
            "executions": [],
            "retired": None,
            "retired_at_s": None,
        }
        return lane

    def _refill_standby(self) -> None:
        """Start EEs ahead for the cold starts to come (no more than events remain)."""
        events_left = self.plan.executions - self.dispatched
        while len(self.standby) < min(self.standby_wanted, events_left):
            self.standby_made += 1
            lane = self._new_lane(f"standby-{self.standby_made}")
            self._give_start(lane)
            self.standby.append(lane)

    def _new_lane(self, ee_id: str) -> _Lane:
        """A lane with no task yet, known to ``_close`` before it can make a container."""
        lane = _Lane(self.engine.ee(self.spec, self.run_id, ee_id))
        self.every_lane.append(lane)
        return lane

    def _give_start(self, lane: _Lane) -> None:
        lane.give(lambda: self._guarded(lane, lambda: self._start(lane)))

    def _dispatch(self, decision: Decision) -> None:
        self.dispatched += 1
        lane = self.lanes.get(decision.ee)
        if lane is None:  # a cold start: on a standby EE if one is there
            standby = self.standby.pop(0) if self.standby else None
            lane = self._open_lane(decision.ee, decision.at_s, warm_worker=False, lane=standby)
            self._refill_standby()
        events = self.plan.events
        event = (
            events[decision.index % len(events)]
            if events
            else default_event(decision.index, self.workflow.endpoint)
        )
        message = {
            "type": "run",
            "index": decision.index,
            "event": event,
            "context": context(
                self.workflow, self.rng, self.origin + timedelta(seconds=decision.at_s)
            ),
        }
        self.in_flight[decision.ee] = decision
        lane.give(lambda: self._guarded(lane, lambda: self._execute(lane, decision, message)))

    def _retire(self, retirements: list[Retirement]) -> None:
        for retirement in retirements:
            life = self.result.ees[retirement.ee]
            life["retired"] = retirement.reason.value
            life["retired_at_s"] = round(retirement.at_s, 6)
            lane = self.lanes.pop(retirement.ee)
            lane.give(lane.ee.destroy)
            lane.close()
            if retirement.reason is not Retire.END and not self.standby_wanted:
                self.standby_wanted = 1
                self._refill_standby()

    def _sync(self, at_s: float) -> None:
        """Wait until every execution in flight is known to end before or after ``at_s``."""

        def known() -> float | None:
            """None when all is known, else how long to wait before looking again."""
            now, waits = time.monotonic(), []
            for ee_id in self.in_flight:
                running = self.lanes[ee_id].running
                if running is None:  # not begun yet: its lane is starting the EE
                    waits.append(0.005)
                    continue
                virtual_start, real_start = running
                still_unknown = at_s - virtual_start - (now - real_start)
                if still_unknown > 0:
                    waits.append(still_unknown)
            return min(waits) if waits else None

        self._wait(lambda: known() is None, known)

    def _wait_for_ee(self, ee_id: str) -> None:
        """Wait until ``ee_id``'s execution in flight has ended and been taken in."""
        self._wait(lambda: ee_id not in self.in_flight)

    def _wait(
        self, done: Callable[[], bool], poll: Callable[[], float | None] = lambda: None
    ) -> None:
        """Take in what the lanes report until ``done()``; ``poll()`` bounds each wait."""
        with self.cond:
            while True:
                inbox, self.inbox = self.inbox, []
                for item in inbox:
                    self._take(item)
                if done():
                    return
                if not self.inbox:
                    self.cond.wait(poll())

    def _take(self, item: _Done) -> None:
        if item.failure is not None:
            raise item.failure
        if item.hello is not None and self.result.settings.get("python") is None:
            python = str(item.hello.get("python"))
            self.result.settings["python"] = python
            self.result.settings["python_note"] = python_note(
                python, self.result.settings["base_image"]
            )
        if item.record is None:
            return
        record = item.record
        decision = self.in_flight.pop(item.ee)
        end_s = decision.at_s + item.elapsed_s
        self.clock_s = max(self.clock_s, end_s)
        self._retire(self.scheduler.finish(item.ee, end_s, record["status"], gone=item.gone))
        self.result.ees[item.ee]["executions"].append(decision.index)
        self.result.executions.append(record)
        self.on_execution(record)

    def _post(self, item: _Done) -> None:
        with self.cond:
            self.inbox.append(item)
            self.cond.notify_all()

    def _close(self) -> None:
        """Destroy every EE (at once), let the lanes end, and sweep by label."""
        self.closing = True
        lanes = self.every_lane
        for lane in lanes:
            lane.close()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda lane: lane.ee.destroy(), lanes))
        deadline = time.monotonic() + LANE_JOIN_S
        for lane in lanes:
            lane.thread.join(max(0.0, deadline - time.monotonic()))
        self.engine.remove_containers(self.run_id)

    # -- on a lane's thread --

    def _guarded(self, lane: _Lane, task: Callable[[], None]) -> None:
        """Run ``task``; a failure goes to the main thread, unless the run is closing."""
        try:
            task()
        except Exception as exc:
            if not self.closing:
                self._post(_Done(ee=lane.ee.id, failure=exc))
            lane.close()

    def _start(self, lane: _Lane) -> None:
        started = time.monotonic()
        hello = lane.ee.start()
        lane.ee.request(
            {
                "type": "load",
                "steps": [{"name": step.name, "code": step.code} for step in self.plan.steps],
                "inputs": self.plan.inputs,
                "memory_bytes": self.plan.memory_bytes,
                "timeout_s": self.plan.timeout_s,
            },
            timeout_s=60,
        )
        lane.start_s = time.monotonic() - started
        self._post(_Done(ee=lane.ee.id, hello=hello))

    def _set_running(self, lane: _Lane, virtual_s: float) -> None:
        """From now on, ``lane``'s execution is at ``virtual_s`` plus the real time since."""
        with self.cond:
            lane.running = (virtual_s, time.monotonic())
            self.cond.notify_all()

    def _execute(self, lane: _Lane, decision: Decision, message: dict[str, Any]) -> None:
        """Run one execution; a cold one starts the EE first, unless a standby EE did.

        Either way the EE's start is part of the execution's virtual time.
        """
        cold_start_s = 0.0
        if decision.start is Start.COLD:
            if lane.start_s is None:  # virtual time runs during the start itself
                self._set_running(lane, decision.at_s)
                self._start(lane)
            assert lane.start_s is not None
            cold_start_s = lane.start_s
        self._set_running(lane, decision.at_s + cold_start_s)
        started = time.monotonic()
        cold_start_ms = round(cold_start_s * 1000, 3) if decision.start is Start.COLD else None
        gone = False
        try:
            reply = lane.ee.request(message, timeout_s=self.plan.timeout_s + REPLY_GRACE_S)
        except EEGone as exc:
            gone = True
            reply = {
                "status": "oom" if exc.oom_killed else "error",
                "error": {
                    "type": "OutOfMemory" if exc.oom_killed else "EEGone",
                    "message": str(exc),
                    "step": None,
                    "traceback": None,
                },
                "duration_ms": (time.monotonic() - started) * 1000,
            }
        done = _Done(
            ee=lane.ee.id,
            record=execution_record(decision, reply, cold_start_ms),
            elapsed_s=cold_start_s + time.monotonic() - started,
            gone=gone,
        )
        with self.cond:
            lane.running = None
            self.inbox.append(done)
            self.cond.notify_all()


def execution_record(
    decision: Decision, reply: dict[str, Any], cold_start_ms: float | None
) -> dict[str, Any]:
    """The report's record of one execution, from the scheduler's decision and the EE's reply."""
    notes = []
    for step in reply.get("restarted_steps", []):
        notes.append(
            f"step {step!r}'s process was restarted (the last one was killed); "
            f"/tmp was kept, module globals were not"
        )
    if reply.get("platform_files_intact") is False:
        notes.append(
            "a step deleted the platform's files in /tmp/__pdg__: on the platform, later "
            "executions in this EE fail once a step process restarts"
        )
    return {
        "index": decision.index,
        "ee": decision.ee,
        "start": decision.start.value,
        "arrived_at_s": round(decision.arrived_at_s, 6),
        "at_s": round(decision.at_s, 6),
        "status": reply["status"],
        "error": reply.get("error"),
        "exit_reason": reply.get("exit_reason"),
        "respond": reply.get("respond"),
        "steps": reply.get("steps", {}),
        "tmp": reply.get("tmp"),
        "memory": reply.get("memory"),
        "duration_ms": round(reply["duration_ms"], 3),
        "cold_start_ms": cold_start_ms,
        "restarted_steps": reply.get("restarted_steps", []),
        "notes": notes,
    }


def run_plan(
    engine: DockerEngine, plan: RunPlan, on_execution: OnExecution | None = None
) -> RunResult:
    """Run ``plan`` on ``engine``; see ``Runner``."""
    return Runner(engine, plan, on_execution).run()
