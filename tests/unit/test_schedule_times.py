"""``--schedule`` times must lie on pdee's virtual clock: a numeric ``ts`` from 0 (a Unix
time, or seconds from the schedule's own start) to the year 9000, an ISO 8601 time
between 1970 and 9000; any other is one line naming where it is. No Docker."""

from __future__ import annotations

import json

import pytest

from pdee.errors import UsageError
from pdee.plan.events import EARLIEST_TO_LATEST_S, load_schedule


@pytest.mark.parametrize("ts", ["-1", "-0.001", "-1e12", str(EARLIEST_TO_LATEST_S + 1), "1e308"])
def test_a_numeric_ts_before_1970_or_past_9000_is_refused_naming_its_line(tmp_path, ts):
    schedule = tmp_path / "hits.jsonl"
    schedule.write_text('{"ts": 0}\n\n{"ts": 5}\n{"ts": ' + ts + "}\n")
    with pytest.raises(UsageError) as refused:
        load_schedule(schedule)
    message = str(refused.value)
    assert message.startswith(f"schedule {schedule}: line 4: ts {json.loads(ts)} is out of range")
    assert "give seconds from 0" in message and "\n" not in message


def test_an_iso_time_out_of_range_names_its_line(tmp_path):
    schedule = tmp_path / "hits.jsonl"
    schedule.write_text('{"ts": "2026-01-01T00:00:00Z"}\n{"ts": "1969-12-31T23:59:59Z"}\n')
    with pytest.raises(UsageError, match=r"hits.jsonl: line 2: ts '1969-12-31T23:59:59Z' is out"):
        load_schedule(schedule)


def test_an_event_of_a_json_array_is_named_by_its_number(tmp_path):
    schedule = tmp_path / "hits.json"
    schedule.write_text(json.dumps([{"ts": 0}, {"ts": -1}]))
    with pytest.raises(UsageError, match=r"hits.json: event 2: ts -1 is out of range"):
        load_schedule(schedule)
    schedule.write_text(json.dumps([{"ts": 0}, {"n": 1}]))
    with pytest.raises(UsageError, match=r"hits.json: event 2 has no ts"):
        load_schedule(schedule)


def test_zero_and_the_last_second_before_9000_are_taken(tmp_path):
    schedule = tmp_path / "hits.jsonl"
    schedule.write_text('{"ts": 0}\n{"ts": 0.5}\n')
    assert load_schedule(schedule).timestamps == [0.0, 0.5]
    last = EARLIEST_TO_LATEST_S
    schedule.write_text(f'{{"ts": {last - 10}}}\n{{"ts": {last}}}\n')
    assert load_schedule(schedule).timestamps == [last - 10, last]
