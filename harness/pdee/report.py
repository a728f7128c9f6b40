"""The JSON report (a contract: CI jobs parse it) and the run's exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import __version__
from .errors import UsageError
from .records import RunResult


def build(result: RunResult) -> dict[str, Any]:
    """The report of a run, as ``--report`` writes it.

    A run cut short (``interrupted``: Ctrl-C, SIGTERM; ``aborted``: the backend failed,
    with the reason) holds the executions that had ended, and the EEs as far as they
    had got.
    """
    return {
        "pdee_version": __version__,
        "interrupted": result.interrupted,
        "aborted": result.aborted,
        "settings": result.settings.to_json(),
        "executions": [execution.to_json() for execution in result.executions],
        "ees": [ee.to_json() for ee in result.ees.values()],
        "summary": result.summary.to_json(),
    }


def exit_code(result: RunResult) -> int:
    """0 when every execution passed (ok, or ended by ``pd.flow.exit``), else 1."""
    return 0 if all(execution.passed for execution in result.executions) else 1


def write(path: Path, report: dict[str, Any], what: str = "report") -> None:
    """Write ``report`` as JSON to ``path``.

    Raises:
        UsageError: the file cannot be written.
    """
    write_text(path, json.dumps(report, indent=2) + "\n", what)


def write_text(path: Path, text: str, what: str) -> None:
    """Write ``text`` to ``path`` (``what`` names the file in the error).

    Raises:
        UsageError: the file cannot be written.
    """
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {what} {path}: {exc.strerror}; check the path") from exc


def check_writable(path: Path, what: str = "report", example: str = "report.json") -> None:
    """Fail before the run, not after it, when an output file cannot be written.

    Raises:
        UsageError: the file's directory does not exist, or the path is a directory.
    """
    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory; give a file name like {example}")
    if not path.parent.exists():
        raise UsageError(f"{what} {path}: directory {path.parent} does not exist")
