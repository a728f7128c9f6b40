"""``pdee check``: is a step (or every workflow of a project) safe to deploy?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import interrupts
from ..checking import scenarios
from ..checking.project import ProjectCheck, check_arguments, check_project
from ..checking.verdicts import CheckResult
from ..errors import ExitCode, PdeeError
from ..interrupts import Terminated
from ..outputs import report, terminal
from ..plan.options import OUTPUT
from ..plan.synced import SyncedWorkflow, is_project
from . import options as o
from .common import Consoles, HtmlReport, claimed, fail, say, signal_code
from .watching import watch_runs


def check(
    ctx: typer.Context,
    steps: o.Steps,
    warm: o.Warm = o.WARM,
    horizon: o.Horizon = o.HORIZON,
    event_file: o.EventFile = None,
    event: o.Event = None,
    trigger: o.Trigger = o.D.trigger,
    cron: o.Cron = o.D.cron,
    timezone: o.Timezone = o.D.timezone,
    throttle: o.Throttle = o.D.throttle,
    queue_size: o.QueueSize = o.D.queue_size,
    seed: o.Seed = o.D.seed,
    recycle: o.Recycle = o.D.recycle,
    auto_retry: o.AutoRetry = o.D.auto_retry,
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
    include_inactive: o.IncludeInactive = False,
    shard: o.Shard = None,
    watch: o.WatchCheck = False,
    json_path: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Write the verdicts and the runs' reports as JSON here.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    junit_path: o.Junit = None,
    html_path: o.Html = None,
) -> None:
    """Prove a step safe to deploy: cold, warm, growth, headroom, state, cleanup, chaos.

    Give a project folder (GitHub Sync) to check every workflow in it.
    Exit 0: safe (warnings allowed); 1: a scenario failed.
    """
    given = o.check_options(locals())
    html = HtmlReport.asked(ctx, html_path)
    interrupts.install()
    status = Consoles.out.status("checking") if Consoles.out.is_terminal else None
    prefix = ""

    def on_run(name: str) -> None:
        if status is not None:
            status.update(f"checking: {prefix}the {name} run")

    def on_workflow(workflow: SyncedWorkflow) -> None:
        nonlocal prefix
        prefix = f"workflow {workflow.name}: "
        on_run("warm")

    whole = len(steps) == 1 and is_project(steps[0])

    def once() -> CheckResult | ProjectCheck:
        checked: ProjectCheck | CheckResult
        if status is not None:
            status.start()
        try:
            if whole:
                checked = check_project(
                    steps[0], warm=warm, horizon=horizon, on_run=on_run,
                    on_workflow=on_workflow, include_inactive=include_inactive, shard=part,
                    **given,
                )  # fmt: skip
            else:
                checked = scenarios.check(steps, warm=warm, horizon=horizon, on_run=on_run, **given)
        finally:
            if status is not None:
                status.stop()
        interrupts.settled()  # the check has ended: a signal now changes nothing
        if isinstance(checked, ProjectCheck):
            terminal.show_project(Consoles.out, checked)
        else:
            terminal.show_check(Consoles.out, checked)
        if json_path is not None:
            report.write(json_path, checked.to_json(), "JSON file")
        if html is not None:
            html.write(checked)
        if junit_path is not None:
            from ..outputs import junit

            xml = (
                junit.project_xml(checked)
                if isinstance(checked, ProjectCheck)
                else junit.check_xml(checked)
            )
            junit.write(junit_path, xml)
        return checked

    try:
        # What no edit fixes, once (--watch waits only for what a save can fix).
        part = check_arguments(steps, warm=warm, horizon=horizon, shard=shard, **given)
        with claimed(
            (json_path, "--json", "JSON file", "check.json"),
            (junit_path, "--junit", "JUnit file", "check.xml"),
            (html_path, "--html", "HTML report", "check.html"),
            steps=steps,
            options=given,
        ):
            if watch:
                watch_runs(steps, given, once, (json_path, junit_path, html_path), "check")
            checked = once()
    except PdeeError as exc:
        fail(exc)
    except (KeyboardInterrupt, Terminated) as exc:
        say("Interrupted: the check's EE containers were removed.", stderr=True)
        raise typer.Exit(signal_code(exc)) from None
    raise typer.Exit(ExitCode.OK if checked.safe else ExitCode.FAILED)
