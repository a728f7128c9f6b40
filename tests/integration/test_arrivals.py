"""The platform's arrival controls against the real daemon and image: a throttle spreads
a burst over fixed windows, a full event queue drops what arrives while one waits, and a
cron schedule every 15 minutes finds every EE cold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pdee

pytestmark = pytest.mark.usefixtures("no_new_containers")

TS = """
def handler(pd):
    trigger = pd.steps["trigger"]
    return [trigger["context"]["ts"], trigger["event"].get("cron")]
"""
SLOW = """
import time

def handler(pd):
    time.sleep(2)
    return pd.steps["trigger"]["event"]
"""


def test_a_throttle_of_2_a_minute_spreads_a_burst_over_the_next_windows(write_step):
    step = write_step("ts", TS)
    result = pdee.run([step], events=5, interval=0, throttle="2/60", network="none", seed=3)
    assert result.passed
    windows = [int(e.at_s // 60) for e in result.executions]
    assert windows == [0, 0, 1, 1, 2]  # two a window, the later ones held for the next
    assert [e.at_s for e in result.executions][2::2] == [60.0, 120.0]  # as a window opens
    assert all(e.arrived_at_s == 0.0 for e in result.executions)
    assert result.settings.controls.to_json()["throttle"] == {"limit": 2, "interval_s": 60.0}


def test_a_queue_of_1_with_a_slow_step_drops_what_arrives_while_one_waits(tmp_path: Path):
    # An event source's workflow: the platform queues its events (native triggers' not).
    folder = tmp_path / "polled-p_AbCd123"
    (folder / "slow").mkdir(parents=True)
    (folder / "slow" / "entry.py").write_text(SLOW)
    (folder / "workflow.yaml").write_text(
        "schema: workflow/2022.04\nname: Polled\ntriggers:\n- id: dc_AbCd123\nsteps:\n"
        "- namespace: slow\n  runtime: python3.12\n  uses: ./slow/entry.py\n"
    )
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    ran = subprocess.run(
        [sys.executable, "-m", "pdee", "run", folder, "--events", "3", "--interval", "0.5",
         "--queue-size", "1", "--concurrency", "1", "--network", "none",
         "--report", report, "--junit", junit],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    # #0 runs 2 s; #1 (0.5 s) waits in the queue; #2 (1 s) finds it full.
    assert ran.returncode == 1, ran.stderr
    written = json.loads(report.read_text())
    executions = written["executions"]
    assert [e["status"] for e in executions] == ["ok", "ok", "dropped"]
    assert executions[2]["error"]["type"] == "Event Queue Full"
    assert executions[2]["ee"] is None and executions[2]["start"] is None
    assert executions[1]["at_s"] >= 2.0  # it waited for #0
    assert written["summary"]["dropped"] == 1 and written["summary"]["by_status"]["dropped"] == 1
    assert "2 ok, 1 failed, 1 dropped" in ran.stdout
    assert 'type="Event Queue Full"' in junit.read_text()


def test_cron_every_15_minutes_gives_four_executions_each_on_a_cold_ee(write_step):
    step = write_step("ts", TS)
    result = pdee.run([step], cron="*/15 * * * *", events=4, network="none", seed=5)
    assert result.passed
    executions = list(result.executions)
    assert [e.at_s for e in executions] == [0.0, 900.0, 1800.0, 2700.0]
    assert [e.start for e in executions] == ["cold"] * 4  # the 10-minute expiry passed
    assert result.summary.ees_expired == 3
    stamps = [e.steps["ts"].return_value for e in executions]
    assert {cron for _, cron in stamps} == {"*/15 * * * *"}  # the timer's event
    assert all(ts.endswith(":00.000Z") or ts.endswith(":00Z") for ts, _ in stamps), stamps
    assert result.settings.timeout_s == 60.0  # a timer's
