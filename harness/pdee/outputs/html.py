"""The HTML report (``--html``): one self-contained file a person opens offline, another
view of the JSON report (``pdee.results.report``), written whole like the other outputs
(``pdee.outputs.files.write_whole``).

The file holds, inline: the chart library (plotly.js, from the ``plotly`` wheel's
``plotly.offline.get_plotlyjs()``), the page's own script and style
(``outputs/html_assets/``), and the data:

- ``#pdee-page``: the page (``page``): each run's report without its executions, a
  brief of each execution (one array per execution: what the timeline, the charts and
  the table need), the command that replays it, and for ``check`` the verdicts with
  their advice (``Verdict.advice``);
- ``#pdee-run-N``: run N's executions as the report holds them, one JSON line each,
  parsed only when a reader opens one (lazy: 10,000 executions stay responsive).

Everything from a run (logs are user data) goes in as JSON inside
``<script type="application/json">`` with ``<``, ``>`` and ``&`` escaped, so no text of
a step can end the script element; the page's script puts it on the page as text
(``textContent``), never as markup.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ..checking.project import ProjectCheck
from ..checking.verdicts import CheckResult, Verdict
from ..plan.sizes import format_size, parse_size
from ..results.records import Brief, RunResult, Settings
from ..results.report import build
from ..version import __version__
from .files import write_whole

WHAT = "HTML report"
EXAMPLE = "report.html"
ERROR_TEXT_LIMIT = 300  # characters of an execution's error in its brief (the table's)
SCHEDULE_FILE = "SCHEDULE.json"  # the replay command's --schedule: its name is not kept

# The brief of an execution, one array each: the names of its fields, in order. With
# auto-retry, "attempt" is which attempt at its first step a part is (2 and on: a retry),
# "retried" whether a retry followed its failure (the execution is then judged by the
# retry, as ``Execution.failed`` does), and "retry" what came of its failure ("retried",
# "pending", "not retried: ...", or None).
BRIEF_FIELDS = (
    "index", "ee", "start", "status", "arrived_at_s", "at_s", "duration_ms", "tmp_used",
    "tmp_peak", "tmp_files", "memory_peak", "error", "flow", "cold_start_ms", "attempt",
    "retried", "retry",
)  # fmt: skip


def _escaped(text: str) -> str:
    """JSON text made safe inside a ``<script>`` element: no ``</script>``, no ``<!--``
    (each character stays the same JSON value)."""
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _brief(execution: dict[str, Any], brief: Brief) -> list[Any]:
    """What the timeline, the charts and the table need of an execution (its report
    form, and its ``Brief``: the same flow text as the terminal's), in ``BRIEF_FIELDS``
    order."""
    tmp, memory, error = execution.get("tmp") or {}, execution.get("memory") or {}, None
    if execution.get("error"):
        found = execution["error"]
        step = f" in step {found.get('step')}" if found.get("step") else ""
        error = f"{found.get('type')}{step}: {found.get('message')}"[:ERROR_TEXT_LIMIT]
    elif execution.get("exit_reason") is not None:
        error = f"pd.flow.exit: {execution['exit_reason']}"[:ERROR_TEXT_LIMIT]
    retry = execution.get("retry") or {}
    return [
        execution["index"], execution["ee"], execution["start"], execution["status"],
        execution["arrived_at_s"], execution["at_s"], execution["duration_ms"],
        tmp.get("used_bytes"), tmp.get("peak_used_bytes"), tmp.get("files"),
        memory.get("peak_bytes"), error, brief.flow, execution.get("cold_start_ms"),
        brief.attempt, brief.retried, retry.get("outcome"),
    ]  # fmt: skip


def replay_command(settings: Settings, command: str, argv: Sequence[str] | None = None) -> str:
    """The command that replays a run: ``argv`` (the command line as typed, without the
    program) with ``--seed`` set to the run's seed; without ``argv`` (the API), one made
    from the settings (the steps as ``NAME.py``; the trigger, the arrivals (a cron
    schedule with its time zone), the lifecycle, the throttle and queue given, auto-retry
    and the limits; the event options and a ``--schedule`` file's name are not in the
    report: the command names it ``SCHEDULE_FILE``)."""
    seed = str(settings.seed)
    if argv is not None:
        words = list(argv)
        for position, word in enumerate(words):
            if word == "--seed" and position + 1 < len(words):
                words[position + 1] = seed
                break
            if word.startswith("--seed="):
                words[position] = f"--seed={seed}"
                break
        else:
            words += ["--seed", seed]
        return shlex.join(["pdee", *words])
    if settings.workflow:
        words = [command, str(settings.workflow.get("folder", "."))]
    else:
        words = [command, *(f"{step}.py" for step in settings.steps)]
        if settings.trigger != "http" and command != "serve":  # a workflow names its own
            words += ["--trigger", settings.trigger]
    arrivals = settings.arrivals
    if command == "run":
        words += ["--events", str(settings.executions), "--mode", settings.mode]
        if arrivals.get("kind") == "interval":
            words += ["--interval", f"{arrivals['interval_s']:g}"]
        elif arrivals.get("kind") == "rate":
            words += ["--rate", f"{arrivals['per_minute']:g}"]
        elif arrivals.get("kind") == "schedule":  # the file's name is not in the report
            words += ["--schedule", SCHEDULE_FILE]
        if settings.concurrency != 1:
            words += ["--concurrency", str(settings.concurrency)]
        if settings.mode == "realistic":
            words += ["--idle-timeout", f"{settings.idle_timeout_s:g}"]
            words += ["--chaos", f"{settings.chaos:g}"]
        if settings.warm_workers:
            words += ["--warm-workers", str(settings.warm_workers)]
    if arrivals.get("kind") == "cron":
        words += ["--cron", str(arrivals["cron"])]
        if arrivals.get("timezone", "UTC") != "UTC":
            words += ["--timezone", str(arrivals["timezone"])]
    controls = settings.controls
    throttle = controls.throttle
    if throttle is not None and controls.throttle_from == "given":  # else workflow.yaml's
        words += ["--throttle", f"{throttle.limit}/{throttle.interval_s:g}"]
    if controls.queue_size is not None and controls.queue_from == "given":
        words += ["--queue-size", str(controls.queue_size)]
    if settings.auto_retry.on:
        words += ["--auto-retry"]
    elif settings.workflow:  # its workflow.yaml may turn it on
        words += ["--no-auto-retry"]
    words += ["--tmp-size", _size(settings.tmp_size_bytes)]
    words += ["--memory", _size(settings.memory_bytes), "--timeout", f"{settings.timeout_s:g}"]
    words += ["--seed", seed]
    return shlex.join(["pdee", *words])


def _size(size: int) -> str:
    """``size`` bytes as an option's value: ``2GB`` where that is exact, else the bytes."""
    short = format_size(size)
    return short if parse_size(short) == size else str(size)


class _Page:
    """The page being made: its runs (each a report head and briefs) and checks."""

    def __init__(self, kind: str, title: str) -> None:
        self.data: dict[str, Any] = {
            "kind": kind,
            "title": title,
            "pdee_version": __version__,
            "brief_fields": list(BRIEF_FIELDS),
            "runs": [],
            "checks": [],
        }
        self.results: list[RunResult] = []

    def add_run(self, result: RunResult, label: str, replay: str) -> int:
        """Add a run; its number (the ``#pdee-run-N`` that holds its executions)."""
        number = len(self.results)
        head = build(result, executions=[])
        del head["executions"]
        self.data["runs"].append({"label": label, "report": head, "replay": replay, "briefs": []})
        self.results.append(result)
        return number

    def add_check(
        self,
        checked: CheckResult | None,
        title: str,
        command: str,
        argv: Sequence[str] | None,
        skipped: str | None = None,
    ) -> None:
        """Add a check's verdicts (with advice) and its runs."""
        if checked is None:
            self.data["checks"].append({"title": title, "skipped": skipped, "verdicts": []})
            return
        runs = {
            name: self.add_run(
                run, f"{title}: {name} run" if title else f"{name} run",
                replay_command(run.settings, command, argv),
            )
            for name, run in checked.runs.items()
        }  # fmt: skip
        self.data["checks"].append(
            {
                "title": title,
                "safe": checked.safe,
                "duration_s": round(checked.duration_s, 3),
                "skipped": None,
                "verdicts": [_verdict(verdict, runs) for verdict in checked.verdicts],
            }
        )

    def chunks(self) -> Iterator[str]:
        """The whole file, in pieces; each run's executions streamed from its log."""
        for result, run in zip(self.results, self.data["runs"], strict=True):
            log = result.executions
            run["briefs"] = [
                _brief(json.loads(line), brief)
                for line, brief in zip(log.json_lines(), log.briefs(), strict=True)
            ]
        title = _text(self.data["title"])
        yield (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="pdee {__version__}">\n'
            f"<title>{title}</title>\n<style>\n{_asset('report.css')}</style>\n"
        )
        yield "<script>\n"
        yield _plotly_js()
        yield "\n</script>\n</head>\n<body>\n<noscript>This report needs JavaScript.</noscript>\n"
        yield '<div id="app"></div>\n'
        yield '<script type="application/json" id="pdee-page">'
        yield _escaped(json.dumps(self.data, allow_nan=False))
        yield "</script>\n"
        for number, result in enumerate(self.results):
            yield f'<script type="application/json" id="pdee-run-{number}">\n'
            for line in result.executions.json_lines():
                yield _escaped(line.decode("utf-8")) + "\n"
            yield "</script>\n"
        yield f"<script>\n{_asset('report.js')}</script>\n</body>\n</html>\n"


def _text(value: str) -> str:
    """``value`` as HTML text."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _verdict(verdict: Verdict, runs: dict[str, int]) -> dict[str, Any]:
    data = verdict.to_json()  # with its advice (``Verdict.advice``)
    data["run_number"] = runs.get(verdict.run) if verdict.run else None
    return data


def _asset(name: str) -> str:
    """The page's own script or style, shipped beside this module."""
    return (resources.files("pdee.outputs") / "html_assets" / name).read_text("utf-8")


def _plotly_js() -> str:
    """plotly.js, as the ``plotly`` wheel bundles it (imported for ``--html`` only)."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs()).replace("</script", "<\\/script")


def run_page(
    result: RunResult, command: str = "run", argv: Sequence[str] | None = None
) -> Iterator[str]:
    """The HTML report of a run (``pdee run``, ``pdee serve``), in pieces.

    Args:
        result: the run.
        command: the command that made it ("run" or "serve"), for the replay command.
        argv: the command line as typed (without the program), when known.
    """
    steps = ", ".join(result.settings.steps)
    page = _Page(command, f"pdee {command}: {steps}")
    page.add_run(result, "run", replay_command(result.settings, command, argv))
    return page.chunks()


def check_page(
    checked: CheckResult | ProjectCheck, argv: Sequence[str] | None = None
) -> Iterator[str]:
    """The HTML report of a check (one workflow's, or a project's), in pieces."""
    if isinstance(checked, ProjectCheck):
        page = _Page("project", f"pdee check: project {checked.root}")
        for workflow in checked.workflows:
            title = f"workflow {workflow.workflow.name}"
            page.add_check(workflow.result, title, "check", argv, workflow.skipped)
        page.data["safe"] = checked.safe
        return page.chunks()
    settings = next(iter(checked.runs.values())).settings
    page = _Page("check", f"pdee check: {', '.join(settings.steps)}")
    page.add_check(checked, "", "check", argv)
    page.data["safe"] = checked.safe
    return page.chunks()


def write_html(
    path: str | Path,
    what: RunResult | CheckResult | ProjectCheck,
    argv: Sequence[str] | None = None,
    command: str = "run",
) -> None:
    """Write the HTML report of a run or a check to ``path``, whole or not at all.

    Example::

        result = pdee.run(["step.py"], events=100)
        pdee.write_html("report.html", result)

    Args:
        path: the file (``report.html``).
        what: what ``pdee.run``, ``pdee.serve`` (its ``server.result``), ``pdee.check``
            or ``pdee.check_project`` gave.
        argv: the command line as typed, for the command that replays it (the CLI's).
        command: for a run, the command that made it ("run" or "serve").

    Raises:
        UsageError: the file cannot be written.
        PdeeError: a value in the report cannot be written as JSON.
    """
    if isinstance(what, RunResult):
        chunks = run_page(what, command, argv)
    else:
        chunks = check_page(what, argv)
    write_whole(Path(path), WHAT, chunks)
