"""Standby EEs: EEs made ready in the background, which the next cold starts take.

In cold mode the run keeps one per concurrency slot; otherwise none, until an EE goes
away mid-run (a sign of churn, chaos or expiry): then one, so that short runs pay for no
spare EE. A standby EE is a new container started ahead, or a used one being made new
again (``kept``: an EE that retired sound, recycled instead of destroyed). Its measured
start (or recycling) still counts on the virtual clock of the execution that takes it,
and it takes the id of the EE it becomes.
"""

from __future__ import annotations

from collections.abc import Callable

from .lanes import Lane


class Standby:
    """The run's EEs started ahead; only the run's main thread uses it."""

    def __init__(self, wanted: int, new_lane: Callable[[str], Lane]) -> None:
        self.wanted = wanted
        self.new_lane = new_lane  # makes a lane that starts its EE at once
        self.lanes: list[Lane] = []
        self.made = 0

    def __repr__(self) -> str:
        return f"<Standby {len(self.lanes)}/{self.wanted}>"

    def take(self, ee_id: str) -> Lane | None:
        """A lane whose EE started ahead, renamed ``ee_id``; None if there is none."""
        if not self.lanes:
            return None
        lane = self.lanes.pop(0)
        lane.give(lambda: lane.ee.rename(ee_id))
        return lane

    def keep(self, lane: Lane, events_left: int) -> bool:
        """Take a retired EE's lane, being made new again, for a cold start to come;
        False if none is wanted (the caller destroys it). An EE retiring mid-run is
        churn: one standby is wanted from now on, as ``churned`` says."""
        self.wanted = max(self.wanted, 1)
        if len(self.lanes) >= min(self.wanted, events_left):
            return False
        self.lanes.append(lane)
        return True

    def drain(self) -> list[Lane]:
        """Every standby lane, given up (new code was deployed: they hold the old)."""
        lanes, self.lanes = self.lanes, []
        return lanes

    def refill(self, events_left: int, returning: int = 0) -> None:
        """Start EEs ahead for the cold starts to come (no more than events remain);
        ``returning``: EEs in flight that will come back to be kept (cold mode)."""
        while len(self.lanes) + returning < min(self.wanted, events_left):
            self.made += 1
            self.lanes.append(self.new_lane(f"standby-{self.made}"))

    def churned(self, events_left: int) -> None:
        """An EE went away mid-run: keep one ready from now on, if none was wanted."""
        if not self.wanted:
            self.wanted = 1
            self.refill(events_left)
