"""What ``pdee run`` shows on a terminal: progress, a table of executions, a summary.

Rich styles it on a terminal and prints plain text otherwise (CI logs, pipes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .runner import OnExecution
from .sizes import format_size

STATUS_STYLE = {
    "ok": "green",
    "exit": "cyan",
    "error": "red",
    "timeout": "yellow",
    "oom": "magenta",
}
# A run longer than this shows its failures, and its first and last executions.
TABLE_ROWS = 60


@contextmanager
def progress(console: Console, total: int, enabled: bool) -> Iterator[OnExecution]:
    """A live progress bar with counts of warm, cold and failed executions."""
    counts = {"warm": 0, "cold": 0, "failed": 0}
    if not enabled or not console.is_terminal:
        yield lambda _record: None
        return
    bar = Progress(
        TextColumn("[bold]running"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )

    def describe() -> str:
        return f"warm {counts['warm']}  cold {counts['cold']}  failed {counts['failed']}"

    with bar:
        task = bar.add_task("run", total=total, counts=describe())

        def advance(record: dict[str, Any]) -> None:
            counts[record["start"]] += 1
            if record["status"] not in ("ok", "exit"):
                counts["failed"] += 1
            bar.update(task, advance=1, counts=describe())

        yield advance


def _rows(executions: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """The executions to show; None marks a gap."""
    if len(executions) <= TABLE_ROWS:
        return list(executions)
    keep = {e["index"] for e in executions[:10] + executions[-10:]}
    keep |= {e["index"] for e in executions if e["status"] not in ("ok", "exit")}
    rows: list[dict[str, Any] | None] = []
    for execution in executions:
        if execution["index"] in keep:
            rows.append(execution)
        elif rows and rows[-1] is not None:
            rows.append(None)
    return rows


def executions_table(report: dict[str, Any]) -> Table:
    table = Table(title="executions", title_justify="left")
    for column in ("#", "EE", "start", "status", "duration", "/tmp used", "peak memory"):
        table.add_column(
            column, justify="right" if column not in ("EE", "start", "status") else "left"
        )
    for execution in _rows(report["executions"]):
        if execution is None:
            table.add_row("…", "", "", "", "", "", "")
            continue
        tmp = execution.get("tmp") or {}
        memory = execution.get("memory") or {}
        status = execution["status"]
        table.add_row(
            str(execution["index"]),
            execution["ee"],
            execution["start"],
            f"[{STATUS_STYLE.get(status, '')}]{status}[/]",
            f"{execution['duration_ms']:.1f} ms",
            format_size(tmp["used_bytes"]) if tmp else "-",
            format_size(memory["peak_bytes"]) if memory.get("peak_bytes") else "-",
        )
    return table


def failures(console: Console, report: dict[str, Any], limit: int = 5) -> None:
    """The first failing executions, each with its step's error and traceback."""
    failed = [e for e in report["executions"] if e["status"] not in ("ok", "exit")]
    for execution in failed[:limit]:
        error = execution["error"] or {}
        where = f" in step {error['step']!r}" if error.get("step") else ""
        console.print(
            f"[bold red]execution {execution['index']} ({execution['ee']}, {execution['start']}) "
            f"{execution['status']}{where}:[/] {error.get('type')}: {error.get('message')}",
            highlight=False,
            soft_wrap=True,
        )
        if error.get("traceback"):
            console.print(error["traceback"].rstrip(), markup=False, highlight=False)
        step = execution["steps"].get(error.get("step") or "", {})
        if step.get("logs"):
            console.print("[dim]logs:[/]")
            console.print(step["logs"].rstrip()[-2000:], markup=False, highlight=False)
    if len(failed) > limit:
        console.print(f"... and {len(failed) - limit} more failed executions (see --report)")


def summary_line(report: dict[str, Any]) -> str:
    s = report["summary"]
    settings = report["settings"]
    return (
        f"{s['executions']} executions: {s['ok']} ok, {s['failed']} failed "
        f"({s['warm']} warm, {s['cold']} cold; {s['ees_started']} EEs) | mode {settings['mode']}, "
        f"/tmp {format_size(settings['tmp_size_bytes'])}, memory "
        f"{format_size(settings['memory_bytes'])}, timeout {settings['timeout_s']:g} s, "
        f"Python {settings['python']}"
    )


def show(console: Console, report: dict[str, Any], quiet: bool) -> None:
    """The table, the failures, the notes and the summary; with ``quiet``, the summary."""
    if not quiet:
        console.print(executions_table(report))
        failures(console, report)
        notes = sorted({note for e in report["executions"] for note in e["notes"]})
        for note in notes:
            console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    if report["settings"].get("python_note"):
        console.print(
            f"[yellow]note:[/] {report['settings']['python_note']}", highlight=False, soft_wrap=True
        )
    console.print(summary_line(report), highlight=False, soft_wrap=True)
