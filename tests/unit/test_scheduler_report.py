"""The report's arithmetic and the terminal's summaries, with no EE at all."""

from __future__ import annotations

from pdee.render import index_ranges, sparkline
from pdee.report import exit_code, summary
from pdee.runner import execution_record, python_note
from pdee.scheduler import Decision, Start


def record(status: str, start: str = "warm") -> dict:
    reply = {
        "status": status,
        "duration_ms": 1.0,
        "tmp": {"used_bytes": 10, "files": 1},
        "memory": {"peak_bytes": 5},
        "restarted_steps": ["s"],
        "platform_files_intact": False,
    }
    return execution_record(Decision(0, 0.0, 0.0, "ee-1", Start(start)), reply, None)


def test_summary_and_exit_code():
    executions = [record("ok", "cold"), record("exit"), record("oom"), record("timeout")]
    ees = {
        "ee-1": {"executions": [0, 1], "retired": "chaos"},
        "ee-2": {"executions": [2], "retired": "idle"},
        "ee-3": {"executions": [3], "retired": "end"},
    }
    s = summary(executions, ees)
    assert (s["executions"], s["ok"], s["failed"], s["cold"], s["warm"]) == (4, 2, 2, 1, 3)
    assert (s["ees_started"], s["ees_reused"], s["ees_expired"]) == (3, 1, 1)
    assert s["ees_destroyed_at_random"] == 1 and s["ees_retired"]["end"] == 1
    assert s["by_status"]["oom"] == 1 and s["max_tmp_used_bytes"] == 10
    assert exit_code(executions) == 1
    assert exit_code(executions[:2]) == 0


def test_execution_record_notes():
    notes = record("ok")["notes"]
    assert any("restarted" in n for n in notes) and any("__pdg__" in n for n in notes)


def test_python_note_only_off_platform():
    assert python_note("3.12.7", "python:3.12-slim") is None
    assert "3.11.2" in python_note("3.11.2", "pdee-base:bookworm")


def test_index_ranges_compress_and_cut():
    assert index_ranges([0, 1, 2, 5, 7, 8]) == "#0-2 #5 #7-8"
    assert index_ranges([]) == ""
    assert index_ranges(list(range(0, 100, 2)), width=12) == "#0 #2 #4 #6… (46 more)"


def test_sparkline_scales_to_top_and_buckets_long_series():
    assert sparkline([0, 50, 100], 100) == "▁▄█"
    assert sparkline([], 100) == ""
    long = sparkline(list(range(1000)), 999, width=10)
    assert len(long) == 10 and long[-1] == "█"
