"""``pdee run``: a workflow's steps for a number of events, in emulated EEs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from .. import api, interrupts
from ..errors import PdeeError, RunAborted, UsageError
from ..interrupts import Interrupted, Terminated
from ..outputs import debugging, report, terminal
from ..plan.options import OUTPUT, RunOptions
from ..plan.run_plan import DEBUG_WAIT, RunPlan, build_plan, validate_options
from ..results.records import RunResult
from . import options as o
from .common import Consoles, HtmlReport, claimed, fail, finish, interrupted
from .watching import watch_runs


def run(
    ctx: typer.Context,
    steps: o.Steps,
    events: o.Events = o.D.events,
    event_file: o.EventFile = None,
    event: o.Event = None,
    trigger: o.Trigger = o.D.trigger,
    schedule: o.Schedule = None,
    interval: o.Interval = o.D.interval,
    rate: o.Rate = o.D.rate,
    cron: o.Cron = o.D.cron,
    timezone: o.Timezone = o.D.timezone,
    seed: o.Seed = o.D.seed,
    mode: o.ModeOption = o.MODE,
    concurrency: o.Concurrency = o.D.concurrency,
    idle_timeout: o.IdleTimeout = o.D.idle_timeout,
    chaos: o.Chaos = o.D.chaos,
    warm_workers: o.WarmWorkers = o.D.warm_workers,
    throttle: o.Throttle = o.D.throttle,
    queue_size: o.QueueSize = o.D.queue_size,
    recycle: o.Recycle = o.D.recycle,
    auto_retry: o.AutoRetry = o.D.auto_retry,
    resume_after: o.ResumeAfter = o.D.resume_after,
    resume_data: o.ResumeData = o.D.resume_data,
    tmp_size: o.TmpSize = o.TMP_SIZE,
    memory: o.Memory = o.MEMORY,
    timeout: o.Timeout = o.D.timeout,
    cpus: o.Cpus = None,
    inputs: o.Inputs = None,
    data_stores: o.DataStores = None,
    step_results: o.StepResults = None,
    env: o.Env = None,
    env_file: o.EnvFile = None,
    network: o.Network = o.D.network,
    allow_link_local: o.AllowLinkLocal = o.D.allow_link_local,
    image: o.Image = o.D.image,
    offline: o.Offline = o.D.offline,
    debug_port: o.DebugPort = o.D.debug_port,
    report_path: o.Report = None,
    junit_path: o.Junit = None,
    html_path: o.Html = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Print only the failures (with their errors) and the summary.",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    verbose: o.Verbose = False,
    watch: o.WatchRun = False,
) -> None:
    """Run a workflow's steps for a number of events in emulated EEs.

    With one execution, or -v, what each step printed, returned and exported is shown.
    """
    given = o.run_options(locals())
    html = HtmlReport.asked(ctx, html_path)
    interrupts.install()
    if quiet and verbose:
        fail(UsageError("--quiet and --verbose contradict each other; give one"))
    verbosity = (
        terminal.Verbosity.QUIET
        if quiet
        else terminal.Verbosity.VERBOSE
        if verbose
        else terminal.Verbosity.NORMAL
    )

    def once(plan: RunPlan | None = None) -> RunResult:
        plan = plan or build_plan(steps, **given)  # under --watch: the files as they are now
        try:
            with terminal.progress(
                Consoles.out, Consoles.err, plan.executions, enabled=not quiet
            ) as shown:
                result = api.execute(plan, None, shown.on_execution, phases(plan, shown.phase))
        except RunAborted as aborted:
            finish(aborted.result, report_path, junit_path, verbosity, html)
            raise
        except (Interrupted, Terminated) as exc:
            interrupted(exc, exc.result, report_path, html, verbosity)
        finish(result, report_path, junit_path, verbosity, html)
        return result

    try:
        # Under --watch, what no save fixes ends the command here (exit 2), not the watch.
        plan = None if watch else build_plan(steps, **given)
        if watch:
            validate_options(RunOptions.of(given, "run"))
        with claimed(
            (report_path, "--report", "report", "report.json"),
            (junit_path, "--junit", "JUnit file", "junit.xml"),
            (html_path, "--html", "HTML report", "report.html"),
            steps=steps,
            options=given,
        ):
            if watch:
                watch_runs(steps, given, once, (report_path, junit_path, html_path))
            result = once(plan)
    except PdeeError as exc:
        fail(exc)
    except (KeyboardInterrupt, Terminated) as exc:  # before the run started
        interrupted(exc, None, None)
    raise typer.Exit(report.exit_code(result))


def phases(plan: RunPlan, phase: Callable[[str], None]) -> Callable[[str], None]:
    """The run's progress lines, each passed to ``phase``; under --debug-port the
    attach note (the ports, a launch.json) comes first when the run starts to wait for
    the debugger: after the image and the packages are ready, not before a refusal."""
    if plan.debug_port is None:
        return phase

    def told(line: str) -> None:
        if line.startswith(DEBUG_WAIT):
            Consoles.err.print(debugging.attach_note(plan), markup=False, highlight=False)
        phase(line)

    return told
