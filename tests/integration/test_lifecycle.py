"""The realistic lifecycle against the real daemon: concurrency, expiry, replay, warm workers."""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

MARKS = """
import os, time

def handler(pd):
    index = pd.steps["trigger"]["context"]["id"]
    started = time.time()
    open(f"/tmp/mark-{index}", "w").write("x")
    time.sleep(float(pd.steps["trigger"]["event"].get("sleep", 0)))
    return {
        "id": index,
        "ts": pd.steps["trigger"]["context"]["ts"],
        "marks": sorted(n[5:] for n in os.listdir("/tmp") if n.startswith("mark-")),
        "started": started,
        "ended": time.time(),
    }
"""


def placements(outcome) -> list[tuple[str, str]]:
    return [(e["ee"], e["start"]) for e in outcome.executions]


def test_concurrency_runs_isolated_ees_at_the_same_time(pdee, write_step):
    step = write_step("marks", MARKS)
    started = time.monotonic()
    outcome = pdee(
        "run", step, "--events", "8", "--concurrency", "4", "--interval", "0",
        "--event", '{"sleep": 2.0}', "--seed", "1",
    )  # fmt: skip
    wall_s = time.monotonic() - started
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    executions = outcome.executions
    assert len({e["ee"] for e in executions}) == 4
    # Each EE's /tmp holds the marks of the executions it ran, and no other EE's.
    seen: dict[str, list[str]] = defaultdict(list)
    for execution in executions:
        result = execution["steps"]["marks"]["return_value"]
        seen[execution["ee"]].append(result["id"])
        assert result["marks"] == sorted(seen[execution["ee"]])
    # The first four ran at the same time, for real (their EEs start within 2 s).
    first = [e["steps"]["marks"]["return_value"] for e in executions[:4]]
    assert max(r["started"] for r in first) < min(r["ended"] for r in first)
    # Two rounds of 2 s on 4 EEs, plus the cold starts (as slow as this machine makes
    # them) and pdee's own start and clean-up: near 4 s, far from 16 s in sequence.
    cold_start_s = max(e["cold_start_ms"] or 0 for e in executions) / 1000
    assert 4.0 <= wall_s < 4.0 + cold_start_s + 3.0 < 16.0, (wall_s, cold_start_s)
    assert [e["start"] for e in executions] == ["cold"] * 4 + ["warm"] * 4
    assert outcome.report["summary"]["ees_started"] == 4
    # One EE, one execution at a time, for real: each EE's runs follow one another.
    for ran in seen.values():
        spans = sorted(
            (r["started"], r["ended"])
            for e in executions
            if (r := e["steps"]["marks"]["return_value"])["id"] in ran
        )
        assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))


def test_interval_past_the_idle_timeout_makes_every_start_cold(pdee, write_step):
    step = write_step("marks", MARKS)
    common = ("--events", "4", "--idle-timeout", "60", "--chaos", "0")
    started = time.monotonic()
    expired = pdee("run", step, *common, "--interval", "120")
    assert time.monotonic() - started < 30  # 6 virtual minutes cost no real time
    assert expired.exit_code == 0, expired.stderr
    assert [start for _, start in placements(expired)] == ["cold"] * 4
    assert [e["arrived_at_s"] for e in expired.executions] == [0, 120, 240, 360]
    assert [e["steps"]["marks"]["return_value"]["marks"] for e in expired.executions] == [
        [e["steps"]["marks"]["return_value"]["id"]] for e in expired.executions
    ]
    assert [ee["retired"] for ee in expired.report["ees"]] == ["idle"] * 3 + ["end"]
    assert expired.report["summary"]["ees_expired"] == 3

    warm = pdee("run", step, *common, "--interval", "30")
    assert placements(warm) == [("ee-1", "cold")] + [("ee-1", "warm")] * 3
    assert len(warm.executions[-1]["steps"]["marks"]["return_value"]["marks"]) == 4


def test_the_same_seed_replays_the_same_decisions(pdee, write_step):
    step = write_step("marks", MARKS)
    args = ("run", step, "--events", "8", "--interval", "10", "--chaos", "0.3", "--seed", "7")
    first, second = pdee(*args), pdee(*args)
    assert first.exit_code == second.exit_code == 0, first.stderr
    assert placements(first) == placements(second)
    assert {start for _, start in placements(first)} == {"cold", "warm"}
    assert first.report["summary"]["ees_destroyed_at_random"] > 0
    ids = [
        [e["steps"]["marks"]["return_value"]["id"] for e in o.executions] for o in (first, second)
    ]
    assert ids[0] == ids[1]  # the execution ids in pd's context too
    assert first.report["settings"]["seed"] == 7


def test_warm_workers_are_started_before_the_first_event(pdee, write_step):
    outcome = pdee(
        "run", write_step("marks", MARKS), "--warm-workers", "2", "--concurrency", "2",
        "--interval", "0", "--events", "2", "--event", '{"sleep": 0.5}', "--chaos", "0",
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.stderr
    assert sorted(placements(outcome)) == [("ee-1", "warm"), ("ee-2", "warm")]
    assert all(e["cold_start_ms"] is None for e in outcome.executions)
    assert [ee["warm_worker"] for ee in outcome.report["ees"]] == [True, True]


def test_schedule_timestamps_drive_expiry(pdee, write_step, tmp_path):
    schedule = tmp_path / "events.jsonl"
    lines = [
        {"ts": "2026-11-23T10:00:00Z", "n": 1},
        {"ts": "2026-11-23T10:05:00Z", "n": 2},
        {"ts": "2026-11-23T10:20:00Z", "n": 3},
    ]
    schedule.write_text("\n".join(json.dumps(line) for line in lines))
    outcome = pdee("run", write_step("marks", MARKS), "--schedule", schedule, "--chaos", "0")
    assert outcome.exit_code == 0, outcome.stderr
    assert [e["arrived_at_s"] for e in outcome.executions] == [0, 300, 1200]
    assert [start for _, start in placements(outcome)] == ["cold", "warm", "cold"]
    # pd's context carries the virtual time, on the schedule's own clock.
    assert [e["steps"]["marks"]["return_value"]["ts"] for e in outcome.executions] == [
        "2026-11-23T10:00:00.000Z",
        "2026-11-23T10:05:00.000Z",
        "2026-11-23T10:20:00.000Z",
    ]
    assert outcome.report["settings"]["arrivals"] == {"kind": "schedule"}
