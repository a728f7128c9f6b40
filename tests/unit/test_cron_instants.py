"""A timer's cron schedule (``lifecycle.cron``): its instants in its time zone, read
lazily as a run's arrival times."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pdee.lifecycle.cron import CronSchedule
from pdee.lifecycle.scheduler import Arrivals

START = datetime(2026, 12, 6, 10, 7, 30, tzinfo=timezone.utc)


def test_every_15_minutes_from_the_next_quarter_hour():
    instants = CronSchedule("*/15 * * * *").instants(START)
    got = [next(instants) for _ in range(4)]
    assert [t.strftime("%H:%M:%S") for t in got] == ["10:15:00", "10:30:00", "10:45:00", "11:00:00"]


def test_a_daily_schedule_keeps_its_local_hour_across_daylight_saving():
    schedule = CronSchedule("0 9 * * *", "America/New_York")
    instants = schedule.instants(datetime(2026, 3, 6, 12, tzinfo=timezone.utc))
    utc_hours = [next(instants).astimezone(timezone.utc).hour for _ in range(4)]
    assert utc_hours == [14, 14, 13, 13]  # 9:00 EST, then 9:00 EDT from March 8


@pytest.mark.parametrize("expression", ["", "61 * * * *", "* * *", "every minute", 5])
def test_what_is_not_a_cron_expression_is_refused(expression):
    with pytest.raises(ValueError, match="not a cron expression"):
        CronSchedule(expression)


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="no time zone is named 'Mars/Olympus'"):
        CronSchedule("* * * * *", "Mars/Olympus")


def test_the_times_are_made_as_read_and_read_again_from_the_start():
    times = CronSchedule("*/15 * * * *").times(START, 4)
    assert len(times) == 4 and times._at == -1  # nothing made yet
    first, second = times[0], times[1]
    assert second - first == 900.0 and times._at == 1  # made up to the one read
    assert times[3] - first == 2700.0 and times._at == 3
    assert times[0] == first and times._at == 0  # back: made again from the start
    assert times[0:2] == [times[0], times[1]]
    with pytest.raises(IndexError):
        times[4]
    assert times.first() == datetime(2026, 12, 6, 10, 15, tzinfo=timezone.utc)


def test_a_schedule_is_a_runs_arrivals_15_virtual_minutes_apart():
    times = CronSchedule("*/15 * * * *").times(START, 4)
    assert list(Arrivals(4, timestamps=times)) == [0.0, 900.0, 1800.0, 2700.0]


@pytest.mark.parametrize("expression", ["*/10 * * * * *", "0 0 * * * * 2020"])
def test_only_five_fields_as_the_platform_not_croniters_seconds_or_years(expression):
    with pytest.raises(ValueError, match="five fields"):
        CronSchedule(expression)


def test_a_nickname_is_a_cron_expression():
    assert next(CronSchedule("@hourly").instants(START)).strftime("%H:%M") == "11:00"


@pytest.mark.parametrize("expression", ["0 0 31 4 *", "0 0 30 2 *"])
def test_a_date_that_never_comes_is_refused_up_front_not_when_walked(expression):
    with pytest.raises(ValueError, match="names no instant"):
        CronSchedule(expression)


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_time_zone_is_refused_not_taken_for_utc(name):
    with pytest.raises(ValueError, match="IANA name"):
        CronSchedule("0 9 * * *", name)
