"""Ctrl-C and SIGTERM in the middle of a run remove every container pdee made."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")


def interrupt(
    containers, command: list[str], signum: int, running: int, settle_s: float = 1.0
) -> tuple[int, str, str]:
    """Run ``pdee``, send ``signum`` ``settle_s`` after ``running`` of its EEs exist
    (``containers``: the session's, which are this run's).

    Returns:
        pdee's exit code, standard error and standard output.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "pdee", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(containers()) < running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(containers()) >= running, "pdee did not start its EEs"
        time.sleep(settle_s)  # well into the run
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.communicate()
    return process.returncode, stderr, stdout


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_run_leaves_no_container(containers, write_step, tmp_path, signum, code):
    step = write_step("slow", "import time\n\ndef handler(pd):\n    time.sleep(0.3)\n")
    report = tmp_path / "partial.json"
    command = ["run", str(step), "--events", "200", "--mode", "cold", "--report", str(report)]
    returncode, stderr, shown = interrupt(containers, command, signum, running=1, settle_s=3.0)
    assert returncode == code, stderr
    # The report holds what ended before the signal, and says the run was cut short.
    partial = json.loads(report.read_text())
    assert partial["interrupted"] is True
    assert 1 <= partial["summary"]["executions"] < 200
    assert [e["index"] for e in partial["executions"]] == list(range(len(partial["executions"])))
    assert str(report) in stderr
    assert "Traceback" not in stderr
    assert "containers were removed" in stderr
    # The terminal shows them too, as at a run's end: the table, and the seed to replay.
    assert "executions" in shown and f"{partial['summary']['executions']} execution" in shown
    assert f"replay: --seed {partial['settings']['seed']}" in shown
    assert containers() == []


def test_ctrl_c_with_concurrent_ees_leaves_no_container(containers, write_step):
    step = write_step("slow", "import time\n\ndef handler(pd):\n    time.sleep(2)\n")
    command = ["run", str(step), "--events", "40", "--concurrency", "4", "--interval", "0"]
    returncode, stderr, _ = interrupt(containers, command, signal.SIGINT, running=4)
    assert returncode == 130, stderr
    assert "Traceback" not in stderr
    assert containers() == []


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_check_ends_both_its_runs(containers, write_step, signum, code):
    """pdee check runs its warm and chaos runs at once: a signal ends both, every EE
    removed, with one line."""
    step = write_step("slow", "import time\n\ndef handler(pd):\n    time.sleep(1)\n")
    returncode, stderr, _ = interrupt(containers, ["check", str(step)], signum, running=2)
    assert returncode == code, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert containers() == []
