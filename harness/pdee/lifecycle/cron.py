"""A timer trigger's cron schedule: its instants, as arrival times. Pure (reads no clock).

The platform's timer trigger takes a cron expression (the SDK's timer value is
``{cron: "..."}``) and a time zone; each instant the schedule names is an execution.
The instants come from ``croniter`` (a maintained library: ranges, steps,
names such as ``MON``, and ``@hourly``-style nicknames), in the schedule's zone, so
that a daily ``0 9 * * *`` stays at 9:00 local time across a daylight-saving change.
Exactly five fields, as the platform's: croniter reads a sixth as seconds.

``CronSchedule.times(start, count)`` is the ``Arrivals.timestamps`` of a run: a
sequence made one instant at a time as the run walks it, so a schedule of a million
executions holds none of them before the run starts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import overload

UTC = "UTC"
# minute hour day month weekday; croniter's sixth (seconds) and seventh (year) are not
# the platform's.
FIELDS = 5
USAGE = 'give five fields (minute hour day month weekday), like "*/15 * * * *"'
# The instant a schedule is first walked from when it is checked: any fixed instant does,
# as a schedule that never fires (30 February) fires after none.
CHECKED_FROM = datetime(2000, 1, 1, tzinfo=timezone.utc)


def zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` (``"UTC"``, ``"America/New_York"``).

    Raises:
        ValueError: no such zone.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("give a time zone's IANA name, like UTC or America/New_York")
    if name.upper() == UTC:
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # with a zone only: start-up time

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"no time zone is named {name!r}; give an IANA name") from exc


@dataclass(frozen=True)
class CronSchedule:
    """A cron expression in a time zone."""

    expression: str
    timezone: str = UTC

    def __post_init__(self) -> None:
        from croniter import croniter  # only a run with a schedule pays its import

        text = self.expression
        if (
            not isinstance(text, str)
            or not (text.strip().startswith("@") or len(text.split()) == FIELDS)
            or not croniter.is_valid(text)
        ):
            raise ValueError(f"not a cron expression: {USAGE}")
        zone(self.timezone)  # raises ValueError for an unknown zone
        next(self.instants(CHECKED_FROM))  # raises ValueError for a date that never comes

    def instants(self, after: datetime) -> Iterator[datetime]:
        """The schedule's instants after ``after`` (an aware datetime), in order, each
        in the schedule's zone; without end.

        Raises:
            ValueError: the schedule names no instant (a date that never comes, such
                as 31 April), from the first one read.
        """
        from croniter import CroniterError, croniter

        tz = zone(self.timezone)
        walker = croniter(self.expression, after.astimezone(tz))
        while True:
            try:
                instant = walker.get_next(datetime)
            except CroniterError as exc:  # croniter's CroniterBadDateError: none found
                raise ValueError(
                    "the schedule names no instant (a day that no month has, such as 31 April?)"
                ) from exc
            yield instant

    def times(self, start: datetime, count: int) -> CronTimes:
        """The first ``count`` instants after ``start``, as Unix timestamps."""
        return CronTimes(self, start, count)


class CronTimes(Sequence[float]):
    """``count`` instants of a schedule as Unix timestamps, made as they are read in
    order (reading back starts over from the first)."""

    def __init__(self, schedule: CronSchedule, start: datetime, count: int) -> None:
        self.schedule = schedule
        self.start = start
        self.size = count
        self._walk = schedule.instants(start)
        self._at = -1  # the index of the instant last made
        self._last = 0.0

    def __repr__(self) -> str:
        return f"<CronTimes {self.schedule.expression!r} {self.size} after {self.start}>"

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[float]: ...

    def __getitem__(self, index: int | slice) -> float | Sequence[float]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        if not 0 <= index < self.size:
            raise IndexError(index)
        if index < self._at:
            self._walk, self._at = self.schedule.instants(self.start), -1
        while self._at < index:
            self._last = next(self._walk).timestamp()
            self._at += 1
        return self._last

    def first(self) -> datetime:
        """The first instant, in UTC."""
        return datetime.fromtimestamp(self[0], timezone.utc)
