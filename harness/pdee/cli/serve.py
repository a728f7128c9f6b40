"""``pdee serve``: a workflow's HTTP trigger on a local port, each request an execution."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import api, interrupts
from ..engine.flow_urls import FlowAnswer
from ..errors import PdeeError, RunAborted
from ..interrupts import Terminated
from ..outputs import debugging, report, terminal
from ..plan.options import OUTPUT
from ..results.records import Execution, RunResult
from ..serving.http_trigger import HttpEvent, custom_answer
from . import options as o
from .common import Consoles, HtmlReport, claimed, fail, finish, say, signal_code

if TYPE_CHECKING:  # the watch's modules load with a watch only (start-up time)
    from ..watching.session import Change

SERVER = "Server"


def serve(
    ctx: typer.Context,
    steps: o.Steps,
    port: Annotated[
        int, typer.Option(help="The port to listen on (0: a free one).", rich_help_panel=SERVER)
    ] = 8000,
    host: Annotated[
        str, typer.Option(help="The address to listen on.", rich_help_panel=SERVER)
    ] = "127.0.0.1",
    custom_response: Annotated[
        bool,
        typer.Option(
            "--custom-response",
            help="The caller waits for the workflow's pd.respond (the trigger's 'Return a "
            "custom response' setting); else the platform's success page, at once.",
            rich_help_panel=SERVER,
        ),
    ] = False,
    http_event: Annotated[
        HttpEvent,
        typer.Option(
            case_sensitive=False,
            help="The event a request makes (the trigger's event data): full (the request, "
            "with bodyRaw), body (the body alone) or raw (full, and rawHeaders in arrival "
            "order, for a signature check).",
            rich_help_panel=SERVER,
        ),
    ] = HttpEvent.FULL,
    seed: o.Seed = o.D.seed,
    mode: o.ModeOption = o.MODE,
    concurrency: o.Concurrency = o.D.concurrency,
    idle_timeout: o.IdleTimeout = o.D.idle_timeout,
    chaos: o.Chaos = o.D.chaos,
    warm_workers: o.WarmWorkers = o.D.warm_workers,
    throttle: o.Throttle = o.D.throttle,
    queue_size: o.ServeQueueSize = o.D.queue_size,
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
    debug_port: o.DebugPort = o.D.debug_port,
    report_path: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Write the JSON report here when it stops.", rich_help_panel=OUTPUT
        ),
    ] = None,
    junit_path: o.Junit = None,
    html_path: o.Html = None,
    record_path: Annotated[
        Path | None,
        typer.Option(
            "--record",
            help="Write each request's event here (JSON Lines with ts), for pdee run "
            "--schedule to replay.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No step logs, only the request lines.", rich_help_panel=OUTPUT
        ),
    ] = False,
    reload: o.Reload = False,
) -> None:
    """Serve a workflow's HTTP trigger: each request is an execution in an EE.

    Ctrl-C (or SIGTERM) stops it: requests in flight finish, every EE is removed, the
    summary is shown and the reports written. Exit 0: every execution ok.
    """
    given = o.run_options(locals())
    html = HtmlReport.asked(ctx, html_path)
    interrupts.install()
    server: api.Serving | None = None
    result: RunResult | None = None

    def served(event: dict[str, Any], execution: Execution) -> None:
        answer = 200  # the default response went at once
        # What it answers with: as it started (until it listens: as asked, at least).
        responds = server.custom_response if server is not None else custom_response
        if responds:  # what the app sends (a 500 when the response cannot be sent)
            answer = custom_answer(execution.respond, execution.pause is not None).status
        say(
            f"{event['method']} {event['path']} {answer} · #{execution.index} "
            f"{execution.start.value if execution.ee else '-'} {execution.ee or '-'} "
            f"{execution.status.value} "
            f"{execution.duration_ms:.1f} ms"
        )
        show(execution)

    def show(execution: Execution) -> None:
        if not execution.passed:
            terminal.failure(Consoles.out, execution)
        elif not quiet:
            terminal.logs(Consoles.out, execution)

    def later_part(execution: Execution) -> None:
        line = later_line(execution)
        if line is not None:  # (a request's part: ``served`` says it)
            say(line)
            show(execution)

    def flow_call(method: str, path: str, answer: FlowAnswer) -> None:
        say(f"{method} {path} {answer.status} · {answer.text}")

    def reloaded(change: Change, problem: str | None) -> None:
        if problem is None:
            say(f"{change.reload_divider}\nreloaded: the next request runs the new code")
        elif change.number == 0:  # the code it started with
            say(f"note: {problem}", stderr=True)
        elif change.number < 0:  # the watcher failed: serving goes on, without reloads
            say(f"Error: {problem}", stderr=True)
        else:
            say(change.reload_divider)
            say(f"Error: {problem}; the code before it goes on serving", stderr=True)

    try:
        with claimed(
            (report_path, "--report", "report", "report.json"),
            (junit_path, "--junit", "JUnit file", "junit.xml"),
            (record_path, "--record", "record file", "hits.jsonl"),
            (html_path, "--html", "HTML report", "report.html"),
            steps=steps,
            options=given,
        ):
            try:
                with api.serve(
                    steps,
                    custom_response=custom_response,
                    host=host,
                    port=port,
                    on_request=served,
                    on_execution=later_part,
                    on_flow=flow_call,
                    record=record_path,
                    http_event=http_event,
                    reload=reload,
                    on_reload=reloaded,
                    outputs=(report_path, junit_path, html_path),
                    **given,
                ) as server:
                    plan = server.plan
                    synced = plan.workflow
                    what = f"workflow {synced.name}" if synced else ", ".join(map(str, steps))
                    say(f"serving {what} on {server.url} (Ctrl-C stops)")
                    for note in plan.notes:
                        say(f"note: {note}", stderr=True)
                    if plan.debug_port is not None:
                        note = debugging.attach_note(plan)
                        Consoles.err.print(note, markup=False, highlight=False)
                    try:
                        server.wait()  # until a signal, or the run ends by itself
                    except (KeyboardInterrupt, Terminated):
                        say(
                            "stopping: the requests in flight finish, every EE goes "
                            "(Ctrl-C again: stop now)",
                            stderr=True,
                        )
                result = server.result
            except RunAborted as aborted:
                finish(aborted.result, report_path, junit_path, terminal.Verbosity.QUIET, html)
                raise
            except (KeyboardInterrupt, Terminated) as exc:
                if server is None or server.result is None:  # before it listened
                    say("Interrupted: pdee serve was starting; its EEs were removed.", stderr=True)
                    raise typer.Exit(signal_code(exc)) from None
                # A second one, during the stop: the executions in flight were cut.
                finish(server.result, report_path, junit_path, terminal.Verbosity.QUIET, html)
                say(
                    "Interrupted: the executions in flight were cut; every EE was removed.",
                    stderr=True,
                )
                raise typer.Exit(signal_code(exc)) from None
            assert result is not None
            finish(result, report_path, junit_path, terminal.Verbosity.QUIET, html)
    except PdeeError as exc:
        fail(exc)
    raise typer.Exit(report.exit_code(result))


def later_line(execution: Execution) -> str | None:
    """The line for a later part of an execution (None for a request's first part): a
    failed part's retry ("#5 attempt 2 of #3") or a paused execution's next part ("#5
    part 2 of #3"), after its delay or its resume_url."""
    if execution.part == 1:
        return None
    retry = execution.attempt > 1
    what = f"attempt {execution.attempt}" if retry else f"part {execution.part}"
    return (
        f"#{execution.index} {what} of #{execution.first_index} "
        f"{execution.start.value} {execution.ee} {execution.status.value} "
        f"{execution.duration_ms:.1f} ms"
    )
