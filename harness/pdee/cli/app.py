"""The ``pdee`` command line: parse, call the Python API, print.

Exit codes: 0 every execution ok (or ended by ``pd.flow.exit``); 1 an execution
failed; 2 bad invocation or input; 3 no Docker daemon; 4 EE image missing, stale or
not buildable; 5 an EE broke outside the step's code; 6 packages could not be fetched;
130 Ctrl-C; 143 SIGTERM.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from .. import api, interrupts
from ..api import connections_for
from ..checking import project, verdicts
from ..engine.runner import Runner
from ..errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    ImageError,
    PdeeError,
    RunAborted,
    UsageError,
)
from ..interrupts import Terminated
from ..lifecycle.scheduler import DEFAULT_CHAOS, DEFAULT_IDLE_TIMEOUT_S, DEFAULT_INTERVAL_S, Mode
from ..outputs import report, terminal
from ..outputs.files import OutputFile
from ..plan.run_plan import build_plan
from ..plan.sizes import parse_size
from ..plan.steps import load_sources
from ..plan.synced import SyncedWorkflow, find_workflows
from ..provision import image, packages
from ..provision.image import check_image
from ..results.records import Execution, RunResult
from ..services import data_stores
from ..serving.http_trigger import custom_answer
from ..version import __version__

if TYPE_CHECKING:
    from ..backends.docker import DockerBackend

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Run Pipedream Python steps in an emulated execution environment (EE).",
)
image_app = typer.Typer(no_args_is_help=True, help="The EE image.")
app.add_typer(image_app, name="image")
store_app = typer.Typer(
    no_args_is_help=True, help="Data stores kept in files (--data-store NAME=PATH)."
)
app.add_typer(store_app, name="data-store")
console = terminal.make_console()
err_console = terminal.make_console(stderr=True)


def _consoles() -> None:
    """Consoles for stdout and stderr as they are now (a terminal, or a pipe or file)."""
    global console, err_console
    console, err_console = terminal.make_console(), terminal.make_console(stderr=True)


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _fail(exc: PdeeError) -> NoReturn:
    _say(err_console, f"Error: {exc}")
    raise typer.Exit(exc.exit_code)


def _docker(connections: int = 10) -> DockerBackend:
    """The Docker backend (imported here: only commands that need a daemon load docker)."""
    from ..backends.docker import DockerBackend

    return DockerBackend.connect(connections)


def _version(value: bool) -> None:
    if value:
        _say(console, f"pdee {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print pdee's version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Log every Docker call and its time to stderr.")
    ] = False,
) -> None:
    """Run Pipedream Python steps in an emulated execution environment (EE)."""
    _consoles()
    # Without --debug, logging's last resort prints pdee's warnings to stderr.
    if debug:
        logging.basicConfig(
            level=logging.DEBUG, format="%(asctime)s %(name)s: %(message)s", force=True
        )


# Options that `run` and `check` share, declared once.
StepsArgument = Annotated[
    list[Path],
    typer.Argument(
        help="Step files, in workflow order; or a workflow folder synced by GitHub Sync "
        "(its workflow.yaml gives the steps).",
        show_default=False,
    ),
]
EventFileOption = Annotated[
    Path | None,
    typer.Option(
        help="Events: a JSON object, a JSON array or JSON Lines; executions cycle through them."
    ),
]
EventOption = Annotated[str | None, typer.Option(help="One event as inline JSON.")]
InputsOption = Annotated[
    Path | None,
    typer.Option(
        help='pd.inputs for every step, as a JSON object file; a step\'s own under "$steps": '
        '{"STEP": {...}}.'
    ),
]
TmpSizeOption = Annotated[str, typer.Option(help="Size of /tmp (the platform's: 2GB).")]
MemoryOption = Annotated[
    str, typer.Option(help="Step memory limit (platform default 256MB, max 10GB).")
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        help="Execution time limit in seconds (the platform's: 30, 60 for a timer trigger; "
        "max 750).",
        show_default=False,
    ),
]
NetworkOption = Annotated[str, typer.Option(help="bridge, none, host or a Docker network's name.")]
ImageOption = Annotated[str, typer.Option("--image", envvar="PDEE_IMAGE", help="The EE image.")]
SeedOption = Annotated[
    int | None,
    typer.Option(
        help="Seed of every random choice (default: a new one, printed), to replay a run."
    ),
]
OfflineOption = Annotated[
    bool, typer.Option(help="Take the steps' packages from pdee's cache only.")
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "--env",
        help="An environment variable for every step, KEY=VALUE (repeatable). "
        "Only names are shown or reported.",
        show_default=False,
    ),
]
EnvFileOption = Annotated[
    Path | None,
    typer.Option(help="Environment variables from a dotenv file (--env wins).", show_default=False),
]
CpusOption = Annotated[
    str | None,
    typer.Option(
        help="Each EE's CPU limit: a number of CPUs (default 1), or platform: scaled with "
        "--memory as on Lambda (1 CPU at 1,769MB).",
        show_default=False,
    ),
]
AllowLinkLocalOption = Annotated[
    bool,
    typer.Option(
        help="Let EEs reach 169.254.0.0/16, where cloud metadata endpoints answer (blocked "
        "by default)."
    ),
]
DataStoreOption = Annotated[
    list[str] | None,
    typer.Option(
        "--data-store",
        help="A data store prop: pd.inputs[NAME] is a Store, empty for this run, or kept in "
        "the SQLite file PATH across runs (NAME=PATH; repeatable).",
        show_default=False,
    ),
]
ResumeAfterOption = Annotated[
    float | None,
    typer.Option(
        help="Resume every pd.flow.suspend this many virtual seconds later (default: none "
        "is resumed; each is cancelled at its timeout, 24 hours unless the step says).",
        show_default=False,
    ),
]
ResumeDataOption = Annotated[
    str | None,
    typer.Option(
        help="The suspended step's $resume_data when --resume-after resumes it: JSON, or @FILE.",
        show_default=False,
    ),
]
StepResultOption = Annotated[
    list[str] | None,
    typer.Option(
        "--step-result",
        help="What a step pdee does not run (Node.js, a registry action) returns, for later "
        "steps: NAME=JSON or NAME=@FILE (repeatable; default null).",
        show_default=False,
    ),
]
RecycleOption = Annotated[
    bool,
    typer.Option(
        "--recycle/--no-recycle",
        help="A cold start may take a used EE made new again (every process killed, /tmp "
        "emptied, the workflow loaded anew: about 10 ms) instead of a new container "
        "(about 400 ms). The step cannot tell; see README.",
    ),
]
JunitOption = Annotated[Path | None, typer.Option("--junit", help="Write a JUnit XML report here.")]


@app.command()
def run(
    steps: StepsArgument,
    events: Annotated[
        int | None,
        typer.Option(
            help="Executions to run (default: one per event in --event-file or --schedule, else 1)."
        ),
    ] = None,
    event_file: EventFileOption = None,
    event: EventOption = None,
    schedule: Annotated[
        Path | None,
        typer.Option(
            help='Events that carry their arrival time in a "ts" field (seconds or ISO 8601).'
        ),
    ] = None,
    inputs: InputsOption = None,
    mode: Annotated[
        Mode,
        typer.Option(
            help="realistic: the platform's reuse, idle expiry and random destruction; "
            "warm: always reuse; cold: never reuse."
        ),
    ] = Mode.REALISTIC,
    concurrency: Annotated[
        int, typer.Option(help="Executions in flight at once, each on its own EE.")
    ] = 1,
    interval: Annotated[
        float | None,
        typer.Option(
            help=f"Virtual seconds between events (default {DEFAULT_INTERVAL_S:g}; 0: a burst).",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(help="Events per minute, arriving at random (Poisson).", show_default=False),
    ] = None,
    idle_timeout: Annotated[
        float | None,
        typer.Option(
            help=f"Seconds an idle EE lives (default {DEFAULT_IDLE_TIMEOUT_S:g}, the platform's).",
            show_default=False,
        ),
    ] = None,
    chaos: Annotated[
        float | None,
        typer.Option(
            help="Chance that an idle EE is destroyed before each event "
            f"(default {DEFAULT_CHAOS:g}).",
            show_default=False,
        ),
    ] = None,
    warm_workers: Annotated[
        int, typer.Option(help="EEs started before the first event and kept (never expire).")
    ] = 0,
    tmp_size: TmpSizeOption = "2GB",
    memory: MemoryOption = "256MB",
    timeout: TimeoutOption = None,
    network: NetworkOption = "bridge",
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Write the JSON report here.")
    ] = None,
    junit_path: JunitOption = None,
    image_tag: ImageOption = image.DEFAULT_TAG,
    seed: SeedOption = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print only the failures (with their errors) and the summary."
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Show every execution's logs, return values and exports."
        ),
    ] = False,
    offline: OfflineOption = False,
    env: EnvOption = None,
    env_file: EnvFileOption = None,
    cpus: CpusOption = None,
    allow_link_local: AllowLinkLocalOption = False,
    data_store: DataStoreOption = None,
    step_result: StepResultOption = None,
    recycle: RecycleOption = True,
    resume_after: ResumeAfterOption = None,
    resume_data: ResumeDataOption = None,
) -> None:
    """Run a workflow's steps for a number of events in emulated EEs.

    With one execution, or -v, what each step printed, returned and exported is shown.
    """
    interrupts.install()
    runner: Runner | None = None
    outputs: list[OutputFile] = []
    ended = False
    if quiet and verbose:
        _fail(UsageError("--quiet and --verbose contradict each other; give one"))
    verbosity = (
        terminal.Verbosity.QUIET
        if quiet
        else terminal.Verbosity.VERBOSE
        if verbose
        else terminal.Verbosity.NORMAL
    )
    try:
        plan = build_plan(
            steps,
            events=events,
            event_file=event_file,
            event=event,
            schedule=schedule,
            inputs=inputs,
            mode=mode,
            concurrency=concurrency,
            interval=interval,
            rate=rate,
            idle_timeout=idle_timeout,
            chaos=chaos,
            warm_workers=warm_workers,
            tmp_size=tmp_size,
            memory=memory,
            timeout=timeout,
            network=network,
            image=image_tag,
            seed=seed,
            offline=offline,
            env=env,
            env_file=env_file,
            cpus=cpus,
            allow_link_local=allow_link_local,
            data_stores=data_store,
            step_results=step_result,
            recycle=recycle,
            resume_after=resume_after,
            resume_data=resume_data,
        )
        outputs = _claim(
            outputs, (report_path, "report", "report.json"), (junit_path, "JUnit file", "junit.xml")
        )
        with (
            _docker(connections_for(plan)) as backend,
            terminal.progress(console, err_console, plan.executions, enabled=not quiet) as shown,
        ):
            runner = Runner(backend, plan, shown.on_execution, shown.phase)
            result = runner.run()
            ended = True
    except RunAborted as aborted:
        _finish(aborted.result, report_path, junit_path, verbosity)
        _fail(aborted)
    except PdeeError as exc:
        _fail(exc)
    except (KeyboardInterrupt, Terminated) as exc:
        _interrupted(runner, report_path, ctrl_c=isinstance(exc, KeyboardInterrupt))
    finally:
        if not ended:  # a run that ended writes them below: they stay until then
            _abandon(outputs)
    _finish(result, report_path, junit_path, verbosity)
    raise typer.Exit(report.exit_code(result))


def _claim(claimed: list[OutputFile], *wanted: tuple[Path | None, str, str]) -> list[OutputFile]:
    """Prove, before any EE starts, that each output file asked for can be written;
    ``claimed`` grows as each is, so that a refusal midway abandons the ones before.

    Raises:
        UsageError: one cannot (``wanted``: path, what it is, an example name).
    """
    for path, what, example in wanted:
        if path is not None:
            claimed.append(OutputFile.claim(path, what, example))
    return claimed


def _abandon(outputs: list[OutputFile]) -> None:
    """Remove the output files pdee created that a way out left unwritten."""
    for output in outputs:
        output.abandon()


def _finish(
    result: RunResult,
    report_path: Path | None,
    junit_path: Path | None,
    verbosity: terminal.Verbosity,
) -> None:
    """Show the run, then write the reports (a report that fails leaves the tables)."""
    with interrupts.ignored():
        terminal.show(console, result, verbosity)
        try:
            if report_path is not None:
                report.write_run(report_path, result)
            if junit_path is not None:
                from ..outputs import junit  # junitparser: imported for --junit only

                junit.write(junit_path, junit.run_xml(result))
        except PdeeError as exc:
            _fail(exc)


def _interrupted(runner: Runner | None, report_path: Path | None, ctrl_c: bool) -> NoReturn:
    """Say what was kept of a run cut short by Ctrl-C or SIGTERM, and exit."""
    message = "Interrupted" if ctrl_c else "Terminated"
    message += ": the run's EE containers were removed"
    if runner is not None and report_path is not None:
        try:
            with interrupts.deferred():
                report.write_run(report_path, runner.result)
            message += f"; the executions that ended are in {report_path}"
        except PdeeError as error:
            message += f"; {error}"
    _say(err_console, message + ".")
    raise typer.Exit(EXIT_INTERRUPTED if ctrl_c else EXIT_TERMINATED)


@app.command("check")
def check_command(
    steps: StepsArgument,
    warm: Annotated[
        int, typer.Option(help="Warm executions on one EE after the cold one.")
    ] = verdicts.DEFAULT_WARM,
    horizon: Annotated[
        int,
        typer.Option(
            help="Executions of one warm EE within which a growing /tmp or memory must not "
            "fill up (see README)."
        ),
    ] = verdicts.DEFAULT_HORIZON,
    event_file: EventFileOption = None,
    event: EventOption = None,
    inputs: InputsOption = None,
    tmp_size: TmpSizeOption = "2GB",
    memory: MemoryOption = "256MB",
    timeout: TimeoutOption = None,
    network: NetworkOption = "bridge",
    json_path: Annotated[
        Path | None,
        typer.Option("--json", help="Write the verdicts and the runs' reports as JSON here."),
    ] = None,
    junit_path: JunitOption = None,
    image_tag: ImageOption = image.DEFAULT_TAG,
    seed: SeedOption = None,
    offline: OfflineOption = False,
    env: EnvOption = None,
    env_file: EnvFileOption = None,
    cpus: CpusOption = None,
    allow_link_local: AllowLinkLocalOption = False,
    data_store: DataStoreOption = None,
    step_result: StepResultOption = None,
    recycle: RecycleOption = True,
) -> None:
    """Prove a step safe to deploy: cold, warm, growth, headroom, state and chaos verdicts.

    Give a project folder (GitHub Sync) to check every workflow in it.
    Exit 0: safe (warnings allowed); 1: a scenario failed.
    """
    interrupts.install()
    outputs: list[OutputFile] = []
    try:
        _claim(
            outputs, (json_path, "JSON file", "check.json"), (junit_path, "JUnit file", "check.xml")
        )
        status = console.status("checking") if console.is_terminal else None
        status_prefix = ""

        def on_run(name: str) -> None:
            if status is not None:
                status.update(f"checking: {status_prefix}the {name} run")

        options: dict[str, Any] = {
            "warm": warm,
            "horizon": horizon,
            "event_file": event_file,
            "event": event,
            "inputs": inputs,
            "tmp_size": tmp_size,
            "memory": memory,
            "timeout": timeout,
            "network": network,
            "image": image_tag,
            "seed": seed,
            "offline": offline,
            "env": env,
            "env_file": env_file,
            "cpus": cpus,
            "allow_link_local": allow_link_local,
            "data_stores": data_store,
            "step_results": step_result,
            "recycle": recycle,
            "on_run": on_run,
        }
        whole = len(steps) == 1 and project.is_project(steps[0])
        with _docker(16) as backend, status or nullcontext():
            if whole:

                def on_workflow(workflow: SyncedWorkflow) -> None:
                    nonlocal status_prefix
                    status_prefix = f"workflow {workflow.name}: "
                    on_run("warm")

                checked = project.check_project(
                    steps[0], backend=backend, on_workflow=on_workflow, **options
                )
                safe, shown = checked.safe, checked.to_json()
            else:
                result = verdicts.check(steps, backend=backend, **options)
                safe, shown = result.safe, result.to_json()
        with interrupts.ignored():
            if whole:
                terminal.show_project(console, checked)
            else:
                terminal.show_check(console, result)
            if json_path is not None:
                report.write(json_path, shown, "JSON file")
            if junit_path is not None:
                from ..outputs import junit

                xml = junit.project_xml(checked) if whole else junit.check_xml(result)
                junit.write(junit_path, xml)
    except RunAborted as aborted:
        _fail(aborted)
    except PdeeError as exc:
        _fail(exc)
    except (KeyboardInterrupt, Terminated) as exc:
        _say(err_console, "Interrupted: the check's EE containers were removed.")
        raise typer.Exit(
            EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED
        ) from None
    finally:
        _abandon(outputs)
    raise typer.Exit(0 if safe else 1)


@app.command()
def gc(
    everything: Annotated[
        bool,
        typer.Option("--all", help="Remove every pdee EE on this daemon, also those of live runs."),
    ] = False,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            metavar="KEY=VALUE",
            help="Only the EEs carrying this label (e.g. one PDEE_LABELS gave); repeatable.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Remove the EEs left behind by pdee runs that were killed.

    EEs of runs still going on this host are left alone; those made from another host, for a day.
    """
    from ..backends import ownership

    try:
        only = ownership.parse_labels(label or [], "--label")
        with _docker() as backend:
            sweep = backend.sweep(everything, only)
    except PdeeError as exc:
        _fail(exc)
    spared = f"; {sweep.spared} of live runs left alone" if sweep.spared else ""
    _say(console, f"removed {sweep.removed} EE container(s){spared}")


@app.command()
def version() -> None:
    """Print pdee's version."""
    _say(console, f"pdee {__version__}")


@app.command("packages")
def packages_command(
    steps: Annotated[
        list[Path],
        typer.Argument(
            help="Step files, in workflow order; or a workflow or project folder (GitHub Sync).",
            show_default=False,
        ),
    ],
    offline: Annotated[bool, typer.Option(help="Use only pdee's cache; fetch nothing.")] = False,
    tmp_size: Annotated[str, typer.Option(help="Size of /tmp (the platform's: 2GB).")] = "2GB",
    image_tag: Annotated[
        str, typer.Option("--image", envvar="PDEE_IMAGE", help="The EE image.")
    ] = image.DEFAULT_TAG,
) -> None:
    """Show the packages the steps need, as the platform finds them: versions and sizes.

    Imports map to PyPI packages by pipreqs' table; `# pipedream add-package NAME==V` adds or pins.
    A project folder: each workflow's packages, as each is deployed with its own.

    Wheels for the EE's Python are fetched on this host once, then read from pdee's cache.
    """
    try:
        if len(steps) == 1 and project.is_project(steps[0]):
            folders = find_workflows(steps[0])
            if not folders:
                raise UsageError(f"{steps[0]} holds no workflow.yaml; give step files or a project")
            groups = [(f"workflow {f}: ", load_sources([f])[0]) for f in folders]
        else:
            groups = [("", load_sources(steps)[0])]
        wanted = [(label, packages.requirements([s for s in g if s.runs])) for label, g in groups]
        cap = parse_size(tmp_size, "--tmp-size")
        info = None
        if any(needs for _, needs in wanted):
            with _docker() as backend:
                info = check_image(backend, image_tag)
            if info.python is None:
                raise ImageError(f"image {image_tag} does not say its Python; rebuild it")
        for label, needs in wanted:
            if not needs or info is None or info.python is None:
                _say(console, f"{label}the steps import no package outside the standard library")
                continue
            if label:
                console.print(label.removesuffix(": "), style="bold", markup=False, highlight=False)
            fetched = packages.fetch(
                needs, info.python, offline=offline, progress=lambda line: _say(err_console, line)
            )
            terminal.packages(console, fetched, info.python, cap)
    except PdeeError as exc:
        _fail(exc)


@app.command()
def serve(
    steps: StepsArgument,
    port: Annotated[int, typer.Option(help="The port to listen on (0: a free one).")] = 8000,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    custom_response: Annotated[
        bool,
        typer.Option(
            help="The caller waits for the workflow's pd.respond (the trigger's 'Return a "
            "custom response' setting); else the platform's success page, at once."
        ),
    ] = False,
    mode: Annotated[
        Mode, typer.Option(help="realistic, warm or cold, in real time.")
    ] = Mode.REALISTIC,
    concurrency: Annotated[
        int, typer.Option(help="EEs at once; requests beyond them wait for a free one.")
    ] = 1,
    idle_timeout: Annotated[
        float | None,
        typer.Option(help="Real seconds an idle EE lives (default 600).", show_default=False),
    ] = None,
    warm_workers: Annotated[int, typer.Option(help="EEs started at once and kept.")] = 0,
    tmp_size: TmpSizeOption = "2GB",
    memory: MemoryOption = "256MB",
    timeout: TimeoutOption = None,
    network: NetworkOption = "bridge",
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Write the JSON report here when it stops.")
    ] = None,
    junit_path: JunitOption = None,
    image_tag: ImageOption = image.DEFAULT_TAG,
    seed: SeedOption = None,
    offline: OfflineOption = False,
    env: EnvOption = None,
    env_file: EnvFileOption = None,
    cpus: CpusOption = None,
    allow_link_local: AllowLinkLocalOption = False,
    data_store: DataStoreOption = None,
    step_result: StepResultOption = None,
    recycle: RecycleOption = True,
    chaos: Annotated[
        float | None,
        typer.Option(
            help=f"Chance an idle EE is destroyed before each request (default {DEFAULT_CHAOS:g}).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No step logs, only the request lines.")
    ] = False,
    record_path: Annotated[
        Path | None,
        typer.Option(
            "--record",
            help="Write each request's event here (JSON Lines with ts), for pdee run "
            "--schedule to replay.",
        ),
    ] = None,
) -> None:
    """Serve a workflow's HTTP trigger: each request is an execution in an EE.

    Ctrl-C (or SIGTERM) stops it: requests in flight finish, every EE is removed, the
    summary is shown and the reports written. Exit 0: every execution ok.
    """
    interrupts.install()
    outputs: list[OutputFile] = []
    server: api.Serving | None = None
    result: RunResult | None = None

    def served(event: dict[str, Any], execution: Execution) -> None:
        answer = 200
        if custom_response:
            answer = custom_answer(execution.respond, execution.pause is not None).status
        line = (
            f"{event['method']} {event['path']} {answer} · #{execution.index} "
            f"{execution.start.value} {execution.ee} {execution.status.value} "
            f"{execution.duration_ms:.1f} ms"
        )
        _say(console, line)
        if not execution.passed:
            terminal.failure(console, execution)
        elif not quiet:
            terminal.logs(console, execution)

    try:
        outputs = _claim(
            outputs,
            (report_path, "report", "report.json"),
            (junit_path, "JUnit file", "junit.xml"),
            (record_path, "record file", "hits.jsonl"),
        )
        with api.serve(
            steps,
            custom_response=custom_response,
            host=host,
            port=port,
            on_request=served,
            mode=mode,
            concurrency=concurrency,
            idle_timeout=idle_timeout,
            chaos=chaos,
            warm_workers=warm_workers,
            tmp_size=tmp_size,
            memory=memory,
            timeout=timeout,
            network=network,
            image=image_tag,
            seed=seed,
            offline=offline,
            env=env,
            env_file=env_file,
            cpus=cpus,
            allow_link_local=allow_link_local,
            data_stores=data_store,
            step_results=step_result,
            recycle=recycle,
            record=record_path,
        ) as server:
            synced = server.runner.plan.workflow
            what = f"workflow {synced.name}" if synced else ", ".join(str(s) for s in steps)
            _say(console, f"serving {what} on {server.url} (Ctrl-C stops)")
            for note in server.runner.plan.notes:
                _say(err_console, f"note: {note}")
            try:
                threading.Event().wait()
            except (KeyboardInterrupt, Terminated):
                _say(err_console, "stopping: the requests in flight finish, every EE goes")
        result = server.result
    except RunAborted as aborted:
        _finish(aborted.result, report_path, junit_path, terminal.Verbosity.QUIET)
        _fail(aborted)
    except PdeeError as exc:
        _fail(exc)
    except (KeyboardInterrupt, Terminated) as exc:
        if server is None or server.result is None:  # before it listened
            _say(err_console, "Interrupted: pdee serve was starting; its EEs were removed.")
            code = EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED
            raise typer.Exit(code) from None
        result = server.result  # a second one, held until every EE went
    finally:
        if result is None:  # one that stopped with a result writes them below
            _abandon(outputs)
    assert result is not None
    _finish(result, report_path, junit_path, terminal.Verbosity.QUIET)
    raise typer.Exit(report.exit_code(result))


StoreFileArgument = Annotated[
    Path, typer.Argument(help="The store's SQLite file.", show_default=False)
]


@store_app.command("show")
def data_store_show(path: StoreFileArgument) -> None:
    """Print a data store's records as JSON: each key's value and expiry (a Unix time on
    the virtual clock of the run that set it, or null)."""
    try:
        records = data_stores.show(path)
    except PdeeError as exc:
        _fail(exc)
    _say(console, json.dumps(records, indent=2, ensure_ascii=False))


@store_app.command("load")
def data_store_load(
    path: StoreFileArgument,
    records: Annotated[
        Path, typer.Argument(help="A JSON object: each key and its value.", show_default=False)
    ],
    replace: Annotated[bool, typer.Option(help="Delete the store's records first.")] = False,
) -> None:
    """Put records into a data store (a fixture for CI), creating the file if needed."""
    try:
        count = data_stores.load(path, records, replace=replace)
    except PdeeError as exc:
        _fail(exc)
    _say(console, f"{count} record{'s' * (count != 1)} loaded into {path}")


@image_app.command("build")
def image_build(
    tag: Annotated[
        str, typer.Option(envvar="PDEE_IMAGE", help="The image's name.")
    ] = image.DEFAULT_TAG,
    base: Annotated[
        str | None,
        typer.Option(
            envvar="BASE_IMAGE",
            help=f"The image to build on (default: {image.PLATFORM_BASE} if present, "
            "else a Debian base bootstrapped from this machine's apt sources).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build the EE image, offline, from the recipe inside this pdee."""
    interrupts.install()
    try:
        with _docker() as backend:
            if console.is_terminal:
                with console.status("building the EE image") as status:

                    def show(line: str) -> None:
                        status.update(line[:120])

                    built = image.build(backend, tag, base, show, show)
            else:
                built = image.build(backend, tag, base, lambda line: _say(err_console, line))
    except PdeeError as exc:
        _fail(exc)
    except (KeyboardInterrupt, Terminated) as exc:
        raise typer.Exit(
            EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED
        ) from None
    what = "built" if built.built else "up to date"
    note = "" if built.python.startswith("3.12.") else " (not the platform's 3.12: see README)"
    _say(
        console,
        f"image {built.tag} {what}: {built.id}, Python {built.python}{note}, base {built.base}",
    )


def main() -> None:
    """The ``pdee`` console script."""
    app()


__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
