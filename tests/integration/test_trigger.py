"""``pdee run --trigger timer`` against the real daemon and image: a cron step run from a
file gets the timer's event, id and 60 s, as a synced timer workflow does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

CRON = """
def handler(pd):
    trigger = pd.steps["trigger"]
    event = trigger["event"]
    return [event["timestamp"], event["interval_seconds"], trigger["context"]["emitter_id"][:3]]
"""


def test_a_cron_step_from_a_file_gets_the_timers_event_and_timeout(write_step, tmp_path):
    step = write_step("cron", CRON)
    report = tmp_path / "report.json"
    ran = subprocess.run(
        [sys.executable, "-m", "pdee", "run", step, "--trigger", "timer", "--events", "2",
         "--interval", "86400", "--network", "none", "--report", report],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    written = json.loads(report.read_text())
    assert written["settings"]["timeout_s"] == 60.0
    first, second = (e["steps"]["cron"]["return_value"] for e in written["executions"])
    assert first[1:] == second[1:] == [86400, "ti_"]
    assert second[0] - first[0] == 86400
