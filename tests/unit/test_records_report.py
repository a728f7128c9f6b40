"""Typed records, the report's contract and the terminal's summaries, with no EE at all."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from pdee.lifecycle.admission import Throttle
from pdee.lifecycle.retry import described
from pdee.lifecycle.scheduler import Decision, Retire, Start
from pdee.outputs import report
from pdee.outputs.terminal import index_ranges, packages_line, sparkline, summary_line
from pdee.plan.settings import ControlsSetting
from pdee.provision.image import python_note
from pdee.results import reply as replies
from pdee.results.log import ExecutionLog
from pdee.results.records import (
    EELife,
    Execution,
    InstalledPackage,
    Retry,
    RunResult,
    Settings,
    Status,
)
from pdee.runtime import protocol


def reply(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": protocol.RESULT,
        "index": 0,
        "status": status,
        "error": None,
        "respond": None,
        "exit_reason": None,
        "pause": None,
        "emails": [],
        "duration_ms": 1.0,
        "steps": {
            "s": {"return_value": [1], "exports": {"k": "v"}, "logs": "hi\n", "duration_ms": 0.5}
        },
        "tmp": {
            "used_bytes": 10,
            "peak_used_bytes": 10,
            "files": 1,
            "some_files": [],
            "size_bytes": 2**31,
        },
        "memory": {"peak_bytes": 5, "limit_bytes": 2**28},
        "restarted_steps": ["s"],
        "restart_reasons": {},
        "stray_lines": {},
        "platform_files_intact": False,
        **extra,
    }


def execution(index: int, status: str, start: str = "warm", **extra: Any) -> Execution:
    decision = Decision(index, float(index), float(index), "ee-1", Start(start))
    known = replies.Known(decision, 300.0 if start == "cold" else None)
    return replies.execution(known, reply(status, **extra))


def settings() -> Settings:
    return Settings(
        mode="realistic",
        concurrency=1,
        idle_timeout_s=600.0,
        chaos=0.01,
        warm_workers=0,
        arrivals={"kind": "interval", "interval_s": 5.0},
        seed=1,
        tmp_size_bytes=2**31,
        memory_bytes=2**28,
        container_memory_bytes=2**31 + 2**29,
        timeout_s=30.0,
        image="pdee-ee:latest",
        image_id="abc",
        base_image="pdee-base:bookworm",
        network="bridge",
        executions=4,
        steps=["s"],
        pdee_version="0",
        run_id="r",
        python="3.11.2",
        python_note="note",
    )


def run_result() -> RunResult:
    error = {"type": "ValueError", "message": "boom", "step": "s", "traceback": "Traceback ..."}
    executions = [
        execution(0, "ok", "cold"),
        execution(1, "exit", exit_reason="done"),
        execution(2, "error", error=error),
        execution(3, "timeout"),
    ]
    ees = {
        "ee-1": EELife("ee-1", False, 0.0, [0, 1], Retire.CHAOS, 7.0),
        "ee-2": EELife("ee-2", False, 7.0, [2], Retire.IDLE, 700.0),
        "ee-3": EELife("ee-3", True, 700.0, [3], Retire.END, 703.0),
    }
    return RunResult("r", settings(), executions, ees)


def test_summary_and_exit_code():
    result = run_result()
    s = result.summary
    assert (s.executions, s.ok, s.failed, s.cold, s.warm) == (4, 2, 2, 1, 3)
    assert (s.ees_started, s.ees_reused, s.ees_expired) == (3, 1, 1)
    assert s.ees_destroyed_at_random == 1 and s.ees_retired[Retire.END] == 1
    assert s.by_status[Status.TIMEOUT] == 1 and s.max_tmp_used_bytes == 10
    assert report.exit_code(result) == 1 and not result.passed
    result.executions = ExecutionLog(result.executions[:2])
    assert report.exit_code(result) == 0 and result.passed
    result.aborted = "the daemon went away"
    assert not result.passed


def test_statuses_are_strings_and_say_whether_they_passed():
    assert Status.OK == "ok" and Status("oom") is Status.OOM
    assert [s.value for s in Status if s.passed] == ["ok", "exit"]
    assert execution(0, "exit").status == "exit" and execution(0, "exit").passed


def test_execution_record_notes_and_repr():
    record = execution(0, "ok")
    assert any("restarted" in n for n in record.notes)
    assert any("__pdg__" in n for n in record.notes)
    assert repr(record) == "<Execution #0 ok on ee-1 (warm)>"
    assert record.steps["s"].return_value == [1] and record.tmp is not None


def test_python_note_only_off_platform():
    assert python_note("3.12.7", "python:3.12-slim") is None
    note = python_note("3.11.2", "pdee-base:bookworm")
    assert note is not None and "3.11.2" in note


# The report as CI jobs have parsed it since pdee 0.1: every key, with its JSON types.
# A key may be added; none may go or change type.
STEP = {"return_value": "any", "exports": "object", "logs": "str", "duration_ms": "number"}
ERROR = {"type": "str", "message": "str", "step": "str|null", "traceback": "str|null"}
CONTRACT = {
    "pdee_version": "str",
    "interrupted": "bool",
    "settings": {
        "mode": "str",
        "concurrency": "int",
        "idle_timeout_s": "number",
        "chaos": "number",
        "warm_workers": "int",
        "arrivals": "object",
        "seed": "int",
        "tmp_size_bytes": "int",
        "memory_bytes": "int",
        "container_memory_bytes": "int",
        "timeout_s": "number",
        "python": "str",
        "python_note": "str|null",
        "image": "str",
        "image_id": "str",
        "base_image": "str|null",
        "network": "str",
        "executions": "int",
        "steps": ["str"],
        "pdee_version": "str",
        "run_id": "str",
    },
    "executions": [
        {
            "index": "int",
            "ee": "str",
            "start": "str",
            "arrived_at_s": "number",
            "at_s": "number",
            "status": "str",
            "error": ("null", ERROR),
            "exit_reason": "str|null",
            "respond": "object|null",
            "steps": {"s": STEP},
            "tmp": {"used_bytes": "int", "files": "int", "size_bytes": "int"},
            "memory": {"peak_bytes": "int", "limit_bytes": "int"},
            "duration_ms": "number",
            "cold_start_ms": "number|null",
            "restarted_steps": ["str"],
            "notes": ["str"],
        }
    ],
    "ees": [
        {
            "id": "str",
            "warm_worker": "bool",
            "started_at_s": "number",
            "executions": ["int"],
            "retired": "str|null",
            "retired_at_s": "number|null",
        }
    ],
    "summary": {
        "executions": "int",
        "ok": "int",
        "failed": "int",
        "by_status": {s: "int" for s in ("ok", "exit", "error", "timeout", "oom")},
        "cold": "int",
        "warm": "int",
        "ees_started": "int",
        "ees_reused": "int",
        "ees_expired": "int",
        "ees_destroyed_at_random": "int",
        "ees_retired": {
            r: "int" for r in ("idle", "chaos", "oom", "timeout", "broken", "cold-mode", "end")
        },
        "max_tmp_used_bytes": "int",
        "max_memory_peak_bytes": "int",
    },
}
TYPES = {
    "str": str,
    "int": int,
    "bool": bool,
    "number": (int, float),
    "object": dict,
    "null": type(None),
}


def conforms(value: Any, spec: Any, path: str = "$") -> list[str]:
    """Where ``value`` breaks ``spec``; empty when it conforms."""
    if isinstance(spec, tuple):  # alternatives
        tries = [conforms(value, alternative, path) for alternative in spec]
        return [] if any(not t for t in tries) else tries[-1]
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not an object"]
        wrong = [f"{path}.{key}: missing" for key in spec if key not in value]
        for key, sub in spec.items():
            if key in value:
                wrong += conforms(value[key], sub, f"{path}.{key}")
        return wrong
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, not an array"]
        return [w for i, item in enumerate(value) for w in conforms(item, spec[0], f"{path}[{i}]")]
    if spec == "any":
        return []
    kinds = tuple(TYPES[name] for name in spec.split("|"))
    if isinstance(value, bool) and bool not in kinds:
        return [f"{path}: bool, not {spec}"]
    return [] if isinstance(value, kinds) else [f"{path}: {type(value).__name__}, not {spec}"]


def test_the_report_keeps_its_contract():
    built = json.loads(json.dumps(report.build(run_result())))
    assert conforms(built, CONTRACT) == []
    assert built["executions"][2]["error"]["type"] == "ValueError"
    assert built["executions"][1]["exit_reason"] == "done"
    assert built["ees"][0]["retired"] == "chaos" and built["interrupted"] is False
    assert built["aborted"] is None
    assert built["pending_parts"] == 0


def test_the_typed_settings_keep_the_reports_shape():
    result = run_result()
    settings = result.settings
    assert settings.to_json()["controls"] == {
        "throttle": None,
        "throttle_from": "none",
        "queue_size": None,
        "queue_from": "none",
    }
    assert settings.to_json()["auto_retry"] == {"on": False}
    settings.controls = ControlsSetting(Throttle(2, 60.0), "given", 100, "default")
    settings.auto_retry = described(True)
    settings.packages = [InstalledPackage("requests", "2.32.3", 400_000)]
    built = json.loads(json.dumps(report.build(result)))["settings"]
    assert built["controls"] == {
        "throttle": {"limit": 2, "interval_s": 60.0},
        "throttle_from": "given",
        "queue_size": 100,
        "queue_from": "default",
    }
    assert built["auto_retry"] == {
        "on": True,
        "max_retries": 8,
        "backoff_s": [141.0, 282.0, 565.0, 1129.0, 2259.0, 4518.0, 9035.0, 18071.0],
    }
    assert built["packages"] == [{"name": "requests", "version": "2.32.3", "bytes": 400_000}]
    line = summary_line(result)
    assert "throttle 2/60s, queue 100" in line and "retried" in line
    assert "requests==2.32.3" in packages_line(result)


def test_an_execution_and_its_brief_agree_on_failed():
    error = {"type": "ValueError", "message": "boom", "step": "s", "traceback": None}
    failed = execution(2, "error", error=error)
    retried = replace(failed, retry=Retry("s", 1, "retried", 141.0, 5))
    given_up = replace(failed, retry=Retry("s", 9, "failed after 8 retries"))
    for record, verdict in ((failed, True), (retried, False), (given_up, True)):
        assert record.failed is record.brief.failed is verdict
        assert record.passed is record.brief.passed is False
    ok = execution(0, "ok")
    assert ok.passed and ok.brief.passed and not ok.failed and not ok.brief.failed


@pytest.mark.parametrize(
    ("change", "broken"),
    [
        (lambda r: r["settings"].pop("seed"), "$.settings.seed: missing"),
        (lambda r: r["executions"][0].update(status=1), "$.executions[0].status: int, not str"),
        (lambda r: r["summary"]["by_status"].update(ok="1"), "by_status.ok: str, not int"),
    ],
)
def test_the_contract_test_catches_a_broken_report(change, broken):
    built = json.loads(json.dumps(report.build(run_result())))
    change(built)
    assert any(broken in problem for problem in conforms(built, CONTRACT))


def test_index_ranges_compress_and_cut():
    assert index_ranges([0, 1, 2, 5, 7, 8]) == "#0-2 #5 #7-8"
    assert index_ranges([]) == ""
    assert index_ranges(list(range(0, 100, 2)), width=12) == "#0 #2 #4 #6… (46 more)"


def test_sparkline_scales_to_top_and_buckets_long_series():
    assert sparkline([0, 50, 100], 100) == "▁▄█"
    assert sparkline([], 100) == ""
    long = sparkline(list(range(1000)), 999, width=10)
    assert len(long) == 10 and long[-1] == "█"


def test_the_execution_log_keeps_records_on_disk_in_event_order():
    records = run_result().executions
    originals = list(records)
    log = ExecutionLog()
    for record in reversed(originals):  # they end out of order under concurrency
        log.append(record)
    assert len(log) == 4 and [e.index for e in log] == [0, 1, 2, 3]
    assert list(log) == originals  # back from disk, field for field
    assert log[2] == originals[2] and log[-1].index == 3 and log[1:3] == originals[1:3]
    assert log.by_index(2).error is not None and log.by_index(2).error.message == "boom"
    assert [b.status for b in log.briefs()] == [
        Status.OK,
        Status.EXIT,
        Status.ERROR,
        Status.TIMEOUT,
    ]
    assert log.briefs()[0].tmp_peak == 10 and not log.briefs()[3].passed
    assert any("restarted" in note for note in log.notes)
    with pytest.raises(KeyError):
        log.by_index(9)
    log.close()


def test_the_streamed_report_is_the_report(tmp_path):
    result = run_result()
    path = tmp_path / "report.json"
    report.write_run(path, result)
    assert path.read_text() == json.dumps(report.build(result), indent=2) + "\n"
    empty = RunResult("r", settings())
    report.write_run(path, empty)
    assert path.read_text() == json.dumps(report.build(empty), indent=2) + "\n"
    assert json.loads(path.read_text())["executions"] == []
