"""Helpers shared by unit and integration tests.

The session labels every container pdee makes with ``pdee.test.session=<uuid>``
(``PDEE_LABELS``, inherited by in-process runs and ``pdee`` subprocesses alike), so that
the tests look at, and remove, only what they made: the daemon may be shared with a
developer's open ``pdee serve`` or other CI jobs.
"""

from __future__ import annotations

import json
import os
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pdee.backends.ownership import ENV_LABELS, parse_labels
from pdee.cli import app

SESSION_KEY = "pdee.test.session"


@dataclass
class Outcome:
    """What one `pdee` invocation did."""

    exit_code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    @property
    def executions(self) -> list[dict[str, Any]]:
        assert self.report is not None, self.stderr
        return self.report["executions"]


@pytest.fixture(scope="session", autouse=True)
def session_label() -> Iterator[str]:
    """``pdee.test.session=<uuid>``, added to ``PDEE_LABELS`` for the whole session (a
    ``PDEE_LABELS`` set outside, e.g. by a CI job, is kept)."""
    before = os.environ.get(ENV_LABELS)
    outside = parse_labels([before or ""], ENV_LABELS)
    outside.pop(SESSION_KEY, None)  # a session inside another's: its own label only
    label = f"{SESSION_KEY}={uuid.uuid4().hex}"
    os.environ[ENV_LABELS] = ",".join([*(f"{k}={v}" for k, v in outside.items()), label])
    try:
        yield label
    finally:
        if before is None:
            os.environ.pop(ENV_LABELS, None)
        else:
            os.environ[ENV_LABELS] = before


@pytest.fixture
def write_step(tmp_path: Path):
    """Write a step file: write_step("name", '''def handler(pd): ...''') -> its path."""

    def write(name: str, code: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(code))
        return path

    return write


@pytest.fixture
def pdee(tmp_path: Path):
    """Invoke the CLI in-process with a report: pdee("run", step, "--events", "3")."""

    def invoke(*args: object) -> Outcome:
        argv = [str(a) for a in args]
        report_path = tmp_path / "report.json"
        if argv and argv[0] == "run" and "--report" not in argv:
            argv += ["--report", str(report_path)]
        result = CliRunner().invoke(app, argv)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        if report_path.exists():
            report_path.unlink()
        return Outcome(result.exit_code, result.stdout, result.stderr, report)

    return invoke


# Debian's packages (apt-get install chromium chromium-driver; .ci/run installs them).
CHROMIUM, CHROMEDRIVER = "chromium", "chromedriver"


@dataclass
class Browser:
    """Headless Chromium driven by Selenium, for the HTML report's tests."""

    driver: Any

    def open(self, path: Path) -> list[dict[str, Any]]:
        """Load the file at ``path``; the console's errors, and the page's own warnings
        (not the renderer's notes on software WebGL's speed)."""
        self.driver.get_log("browser")  # what earlier pages said
        self.driver.get(path.as_uri())
        return [
            entry
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE"
            or (entry["level"] == "WARNING" and entry["source"] != "rendering")
        ]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's ``chromium`` and ``chromium-driver``); fails when they
    are missing, saying how to install them."""
    import shutil

    binary, driver = shutil.which(CHROMIUM), shutil.which(CHROMEDRIVER)
    if binary is None or driver is None:
        pytest.fail(
            "the browser tests need Chromium and its driver: "
            "apt-get install -y chromium chromium-driver (.ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--disable-extensions",
                     # WebGL in software, as a browser without a GPU has it (the charts
                     # draw with WebGL above 2,000 points).
                     "--enable-unsafe-swiftshader"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield Browser(chrome)
    finally:
        chrome.quit()
