"""The one runner: a run's arrivals, executed in EEs as the scheduler decides.

``Runner(backend, plan).run()`` is the core of ``pdee run``, ``pdee check`` and
``pdee.run``; ``pdee serve`` runs the same ``Runner`` with another arrival source.

Where arrivals come from is the runner's *source* (``sources``): the plan's virtual
schedule (the default), or the requests of ``pdee serve`` as they come, on the real clock
(``serving.request_queue``). The runner asks the source when its next arrival comes and
merges in the later parts of paused executions (``parts``: ``pd.flow.delay``, ``suspend``,
``rerun``), whichever the source; it places each arrival in time order. The source
declares the two ways sources differ: whether its clock is the real one (then nothing
starts before now, and the runner waits in real time for the next request or the next
resumption's time) and whether the main thread may run an execution itself.

The main thread (the one that calls ``run``) asks the scheduler where each arrival goes,
and hands the work to the EE's *lane* (``lanes``): a thread that owns one EE, starts it,
runs its executions one at a time and destroys it. So up to ``concurrency`` executions
run for real at once, each in its own EE. Lanes report through one inbox; the main
thread alone keeps the records. With one execution at a time on the virtual clock, the
main thread runs each execution itself (``Lane.run_here``): it would only wait for it.

Before the scheduler decides for an arrival at virtual time ``t``, the main thread waits
only until it knows, for every execution in flight, whether it ends before ``t``
(``clock``); on the real clock, what ended before now is news already in the inbox.
Where cold starts recur, a *standby* EE starts ahead in the background (``standby``).
What a lane does with its EE is ``ee_work``.

Every EE the run makes is destroyed on the way out, whatever the way out is.
"""

from __future__ import annotations

import heapq
import logging
import math
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from ..backends import EE, Backend, EESpec, Host, ImageInfo
from ..errors import ImageError, PdeeError, RunAborted, UsageError
from ..interrupts import Terminated, deferred
from ..lifecycle import clock, retry
from ..lifecycle.admission import Throttle, Verdict
from ..lifecycle.scheduler import Decision, Mode, Retire, Retirement, Scheduler
from ..plan.controls import Controls
from ..plan.events import WorkflowIds, context, trigger_event
from ..plan.run_plan import DEBUG_WAIT, RunPlan, debugged_steps
from ..plan.sizes import format_size, plural
from ..provision import packages
from ..provision.image import check_image, python_note
from ..provision.recipe import cache_lock
from ..results.records import (
    EELife,
    Execution,
    InstalledPackage,
    RunResult,
    Settings,
    StepError,
    StoreAtEnd,
)
from ..runtime import protocol
from ..services.data_stores import DataStore
from ..version import __version__
from .ee_work import EEWork, debug_ports
from .flow_urls import Action, FlowAnswer, FlowCall, FlowDoors, FlowUrls, unknown
from .lanes import Failed, Finished, Lane, News, Running, Started, Wake, close_all
from .parts import REDEPLOYED, Part, Resumption, follow, redeployed, resumed_by_url
from .retries import Retries, pending
from .sources import ArrivalSource, VirtualSchedule
from .standby import Standby

if TYPE_CHECKING:
    from ..backends.relay import DebugRelay

log = logging.getLogger("pdee")

# On the way out: how long lanes get to finish the backend call they are in.
LANE_JOIN_S = 30.0
# An EE that retires sound (expired, destroyed at random, done in cold mode) may be made
# new again for a later cold start; one that broke, ran out of memory or timed out never.
RECYCLABLE = {Retire.IDLE, Retire.CHAOS, Retire.COLD_MODE}

OnExecution = Callable[[Execution], None]


@dataclass(frozen=True)
class Deployment:
    """New code for a running run (``serve --reload``): the plan, and the image its EEs
    start from (with its packages), made ready before the run switches to it."""

    plan: RunPlan
    image: str
    packages: list[InstalledPackage]
    switched: threading.Event = field(default_factory=threading.Event, compare=False)


def clock_setting(mechanism: str, real_clock: bool) -> str:
    """The report's ``settings.clock``: what the steps read as wall-clock time, from the
    mechanism an EE says it has (``Hello.clock``)."""
    if real_clock:
        return "real"
    if mechanism.startswith("time-machine"):
        return f"virtual ({mechanism}, in the step's process)"
    return (
        "virtual (time functions only: the image has no clock extension, datetime.now() "
        "reads the real clock; rebuild it with `pdee image build`)"
    )


class Runner:
    """Carries out one plan on one backend, for the arrivals of one source."""

    def __init__(
        self,
        backend: Backend,
        plan: RunPlan,
        on_execution: OnExecution | None = None,
        progress: Callable[[str], None] | None = None,
        source: ArrivalSource | None = None,
        flow_urls: FlowUrls | None = None,
    ) -> None:
        """A run of ``plan`` on ``backend``, not started yet (``run``).

        Args:
            backend: where EEs run.
            plan: what to run.
            on_execution: called on the run's thread with each execution as it ends.
            progress: told, line by line, what the run does before its first EE.
            source: the arrivals (default: the plan's virtual schedule).
            flow_urls: where the flow URLs of paused executions answer (``pdee serve``;
                default: nowhere, pdee's own URLs).
        """
        self.backend = backend
        self.plan = plan
        self.source: ArrivalSource = source or VirtualSchedule(plan)
        self.on_execution = on_execution or (lambda _execution: None)
        self.progress = progress or (lambda _line: None)  # what it does before the first EE
        self.run_id = uuid.uuid4().hex[:12]
        # --debug-port: local ports whose debuggers reach the steps of the EE that runs.
        self.relay: DebugRelay | None = None
        if plan.debug_port is not None:
            from ..backends.relay import DebugRelay  # under --debug-port only: start-up time

            self.relay = DebugRelay(debug_ports(plan))
        self.spec = EESpec(
            plan.image,
            plan.tmp_size_bytes,
            plan.memory_bytes,
            plan.network,
            cpus=plan.cpus,
            # With the host's network an EE has no namespace of its own to block in.
            block_link_local=not plan.allow_link_local and plan.network != "host",
            debug_relay=self.relay,
        )
        self.scheduler = Scheduler(plan.policy)
        self.rng = random.Random(plan.policy.seed)
        self.workflow = WorkflowIds.create(
            self.rng, plan.steps[-1].name, plan.workflow, plan.trigger
        )
        self.origin = plan.origin or datetime.now(timezone.utc)
        self.result = RunResult(run_id=self.run_id, settings=self._settings(None))
        self.inbox: queue.Queue[News] = queue.Queue()
        self.every_lane: list[Lane] = []  # so that the way out misses none
        self.lanes: dict[str, Lane] = {}  # live EEs, by id
        self.standby = Standby(
            plan.policy.concurrency if plan.policy.mode is Mode.COLD else 0, self._starting_lane
        )
        self.work = EEWork(
            plan,
            self._new_ee,
            origin_ts=self.origin.timestamp(),
            virtual_clock=not self.source.real_clock,  # serve: the steps' real clock
        )
        self.store_totals: dict[str, list[int]] = {}  # reads and writes, by store
        self.placing = False  # an arrival is being placed (counted out of events left)
        self.in_flight: dict[str, Decision] = {}
        self.parts: dict[int, Part] = {}  # the part each execution in flight runs, by index
        # The steps each execution in flight runs (the code it was dispatched with).
        self.part_steps: dict[int, list[str]] = {}
        # Later parts of paused executions, by arrival time; the source gives their indexes.
        self.resumptions: list[tuple[float, int, Resumption]] = []
        self.paused_by: dict[int, int] = {}  # a later part's index: the paused part's
        self.clock_s = 0.0  # the latest virtual time pdee knows of
        # The throttle and the event queue (None: arrivals go straight to the scheduler),
        # and the source's next arrival once they admitted it, until it is placed.
        self.admission = plan.controls.admission()
        self.controls = plan.controls  # the ones ``admission`` enforces
        self.admitted: float | None = None
        self.retries = Retries(plan.auto_retry, [step.name for step in plan.steps], self.origin)
        self.flow_urls = flow_urls
        self.doors = FlowDoors()  # the flow URLs' tokens, with flow_urls
        self.image: ImageInfo | None = None  # the EE image, once checked
        self.deployments: queue.Queue[Deployment] = queue.Queue()  # serve --reload's
        self.old_image: set[str] = set()  # EEs of a replaced package image: never recycled

    def _settings(self, image: ImageInfo | None) -> Settings:
        plan, policy = self.plan, self.plan.policy
        return Settings(
            mode=policy.mode.value,
            concurrency=policy.concurrency,
            idle_timeout_s=policy.idle_timeout_s,
            chaos=policy.chaos,
            warm_workers=policy.warm_workers,
            arrivals=self.source.describe(),
            seed=policy.seed,
            tmp_size_bytes=plan.tmp_size_bytes,
            memory_bytes=plan.memory_bytes,
            container_memory_bytes=self.spec.container_memory_bytes,
            timeout_s=plan.timeout_s,
            timeout_from=plan.timeout_from,
            trigger=plan.trigger,
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
            controls=plan.controls.describe(),
            data_stores={
                name: None if path is None else str(path) for name, path in plan.data_stores.items()
            },
            workflow=plan.workflow.describe() if plan.workflow else None,
            notes=plan.notes,
            recycle=plan.recycle,
            auto_retry=retry.described(plan.auto_retry),
            debug_port=plan.debug_port,
        )

    def _interval(self) -> float | None:
        """The seconds between timer events, as the run spaces its arrivals."""
        return self.plan.arrivals_described.get("interval_s")

    def _link_local(self) -> str:
        if self.spec.block_link_local:
            return "blocked"
        if self.plan.allow_link_local:
            return "open (--allow-link-local)"
        return "open (--network host: the EE shares the host's network, which pdee leaves alone)"

    # -- the main thread --

    def run(self) -> RunResult:
        """Run every arrival of the source (the plan's events, by default) and what
        follows them; the result, executions in event order.

        Raises:
            ImageError, UsageError: before any EE starts.
            RunAborted: the backend failed mid-run; it carries the partial result.
            KeyboardInterrupt, Terminated: after clean-up; ``self.result`` holds what
                ended, with ``interrupted`` set.
        """
        image = self.image = check_image(self.backend, self.plan.image)
        self.backend.check_network(self.plan.network)
        self._check_host(self.backend.host())
        self.result.settings = self._settings(image)
        try:
            self._open_stores()
            self._prepare_packages(image)
            if self.relay is not None:
                self.relay.open()
                where = ", ".join(f"127.0.0.1:{port}" for port in sorted(self.relay.ports))
                self.progress(f"{DEBUG_WAIT} {where}")
        except BaseException:
            self._close_stores()
            raise
        failure: PdeeError | None = None
        try:
            self._walk()
        except PdeeError as exc:
            failure = exc
        except (KeyboardInterrupt, Terminated):
            self.result.interrupted = True
            raise
        finally:
            with deferred():  # a second Ctrl-C must not cut the clean-up short
                self._close()
                self._close_stores()
                self._leave_pending()
        if failure is not None:
            self.result.aborted = str(failure)
            raise RunAborted(failure, self.result) from failure
        return self.result

    def abort(self) -> None:
        """End the run from another thread, as a SIGTERM would: at its next wait, every
        EE is removed and ``run`` raises ``Terminated``."""
        self.inbox.put(Failed("abort", Terminated()))

    def _check_host(self, host: Host) -> None:
        """Raises UsageError if an EE would need more than the host has."""
        if self.plan.cpus > host.cpus:
            raise UsageError(
                f"--cpus {self.plan.cpus:g}: the Docker host has "
                f"{plural(host.cpus, 'CPU')}; give at most {host.cpus}"
            )
        needed = self.spec.container_memory_bytes
        if host.memory_bytes and needed > host.memory_bytes:
            raise UsageError(
                f"an EE needs {format_size(needed)} of memory (--tmp-size "
                f"{format_size(self.plan.tmp_size_bytes)}, which is memory, + --memory "
                f"{format_size(self.plan.memory_bytes)} + pdee's headroom), over the Docker "
                f"host's {format_size(host.memory_bytes)}; give a smaller --tmp-size"
            )

    def _open_stores(self) -> None:
        """Open the run's data stores (before any EE).

        Raises:
            UsageError: a store's file cannot be opened or is not a data store.
        """
        for name, path in self.plan.data_stores.items():
            self.work.stores[name] = DataStore(name, path)

    def _close_stores(self) -> None:
        """Keep each store's records in the result, then let go of the stores."""
        now = self.origin.timestamp() + self.clock_s
        for name, store in self.work.stores.items():
            records = {record.key: record.to_json() for record in store.records(now)}
            path = str(store.path) if store.path is not None else None
            reads, writes = self.store_totals.get(name, (0, 0))
            self.result.data_stores.append(StoreAtEnd(name, path, records, reads, writes))
            store.close()

    def _prepare_packages(self, image: ImageInfo) -> None:
        """Fetch the steps' packages and make the image EEs start from (before any EE).

        Raises:
            UsageError: a package cannot be had, or the packages alone fill /tmp.
            PackageError: PyPI is out of reach, or they are not cached with offline.
            ImageError: the image with the packages could not be made.
        """
        if not self.plan.packages:
            return
        tag, self.result.settings.packages = self._package_image(image, self.plan)
        self.spec = replace(self.spec, image=tag)

    def _package_image(self, image: ImageInfo, plan: RunPlan) -> tuple[str, list[InstalledPackage]]:
        """The image with ``plan``'s packages, made (once) if need be, and the packages.

        Raises:
            UsageError, PackageError, ImageError: as ``_prepare_packages``.
        """
        if image.python is None:
            raise ImageError(f"image {image.tag} does not say its Python; rebuild it")
        fetched = packages.fetch(
            plan.packages, image.python, offline=plan.offline, progress=self.progress
        )
        if fetched.installed_bytes + plan.code_bytes >= plan.tmp_size_bytes:
            raise UsageError(
                f"the steps' packages take {format_size(fetched.installed_bytes)} installed "
                f"(and their code {format_size(plan.code_bytes)}), all of the "
                f"{format_size(plan.tmp_size_bytes)} /tmp: every execution would fail; "
                f"drop packages or give a larger --tmp-size"
            )
        wanted = packages.package_image(image, fetched)
        with cache_lock(f"image-{wanted.tag.replace(':', '-')}"):  # built once, not per run
            tag = self.backend.package_image(wanted, self.progress)
        return tag, [InstalledPackage(w.name, w.version, w.bytes) for w in fetched.wheels]

    # -- redeploys (serve --reload): any thread prepares, the run's thread switches --

    def prepare(self, plan: RunPlan) -> Deployment:
        """``plan``'s new code made ready to deploy (its packages fetched, their image
        made), on the calling thread, while the run goes on with the old code.

        Raises:
            UsageError, PackageError, ImageError: the packages cannot be had; the run
                goes on with the old code.
        """
        assert self.image is not None, "a run prepares a deployment once it has started"
        if self.relay is not None and _debugged(plan) != _debugged(self.plan):
            # Its relay listens on the ports of the steps it started with.
            raise UsageError(
                "--debug-port: the new code debugs other steps; restart pdee serve to debug "
                "the new steps"
            )
        if not plan.packages:
            return Deployment(plan, self.image.tag, [])
        tag, wheels = self._package_image(self.image, plan)
        return Deployment(plan, tag, wheels)

    def redeploy(self, deployment: Deployment) -> None:
        """Switch to ``deployment`` from the next arrival on (any thread; its ``switched``
        is set once the run has): executions in flight finish on the old code, then
        their EEs retire; idle EEs retire at once; no EE runs the old code again."""
        self.deployments.put(deployment)
        self.inbox.put(Wake())

    def _switch_to_new_code(self) -> None:
        """Take in the deployments ``redeploy`` handed over, in turn."""
        while not self.deployments.empty():
            self._switch(self.deployments.get_nowait())

    def _switch(self, deployment: Deployment) -> None:
        """The run's thread: take ``deployment`` in, as the platform deploys new code
        (a new deployment id; every EE of the old code retired; warm workers anew)."""
        plan = deployment.plan
        if deployment.image != self.spec.image:
            self.old_image |= set(self.lanes) | {lane.ee.id for lane in self.standby.lanes}
        steps_changed = _names(plan) != _names(self.plan)
        self.plan = self.work.plan = plan
        self.retries.on, self.retries.step_names = plan.auto_retry, _names(plan)
        if steps_changed:
            self._cancel_pending()
        self.spec = replace(self.spec, image=deployment.image)
        fresh = WorkflowIds.create(self.rng, plan.steps[-1].name, plan.workflow, plan.trigger)
        self.workflow = replace(self.workflow, deployment_id=fresh.deployment_id, name=fresh.name)
        settings = self.result.settings
        settings.steps = [step.name for step in plan.steps]
        settings.notes = plan.notes
        settings.auto_retry = retry.described(plan.auto_retry)
        settings.controls = plan.controls.describe()
        if deployment.packages or settings.packages:
            settings.packages = deployment.packages
        for lane in self.standby.drain():  # loaded with the old code
            lane.give(partial(_destroy, lane))
            lane.close()
        at_s = self.source.now_s() if self.source.real_clock else self.clock_s
        retired, prestarted = self.scheduler.redeploy(at_s)
        self._retire(retired)
        for ee_id in prestarted:
            self._open_lane(ee_id, at_s, warm_worker=True)
        deployment.switched.set()

    def _cancel_pending(self) -> None:
        """A redeploy changed the steps: the later parts to come (a pause's, a retry's)
        never run, as their start step means another step in the new code. Each one's
        earlier part says so; its flow URLs answer no more."""
        records = self.result.executions
        for _, index, _resumption in sorted(self.resumptions, key=lambda entry: entry[:2]):
            self.doors.shut(index)
            self.retries.failed_left.pop(index, None)
            records.append(redeployed(records.by_index(self.paused_by.pop(index))))
        if self.resumptions:
            log.warning(
                "%s of paused or failed executions will not run: %s",
                plural(len(self.resumptions), "later part"),
                REDEPLOYED,
            )
        self.resumptions.clear()

    def _new_controls(self) -> None:
        """A redeploy brought another throttle or queue size (workflow.yaml): admit the
        next arrivals by them, between placements. An arrival the old ones admitted
        waits for the new throttle's window; with a throttle of 0 it never runs."""
        self.controls = self.plan.controls
        self.admission = self.plan.controls.admission()
        admitted, admission = self.admitted, self.admission
        verdict = admission.arrive(admitted) if admitted is not None and admission else None
        if admitted is not None and verdict is Verdict.PAUSED:
            self._not_run(self.source.take(), admitted, verdict)
            self.admitted = None

    def _walk(self) -> None:
        """Place every arrival in time order: the source's, and the later parts of paused
        executions as they become known; then retire every EE."""
        self._take_rest()  # an abort that came while the run got ready: no EE starts
        for ee_id in self.scheduler.begin():
            self._open_lane(ee_id, 0.0, warm_worker=True)
        self.source.open(lambda: self.inbox.put(Wake()))
        if self.flow_urls is not None:
            self.flow_urls.open(lambda: self.inbox.put(Wake()))
        while True:
            self._switch_to_new_code()
            self._take_flow_calls()
            if _admits(self.plan.controls) != _admits(self.controls):
                self._new_controls()  # a redeploy's, here where no arrival is half-placed
            next_at = self.source.next_at()  # None: no more; inf: none known yet
            until_s = math.inf if next_at is None else next_at
            # The throttle may hold the next arrival until its window opens (release_s);
            # the queue may drop it (``_admit``).
            release_s = until_s if until_s == math.inf else self._admit(until_s)
            if release_s is None:
                continue  # it was dropped
            # Every execution that ends before the source's next arrival is known, and
            # so is the part that follows it if it paused: a resumption due first goes
            # first (on the real clock, once its time has come).
            self._learn_ends(release_s)
            now_s = self.source.now_s()
            if self.resumptions and self.resumptions[0][0] <= min(release_s, now_s):
                at_s, _, resumption = heapq.heappop(self.resumptions)
                self.doors.shut(resumption.part.index)
                if resumption.until_called:  # a suspend nobody resumed: its timeout
                    self._settle(resumption.part.index, outcome="cancelled", resume_at_s=at_s)
                else:
                    self._arrive(resumption.part, at_s)
            elif release_s < math.inf and release_s <= now_s:
                # At the time it came, not now: on the real clock, while an earlier
                # request waited for a busy EE, later ones queued behind it and their
                # wait counts from their arrival.
                self.admitted = None
                self._arrive(self.source.take(), until_s, release_s)
            elif next_at is None and not self.in_flight:
                break  # on the real clock, a resumption not yet due is not waited for
            else:  # on the real clock: news, a request, a resumption's or a window's time
                due = [self.resumptions[0][0] - now_s] if self.resumptions else []
                due += [release_s - now_s] if release_s < math.inf else []
                self._take_news(min(due, default=None))
        self._retire(self.scheduler.end(self.clock_s))

    def _learn_ends(self, at_s: float) -> None:
        """Take in every end known before an arrival at ``at_s`` is placed."""
        if self.source.real_clock:
            # What ended before now is news already in the inbox: an execution that
            # ended before a request arrived is known before that request is placed.
            self._take_rest()
        else:
            self._sync(at_s)

    def _admit(self, at_s: float) -> float | None:
        """The source's next arrival, at ``at_s``, before the throttle and the queue:
        the earliest it may start, or None when it is not run (the queue was full, or
        the workflow is paused), recorded as ``dropped``."""
        admission = self.admission
        if admission is None:
            return at_s
        if self.admitted is None:
            verdict = admission.arrive(at_s)
            if verdict is not Verdict.QUEUED:
                self._not_run(self.source.take(), at_s, verdict)
                return None
            self.admitted = at_s
        return admission.release(at_s)

    def _not_run(self, part: Part, at_s: float, verdict: Verdict) -> None:
        """An arrival the platform would not run: its ``dropped`` record."""
        if verdict is Verdict.DROPPED:
            size = self.controls.queue_size or 0  # (only a queue drops)
            error = StepError(
                "Event Queue Full",
                f"the workflow's queue was full ({plural(size, 'event')} waiting, queue "
                f"size {size}): the platform drops this one",
            )
        else:
            error = StepError(
                "Workflow Paused",
                f"the throttle's limit of 0 (--throttle {self.controls.throttle}) pauses "
                f"the workflow: the event waits in its queue and never runs",
            )
        execution = Execution.not_run(part.index, at_s, error)
        self.clock_s = max(self.clock_s, at_s)
        self.result.executions.append(execution)
        self.on_execution(execution)

    def _arrive(self, part: Part, at_s: float, release_s: float | None = None) -> None:
        """Place ``part``, which arrived at ``at_s``; a source's arrival that the
        throttle holds until ``release_s`` starts no earlier."""
        self.placing = True
        try:
            self._place(part, at_s, release_s)
        finally:
            self.placing = False

    def _place(self, part: Part, at_s: float, release_s: float | None = None) -> None:
        arrived_s = at_s
        if release_s is not None:
            at_s = release_s  # the scheduler places it when the throttle lets it go
        arrival = self.scheduler.arrive(part.index, at_s)
        self._retire(arrival.retired)
        for ee_id in arrival.prestarted:
            self._open_lane(ee_id, at_s, warm_worker=True)
        decision = arrival.decision
        if decision is None:
            assert arrival.wait_for is not None
            self._wait_for_ee(arrival.wait_for)
            decision = self.scheduler.resume(part.index, at_s, arrival.wait_for)
        if self.source.real_clock:
            # On the real clock nothing starts before now: a request placed after the
            # ones queued before it starts when it is placed, not when its EE became free.
            now_s = self.source.now_s()
            if decision.at_s < now_s:
                decision = replace(decision, at_s=now_s)
        if release_s is not None and self.admission is not None:
            # It starts when the throttle's window allows, and arrived when it came.
            start_s = self.admission.start(decision.at_s)
            decision = replace(decision, arrived_at_s=arrived_s, at_s=start_s)
            if self.source.real_clock:  # a wait for an EE ran into a full window: wait on
                self._wait(
                    lambda: self.source.now_s() >= start_s,
                    lambda: start_s - self.source.now_s(),
                )
        self._dispatch(decision, part)

    def _open_lane(self, ee_id: str, at_s: float, warm_worker: bool) -> Lane:
        """A lane for EE ``ee_id``: a standby one for a cold start if there is one."""
        lane = None if warm_worker else self.standby.take(ee_id)
        if lane is None:
            lane = self._starting_lane(ee_id) if warm_worker else self._new_lane(ee_id)
        self.lanes[ee_id] = lane
        self.result.ees[ee_id] = EELife(
            id=ee_id, warm_worker=warm_worker, started_at_s=round(at_s, 6)
        )
        return lane

    def _new_ee(self, ee_id: str) -> EE:
        return self.backend.ee(self.spec, self.run_id, ee_id)

    def _new_lane(self, ee_id: str) -> Lane:
        """A lane with no task yet, known to ``_close`` before it can make an EE."""
        lane = Lane(self._new_ee(ee_id), self.inbox)
        lane.virtual_s = self.clock_s  # a standby EE starts now
        self.every_lane.append(lane)
        return lane

    def _starting_lane(self, ee_id: str) -> Lane:
        """A lane whose first task starts its EE."""
        lane = self._new_lane(ee_id)
        lane.give(lambda: self.work.start(lane))
        return lane

    def _events_left(self) -> int:
        return self.source.left() + len(self.resumptions)

    def _dispatch(self, decision: Decision, part: Part) -> None:
        lane = self.lanes.get(decision.ee)
        cold = lane is None
        if lane is None:
            lane = self._open_lane(decision.ee, decision.at_s, warm_worker=False)
        when = self.origin + timedelta(seconds=decision.at_s)
        event = part.event
        if event is None:  # an empty event ({}: a body-only request's) is an event too
            event = trigger_event(
                self.plan.trigger,
                part.first_index,
                self.workflow.endpoint,
                when,
                self._interval(),
                self.plan.cron,
            )
        execution_context = context(self.workflow, self.rng, when)
        if part.trace_id is None:  # a first part: later ones share its trace id
            part = replace(part, trace_id=execution_context["trace_id"])
        execution_context["trace_id"] = part.trace_id
        message: protocol.Run = {
            "type": protocol.RUN,
            "index": decision.index,
            "event": event,
            "context": execution_context,
            **part.message(),
        }
        if self.flow_urls is not None:  # this part's own resume_url and cancel_url
            message["flow_url"] = self.flow_urls.url(self.doors.issue(decision.index))
        here = self._runs_here(lane)
        self.in_flight[decision.ee] = decision
        self.parts[decision.index] = part
        self.part_steps[decision.index] = _names(self.plan)
        if not here:
            lane.give(lambda: self.work.execute(lane, decision, message))
        if cold and not self.plan.recycle:
            self.standby.refill(self._events_left())
        elif cold and self.plan.policy.mode is Mode.COLD:  # each EE in flight comes back
            self.standby.refill(self._events_left(), returning=len(self.in_flight))
        # Otherwise the EEs that retire sound are made new again for the next cold
        # starts; only one that broke makes a new standby EE (``_retire``).
        if here:  # its Finished (or Failed) news is in the inbox when this returns
            lane.run_here(lambda: self.work.execute(lane, decision, message))

    def _runs_here(self, lane: Lane) -> bool:
        """Whether the main thread runs this execution itself rather than hand it to
        the lane's thread: only where it would do nothing but wait for it. With one
        execution at a time, every next placement waits for this one's end; on the main
        thread a Ctrl-C or SIGTERM interrupts it there as it would the wait. Not where
        the source may bring an arrival meanwhile (``pdee serve``: its thread must take
        requests while an execution runs)."""
        return (
            self.source.inline
            and self.plan.policy.concurrency == 1
            and not self.in_flight
            and lane.idle
            and threading.current_thread() is threading.main_thread()
        )

    def _retire(self, retirements: list[Retirement]) -> None:
        for retirement in retirements:
            life = self.result.ees[retirement.ee]
            life.retired = retirement.reason
            life.retired_at_s = round(retirement.at_s, 6)
            lane = self.lanes.pop(retirement.ee)
            sound = retirement.reason in RECYCLABLE or (
                retirement.reason is Retire.REDEPLOY and retirement.ee not in self.old_image
            )
            if (
                self.plan.recycle
                and sound
                and self.standby.keep(lane, self._events_left() + self.placing)
            ):
                lane.recycled = True
                lane.virtual_s = retirement.at_s
                lane.give(partial(self.work.recycle, lane))
                continue
            lane.give(partial(_destroy, lane))
            lane.close()
            if retirement.reason is not Retire.END:
                self.standby.churned(self._events_left())

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
            self._take_news(wait_s())

    def _take_news(self, timeout: float | None) -> None:
        """Take in the next news, waiting at most ``timeout`` seconds (None or ``inf``:
        until it comes), and whatever came with it."""
        try:
            news = self.inbox.get(
                timeout=None if timeout is None or timeout == math.inf else max(timeout, 0.0)
            )
        except queue.Empty:
            return
        self._take(news)
        self._take_rest()
        # A call to a flow URL is answered while the run waits (for a busy EE, say), not
        # only between placements.
        self._take_flow_calls()

    def _take_rest(self) -> None:
        """Take in whatever news is already in the inbox, without waiting."""
        while True:
            try:
                self._take(self.inbox.get_nowait())
            except queue.Empty:
                return

    def _take(self, news: News) -> None:
        if isinstance(news, Failed):
            raise news.error
        if isinstance(news, Started):
            self._take_hello(news.hello)
        elif isinstance(news, Running):
            self.lanes[news.ee].running = (news.virtual_s, news.real_s)
        elif isinstance(news, Finished):
            self._take_finished(news)
        elif isinstance(news, Wake) and not self.placing:
            # (Not while an arrival is placed, waiting for its EE: it was made for the
            # code before; the run switches once it is dispatched, at ``_walk``'s turn.)
            self._switch_to_new_code()

    def _take_hello(self, hello: protocol.Hello) -> None:
        settings = self.result.settings
        if settings.python is None:
            settings.python = hello["python"]
            synced = self.plan.workflow
            runtimes = [step.runtime for step in synced.steps if step.runs] if synced else []
            settings.python_note = python_note(settings.python, settings.base_image, runtimes)
            settings.memory_source = hello["memory_source"]
            settings.clock = clock_setting(str(hello.get("clock")), self.source.real_clock)

    def _take_finished(self, news: Finished) -> None:
        decision = self.in_flight.pop(news.ee)
        lane = self.lanes[news.ee]
        lane.running = None
        # Whether its EE is a recycled one: known once the lane made it (or replaced it).
        self.result.ees[news.ee].recycled = lane.recycled
        end_s = decision.at_s + news.elapsed_s
        self.clock_s = max(self.clock_s, end_s)
        part = self.parts.pop(decision.index)
        names = self.part_steps.pop(decision.index)  # the steps of the code it ran
        execution = news.execution
        if part.number != 1:  # a later part of a paused execution (records say part 1)
            execution = replace(execution, part=part.number, first_index=part.first_index)
        execution, resumption = follow(
            part,
            execution,
            names,
            end_s,
            self.source.next_index,
            self.plan.resume_after_s,
            self.plan.resume_data,
            by_url=self.flow_urls is not None,
        )
        # Its flow URLs lead to the part that follows a real pause only: not to a
        # failed part's retry (a step may hand out its URLs and then raise).
        self.doors.open(decision.index, resumption.part.index if resumption else None)
        if resumption is None:  # a failed part's retry, as a later part too (auto-retry)
            execution, resumption = self.retries.after(
                part, execution, decision, end_s, self.source.next_index, names
            )
        if resumption is not None and names != _names(self.plan):
            # It ran the code before a redeploy that changed the steps: nothing follows.
            self.doors.shut(resumption.part.index)
            self.retries.failed_left.pop(resumption.part.index, None)
            execution, resumption = redeployed(execution), None
        if resumption is not None:
            self.source.next_index += 1
            heapq.heappush(self.resumptions, (resumption.at_s, resumption.part.index, resumption))
            self.paused_by[resumption.part.index] = decision.index
        self._retire(self.scheduler.finish(news.ee, end_s, execution.status.value, gone=news.gone))
        self.result.ees[news.ee].executions.append(decision.index)
        execution = self.source.ended(execution)
        self.result.executions.append(execution)
        for name, use in execution.stores.items():
            total = self.store_totals.setdefault(name, [0, 0])
            total[0] += use.reads
            total[1] += use.writes
        self.on_execution(execution)

    def _take_flow_calls(self) -> None:
        """Answer the calls to flow URLs that came (``pdee serve``)."""
        if self.flow_urls is None:
            return
        for call in self.flow_urls.take():
            try:
                answer = self._flow_call(call)
            except BaseException:
                call.done.set_result(FlowAnswer(500, "Internal Server Error: pdee failed"))
                raise
            call.done.set_result(answer)

    def _flow_call(self, call: FlowCall) -> FlowAnswer:
        """Resume or cancel the paused execution behind ``call``'s token, once."""
        index = self.doors.enter(call.token)
        found = [entry for entry in self.resumptions if entry[1] == index]
        if index is None or not found:
            return unknown(call.action)
        record = self.result.executions.by_index(self.paused_by[index])
        if record.pause is None:  # a retry's, not a pause's: no door leads there
            return unknown(call.action)
        self.resumptions.remove(found[0])
        heapq.heapify(self.resumptions)
        resumption, paused = found[0][2], record.index
        what = f"#{paused}'s {record.pause.kind} after {record.pause.step}"
        if call.action is Action.CANCEL:
            self._settle(index, outcome="cancelled", resume_at_s=None, resumed_as=None)
            return FlowAnswer(200, f"cancelled {what}: its later steps do not run")
        now_s = self.source.now_s() if self.source.real_clock else self.clock_s
        resumed = resumed_by_url(resumption, now_s, call.data, record.pause.step)
        heapq.heappush(self.resumptions, (resumed.at_s, index, resumed))
        self._settle(index, outcome="resumed", resume_at_s=round(now_s, 6), resumed_as=index)
        self.paused_by[index] = paused  # still to come: pending if the run ends first
        return FlowAnswer(200, f"resumed {what}: its next part runs now as #{index}")

    def _settle(self, index: int, **outcome: Any) -> None:
        """The paused part that part ``index`` follows: its pause's outcome, as a flow
        URL or a timeout decided it (its record replaced in place)."""
        record = self.result.executions.by_index(self.paused_by.pop(index))
        if record.pause is not None:  # (a retry's part follows no pause: nothing to say)
            self.result.executions.append(replace(record, pause=replace(record.pause, **outcome)))

    def _leave_pending(self) -> None:
        """The later parts that never ran, as the run ends before their time (``pdee
        serve`` stopped, or a Ctrl-C): each paused part's record says ``pending``, not
        ``resumed`` as an execution that does not exist, and the result counts them."""
        log = self.result.executions
        for _, index, _resumption in sorted(self.resumptions, key=lambda entry: entry[:2]):
            paused = log.by_index(self.paused_by.pop(index))
            if paused.pause is None:  # a failed part whose retry was to come
                log.append(pending(paused))
                continue
            pause = replace(paused.pause, outcome="pending", resumed_as=None)
            log.append(replace(paused, pause=pause))  # in its place: the same index
        self.result.pending_parts += len(self.resumptions)
        self.resumptions.clear()

    def _close(self) -> None:
        """Destroy every EE (at once), let the lanes end, and sweep by label."""
        close_all(self.every_lane, LANE_JOIN_S)
        if self.relay is not None:
            self.relay.close()
        try:
            self.backend.remove_run(self.run_id)
        except PdeeError as exc:
            log.warning("could not sweep run %s's EEs (%s); run `pdee gc` later", self.run_id, exc)


def _names(plan: RunPlan) -> list[str]:
    """The names of ``plan``'s steps, in order: what a later part's start step counts in."""
    return [step.name for step in plan.steps]


def _debugged(plan: RunPlan) -> list[str]:
    """The steps a debugger attaches to under --debug-port, each on its own port."""
    on = plan.debug_port is not None
    return [step.name for step in debugged_steps(plan.steps)] if on else []


def _admits(controls: Controls) -> tuple[Throttle | None, int | None]:
    """What of the execution controls holds arrivals back: the throttle, the queue."""
    return controls.throttle, controls.queue_size


def _destroy(lane: Lane) -> None:
    """Destroy the lane's EE as it is when the task runs (a failed recycle replaces it)."""
    lane.ee.destroy()
