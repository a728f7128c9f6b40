"""A run: the plan's events, executed in EEs as the scheduler decides.

``Runner(backend, plan).run()`` is the core of ``pdee run`` and ``pdee.run``.

The main thread walks the events in arrival order on the virtual clock, asks the
scheduler where each goes, and hands the work to the EE's *lane* (``lanes``): a thread
that owns one EE, starts it, runs its executions one at a time and destroys it. So up
to ``concurrency`` executions run for real at once, each in its own EE. Lanes report
through one inbox; the main thread alone keeps the records.

Before the scheduler decides for an event arriving at virtual time ``t``, the main
thread waits only until it knows, for every execution in flight, whether it ends before
``t`` (``clock``). Where cold starts recur, a *standby* EE starts ahead in the
background; its measured start still counts on the virtual clock, and it takes the id
of the EE it becomes.

Every EE the run makes is destroyed on the way out, whatever the way out is.
"""

from __future__ import annotations

import logging
import queue
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from . import __version__, clock, packages
from .backend import Backend, EESpec, ImageInfo
from .errors import EEGone, ImageError, PdeeError, RunAborted, UsageError
from .events import Workflow, context, default_event
from .image import recipe_fingerprint
from .interrupts import Terminated, deferred
from .lanes import Failed, Finished, Lane, News, Running, Started, close_all
from .plan import RunPlan
from .records import EELife, Execution, RunResult, Settings
from .runtime import PROTOCOL_VERSION
from .scheduler import Decision, Mode, Retire, Retirement, Scheduler, Start
from .sizes import format_size

log = logging.getLogger("pdee")

# How long past the step timeout pdee waits for the runtime's own answer.
REPLY_GRACE_S = 15.0
PLATFORM_PYTHON = "3.12"
# On the way out: how long lanes get to finish the backend call they are in.
LANE_JOIN_S = 30.0

OnExecution = Callable[[Execution], None]


def check_image(backend: Backend, tag: str) -> ImageInfo:
    """The image, if it was built from this pdee's recipe.

    Raises:
        ImageError: missing, or built from another recipe.
    """
    info = backend.image(tag)
    expected = recipe_fingerprint()
    if info.recipe != expected:
        raise ImageError(
            f"image {tag} was built from recipe {info.recipe or 'unknown'}, this pdee "
            f"needs {expected}; rebuild it with `pdee image build`"
        )
    return info


def python_note(python: str, base_image: str | None) -> str | None:
    """A warning when the EE's Python is not the platform's."""
    if python.startswith(PLATFORM_PYTHON + "."):
        return None
    return (
        f"the EE runs Python {python} (base image {base_image or 'unknown'}), the platform "
        f"runs {PLATFORM_PYTHON}: build the image on python:3.12-slim where you can "
        f"(pdee image build --base python:3.12-slim)"
    )


def gone_reply(exc: EEGone, duration_ms: float) -> dict[str, Any]:
    """The reply an execution gets when its EE's container ended under it."""
    return {
        "status": "oom" if exc.oom_killed else "error",
        "error": {
            "type": "OutOfMemory" if exc.oom_killed else "EEGone",
            "message": str(exc),
            "step": exc.step,
            "traceback": None,
        },
        "steps": {
            name: {"return_value": None, "exports": {}, "logs": logs, "duration_ms": 0.0}
            for name, logs in exc.logs.items()
        },
        "duration_ms": duration_ms,
    }


class Runner:
    """Carries out one plan on one backend."""

    def __init__(
        self,
        backend: Backend,
        plan: RunPlan,
        on_execution: OnExecution | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.backend = backend
        self.plan = plan
        self.on_execution = on_execution or (lambda _execution: None)
        self.progress = progress or (lambda _line: None)  # what it does before the first EE
        self.run_id = uuid.uuid4().hex[:12]
        self.spec = EESpec(
            plan.image,
            plan.tmp_size_bytes,
            plan.memory_bytes,
            plan.network,
            cpus=plan.cpus,
            # With the host's network an EE has no namespace of its own to block in.
            block_link_local=not plan.allow_link_local and plan.network != "host",
        )
        self.scheduler = Scheduler(plan.policy)
        self.rng = random.Random(plan.policy.seed)
        self.workflow = Workflow.create(self.rng, plan.steps[-1].name)
        self.origin = plan.origin or datetime.now(timezone.utc)
        self.result = RunResult(run_id=self.run_id, settings=self._settings(None))
        self.inbox: queue.Queue[News] = queue.Queue()
        self.every_lane: list[Lane] = []  # so that the way out misses none
        self.lanes: dict[str, Lane] = {}  # live EEs, by id
        # EEs started ahead, which the next cold starts take: in cold mode one per
        # slot; otherwise one, once an EE went away mid-run (a sign of churn, chaos or
        # expiry), so that short runs pay for no spare EE.
        self.standby: list[Lane] = []
        self.standby_wanted = plan.policy.concurrency if plan.policy.mode is Mode.COLD else 0
        self.standby_made = 0
        self.dispatched = 0
        self.in_flight: dict[str, Decision] = {}
        self.clock_s = 0.0  # the latest virtual time pdee knows of
        self.measure = True  # the exact peaks; off only for the benchmark's baseline

    def _settings(self, image: ImageInfo | None) -> Settings:
        plan, policy = self.plan, self.plan.policy
        return Settings(
            mode=policy.mode.value,
            concurrency=policy.concurrency,
            idle_timeout_s=policy.idle_timeout_s,
            chaos=policy.chaos,
            warm_workers=policy.warm_workers,
            arrivals=plan.arrivals_described,
            seed=policy.seed,
            tmp_size_bytes=plan.tmp_size_bytes,
            memory_bytes=plan.memory_bytes,
            container_memory_bytes=self.spec.container_memory_bytes,
            timeout_s=plan.timeout_s,
            image=plan.image,
            image_id=image.id if image else "",
            base_image=image.base_image if image else None,
            network=plan.network,
            executions=plan.executions,
            steps=[step.name for step in plan.steps],
            pdee_version=__version__,
            run_id=self.run_id,
            env=sorted(plan.env),
            cpus=plan.cpus,
            cpus_from=plan.cpus_from,
            link_local=self._link_local(),
        )

    def _link_local(self) -> str:
        if self.spec.block_link_local:
            return "blocked"
        if self.plan.allow_link_local:
            return "open (--allow-link-local)"
        return "open (--network host: the EE shares the host's network, which pdee leaves alone)"

    # -- the main thread --

    def run(self) -> RunResult:
        """Run every execution of the plan; the result, executions in event order.

        Raises:
            ImageError, UsageError: before any EE starts.
            RunAborted: the backend failed mid-run; it carries the partial result.
            KeyboardInterrupt, Terminated: after clean-up; ``self.result`` holds what
                ended, with ``interrupted`` set.
        """
        image = check_image(self.backend, self.plan.image)
        self.backend.check_network(self.plan.network)
        host_cpus = self.backend.cpu_count()
        if self.plan.cpus > host_cpus:
            raise UsageError(
                f"--cpus {self.plan.cpus:g}: the Docker host has {host_cpus} CPU(s); give at "
                f"most {host_cpus}"
            )
        self.result.settings = self._settings(image)
        self._prepare_packages(image)
        failure: PdeeError | None = None
        try:
            self._walk_events()
        except PdeeError as exc:
            failure = exc
        except (KeyboardInterrupt, Terminated):
            self.result.interrupted = True
            raise
        finally:
            with deferred():  # a second Ctrl-C must not cut the clean-up short
                self._close()
        if failure is not None:
            self.result.aborted = str(failure)
            raise RunAborted(failure, self.result) from failure
        return self.result

    def _prepare_packages(self, image: ImageInfo) -> None:
        """Fetch the steps' packages and make the image EEs start from (before any EE).

        Raises:
            UsageError: a package cannot be had, or the packages alone fill /tmp.
            PackageError: PyPI is out of reach, or they are not cached with offline.
            ImageError: the image with the packages could not be made.
        """
        if not self.plan.packages:
            return
        if image.python is None:
            raise ImageError(f"image {image.tag} does not say its Python; rebuild it")
        fetched = packages.fetch(
            self.plan.packages, image.python, offline=self.plan.offline, progress=self.progress
        )
        if fetched.installed_bytes + self.plan.code_bytes >= self.plan.tmp_size_bytes:
            raise UsageError(
                f"the steps' packages take {format_size(fetched.installed_bytes)} installed "
                f"(and their code {format_size(self.plan.code_bytes)}), all of the "
                f"{format_size(self.plan.tmp_size_bytes)} /tmp: every execution would fail; "
                f"drop packages or give a larger --tmp-size"
            )
        self.spec = replace(
            self.spec, image=self.backend.package_image(image, fetched, self.progress)
        )
        self.result.settings.packages = [
            {"name": w.name, "version": w.version, "bytes": w.bytes} for w in fetched.wheels
        ]

    def _walk_events(self) -> None:
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

    def _open_lane(self, ee_id: str, at_s: float, warm_worker: bool) -> Lane:
        """A lane for EE ``ee_id``: a standby one for a cold start if there is one."""
        standby = self.standby.pop(0) if self.standby and not warm_worker else None
        if standby is not None:
            lane = standby
            lane.give(lambda: lane.ee.rename(ee_id))
        else:
            lane = self._new_lane(ee_id)
            if warm_worker:
                self._give_start(lane)
        self.lanes[ee_id] = lane
        self.result.ees[ee_id] = EELife(
            id=ee_id, warm_worker=warm_worker, started_at_s=round(at_s, 6)
        )
        return lane

    def _refill_standby(self) -> None:
        """Start EEs ahead for the cold starts to come (no more than events remain)."""
        events_left = self.plan.executions - self.dispatched
        while len(self.standby) < min(self.standby_wanted, events_left):
            self.standby_made += 1
            lane = self._new_lane(f"standby-{self.standby_made}")
            self._give_start(lane)
            self.standby.append(lane)

    def _new_lane(self, ee_id: str) -> Lane:
        """A lane with no task yet, known to ``_close`` before it can make an EE."""
        lane = Lane(self.backend.ee(self.spec, self.run_id, ee_id), self.inbox)
        self.every_lane.append(lane)
        return lane

    def _give_start(self, lane: Lane) -> None:
        lane.give(lambda: self._start(lane))

    def _dispatch(self, decision: Decision) -> None:
        self.dispatched += 1
        lane = self.lanes.get(decision.ee)
        if lane is None:  # a cold start
            lane = self._open_lane(decision.ee, decision.at_s, warm_worker=False)
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
        lane.give(lambda: self._execute(lane, decision, message))

    def _retire(self, retirements: list[Retirement]) -> None:
        for retirement in retirements:
            life = self.result.ees[retirement.ee]
            life.retired = retirement.reason
            life.retired_at_s = round(retirement.at_s, 6)
            lane = self.lanes.pop(retirement.ee)
            lane.give(lane.ee.destroy)
            lane.close()
            if retirement.reason is not Retire.END and not self.standby_wanted:
                self.standby_wanted = 1
                self._refill_standby()

    def _sync(self, at_s: float) -> None:
        """Wait until every execution in flight is known to end before or after ``at_s``."""

        def wait_s() -> float | None:
            running = [self.lanes[ee].running for ee in self.in_flight]
            return clock.wait_to_know(at_s, running, time.monotonic())

        self._wait(lambda: wait_s() is None, wait_s)

    def _wait_for_ee(self, ee_id: str) -> None:
        """Wait until ``ee_id``'s execution in flight has ended and been taken in."""
        self._wait(lambda: ee_id not in self.in_flight)

    def _wait(
        self, done: Callable[[], bool], wait_s: Callable[[], float | None] = lambda: None
    ) -> None:
        """Take in the lanes' news until ``done()``; ``wait_s()`` bounds each wait."""
        while not done():
            timeout = wait_s()
            try:
                news = self.inbox.get(timeout=None if timeout in (None, float("inf")) else timeout)
            except queue.Empty:
                continue
            self._take(news)
            while True:  # and whatever else came meanwhile
                try:
                    self._take(self.inbox.get_nowait())
                except queue.Empty:
                    break

    def _take(self, news: News) -> None:
        if isinstance(news, Failed):
            raise news.error
        if isinstance(news, Started):
            self._take_hello(news.hello)
        elif isinstance(news, Running):
            self.lanes[news.ee].running = (news.virtual_s, news.real_s)
        elif isinstance(news, Finished):
            self._take_finished(news)

    def _take_hello(self, hello: dict[str, Any]) -> None:
        settings = self.result.settings
        if settings.python is None:
            settings.python = str(hello.get("python"))
            settings.python_note = python_note(settings.python, settings.base_image)
            settings.memory_source = hello.get("memory_source")

    def _take_finished(self, news: Finished) -> None:
        execution = news.execution
        decision = self.in_flight.pop(news.ee)
        self.lanes[news.ee].running = None
        end_s = decision.at_s + news.elapsed_s
        self.clock_s = max(self.clock_s, end_s)
        self._retire(self.scheduler.finish(news.ee, end_s, execution.status.value, gone=news.gone))
        self.result.ees[news.ee].executions.append(decision.index)
        self.result.executions.append(execution)
        self.on_execution(execution)

    def _close(self) -> None:
        """Destroy every EE (at once), let the lanes end, and sweep by label."""
        close_all(self.every_lane, LANE_JOIN_S)
        try:
            self.backend.remove_run(self.run_id)
        except PdeeError as exc:
            log.warning("could not sweep run %s's EEs (%s); run `pdee gc` later", self.run_id, exc)

    # -- on a lane's thread --

    def _start(self, lane: Lane) -> None:
        started = time.monotonic()
        hello = lane.ee.start()
        if hello.get("protocol") != PROTOCOL_VERSION:
            raise ImageError(
                f"image {self.plan.image} speaks runtime protocol {hello.get('protocol')}, "
                f"this pdee {PROTOCOL_VERSION}; rebuild it with `pdee image build`"
            )
        loaded = lane.ee.request(
            {
                "type": "load",
                "steps": [
                    {"name": step.name, "code": step.code, "source": str(step.path)}
                    for step in self.plan.steps
                ],
                "inputs": self.plan.inputs,
                "env": self.plan.env,
                "measure": self.measure,
                "memory_bytes": self.plan.memory_bytes,
                "timeout_s": self.plan.timeout_s,
            },
            timeout_s=60,
        )
        lane.packages_bytes = int(loaded.get("packages_bytes", 0))
        lane.start_s = time.monotonic() - started
        lane.post(Started(lane.ee.id, hello))

    def _execute(self, lane: Lane, decision: Decision, message: dict[str, Any]) -> None:
        """Run one execution; a cold one starts the EE first, unless a standby EE did.

        Either way the EE's start is part of the execution's virtual time.
        """
        cold_start_s = 0.0
        if decision.start is Start.COLD:
            if lane.start_s is None:  # virtual time runs during the start itself
                lane.mark_running(decision.at_s)
                self._start(lane)
            assert lane.start_s is not None
            cold_start_s = lane.start_s
        lane.mark_running(decision.at_s + cold_start_s)
        started = time.monotonic()
        cold_start_ms = round(cold_start_s * 1000, 3) if decision.start is Start.COLD else None
        gone = False
        try:
            reply = lane.ee.request(message, timeout_s=self.plan.timeout_s + REPLY_GRACE_S)
        except EEGone as exc:
            gone = True
            reply = gone_reply(exc, (time.monotonic() - started) * 1000)
        if reply.get("tmp"):
            reply["tmp"]["packages_bytes"] = lane.packages_bytes
        lane.post(
            Finished(
                ee=decision.ee,
                execution=Execution.from_reply(decision, reply, cold_start_ms),
                elapsed_s=cold_start_s + time.monotonic() - started,
                gone=gone,
            )
        )
