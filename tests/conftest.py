"""Helpers shared by unit and integration tests."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pdee.cli.app import app


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
