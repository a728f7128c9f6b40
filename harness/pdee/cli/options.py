"""The CLI's options as Typer parameters, each declared once, in help panels.

A run option's help, panel, flag and default come from its one declaration
(``pdee.plan.options.RunOptions``); only the type Typer parses is written here (the
API takes more: a dict for ``event``, bytes for ``tmp_size``...). The options only the
CLI has (where to write reports, how much to print) are declared here, once each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..checking.scenarios import DEFAULT_WARM
from ..checking.verdicts import DEFAULT_HORIZON
from ..lifecycle.scheduler import Mode
from ..plan.options import (
    CHECK_OPTION_NAMES,
    DEFAULTS,
    DEVELOPMENT,
    OPTION_NAMES,
    OUTPUT,
    PROJECT,
    QUEUE_SIZE_IS,
    CheckKeywords,
    RunKeywords,
    declared,
)


def _run_option(name: str, help: str | None = None, **extra: Any) -> Any:
    """The Typer option of run option ``name``, from its declaration (``help``: a
    command's own text in place of the declared one)."""
    option = declared(name)
    return typer.Option(
        *option.flags,
        help=option.help if help is None else help,
        rich_help_panel=option.panel,
        show_default=option.show_default,
        **extra,
    )


def run_options(values: dict[str, Any]) -> RunKeywords:
    """The run options among a command's parameters (its ``locals()``), for the API."""
    return {name: value for name, value in values.items() if name in OPTION_NAMES}  # type: ignore[return-value]


def check_options(values: dict[str, Any]) -> CheckKeywords:
    """The options ``check`` takes among a command's parameters (its ``locals()``)."""
    return {name: value for name, value in values.items() if name in CHECK_OPTION_NAMES}  # type: ignore[return-value]


D = DEFAULTS  # each option's default, as the commands' signatures spell it
# The defaults whose API type is wider than what the CLI parses.
MODE, TMP_SIZE, MEMORY = Mode(D.mode), str(D.tmp_size), str(D.memory)

Steps = Annotated[
    list[Path],
    typer.Argument(
        help="Step files, in workflow order; or a workflow folder synced by GitHub Sync "
        "(its workflow.yaml gives the steps).",
        show_default=False,
    ),
]
Events = Annotated[int | None, _run_option("events")]
EventFile = Annotated[Path | None, _run_option("event_file")]
Event = Annotated[str | None, _run_option("event")]
Schedule = Annotated[Path | None, _run_option("schedule")]
Interval = Annotated[float | None, _run_option("interval")]
Rate = Annotated[float | None, _run_option("rate")]
Seed = Annotated[int | None, _run_option("seed")]
ModeOption = Annotated[Mode, _run_option("mode", case_sensitive=False, metavar="MODE")]
Concurrency = Annotated[int, _run_option("concurrency")]
IdleTimeout = Annotated[float | None, _run_option("idle_timeout")]
Chaos = Annotated[float | None, _run_option("chaos")]
WarmWorkers = Annotated[int, _run_option("warm_workers")]
Throttle = Annotated[str | None, _run_option("throttle", metavar="N/SECONDS")]
QueueSize = Annotated[int | None, _run_option("queue_size")]
# serve runs the workflow's HTTP trigger, which has no queue.
ServeQueueSize = Annotated[
    int | None,
    _run_option(
        "queue_size",
        help=f"{QUEUE_SIZE_IS} No effect on serve: an HTTP trigger has no queue on the "
        "platform (only an app's, an event source's, has). See docs/arrivals.md.",
    ),
]
Cron = Annotated[str | None, _run_option("cron", metavar="EXPR")]
Timezone = Annotated[str | None, _run_option("timezone", metavar="TZ")]
Recycle = Annotated[bool, _run_option("recycle")]
AutoRetry = Annotated[bool | None, _run_option("auto_retry")]
ResumeAfter = Annotated[float | None, _run_option("resume_after")]
ResumeData = Annotated[str | None, _run_option("resume_data")]
TmpSize = Annotated[str, _run_option("tmp_size")]
Memory = Annotated[str, _run_option("memory")]
Timeout = Annotated[float | None, _run_option("timeout")]
Cpus = Annotated[str | None, _run_option("cpus")]
Inputs = Annotated[Path | None, _run_option("inputs")]
DataStores = Annotated[list[str] | None, _run_option("data_stores")]
StepResults = Annotated[list[str] | None, _run_option("step_results")]
Env = Annotated[list[str] | None, _run_option("env")]
EnvFile = Annotated[Path | None, _run_option("env_file")]
Network = Annotated[str, _run_option("network")]
AllowLinkLocal = Annotated[bool, _run_option("allow_link_local")]
Image = Annotated[str, _run_option("image", envvar="PDEE_IMAGE")]
Offline = Annotated[bool, _run_option("offline")]
Trigger = Annotated[str | None, _run_option("trigger", metavar="TRIGGER")]
DebugPort = Annotated[int | None, _run_option("debug_port", metavar="PORT")]

# The CLI's own options.
Report = Annotated[
    Path | None,
    typer.Option("--report", help="Write the JSON report here.", rich_help_panel=OUTPUT),
]
Junit = Annotated[
    Path | None,
    typer.Option("--junit", help="Write a JUnit XML report here.", rich_help_panel=OUTPUT),
]
Html = Annotated[
    Path | None,
    typer.Option(
        "--html",
        help="Write the HTML report here: one file that opens offline in any browser "
        "(the EEs' timeline, /tmp and memory, every execution's logs).",
        rich_help_panel=OUTPUT,
    ),
]
Verbose = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Show every execution's logs, return values and exports.",
        rich_help_panel=OUTPUT,
    ),
]
Warm = Annotated[int, typer.Option("--warm", help="Warm executions on one EE after the cold one.")]
Horizon = Annotated[
    int,
    typer.Option(
        "--horizon",
        help="Executions of one warm EE within which a growing /tmp or memory must not fill "
        "up (see docs/check.md).",
    ),
]
WARM, HORIZON = DEFAULT_WARM, DEFAULT_HORIZON

# The development options: the watch and the reload (pdee.watching), per command.
WATCH_DOCS = "Ctrl-C ends it. See docs/watch.md."
WatchRun = Annotated[
    bool,
    typer.Option(
        "--watch",
        help="After the run, wait for a change to the step files, the workflow folder or "
        "the files given (--event-file, --schedule, --inputs, --env-file, --step-result or "
        f"--resume-data @FILE), then run again as after a redeploy (new EEs). {WATCH_DOCS}",
        rich_help_panel=DEVELOPMENT,
    ),
]
WatchCheck = Annotated[
    bool,
    typer.Option(
        "--watch",
        help="After the check, wait for a change to the step files, the workflow or project "
        "folder or the files given (--event-file, --inputs, --env-file, --step-result "
        f"@FILE), then check again. {WATCH_DOCS}",
        rich_help_panel=DEVELOPMENT,
    ),
]
Reload = Annotated[
    bool,
    typer.Option(
        "--reload",
        help="Redeploy the workflow on every change to its files, on the same port: "
        "requests in flight finish on the old code, the next runs the new; data stores "
        "and the record go on. See docs/watch.md.",
        rich_help_panel=DEVELOPMENT,
    ),
]

# check's project options.
IncludeInactive = Annotated[
    bool,
    typer.Option(
        "--include-inactive",
        help="In a project, check the inactive workflows too (inactive: true in "
        "workflow.yaml), which the platform does not run; skipped otherwise.",
        rich_help_panel=PROJECT,
    ),
]
Shard = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="K/N",
        help="In a project, check only part K of N (1 <= K <= N), split by workflow "
        "id: N CI jobs with 1/N .. N/N check every workflow once.",
        show_default=False,
        rich_help_panel=PROJECT,
    ),
]
