"""Admission control: the platform's throttle and event queue, on any clock. Pure.

The platform's execution controls (``docs-v2/pages/workflows/building-workflows/settings/
concurrency-and-throttling.mdx`` in ``PipedreamHQ/pipedream``) put arriving events in a
queue and start them as both the concurrency (``--concurrency``, the scheduler's) and the
throttle allow. This module holds the two that are not the scheduler's:

- the **throttle**, a fixed window: at most ``limit`` executions start within
  ``interval_s`` of the window's first start ("if 10 events been processed in less than
  one minute, the remaining events will be queued until 1 minute from the start of the
  initial event"); the next window opens with the first start after it closes. A limit
  of 0 pauses the workflow: nothing starts;
- the **event queue**: an arriving event waits in it until its execution starts; one
  that arrives when ``queue_size`` events wait is dropped ("Event Queue Full"). Events
  that arrive at once all enter the queue before any starts, so a burst of 200 at
  concurrency 1 with a queue of 100 runs 100 and drops 100, the docs' own example.

``Admission`` is told of arrivals in time order (``arrive``), and of the start the
scheduler gave each admitted one (``start``), which it may move to when the throttle's
next window opens. It never sleeps and reads no clock: the runner keeps time.
"""

from __future__ import annotations

import enum
import heapq
import math
import re
from dataclasses import dataclass

MAX_THROTTLE_LIMIT = 10_000  # the platform's: "from 0-10000" executions
# The platform's interval: 1 to 10,000 seconds, minutes or hours.
MIN_THROTTLE_INTERVAL_S = 1.0
MAX_THROTTLE_INTERVAL_S = 10_000 * 3600.0
FREE_PLAN_QUEUE_SIZE = 100  # "Up to 100 events will be queued per workflow" (free tier)
MAX_QUEUE_SIZE = 10_000  # paid plans' most (MAX_WORKFLOW_QUEUE_SIZE in the docs)
_THROTTLE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*\Z")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Throttle:
    """At most ``limit`` executions start in each fixed window of ``interval_s``; a
    ``limit`` of 0 pauses the workflow."""

    limit: int
    interval_s: float

    def __post_init__(self) -> None:
        if not 0 <= self.limit <= MAX_THROTTLE_LIMIT:
            raise ValueError(f"a throttle's limit is 0 to {MAX_THROTTLE_LIMIT:,} executions")
        if not MIN_THROTTLE_INTERVAL_S <= self.interval_s <= MAX_THROTTLE_INTERVAL_S:
            raise ValueError("a throttle's interval is 1 second to 10,000 hours")

    @classmethod
    def parse(cls, text: str) -> Throttle:
        """``"N/SECONDS"`` (``"2/60"``), the interval optionally in minutes or hours
        (``"10/1m"``, ``"100/2h"``).

        Raises:
            ValueError: not that shape, or out of the platform's ranges.
        """
        found = _THROTTLE.match(text)
        if found is None:
            raise ValueError("write it as N/SECONDS, like 2/60 (2 executions a minute)")
        limit, interval, unit = found.groups()
        return cls(int(limit), float(interval) * _UNIT_S[unit])

    @property
    def paused(self) -> bool:
        return self.limit == 0

    def __str__(self) -> str:
        return f"{self.limit}/{self.interval_s:g}s"


class Verdict(str, enum.Enum):
    """What becomes of an arriving event."""

    QUEUED = "queued"  # it waits in the queue for its start (at once if nothing holds it)
    DROPPED = "dropped"  # the queue was full: it never runs ("Event Queue Full")
    PAUSED = "paused"  # a throttle of 0: it waits in the queue and never starts


class Admission:
    """The throttle's windows and the queue's occupants, for arrivals in time order."""

    def __init__(self, throttle: Throttle | None = None, queue_size: int | None = None) -> None:
        """Args:
        throttle: the fixed-window limit (None: none).
        queue_size: the most events that wait at once (None: no limit).
        """
        if queue_size is not None and queue_size < 1:
            raise ValueError("a queue holds at least 1 event")
        self.throttle = throttle
        self.queue_size = queue_size
        self._waiting: list[float] = []  # a heap: the start of each admitted event
        self._window_start: float | None = None  # when the current window opened
        self._window_starts = 0  # executions started in it
        self._last_arrival = -math.inf

    def __repr__(self) -> str:
        return f"<Admission throttle {self.throttle} queue {self.queue_size}>"

    def waiting_at(self, at_s: float) -> int:
        """Events in the queue at ``at_s``: admitted, not started before ``at_s``."""
        while self._waiting and self._waiting[0] < at_s:
            heapq.heappop(self._waiting)
        return len(self._waiting)

    def arrive(self, at_s: float) -> Verdict:
        """An event arrives at ``at_s`` (no earlier than the last one). Every event
        admitted before it must have been given its start (``start``), or be paused.

        Raises:
            ValueError: arrivals out of time order.
        """
        if at_s < self._last_arrival:
            raise ValueError(f"an arrival at {at_s:g} s after one at {self._last_arrival:g} s")
        self._last_arrival = at_s
        if self.queue_size is not None and self.waiting_at(at_s) >= self.queue_size:
            return Verdict.DROPPED
        if self.throttle is not None and self.throttle.paused:
            heapq.heappush(self._waiting, math.inf)  # it holds its place for good
            return Verdict.PAUSED
        return Verdict.QUEUED

    def release(self, at_s: float) -> float:
        """The earliest an event admitted at ``at_s`` may start, as the throttle's
        windows stand now (``math.inf`` when paused); the scheduler may start it later
        still, when every worker is busy."""
        throttle = self.throttle
        if throttle is None or self._window_start is None:
            return math.inf if throttle is not None and throttle.paused else at_s
        if throttle.paused:
            return math.inf
        at_s = max(at_s, self._window_start)  # in order: none starts before an earlier one
        closes = self._window_start + throttle.interval_s
        if at_s >= closes or self._window_starts < throttle.limit:
            return at_s
        return closes

    def start(self, at_s: float) -> float:
        """An admitted event's execution would start at ``at_s`` (the scheduler's
        placement): when it does start, a window's opening later if the window is full;
        it leaves the queue then.

        Raises:
            ValueError: the workflow is paused (no event starts).
        """
        throttle = self.throttle
        if throttle is not None:
            if throttle.paused:
                raise ValueError("a throttle of 0 pauses the workflow: no execution starts")
            at_s = max(at_s, self.release(at_s))
            if self._window_start is None or at_s >= self._window_start + throttle.interval_s:
                self._window_start, self._window_starts = at_s, 0
            self._window_starts += 1
        heapq.heappush(self._waiting, at_s)
        return at_s
