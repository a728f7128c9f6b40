"""The platform's caps, for real: /tmp size, memory apart from /tmp, time."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

FILL_TMP = """
import errno, os

def handler(pd):
    free = os.statvfs("/tmp").f_bavail * os.statvfs("/tmp").f_frsize
    written = 0
    fd = os.open("/tmp/fill", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    chunk = b"x" * 4096
    try:
        while True:
            written += os.write(fd, chunk)
    except OSError as exc:
        return {"free": free, "written": written, "errno": exc.errno, "error": str(exc)}
    finally:
        os.close(fd)
"""


def test_tmp_cap_is_exact(pdee, write_step):
    outcome = pdee("run", write_step("fill", FILL_TMP), "--tmp-size", "64MB")
    assert outcome.exit_code == 0, outcome.stderr
    [execution] = outcome.executions
    result = execution["steps"]["fill"]["return_value"]
    assert result["errno"] == 28
    assert "No space left on device" in result["error"]
    # ENOSPC comes exactly when the free space is used up, and the cap is 64MB less
    # only the platform's own files (the step's code) in /tmp/__pdg__.
    assert result["written"] == result["free"]
    assert 64 * 2**20 - 64 * 1024 < result["written"] < 64 * 2**20
    assert execution["tmp"]["size_bytes"] == 64 * 2**20
    assert execution["tmp"]["used_bytes"] == 64 * 2**20
    assert outcome.report["settings"]["tmp_size_bytes"] == 64 * 2**20


WRITE_GB = """
import os

def handler(pd):
    chunk = b"y" * 2**20
    with open("/tmp/big", "wb") as f:
        for _ in range(int(pd.inputs["mb"])):
            f.write(chunk)
    return os.path.getsize("/tmp/big")
"""


@pytest.mark.slow
def test_tmp_does_not_count_as_memory(pdee, write_step, tmp_path):
    inputs = tmp_path / "inputs.json"
    inputs.write_text('{"mb": 1536}')
    outcome = pdee("run", write_step("big", WRITE_GB), "--inputs", inputs)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    [execution] = outcome.executions
    assert execution["status"] == "ok"
    assert execution["steps"]["big"]["return_value"] == 1536 * 2**20
    assert execution["tmp"]["used_bytes"] >= 1536 * 2**20
    # Default memory limit is 256MB, and the step's memory stayed far below it.
    assert outcome.report["settings"]["memory_bytes"] == 256 * 2**20
    assert execution["memory"]["peak_bytes"] < 100 * 2**20


HOG = """
import os

def handler(pd):
    marker = "/tmp/survives"
    existed = os.path.exists(marker)
    open(marker, "w").write("kept")
    if pd.steps["trigger"]["event"].get("hog"):
        hog = "x" * (600 * 2**20)
        return len(hog)
    return {"marker_existed": existed}
"""


@pytest.mark.slow
def test_step_over_memory_is_oom_and_ee_restarts_the_step(pdee, write_step, tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"hog": true}\n{"hog": false}\n')
    outcome = pdee("run", write_step("hog", HOG), "--event-file", events, "--mode", "warm")
    assert outcome.exit_code == 1
    oom, after = outcome.executions
    assert oom["status"] == "oom"
    assert oom["error"]["type"] == "OutOfMemory"
    assert oom["error"]["message"].startswith("Out of Memory")
    assert oom["error"]["step"] == "hog"
    assert oom["memory"]["peak_bytes"] > 256 * 2**20
    # The same EE runs the next event: a new step process, but /tmp kept.
    assert after["status"] == "ok"
    assert after["ee"] == oom["ee"] and after["start"] == "warm"
    assert after["restarted_steps"] == ["hog"]
    assert after["steps"]["hog"]["return_value"] == {"marker_existed": True}
    assert any("restarted" in note for note in after["notes"])
    assert "Out of Memory" in outcome.stderr + outcome.stdout


SLEEPER = """
import time

calls = 0

def handler(pd):
    global calls
    calls += 1
    print("started", calls)
    if pd.steps["trigger"]["event"].get("sleep"):
        time.sleep(60)
    return calls
"""


def test_timeout_stops_the_step_and_keeps_earlier_steps(pdee, write_step, tmp_path):
    first = write_step("first", 'def handler(pd):\n    pd.export("seen", 1)\n    return "done"\n')
    events = tmp_path / "events.jsonl"
    events.write_text('{"sleep": true}\n{"sleep": false}\n')
    started = time.monotonic()
    outcome = pdee(
        "run",
        first,
        write_step("sleeper", SLEEPER),
        "--event-file",
        events,
        "--timeout",
        "1",
        "--mode",
        "warm",
    )
    assert time.monotonic() - started < 20
    assert outcome.exit_code == 1
    timed_out, after = outcome.executions
    assert timed_out["status"] == "timeout"
    assert timed_out["error"]["type"] == "Timeout"
    assert timed_out["error"]["step"] == "sleeper"
    # Logs and exports of the finished step, and the timed-out step's logs, are kept.
    assert timed_out["steps"]["first"]["exports"] == {"seen": 1}
    assert timed_out["steps"]["first"]["return_value"] == "done"
    assert "started 1" in timed_out["steps"]["sleeper"]["logs"]
    assert 1000 <= timed_out["duration_ms"] < 5000
    # --mode warm keeps the EE: the killed process is restarted, its globals start again.
    assert after["status"] == "ok"
    assert (after["ee"], after["start"]) == (timed_out["ee"], "warm")
    assert after["restarted_steps"] == ["sleeper"]
    assert after["steps"]["sleeper"]["return_value"] == 1


def test_realistic_mode_replaces_an_ee_after_a_timeout(pdee, write_step, tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"sleep": true}\n{"sleep": false}\n')
    outcome = pdee("run", write_step("sleeper", SLEEPER), "--event-file", events, "--timeout", "1")
    timed_out, after = outcome.executions
    assert timed_out["status"] == "timeout" and after["status"] == "ok"
    assert after["start"] == "cold" and after["ee"] != timed_out["ee"]
    assert outcome.report["ees"][0]["retired"] == "timeout"
