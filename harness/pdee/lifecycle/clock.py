"""The virtual clock's one rule for real time. Pure.

An execution that starts at virtual time ``s`` and has run for ``r`` real seconds so
far is at virtual time ``s + r``; it ends at ``s + d`` once its real duration ``d`` is
known. Before the scheduler decides for an event arriving at ``t``, pdee must know,
for each execution in flight, whether it ends before ``t`` (it has finished) or after
(``s + r > t`` already). A 10-minute virtual gap therefore costs no real time, and a
burst costs exactly what its executions cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

# (virtual time, real time.monotonic()) at one moment of an execution in progress,
# or None while it has not begun (its EE is starting).
InFlight = tuple[float, float] | None


def wait_to_know(at_s: float, in_flight: Iterable[InFlight], now: float) -> float | None:
    """How long to wait before looking again; None when every end is known for ``at_s``.

    ``math.inf`` when an execution has not begun: only news from it can help.
    """
    waits = []
    for running in in_flight:
        if running is None:
            waits.append(math.inf)
            continue
        virtual_start, real_start = running
        unknown_for = at_s - virtual_start - (now - real_start)
        if unknown_for > 0:
            waits.append(unknown_for)
    return min(waits) if waits else None
