"""The scheduler's decisions and the report's arithmetic, with no EE at all."""

from __future__ import annotations

import pytest

from pdee.report import exit_code, summary
from pdee.runner import execution_record, python_note
from pdee.scheduler import Decision, Mode, Retire, Scheduler, Start


def run(scheduler: Scheduler, events: int) -> list[tuple[str, Start]]:
    decisions = []
    for index in range(events):
        decision = scheduler.arrive(index, float(index))
        scheduler.finish(decision.ee, index + 0.5)
        decisions.append((decision.ee, decision.start))
    return decisions


def test_warm_reuses_one_ee():
    assert run(Scheduler(Mode.WARM), 3) == [
        ("ee-1", Start.COLD),
        ("ee-1", Start.WARM),
        ("ee-1", Start.WARM),
    ]


def test_cold_starts_and_retires_an_ee_per_event():
    scheduler = Scheduler(Mode.COLD)
    decision = scheduler.arrive(0, 0.0)
    assert scheduler.finish(decision.ee, 1.0)[0].reason is Retire.COLD_MODE
    assert run(scheduler, 2) == [("ee-2", Start.COLD), ("ee-3", Start.COLD)]
    assert scheduler.ees == {}


def test_broken_ee_is_replaced():
    scheduler = Scheduler(Mode.WARM)
    first = scheduler.arrive(0, 0.0)
    [retired] = scheduler.finish(first.ee, 1.0, broken=True)
    assert retired.reason is Retire.BROKEN
    assert scheduler.arrive(1, 2.0) == Decision(1, 2.0, "ee-2", Start.COLD)


def test_finish_without_execution_is_refused_and_end_retires_all():
    scheduler = Scheduler(Mode.WARM)
    decision = scheduler.arrive(0, 0.0)
    scheduler.finish(decision.ee, 1.0)
    with pytest.raises(ValueError, match="no execution in flight"):
        scheduler.finish(decision.ee, 2.0)
    assert [r.reason for r in scheduler.end(3.0)] == [Retire.END]


def record(status: str, start: str = "warm") -> dict:
    reply = {
        "status": status,
        "duration_ms": 1.0,
        "tmp": {"used_bytes": 10, "files": 1},
        "memory": {"peak_bytes": 5},
        "restarted_steps": ["s"],
        "platform_files_intact": False,
    }
    rec = execution_record(Decision(0, 0.0, "ee-1", Start(start)), reply, None, False)
    rec.pop("_broken")
    return rec


def test_summary_and_exit_code():
    executions = [record("ok", "cold"), record("exit"), record("oom"), record("timeout")]
    s = summary(executions, {"ee-1": {}})
    assert (s["executions"], s["ok"], s["failed"], s["cold"], s["warm"]) == (4, 2, 2, 1, 3)
    assert s["by_status"]["oom"] == 1 and s["max_tmp_used_bytes"] == 10
    assert exit_code(executions) == 1
    assert exit_code(executions[:2]) == 0


def test_execution_record_notes():
    notes = record("ok")["notes"]
    assert any("restarted" in n for n in notes) and any("__pdg__" in n for n in notes)


def test_python_note_only_off_platform():
    assert python_note("3.12.7", "python:3.12-slim") is None
    assert "3.11.2" in python_note("3.11.2", "pdee-base:bookworm")
