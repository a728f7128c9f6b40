"""The JSON report's file (its content, a contract: ``pdee.results.report``) and the
run's exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..results.records import RunResult
from ..results.report import build


def exit_code(result: RunResult) -> int:
    """0 when every execution passed (ok, or ended by ``pd.flow.exit``), else 1."""
    return 0 if all(brief.passed for brief in result.executions.briefs()) else 1


def write_run(path: Path, result: RunResult) -> None:
    """Write the report of ``result`` to ``path`` as ``write(path, build(result))`` would,
    the executions streamed from where the run keeps them: memory stays bounded.

    Raises:
        UsageError: the file cannot be written.
    """
    placeholder = "@@pdee-executions@@"
    head = build(result, executions=placeholder)
    before, after = (json.dumps(head, indent=2, allow_nan=False) + "\n").split(
        json.dumps(placeholder)
    )
    try:
        with path.open("w", encoding="utf-8") as out:
            out.write(before)
            first = True
            for line in result.executions.json_lines():
                text = json.dumps(json.loads(line), indent=2, allow_nan=False)
                out.write(("[\n" if first else ",\n") + _indent(text, "    "))
                first = False
            out.write("[]" if first else "\n  ]")
            out.write(after)
    except OSError as exc:
        raise UsageError(f"cannot write report {path}: {exc.strerror}; check the path") from exc


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def write(path: Path, report: dict[str, Any], what: str = "report") -> None:
    """Write ``report`` as JSON to ``path``.

    Raises:
        UsageError: the file cannot be written.
    """
    write_text(path, json.dumps(report, indent=2, allow_nan=False) + "\n", what)


def write_text(path: Path, text: str, what: str) -> None:
    """Write ``text`` to ``path`` (``what`` names the file in the error).

    Raises:
        UsageError: the file cannot be written.
    """
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {what} {path}: {exc.strerror}; check the path") from exc
