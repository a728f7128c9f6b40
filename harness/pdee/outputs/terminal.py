"""What ``pdee run`` shows on a terminal: progress, what the steps did, tables, a summary.

Rich styles it on a terminal and prints plain text otherwise (CI logs, pipes), where
no line is wrapped: paths and tracebacks stay whole for whoever reads or greps them.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ..checking.project import ProjectCheck
from ..checking.verdicts import CheckResult, Outcome
from ..engine.runner import OnExecution
from ..plan.sizes import format_size, plural
from ..provision.packages import PackageSet, canonical
from ..results.records import Brief, Execution, RunResult, Settings, Status, StepResult, StoreAtEnd

STATUS_STYLE = {
    Status.OK: "green",
    Status.EXIT: "cyan",
    Status.ERROR: "red",
    Status.TIMEOUT: "yellow",
    Status.OOM: "magenta",
    Status.DROPPED: "red",
}
# A run longer than this shows its failures, and its first and last executions.
TABLE_ROWS = 60
# What an execution's details show of each step, before pointing at --report.
LOG_LINES = 40
VALUE_CHARS = 300
STORE_KEYS_SHOWN = 5
LOG_LINE_CHARS = 2000  # a log line longer than this is cut on the terminal
FAILURE_LOG_LINES = 20
# Where output is not a terminal, lines are not wrapped; tables get this much room.
PLAIN_WIDTH = 240


class Verbosity(enum.IntEnum):
    """How much ``pdee run`` shows."""

    QUIET = -1  # failures and the summary
    NORMAL = 0  # tables, failures, summary; what the steps did if there is one execution
    VERBOSE = 1  # what the steps did in every execution, too


class _Escaping:
    """A text stream that writes what its encoding cannot carry escaped (``\\ud800``)
    instead of failing: a step may return a string with a lone surrogate, which JSON
    carries and a terminal cannot."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self.stream, "encoding", None) or "utf-8"
            return self.stream.write(text.encode(encoding, "backslashreplace").decode(encoding))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def make_console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr) as it is now, that does not wrap text and
    escapes what the stream cannot encode; where it is not a terminal, tables get
    ``PLAIN_WIDTH`` columns rather than Rich's 80."""
    stream: Any = _Escaping(sys.stderr if stderr else sys.stdout)
    console = Console(file=stream, soft_wrap=True)
    if not console.is_terminal:
        console = Console(file=stream, soft_wrap=True, width=PLAIN_WIDTH)
    return console


@dataclass
class RunProgress:
    """What a run tells the terminal as it goes: each execution, and each thing it does
    before the first (fetching packages, building their image)."""

    on_execution: OnExecution
    phase: Callable[[str], None]


@contextmanager
def progress(
    console: Console, err_console: Console, total: int, enabled: bool
) -> Iterator[RunProgress]:
    """A live progress bar with counts of warm, cold and failed executions, whose label
    says what the run is doing before its first execution (on a terminal); elsewhere
    the phases as lines on ``err_console``."""
    counts = {"warm": 0, "cold": 0, "failed": 0}
    if not enabled or not console.is_terminal:
        yield RunProgress(lambda _execution: None, lambda line: _say(err_console, line))
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
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
        task = bar.add_task("running", total=total, counts=describe())

        def advance(execution: Execution) -> None:
            if execution.status is not Status.DROPPED:  # it never started
                counts[execution.start.value] += 1
            if not execution.passed:
                counts["failed"] += 1
            bar.update(task, advance=1, counts=describe(), description="running")

        def phase(line: str) -> None:
            _say(err_console, line)  # kept in the scrollback, above the bar
            bar.update(task, description=line[:60])

        yield RunProgress(advance, phase)


def _rows(executions: list[Brief]) -> list[Brief | None]:
    """The executions to show; None marks a gap."""
    if len(executions) <= TABLE_ROWS:
        return list(executions)
    keep = {e.index for e in executions[:10] + executions[-10:]}
    keep |= {e.index for e in executions if not e.passed}
    rows: list[Brief | None] = []
    for execution in executions:
        if execution.index in keep:
            rows.append(execution)
        elif rows and rows[-1] is not None:
            rows.append(None)
    return rows


def left_in_tmp(brief: Brief) -> str:
    """The files an execution left in /tmp, for a table: the first few paths, and how
    many more ("" for none)."""
    if not brief.tmp_files:
        return ""
    named = [path if len(path) <= 40 else f"{path[:39]}…" for path in brief.tmp_named[:2]]
    if not named:
        return plural(brief.tmp_files, "file")
    more = brief.tmp_files - len(named)
    return ", ".join(named) + (f" +{more}" if more else "")


def executions_table(result: RunResult) -> Table:
    table = Table(title="executions", title_justify="left")
    briefs = result.executions.briefs()
    flow = any(brief.flow for brief in briefs)  # a column only when an execution paused
    left = any(brief.tmp_files for brief in briefs)  # only when one left files in /tmp
    columns = ["#", "at", "EE", "start", "status", "duration", "/tmp peak", "memory peak"]
    attempts = result.settings.auto_retry.on  # a column with auto-retry
    if attempts:
        columns.insert(5, "attempt")
    columns += ["flow"] * flow + ["left in /tmp"] * left
    for column in columns:
        table.add_column(
            column,
            justify="left"
            if column in ("EE", "start", "status", "flow", "left in /tmp")
            else "right",
        )
    for execution in _rows(briefs):
        if execution is None:
            table.add_row(*["…"] + [""] * (len(table.columns) - 1))
            continue
        status = execution.status
        ran = status is not Status.DROPPED
        table.add_row(
            str(execution.index),
            f"{execution.at_s:.1f}s",
            execution.ee if ran else "-",
            execution.start.value if ran else "-",
            f"[{STATUS_STYLE[status]}]{status.value}[/]",
            *([attempt_cell(execution)] if attempts else []),
            f"{execution.duration_ms:.1f} ms",
            format_size(execution.tmp_peak) if execution.tmp_peak is not None else "-",
            format_size(execution.memory_peak) if execution.memory_peak else "-",
            *([execution.flow] if flow else []),
            *([escape(left_in_tmp(execution))] if left else []),
        )
    return table


def attempt_cell(brief: Brief) -> str:
    """An execution's attempt at its first step: 1, a retry's number, marked when a retry
    followed it."""
    return f"{brief.attempt} → retried" if brief.retried else str(brief.attempt)


SPARKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24
TIMELINE_ROWS = 30


def index_ranges(indices: list[int], width: int = 40) -> str:
    """``[0, 1, 2, 5, 7, 8]`` as ``#0-2 #5 #7-8``, cut at about ``width`` characters."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and index == runs[-1][1] + 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    parts = [f"#{a}" if a == b else f"#{a}-{b}" for a, b in runs]
    text = ""
    for shown, part in enumerate(parts):
        if len(text) + len(part) > width:
            return f"{text}… ({len(parts) - shown} more)"
        text += ("" if not text else " ") + part
    return text


def sparkline(values: list[int], top: int, width: int = SPARK_WIDTH) -> str:
    """``values`` (0..top) as block characters; the maximum of each bucket when too many."""
    if not values or top <= 0:
        return ""
    if len(values) > width:
        size = len(values) / width
        values = [
            max(values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)])
            for i in range(width)
        ]
    return "".join(
        SPARKS[min(len(SPARKS) - 1, value * len(SPARKS) // (top + 1))] for value in values
    )


def timeline_table(result: RunResult) -> Table:
    """Each EE: when it started and went away, what it ran, how its /tmp grew."""
    by_index = {e.index: e for e in result.executions.briefs()}
    tmp_size = result.settings.tmp_size_bytes
    table = Table(title="EEs (virtual time)", title_justify="left")
    table.add_column("EE")
    table.add_column("life", no_wrap=True)
    table.add_column("executions")
    table.add_column(f"/tmp peaks (█ = {format_size(tmp_size)})", no_wrap=True)
    table.add_column("last /tmp", justify="right")
    table.add_column("failed")
    ees = list(result.ees.values())
    # Every EE with a failure, then the first others, in the report's order.
    chosen = {
        ee.id for ee in ees if any(not by_index[i].passed for i in ee.executions if i in by_index)
    }
    others = [ee.id for ee in ees if ee.id not in chosen]
    chosen.update(others[: max(0, TIMELINE_ROWS - len(chosen))])
    shown = [ee for ee in ees if ee.id in chosen]
    for ee in shown:
        runs = [by_index[i] for i in ee.executions if i in by_index]
        peaks = [e.tmp_peak or 0 for e in runs]
        used = [e.tmp_used or 0 for e in runs]
        failed = [e.index for e in runs if not e.passed]
        life = f"{ee.started_at_s:.1f}→"
        if ee.retired is not None:
            life += f"{ee.retired_at_s or 0.0:.1f}s {ee.retired.value}"
        else:
            life += "…"
        if ee.warm_worker:
            life += " (warm worker)"
        table.add_row(
            ee.id,
            life,
            index_ranges(ee.executions, 24) or "-",
            sparkline(peaks, tmp_size),
            f"{format_size(used[-1])} ({used[-1] * 100 // tmp_size}%)" if used else "-",
            f"[red]{index_ranges(failed, 16)}[/]" if failed else "",
        )
    if len(shown) < len(ees):
        table.caption = f"{plural(len(ees) - len(shown), 'more EE')} in the report"
    return table


def _say(console: Console, text: str, style: str | None = None) -> None:
    console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def _note(console: Console, text: str) -> None:
    console.print(f"[yellow]note:[/] {escape(text)}", highlight=False, soft_wrap=True)


def _value(value: Any) -> str:
    """A value as compact JSON, cut at ``VALUE_CHARS``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text) > VALUE_CHARS:
        return f"{text[:VALUE_CHARS]}… ({len(text)} characters; see --report)"
    return text


def _log_lines(console: Console, step: StepResult, limit: int, indent: str) -> None:
    """The last ``limit`` lines of a step's logs, each marked with its stream."""
    lines = step.log_lines()
    if len(lines) > limit:
        _say(console, f"{indent}… {len(lines) - limit} earlier lines (see --report)", "dim")
    for stream, line in lines[-limit:]:
        mark = "err│ " if stream == "stderr" else "out│ "
        if len(line) > LOG_LINE_CHARS:  # one line of megabytes must not flood the terminal
            line = f"{line[:LOG_LINE_CHARS]}… ({len(line):,} characters; see --report)"
        console.print(
            f"{indent}[{'red' if stream == 'stderr' else 'dim'}]{mark}[/]{escape(line)}",
            highlight=False,
            soft_wrap=True,
        )
    if step.logs_truncated:
        _say(console, f"{indent}(logs cut at the platform's 6MB payload limit)", "dim")


def _headline(execution: Execution) -> str:
    status = execution.status
    ran = status is not Status.DROPPED  # a dropped one had no EE and no start
    parts = [
        f"execution {execution.index}",
        *([execution.ee, execution.start.value] if ran else []),
        f"[{STATUS_STYLE[status]}]{status.value}[/]",
        f"{execution.duration_ms:.1f} ms",
    ]
    if execution.retry is not None or execution.attempt > 1:  # auto-retry
        parts.append(execution.flow)
    if execution.tmp:
        parts.append(f"/tmp peak {format_size(execution.tmp.peak_used_bytes)}")
    if execution.memory and execution.memory.peak_bytes:
        parts.append(f"memory peak {format_size(execution.memory.peak_bytes)}")
    return "[bold]──[/] " + " · ".join(parts)


def _error(console: Console, execution: Execution, indent: str) -> None:
    error = execution.error
    where = f" in step {error.step!r}" if error and error.step else ""
    what = f"{error.type}: {error.message}" if error else "no error recorded"
    console.print(
        f"{indent}[bold red]{execution.status.value}{where}:[/] {escape(what)}",
        highlight=False,
        soft_wrap=True,
    )
    if error and error.traceback:
        for line in error.traceback.rstrip().splitlines():
            _say(console, indent + "  " + line)


def details(console: Console, execution: Execution) -> None:
    """What one execution's steps did: logs (stdout and stderr marked), return value,
    exports; and its error, with the traceback, if it failed."""
    console.print(_headline(execution), highlight=False, soft_wrap=True)
    for name, step in execution.steps.items():
        if step.stand_in:
            _say(console, f"  step {name} (not run by pdee)", "bold")
            _say(console, f"    return value: {_value(step.return_value)}")
            continue
        _say(console, f"  step {name} ({step.duration_ms:.1f} ms)", "bold")
        _log_lines(console, step, LOG_LINES, "    ")
        failed_here = execution.error is not None and execution.error.step == name
        if not failed_here:
            _say(console, f"    return value: {_value(step.return_value)}")
        for export, value in step.exports.items():
            _say(console, f"    export {export}: {_value(value)}")
    if execution.exit_reason is not None or execution.status is Status.EXIT:
        _say(console, f"  ended by pd.flow.exit: {execution.exit_reason!r}")
    if execution.respond is not None:
        _say(console, f"  pd.respond: {_value(execution.respond)}")
    for name, use in execution.stores.items():
        reads, writes = plural(use.reads, "read"), plural(use.writes, "write")
        _say(console, f"  data store {name}: {reads}, {writes}")
    if execution.flow:
        _say(
            console,
            f"  {'retry' if execution.retry or execution.attempt > 1 else 'paused'}: "
            f"{execution.flow}",
        )
    if execution.found_files:
        found = ", ".join(execution.found_files)
        _say(console, f"  found in /tmp, left by the failed attempt: {found}")
    for email in execution.emails:
        _say(console, f"  pd.send.email from {email['step']} (not sent): {email['subject']!r}")
    if not execution.passed:
        _error(console, execution, "  ")


def logs(console: Console, execution: Execution) -> None:
    """What each step of one execution printed (its last lines), indented."""
    for name, step in execution.steps.items():
        if step.logs:
            _say(console, f"  {name}:", "dim")
            _log_lines(console, step, LOG_LINES, "    ")


def failure(console: Console, execution: Execution) -> None:
    """One failed execution: its error, traceback and the failing step's last log lines."""
    console.print(_headline(execution), highlight=False, soft_wrap=True)
    _error(console, execution, "  ")
    error = execution.error
    step = execution.steps.get(error.step or "") if error else None
    if error is not None and step is not None and step.logs:
        _say(console, f"  last logs of step {error.step}:", "dim")
        _log_lines(console, step, FAILURE_LOG_LINES, "    ")


def failures(
    console: Console,
    result: RunResult,
    limit: int = 5,
    shown: frozenset[int] = frozenset(),
    report: Path | None = None,
) -> None:
    """The failing executions (not already ``shown``), those with the same error (status,
    step, type, message and traceback) as one, with their count: the first ``limit``
    errors with their traceback and the failing step's last log lines; how many more,
    and where they are (the ``report``, or how to get one)."""
    groups: dict[tuple[Any, ...], list[Execution]] = {}
    for brief in result.executions.briefs():
        if not brief.passed and brief.index not in shown:
            execution = result.executions.by_index(brief.index)
            error = execution.error
            key = (
                (execution.status, error.step, error.type, error.message, error.traceback)
                if (error)
                else (execution.status, brief.index)
            )
            groups.setdefault(key, []).append(execution)
    for same in list(groups.values())[:limit]:
        failure(console, same[0])
        if len(same) > 1:
            indices = index_ranges([e.index for e in same])
            line = f"  × {len(same)} executions failed with this error: {indices}"  # noqa: RUF001
            _say(console, line, "bold")
    rest = sum(len(same) for same in list(groups.values())[limit:])
    if rest:
        where = f"see {report}" if report is not None else "--report FILE writes every one"
        _say(console, f"... and {plural(rest, 'more failed execution')} ({where})")


def summary_line(result: RunResult) -> str:
    s = result.summary
    settings = result.settings
    arrivals = settings.arrivals
    if arrivals.get("kind") == "interval":
        pace = f"interval {arrivals['interval_s']:g} s"
    elif arrivals.get("kind") == "rate":
        pace = f"rate {arrivals['per_minute']:g}/min"
    elif arrivals.get("kind") == "requests":
        pace = "HTTP requests, real time"
    elif arrivals.get("kind") == "cron":
        pace = f"cron {arrivals['cron']!r} ({arrivals['timezone']})"
    else:
        pace = "schedule"
    env = f" | env {', '.join(settings.env)}" if settings.env else ""
    throttle, queue_size = settings.controls.throttle, settings.controls.queue_size
    if throttle:
        pace += f", throttle {throttle.limit}/{throttle.interval_s:g}s"
    if queue_size is not None:
        pace += f", queue {queue_size}"
    dropped = f", {s.dropped} dropped" if s.dropped else ""
    lifecycle = ""
    if settings.mode == "realistic":
        lifecycle = f", idle timeout {settings.idle_timeout_s:g} s, chaos {settings.chaos:g}"
    retried = ""
    if settings.auto_retry.on:
        retried = (
            f", {s.retried_parts} retried ({s.retried} execution{'s' * (s.retried != 1)} "
            f"retried, {s.failed_after_retries} failed after retries)"
        )
    return (
        f"{plural(s.executions, 'execution')}: {s.ok} ok, {s.failed} failed{dropped}{retried} "
        f"({s.warm} warm, {s.cold} cold) | EEs: {s.ees_started} started"
        f"{f' ({s.ees_recycled} recycled)' if s.ees_recycled else ''}, "
        f"{s.ees_reused} reused, {s.ees_expired} expired, "
        f"{s.ees_destroyed_at_random} destroyed at random | mode {settings.mode}, "
        f"concurrency {settings.concurrency}, {pace}{lifecycle} | "
        f"/tmp {format_size(settings.tmp_size_bytes)}, memory "
        f"{format_size(settings.memory_bytes)}, timeout {settings.timeout_s:g} s, "
        f"Python {settings.python}{env} | seed {settings.seed} (replay: --seed {settings.seed})"
    )


def packages_line(result: RunResult) -> str:
    """Which packages the EEs got and what they left of /tmp."""
    settings = result.settings
    names = ", ".join(package.spec for package in settings.packages)
    measured = [e.packages_bytes for e in result.executions.briefs() if e.packages_bytes]
    taken = max(measured, default=sum(package.bytes for package in settings.packages))
    size = settings.tmp_size_bytes
    line = (
        f"packages: {names}: {format_size(taken)} of /tmp ({taken * 100 / size:.1f}%), "
        f"{format_size(max(size - taken, 0))} left for the step"
    )
    return ("note: " if taken * 10 > size else "") + line


def show(
    console: Console,
    result: RunResult,
    verbosity: Verbosity = Verbosity.NORMAL,
    report: Path | None = None,
) -> None:
    """What the steps did (one execution, or all with ``VERBOSE``), the tables, the
    failures, the notes and the summary; with ``QUIET``, the failures and the summary
    (``report``: where the JSON report goes, for what is not shown)."""
    detailed: frozenset[int] = frozenset()
    if verbosity is Verbosity.VERBOSE or (
        verbosity is Verbosity.NORMAL and len(result.executions) == 1
    ):
        for execution in result.executions:
            details(console, execution)
        detailed = frozenset(e.index for e in result.executions)
    if verbosity is not Verbosity.QUIET:
        console.print(executions_table(result))
        console.print(timeline_table(result))
    failures(console, result, shown=detailed, report=report)
    if verbosity is not Verbosity.QUIET:
        notes = sorted(result.executions.notes)
        for note in notes:
            _note(console, note)
    if result.settings.packages:
        _say(console, packages_line(result))
    for store in result.data_stores:
        _say(console, store_line(store))
    settings_notes(console, result.settings)
    if result.pending_parts:
        _say(console, pending_line(result))
    _say(console, summary_line(result))


def pending_line(result: RunResult) -> str:
    """How many paused executions still had a part to come when the run stopped."""
    n = result.pending_parts
    who = "serve" if result.settings.arrivals.get("kind") == "requests" else "the run"
    return (
        f"{n} paused execution{'s' * (n != 1)} {'were' if n != 1 else 'was'} pending when "
        f"{who} stopped: {'their' if n != 1 else 'its'} later steps never ran (the report "
        f"says pending)"
    )


def settings_notes(console: Console, settings: Settings) -> None:
    """What pdee cannot do of the workflow, and a Python that is not the platform's."""
    for note in settings.notes:
        _note(console, note)
    if settings.python_note:
        _note(console, settings.python_note)


def store_line(store: StoreAtEnd) -> str:
    """One data store as the run left it: where it is kept, its records, its use."""
    where = store.path or "for this run only"
    count = len(store.records)
    shown = ", ".join(list(store.records)[:STORE_KEYS_SHOWN])
    more = f", … {count - STORE_KEYS_SHOWN} more" if count > STORE_KEYS_SHOWN else ""
    keys = f" ({shown}{more})" if count else ""
    return (
        f"data store {store.name} ({where}): {count} record{'s' * (count != 1)} at the end"
        f"{keys}; {plural(store.reads, 'read')}, {plural(store.writes, 'write')}"
    )


def packages(console: Console, fetched: PackageSet, python: str, tmp_size: int) -> None:
    """The packages an EE gets: each with its version, its room in /tmp and who needs it."""
    needed_by = {canonical(r.name): ", ".join(r.steps) for r in fetched.requirements}
    table = Table(title=f"packages for Python {python}", title_justify="left")
    for column in ("package", "version", "/tmp", "needed by"):
        table.add_column(column, justify="right" if column == "/tmp" else "left")
    for wheel in fetched.wheels:
        table.add_row(
            wheel.name,
            wheel.version,
            format_size(wheel.bytes),
            needed_by.get(canonical(wheel.name), "[dim](a dependency)[/]"),
        )
    console.print(table)
    total = fetched.installed_bytes
    share = total * 100 / tmp_size
    line = (
        f"{plural(len(fetched.wheels), 'package')}, {format_size(total)} installed: "
        f"{share:.1f}% of the {format_size(tmp_size)} /tmp, where the platform puts them "
        f"(/tmp/__pdg__/dist/python)"
    )
    _say(console, line)
    if share > 10:
        _note(
            console,
            f"the packages take more than a tenth of /tmp: the step has "
            f"{format_size(max(tmp_size - total, 0))} left",
        )


OUTCOME_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "skipped": "dim"}


def show_check(console: Console, result: CheckResult) -> None:
    """The verdicts as a table (green, yellow, red), each failure's error and last logs,
    and whether the step is safe."""
    settings = next(iter(result.runs.values())).settings
    title = "pdee check"
    if settings.workflow:
        title += f": workflow {settings.workflow['name']} ({settings.workflow['folder']})"
    table = Table(title=escape(title), title_justify="left")
    table.add_column("scenario")
    table.add_column("verdict")
    table.add_column("what was seen")
    for verdict in result.verdicts:
        style = OUTCOME_STYLE[verdict.outcome.value]
        table.add_row(
            verdict.scenario, f"[{style}]{verdict.outcome.value}[/]", escape(verdict.summary)
        )
    console.print(table)
    for verdict in result.verdicts:
        if verdict.advice:
            _say(console, f"advice ({verdict.scenario}): {verdict.advice}")
    for verdict in result.verdicts:
        execution = verdict.execution
        if verdict.outcome is Outcome.FAIL and execution is not None and not execution.passed:
            _say(console, f"{verdict.scenario}, in the {verdict.run} run:", "bold")
            failure(console, execution)
    settings_notes(console, settings)
    failed = sum(v.outcome is Outcome.FAIL for v in result.verdicts)
    warned = sum(v.outcome is Outcome.WARN for v in result.verdicts)
    verdict_line = (
        "safe to deploy"
        if result.safe
        else f"NOT safe to deploy: {plural(failed, 'scenario')} failed"
    )
    warnings = f", {plural(warned, 'warning')}" if warned else ""
    console.print(
        f"[{'green' if result.safe else 'red'}]{verdict_line}[/]{warnings} "
        f"({result.duration_s:.1f} s; /tmp {format_size(settings.tmp_size_bytes)}, memory "
        f"{format_size(settings.memory_bytes)}, timeout {settings.timeout_s:g} s, Python "
        f"{settings.python}; replay: --seed {settings.seed})",
        highlight=False,
        soft_wrap=True,
    )


def show_project(console: Console, result: ProjectCheck) -> None:
    """Each workflow's check, in turn, then whether the whole project is safe."""
    for checked in result.workflows:
        if checked.result is None:
            _say(
                console,
                f"workflow {checked.workflow.name} ({checked.workflow.folder}): "
                f"not checked: {checked.skipped}",
            )
            continue
        show_check(console, checked.result)
        console.print()
    judged = [c for c in result.workflows if c.result is not None]
    unsafe = [c.workflow.name for c in judged if c.result is not None and not c.result.safe]
    line = (
        f"{plural(len(judged), 'workflow')} safe to deploy"
        if not unsafe
        else f"NOT safe to deploy: {', '.join(unsafe)} "
        f"({len(unsafe)} of {plural(len(judged), 'workflow')})"
    )
    if result.shard is not None:
        line += (
            f"; shard {result.shard}: {len(result.workflows)} of the project's "
            f"{result.project_workflows} workflows"
        )
    console.print(
        f"[{'green' if not unsafe else 'red'}]project {escape(str(result.root))}: "
        f"{escape(line)}[/] ({result.duration_s:.1f} s)",
        highlight=False,
        soft_wrap=True,
    )
