"""The ``pdee`` command line: thin commands that hand off to the runner.

Exit codes: 0 every execution ok (or ended by ``pd.flow.exit``); 1 an execution
failed; 2 bad invocation or input; 3 no Docker daemon; 4 EE image missing or stale;
5 an EE broke outside the step's code; 130 Ctrl-C; 143 SIGTERM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from . import __version__, interrupts, render, report
from .driver import DEFAULT_IMAGE, DockerEngine
from .errors import EXIT_INTERRUPTED, EXIT_TERMINATED, PdeeError, UsageError
from .events import load_events
from .interrupts import Terminated
from .runner import RunPlan, run_plan
from .scheduler import Mode
from .sizes import parse_size
from .workflow import load_inputs, load_steps

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Run Pipedream Python steps in an emulated execution environment (EE).",
)
console = Console()
err_console = Console(stderr=True)

PLATFORM_MAX_MEMORY = 10 * 2**30
PLATFORM_MAX_TIMEOUT_S = 750.0


def _fail(exc: PdeeError) -> NoReturn:
    err_console.print(f"Error: {exc}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def build_plan(
    steps: list[Path],
    events: int | None,
    event_file: Path | None,
    event: str | None,
    inputs: Path | None,
    mode: Mode,
    tmp_size: str,
    memory: str,
    timeout: float,
    network: str,
    image: str,
    seed: int | None,
) -> RunPlan:
    """Check every option and input file; the plan to run.

    Raises:
        UsageError: anything wrong, with how to fix it.
    """
    workflow = load_steps(steps)
    user_events = load_events(event, event_file)
    memory_bytes = parse_size(memory, "--memory")
    if memory_bytes > PLATFORM_MAX_MEMORY:
        raise UsageError(f"--memory {memory} is over the platform's maximum of 10GB")
    if not 0 < timeout <= PLATFORM_MAX_TIMEOUT_S:
        raise UsageError(f"--timeout {timeout:g} is out of range; the platform allows 0 < s <= 750")
    count = events if events is not None else (len(user_events) if user_events else 1)
    if count < 1:
        raise UsageError(f"--events {count}: give at least 1 execution")
    return RunPlan(
        steps=workflow,
        executions=count,
        events=user_events,
        inputs=load_inputs(inputs),
        mode=mode,
        tmp_size_bytes=parse_size(tmp_size, "--tmp-size"),
        memory_bytes=memory_bytes,
        timeout_s=timeout,
        network=network,
        image=image,
        seed=seed,
    )


@app.command()
def run(
    steps: Annotated[
        list[Path], typer.Argument(help="Step files, in workflow order.", show_default=False)
    ],
    events: Annotated[
        int | None,
        typer.Option(help="Executions to run (default: one per event in --event-file, else 1)."),
    ] = None,
    event_file: Annotated[
        Path | None,
        typer.Option(
            help="Events: a JSON object, a JSON array or JSON Lines; executions cycle through them."
        ),
    ] = None,
    event: Annotated[str | None, typer.Option(help="One event as inline JSON.")] = None,
    inputs: Annotated[
        Path | None, typer.Option(help="pd.inputs for every step, as a JSON object file.")
    ] = None,
    mode: Annotated[
        Mode, typer.Option(help="warm: reuse one EE; cold: a new EE per execution.")
    ] = Mode.WARM,
    tmp_size: Annotated[str, typer.Option(help="Size of /tmp (the platform's: 2GB).")] = "2GB",
    memory: Annotated[
        str, typer.Option(help="Step memory limit (platform default 256MB, max 10GB).")
    ] = "256MB",
    timeout: Annotated[
        float, typer.Option(help="Execution time limit in seconds (platform: 30, max 750).")
    ] = 30.0,
    network: Annotated[
        str, typer.Option(help="bridge, none, host or a Docker network's name.")
    ] = "bridge",
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Write the JSON report here.")
    ] = None,
    image: Annotated[str, typer.Option(envvar="PDEE_IMAGE", help="The EE image.")] = DEFAULT_IMAGE,
    seed: Annotated[
        int | None, typer.Option(help="Seed for ids and random choices, to replay a run.")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the summary and errors.")
    ] = False,
) -> None:
    """Run a workflow's steps for a number of events in emulated EEs."""
    interrupts.install()
    try:
        plan = build_plan(
            steps,
            events,
            event_file,
            event,
            inputs,
            mode,
            tmp_size,
            memory,
            timeout,
            network,
            image,
            seed,
        )
        if report_path is not None:
            report.check_writable(report_path)
        with (
            DockerEngine.connect() as engine,
            render.progress(console, plan.executions, enabled=not quiet) as on_execution,
        ):
            result = run_plan(engine, plan, on_execution)
        built = report.build(result)
        if report_path is not None:
            report.write(report_path, built)
        render.show(console, built, quiet)
    except PdeeError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err_console.print("Interrupted: the run's EE containers were removed.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Terminated:
        err_console.print("Terminated: the run's EE containers were removed.")
        raise typer.Exit(EXIT_TERMINATED) from None
    raise typer.Exit(report.exit_code(built["executions"]))


@app.command()
def gc() -> None:
    """Remove every EE container a killed pdee left behind (label pdee.run)."""
    try:
        with DockerEngine.connect() as engine:
            removed = engine.remove_containers()
    except PdeeError as exc:
        _fail(exc)
    console.print(f"removed {removed} EE container(s)")


@app.command()
def version() -> None:
    """Print pdee's version."""
    console.print(f"pdee {__version__}")


def main() -> None:
    """The ``pdee`` console script."""
    app()


__all__ = ["app", "build_plan", "main"]

if __name__ == "__main__":
    main()
