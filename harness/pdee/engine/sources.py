"""Arrival sources: where the one ``Runner`` gets the executions it places.

The runner asks its source when the next arrival comes (``next_at``) and takes it
(``take``) as the first part of an execution (``parts.Part``); it merges in, itself, the
later parts of paused executions, so that each source is only its own arrivals. Two
sources, and what sets them apart is declared here rather than overridden in the runner:

- ``VirtualSchedule`` (``pdee run``, ``pdee check``): the plan's events at the plan's
  arrival times, on the virtual clock. Every arrival time is known ahead; the runner
  waits only until it knows which executions in flight end before the next one, so an
  idle hour costs nothing. Nothing arrives while an execution runs, so the main thread
  may run an execution itself (``inline``).
- ``serving.request_queue.RequestQueue`` (``pdee serve``): requests as they come, on the
  real clock (``real_clock``): each stamped when it arrives, none known before, and the
  runner waits, in real time, for the next one or for a resumption's time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ..plan.run_plan import RunPlan
from ..results.records import Execution
from .parts import Part


class ArrivalSource(Protocol):
    """What the runner asks of the arrivals it places; only the runner's thread calls it,
    except where a method says otherwise."""

    real_clock: bool
    """Arrival times are real seconds since the source began, and nothing starts before
    now (else they are virtual seconds, and a gap between them costs no real time)."""

    inline: bool
    """The main thread may run an execution itself (nothing arrives meanwhile that it
    must take in)."""

    next_index: int
    """The execution index the next new execution takes: a request's, as it is taken,
    or a paused execution's next part's, which the runner counts on."""

    def describe(self) -> dict[str, Any]:
        """The arrivals as the report's settings give them (``Settings.arrivals``)."""
        ...

    def open(self, wake: Callable[[], None]) -> None:
        """The run is ready (image, stores, packages): arrivals may come. ``wake`` (from
        any thread) makes a runner that waits for news look again."""
        ...

    def next_at(self) -> float | None:
        """When the next arrival comes; ``math.inf`` while none is known yet, None once
        none will come."""
        ...

    def take(self) -> Part:
        """The arrival ``next_at`` announced, as its execution's first part."""
        ...

    def left(self) -> int:
        """Arrivals still to come, as far as the source knows (standby EEs are made
        ready for them)."""
        ...

    def now_s(self) -> float:
        """Now, on the source's clock: seconds since it began on the real clock;
        ``math.inf`` on a virtual one, where every time has come once the runner knows
        what ends before it."""
        ...

    def ended(self, execution: Execution) -> Execution:
        """An execution ended: its record as the run keeps it (what the source knows of
        its arrivals may change it: a request whose response cannot be sent fails)."""
        ...


class VirtualSchedule:
    """The plan's events at the plan's arrival times, on the virtual clock: execution
    ``i`` is the ``i``-th arrival, with event ``i`` (cycling through the plan's events);
    the later parts of paused executions take the indexes after them."""

    real_clock = False
    inline = True

    def __init__(self, plan: RunPlan) -> None:
        self.plan = plan
        self.next_index = plan.executions
        self._times: Iterator[float] = iter(plan.arrivals)  # made one at a time
        self._upcoming = next(self._times, None)
        self._taken = 0

    def __repr__(self) -> str:
        return f"<VirtualSchedule {self._taken}/{self.plan.executions} taken>"

    def describe(self) -> dict[str, Any]:
        return self.plan.arrivals_described

    def open(self, wake: Callable[[], None]) -> None:
        """Nothing to do: every arrival is known ahead."""

    def next_at(self) -> float | None:
        return self._upcoming

    def take(self) -> Part:
        assert self._upcoming is not None, "no arrival left to take"
        index = self._taken
        events = self.plan.events
        self._taken += 1
        self._upcoming = next(self._times, None)
        return Part(index, index, event=events[index % len(events)] if events else None)

    def left(self) -> int:
        return self.plan.executions - self._taken

    def now_s(self) -> float:
        return math.inf

    def ended(self, execution: Execution) -> Execution:
        return execution
