"""The JSON report's file (its content, a contract: ``pdee.results.report``) and the
run's exit code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..results.records import RunResult
from ..results.report import build
from .files import write_whole


def exit_code(result: RunResult) -> int:
    """0 when every execution passed (ok, or ended by ``pd.flow.exit``; a failed part a
    retry followed is judged by the retry), else 1."""
    return 1 if any(brief.failed for brief in result.executions.briefs()) else 0


def write_run(path: Path, result: RunResult) -> None:
    """Write the report of ``result`` to ``path`` as ``write(path, build(result))`` would,
    the executions streamed from where the run keeps them: memory stays bounded. The
    file is replaced whole or left as it was (``pdee.outputs.files.write_whole``).

    Raises:
        UsageError: the file cannot be written.
        PdeeError: a value in the report cannot be written as JSON.
    """
    write_whole(path, "report", _run_text(result))


def _run_text(result: RunResult) -> Iterator[str]:
    """The report of ``result`` as JSON text, in pieces: the executions one at a time."""
    placeholder = "@@pdee-executions@@"
    head = build(result, executions=placeholder)
    before, after = (json.dumps(head, indent=2, allow_nan=False) + "\n").split(
        json.dumps(placeholder)
    )
    yield before
    first = True
    for line in result.executions.json_lines():
        text = json.dumps(json.loads(line), indent=2, allow_nan=False)
        yield ("[\n" if first else ",\n") + _indent(text, "    ")
        first = False
    yield "[]" if first else "\n  ]"
    yield after


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def write(path: Path, report: dict[str, Any], what: str = "report") -> None:
    """Write ``report`` as JSON to ``path``, whole or not at all.

    Raises:
        UsageError: the file cannot be written.
        PdeeError: a value in it cannot be written as JSON.
    """
    write_whole(path, what, _dumped(report))


def _dumped(report: dict[str, Any]) -> Iterator[str]:
    yield json.dumps(report, indent=2, allow_nan=False) + "\n"


def write_text(path: Path, text: str, what: str) -> None:
    """Write ``text`` to ``path``, whole or not at all (``what`` names the file in the
    error).

    Raises:
        UsageError: the file cannot be written.
        PdeeError: the text cannot be encoded as UTF-8.
    """
    write_whole(path, what, [text])
