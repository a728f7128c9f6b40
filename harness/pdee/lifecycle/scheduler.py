"""The scheduler: which EE runs each event, on a virtual clock. Pure: no Docker, no real time.

Events arrive at virtual times (``arrival_times``). For each arrival the scheduler
decides (``arrive``) whether an idle EE is reused (a warm start), a new EE starts (a
cold start), or the event must wait for a busy EE; it learns when executions end
(``finish``) and says which EEs go away, when, and why. The runner carries out its
decisions with real containers and feeds back the measured durations; unit tests
drive it with no EE at all.

The platform's rules, as ``Mode.REALISTIC`` applies them:

- an arriving event goes to the most recently used idle EE (so files may remain);
- an EE idle for longer than ``idle_timeout_s`` is destroyed (the platform: about 10
  minutes without events), except the ``warm_workers`` kept started on purpose;
- before each arrival, every idle EE is destroyed with probability ``chaos`` (an EE
  can be destroyed at any time);
- at most ``concurrency`` executions are in flight, each on its own EE (one EE runs
  one execution at a time); when all of them are busy, the event waits for the EE
  that was given work longest ago, so a burst is spread round robin;
- an execution that ends in Out of Memory or Timeout takes its EE with it.

``Mode.WARM`` reuses EEs forever (no expiry, no chaos; a step killed for memory or
time is restarted in the same EE); ``Mode.COLD`` never reuses one.

Every decision depends only on the policy, the seed and the order of virtual events.
Chaos draws are a hash of (seed, event, EE), not a shared random stream, so one
different decision does not shift all later ones. Real durations decide only when an
execution ends close to the next arrival, which is a real race on the platform too.
"""

from __future__ import annotations

import enum
import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field


class Mode(str, enum.Enum):
    """The EE lifecycle policy."""

    REALISTIC = "realistic"
    WARM = "warm"
    COLD = "cold"


class Start(str, enum.Enum):
    """How an execution found its EE."""

    COLD = "cold"  # a new EE started for it: empty /tmp, new step processes
    WARM = "warm"  # an EE already running: /tmp and module globals as it has them


class Retire(str, enum.Enum):
    """Why an EE went away."""

    IDLE = "idle"  # idle longer than the idle timeout
    CHAOS = "chaos"  # destroyed at random, as the platform may at any time
    OOM = "oom"  # its execution ran out of memory
    TIMEOUT = "timeout"  # its execution timed out
    BROKEN = "broken"  # its container ended under it
    COLD_MODE = "cold-mode"  # --mode cold: an EE serves one execution
    REDEPLOY = "redeploy"  # new code was deployed (serve --reload): its processes hold the old
    END = "end"  # the run ended


DEFAULT_IDLE_TIMEOUT_S = 600.0
DEFAULT_CHAOS = 0.01
DEFAULT_INTERVAL_S = 5.0


@dataclass(frozen=True)
class Policy:
    """How EEs are reused, expired and destroyed."""

    mode: Mode = Mode.REALISTIC
    concurrency: int = 1
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    chaos: float = DEFAULT_CHAOS
    warm_workers: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 0.0 <= self.chaos <= 1.0:
            raise ValueError("chaos is a probability, between 0 and 1")
        if self.idle_timeout_s <= 0:
            raise ValueError("idle_timeout_s must be positive")
        if self.warm_workers < 0:
            raise ValueError("warm_workers cannot be negative")
        if self.warm_workers and self.mode is Mode.COLD:
            raise ValueError("warm workers are reused EEs; --mode cold never reuses one")

    @property
    def expires(self) -> bool:
        return self.mode is Mode.REALISTIC

    @property
    def chaos_applies(self) -> bool:
        return self.mode is Mode.REALISTIC and self.chaos > 0


@dataclass(frozen=True)
class Decision:
    """Where and how one event runs."""

    index: int
    arrived_at_s: float  # virtual time the event arrived
    at_s: float  # virtual time its execution starts (later if it waited for an EE)
    ee: str
    start: Start


@dataclass(frozen=True)
class Retirement:
    """An EE to destroy, when, and why."""

    ee: str
    at_s: float
    reason: Retire


@dataclass(frozen=True)
class Arrival:
    """What happens when an event arrives.

    The runner destroys ``retired`` and starts ``prestarted`` (warm workers), then
    either runs ``decision`` or, when ``wait_for`` is set, waits for that EE's
    execution to end, reports it with ``finish`` and asks ``resume`` where to run.
    """

    retired: list[Retirement]
    prestarted: list[str]
    decision: Decision | None
    wait_for: str | None = None


@dataclass
class _EE:
    id: str
    number: int
    warm_worker: bool
    busy: bool = False
    free_at_s: float = 0.0  # virtual end of its last execution (or when it started)
    last_given_work: int = -1  # a counter value: higher is more recent; -1 never used
    stale: bool = False  # runs the code of a deployment since replaced: retires when free

    def busy_at(self, at_s: float) -> bool:
        return self.busy or self.free_at_s > at_s


def chaos_draw(seed: int, index: int, ee: str) -> float:
    """A uniform number in [0, 1), fixed by (seed, event, EE)."""
    digest = hashlib.blake2b(f"{seed}/{index}/{ee}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Scheduler:
    """Decides, event by event, which EE runs it."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.ees: dict[str, _EE] = {}
        self.started = 0
        self._work_given = 0
        # EEs retired when their execution ended, by id: (virtual end, when given that
        # work). Until that end, on the virtual clock, they still take a slot.
        self._ghosts: dict[str, tuple[float, int]] = {}

    def _new_ee(self, at_s: float, warm_worker: bool = False) -> _EE:
        self.started += 1
        ee = _EE(id=f"ee-{self.started}", number=self.started, warm_worker=warm_worker)
        ee.free_at_s = at_s
        self.ees[ee.id] = ee
        return ee

    def begin(self) -> list[str]:
        """The warm workers to start before the first event, at virtual time 0."""
        return [self._new_ee(0.0, warm_worker=True).id for _ in range(self.policy.warm_workers)]

    def arrive(self, index: int, at_s: float) -> Arrival:
        """Event ``index`` arrives at virtual time ``at_s``.

        Every execution that ended by ``at_s`` must have been reported (``finish``):
        an EE whose end is not yet known counts as busy.
        """
        retired = self._expire(at_s) + self._chaos(index, at_s)
        prestarted = self._replace_warm_workers(at_s)
        idle = [ee for ee in self.ees.values() if not ee.busy_at(at_s)]
        if idle and self.policy.mode is not Mode.COLD:
            ee = max(idle, key=lambda e: (e.last_given_work, -e.number))
            return Arrival(retired, prestarted, self._give(ee, index, at_s, at_s, Start.WARM))
        busy = [ee for ee in self.ees.values() if ee.busy_at(at_s)]
        self._ghosts = {ee: ghost for ee, ghost in self._ghosts.items() if ghost[0] > at_s}
        if len(busy) + len(self._ghosts) < self.policy.concurrency:
            ee = self._new_ee(at_s)
            return Arrival(retired, prestarted, self._give(ee, index, at_s, at_s, Start.COLD))
        # Every slot is taken: wait for the one given work longest ago.
        slots = [(ee.last_given_work, ee.id) for ee in busy]
        slots += [(given, ee_id) for ee_id, (_, given) in self._ghosts.items()]
        _, oldest = min(slots)
        if oldest in self._ghosts:  # it ended already, retired: a new EE takes its slot
            return Arrival(retired, prestarted, self.resume(index, at_s, oldest))
        return Arrival(retired, prestarted, None, wait_for=oldest)

    def resume(self, index: int, arrived_at_s: float, waited_for: str) -> Decision:
        """Event ``index`` waited for ``waited_for``, whose execution has been reported.

        It runs on that EE if the EE is still there (and reusable), else on a new one.
        """
        ee = self.ees.get(waited_for)
        if ee is not None and ee.busy:
            raise ValueError(f"{waited_for}'s execution has not been reported as finished")
        if ee is not None and self.policy.mode is not Mode.COLD:
            return self._give(ee, index, arrived_at_s, ee.free_at_s, Start.WARM)
        ended_s, _ = self._ghosts.pop(waited_for, (arrived_at_s, 0))
        at_s = max(arrived_at_s, ended_s)
        return self._give(self._new_ee(at_s), index, arrived_at_s, at_s, Start.COLD)

    def finish(
        self, ee_id: str, end_s: float, status: str = "ok", gone: bool = False
    ) -> list[Retirement]:
        """``ee_id``'s execution ended at virtual time ``end_s``; the EEs to retire now.

        Args:
            ee_id: the EE whose execution ended.
            end_s: virtual time of the end.
            status: the execution's status (ok, exit, error, timeout, oom).
            gone: the EE's container is gone, so it cannot be reused.
        """
        ee = self.ees.get(ee_id)
        if ee is None or not ee.busy:
            raise ValueError(f"{ee_id} has no execution in flight; it cannot finish one")
        ee.busy = False
        ee.free_at_s = end_s
        reason = None
        if gone:
            reason = Retire.OOM if status == "oom" else Retire.BROKEN
        elif self.policy.mode is Mode.COLD:
            reason = Retire.COLD_MODE
        elif self.policy.mode is Mode.REALISTIC and status in ("oom", "timeout"):
            reason = Retire(status)
        elif ee.stale:
            reason = Retire.REDEPLOY
        if reason is None:
            return []
        self._ghosts[ee.id] = (end_s, ee.last_given_work)
        return [self._retire(ee, end_s, reason)]

    def redeploy(self, at_s: float) -> tuple[list[Retirement], list[str]]:
        """New code is deployed at ``at_s``: no EE runs the old code again. Every idle EE
        retires now, each busy one as its execution ends (``finish``); the warm workers
        are started anew. The retirements, and the warm workers to start."""
        retired = []
        for ee in list(self.ees.values()):
            if ee.busy:
                ee.stale = True
            else:
                retired.append(self._retire(ee, max(at_s, ee.free_at_s), Retire.REDEPLOY))
        alive = sum(ee.warm_worker and not ee.stale for ee in self.ees.values())
        prestarted = [
            self._new_ee(at_s, warm_worker=True).id for _ in range(self.policy.warm_workers - alive)
        ]
        return retired, prestarted

    def end(self, at_s: float) -> list[Retirement]:
        """The run is over: every remaining EE retires."""
        return [
            self._retire(ee, max(at_s, ee.free_at_s), Retire.END) for ee in list(self.ees.values())
        ]

    # -- internals --

    def _give(
        self, ee: _EE, index: int, arrived_at_s: float, at_s: float, start: Start
    ) -> Decision:
        ee.busy = True
        ee.last_given_work = self._work_given
        self._work_given += 1
        return Decision(index=index, arrived_at_s=arrived_at_s, at_s=at_s, ee=ee.id, start=start)

    def _expire(self, at_s: float) -> list[Retirement]:
        if not self.policy.expires:
            return []
        timeout = self.policy.idle_timeout_s
        expired = [
            ee
            for ee in self.ees.values()
            if not ee.busy and not ee.warm_worker and ee.free_at_s + timeout < at_s
        ]
        return [self._retire(ee, ee.free_at_s + timeout, Retire.IDLE) for ee in expired]

    def _chaos(self, index: int, at_s: float) -> list[Retirement]:
        if not self.policy.chaos_applies:
            return []
        doomed = [
            ee
            for ee in self.ees.values()
            if not ee.busy_at(at_s)
            and chaos_draw(self.policy.seed, index, ee.id) < self.policy.chaos
        ]
        return [self._retire(ee, at_s, Retire.CHAOS) for ee in doomed]

    def _replace_warm_workers(self, at_s: float) -> list[str]:
        alive = sum(ee.warm_worker for ee in self.ees.values())
        return [
            self._new_ee(at_s, warm_worker=True).id for _ in range(self.policy.warm_workers - alive)
        ]

    def _retire(self, ee: _EE, at_s: float, reason: Retire) -> Retirement:
        del self.ees[ee.id]
        return Retirement(ee=ee.id, at_s=at_s, reason=reason)


@dataclass(frozen=True)
class Arrivals:
    """The virtual arrival times of a run's events, in seconds from the first (which
    arrives at 0), made one at a time as they are walked: a run of a hundred million
    events holds none of them in memory before it starts.

    Exactly one of: a fixed ``interval_s`` (0 is a burst: all at once), a Poisson
    process of ``rate_per_minute`` (drawn from ``seed``), or the events' own
    ``timestamps`` (seconds, in any origin; sorted).
    """

    count: int
    seed: int = 0
    interval_s: float | None = None
    rate_per_minute: float | None = None
    timestamps: Sequence[float] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        given = [x is not None for x in (self.interval_s, self.rate_per_minute, self.timestamps)]
        if sum(given) != 1:
            raise ValueError("give exactly one of interval_s, rate_per_minute, timestamps")
        if self.timestamps is not None and len(self.timestamps) < self.count:
            raise ValueError(f"{self.count} arrivals asked of {len(self.timestamps)} timestamps")
        if self.interval_s is not None and self.interval_s < 0:
            raise ValueError("interval_s cannot be negative")
        if self.rate_per_minute is not None and self.rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[float]:
        if self.timestamps is not None:
            first = self.timestamps[0] if self.timestamps else 0.0
            for index in range(self.count):
                yield self.timestamps[index] - first
        elif self.interval_s is not None:
            for index in range(self.count):
                yield index * self.interval_s
        else:
            assert self.rate_per_minute is not None
            rng = random.Random(f"{self.seed}/arrivals")
            now = 0.0
            for _ in range(self.count):
                yield now
                now += rng.expovariate(self.rate_per_minute / 60.0)


def arrival_times(
    count: int,
    seed: int,
    interval_s: float | None = None,
    rate_per_minute: float | None = None,
    timestamps: Sequence[float] | None = None,
) -> list[float]:
    """The ``Arrivals`` of those arguments, as a list."""
    return list(Arrivals(count, seed, interval_s, rate_per_minute, timestamps))


@dataclass
class Simulation:
    """What ``simulate`` decided: every placement, retirement and warm-worker start."""

    decisions: list[Decision] = field(default_factory=list)
    retired: list[Retirement] = field(default_factory=list)
    prestarted: list[str] = field(default_factory=list)
    ends: dict[int, float] = field(default_factory=dict)  # index -> virtual end

    @property
    def placements(self) -> list[tuple[str, str]]:
        """(EE, cold or warm) for each execution, in order."""
        return [(d.ee, d.start.value) for d in self.decisions]

    def reasons(self) -> Counter[Retire]:
        return Counter(r.reason for r in self.retired)


def simulate(
    policy: Policy,
    arrivals: Iterable[float],
    duration: Callable[[int], float] = lambda _index: 0.1,
    status: Callable[[int], str] = lambda _index: "ok",
    eager: bool = False,
) -> Simulation:
    """The scheduler's decisions for EEs whose executions take ``duration(index)``
    seconds and end with ``status(index)``: the runner's protocol with no container.

    Ends are reported before the first arrival that comes after them; with ``eager``,
    as soon as each execution starts, as the runner does when steps are quick for
    real but long on the virtual clock.
    """
    scheduler = Scheduler(policy)
    run = Simulation(prestarted=scheduler.begin())
    in_flight: dict[str, tuple[int, float]] = {}

    def finish(ee: str) -> None:
        index, end = in_flight.pop(ee)
        run.retired += scheduler.finish(ee, end, status(index))

    def finish_until(at_s: float) -> None:
        for ee in sorted(in_flight, key=lambda e: in_flight[e][1]):
            if in_flight[ee][1] <= at_s:
                finish(ee)

    for index, at_s in enumerate(arrivals):
        finish_until(at_s)
        arrival = scheduler.arrive(index, at_s)
        run.retired += arrival.retired
        run.prestarted += arrival.prestarted
        decision = arrival.decision
        if decision is None:
            assert arrival.wait_for is not None
            if arrival.wait_for in in_flight:
                finish(arrival.wait_for)
            decision = scheduler.resume(index, at_s, arrival.wait_for)
        if decision.ee in in_flight:
            raise AssertionError(f"two executions at once in {decision.ee}")
        end = decision.at_s + duration(index)
        in_flight[decision.ee] = (index, end)
        run.ends[index] = end
        run.decisions.append(decision)
        if eager:
            finish(decision.ee)
    finish_until(math.inf)
    run.retired += scheduler.end(max(run.ends.values(), default=0.0))
    return run
