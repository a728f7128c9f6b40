"""``--html`` on a real run: the file a real EE's run makes opens in headless Chromium
with no console error, shows every execution, and a failed one's traceback at a click
(the page's other behaviours: ``tests/unit/test_html_browser``, with no Docker)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By

pytestmark = [pytest.mark.usefixtures("no_new_containers"), pytest.mark.browser]

ONCE = """
import os

def handler(pd):
    print("looking for /tmp/seen")
    if os.path.exists("/tmp/seen"):
        raise RuntimeError("seen before: a warm EE")
    open("/tmp/seen", "w").write("x")
    return "first"
"""


def test_a_real_run_s_html_report_opens_in_a_browser(pdee, write_step, browser, tmp_path):
    step = write_step("once", ONCE)
    page = tmp_path / "run.html"
    outcome = pdee("run", step, "--events", "3", "--mode", "warm", "--seed", "4", "--html", page)
    assert outcome.exit_code == 1, outcome.stderr
    assert [e["status"] for e in outcome.executions] == ["ok", "error", "error"]
    assert browser.open(page) == []
    driver = browser.driver
    assert driver.find_element(By.ID, "exec-count").get_attribute("data-total") == "3"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#executions tbody tr")) == 3
    replay = driver.find_element(By.ID, "replay").text
    report = tmp_path / "report.json"  # the fixture's
    assert (
        replay == f"pdee run {step} --events 3 --seed 4 --mode warm --report {report} --html {page}"
    )
    driver.find_element(By.CSS_SELECTOR, 'tr.failed[data-index="1"]').click()
    details = driver.find_element(By.ID, "details")
    traceback = details.find_element(By.CSS_SELECTOR, "pre.traceback").text
    assert traceback.startswith("Traceback") and "once.py" in traceback
    assert traceback.endswith("RuntimeError: seen before: a warm EE")
    assert "/tmp/seen" in [li.text for li in details.find_elements(By.CSS_SELECTOR, "ul.files li")]
    assert "looking for /tmp/seen" in details.find_element(By.CSS_SELECTOR, "pre.logs").text
    note = outcome.report["settings"]["python_note"] if outcome.report else None
    shown = driver.find_elements(By.ID, "python-note")
    assert [n.text for n in shown] == ([f"Note: {note}"] if note else [])


def page_data(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The page's data and its first run's execution lines."""
    text = path.read_text(encoding="utf-8")
    found = dict(
        re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', text, re.DOTALL)
    )
    return json.loads(found["pdee-page"]), [
        line for line in found["pdee-run-0"].splitlines() if line
    ]


def test_check_writes_its_verdicts_and_both_runs(pdee, write_step, tmp_path):
    page = tmp_path / "check.html"
    outcome = pdee("check", write_step("once", ONCE), "--seed", "2", "--html", page)
    assert outcome.exit_code == 1, outcome.stderr
    data, first = page_data(page)
    verdicts = {v["scenario"]: v for v in data["checks"][0]["verdicts"]}
    assert verdicts["warm"]["outcome"] == "fail" and verdicts["warm"]["advice"]
    assert data["runs"][0]["label"] == "warm run" and len(first) == len(data["runs"][0]["briefs"])
    assert data["runs"][0]["replay"] == f"pdee check {tmp_path / 'once.py'} --seed 2 --html {page}"


def test_serve_writes_it_when_it_stops(write_step, tmp_path):
    page = tmp_path / "serve.html"
    process = subprocess.Popen(
        [sys.executable, "-m", "pdee", "serve", write_step("once", ONCE), "--port", "0",
         "--network", "none", "--html", page],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    url = process.stdout.readline().split(" on ")[1].split()[0]
    assert [requests.get(url + "/").status_code for _ in range(2)] == [200, 200]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr  # the second request found /tmp/seen
    data, lines = page_data(page)
    assert data["kind"] == "serve" and len(lines) == 2
    assert [json.loads(line)["status"] for line in lines] == ["ok", "error"]
    assert data["runs"][0]["replay"].startswith("pdee serve ")
