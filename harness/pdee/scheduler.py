"""The scheduler: which EE runs each event. Pure: no Docker, no real time.

It keeps the state of every EE it has decided to start (busy, or idle since a
virtual time) and answers two questions: when an event arrives, which EE runs it
(``arrive``), and when an execution ends, what becomes of its EE (``finish``). The
runner carries out its decisions; unit tests drive it with no EE at all.

Policies (``Mode``):

- ``warm``: an EE, once started, serves every later event (one per concurrent slot).
- ``cold``: every event gets a new EE, destroyed when its execution ends.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Mode(str, enum.Enum):
    """The EE lifecycle policy."""

    WARM = "warm"
    COLD = "cold"


class Start(str, enum.Enum):
    """How an execution found its EE."""

    COLD = "cold"  # a new EE: empty /tmp, new step processes
    WARM = "warm"  # a reused EE: /tmp and module globals as the last execution left them


class Retire(str, enum.Enum):
    """Why an EE went away."""

    COLD_MODE = "cold-mode"  # --mode cold: an EE serves one execution
    BROKEN = "broken"  # its container ended under it (e.g. the container's memory limit)
    END = "end"  # the run ended


@dataclass(frozen=True)
class Decision:
    """Where and how one event runs."""

    index: int
    at_s: float  # virtual time at which the execution starts
    ee: str
    start: Start


@dataclass(frozen=True)
class Retirement:
    """An EE to destroy, when, and why."""

    ee: str
    at_s: float
    reason: Retire


@dataclass
class _EE:
    id: str
    busy: bool = False
    idle_since_s: float = 0.0
    executions: list[int] = field(default_factory=list)


class Scheduler:
    """Decides, event by event, which EE runs it."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.ees: dict[str, _EE] = {}
        self.started = 0

    def _new_ee(self) -> _EE:
        self.started += 1
        ee = _EE(id=f"ee-{self.started}")
        self.ees[ee.id] = ee
        return ee

    def arrive(self, index: int, now_s: float) -> Decision:
        """Assign event ``index``, arriving at virtual time ``now_s``, to an EE.

        The most recently used idle EE is reused (warm); if none is idle, a new EE
        starts (cold).
        """
        idle = [ee for ee in self.ees.values() if not ee.busy]
        if self.mode is Mode.WARM and idle:
            ee = max(idle, key=lambda e: e.idle_since_s)
            start = Start.WARM
        else:
            ee = self._new_ee()
            start = Start.COLD
        ee.busy = True
        ee.executions.append(index)
        return Decision(index=index, at_s=now_s, ee=ee.id, start=start)

    def finish(self, ee_id: str, now_s: float, broken: bool = False) -> list[Retirement]:
        """Record that ``ee_id``'s execution ended at ``now_s``; the EEs to retire now.

        Args:
            ee_id: the EE whose execution ended.
            now_s: virtual time of the end.
            broken: the EE's container is gone, so it cannot be reused.
        """
        ee = self.ees[ee_id]
        if not ee.busy:
            raise ValueError(f"{ee_id} has no execution in flight; it cannot finish one")
        ee.busy = False
        ee.idle_since_s = now_s
        if broken:
            return [self._retire(ee, now_s, Retire.BROKEN)]
        if self.mode is Mode.COLD:
            return [self._retire(ee, now_s, Retire.COLD_MODE)]
        return []

    def end(self, now_s: float) -> list[Retirement]:
        """The run is over: every remaining EE retires."""
        return [self._retire(ee, now_s, Retire.END) for ee in list(self.ees.values())]

    def _retire(self, ee: _EE, now_s: float, reason: Retire) -> Retirement:
        del self.ees[ee.id]
        return Retirement(ee=ee.id, at_s=now_s, reason=reason)
