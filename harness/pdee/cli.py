"""The ``pdee`` command line: thin commands that hand off to the runner.

Exit codes: 0 every execution ok (or ended by ``pd.flow.exit``); 1 an execution
failed; 2 bad invocation or input; 3 no Docker daemon; 4 EE image missing or stale;
5 an EE broke outside the step's code; 130 Ctrl-C; 143 SIGTERM.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from . import __version__, interrupts, render, report
from .driver import DEFAULT_IMAGE, DockerEngine
from .errors import EXIT_INTERRUPTED, EXIT_TERMINATED, PdeeError, UsageError
from .events import Schedule, load_events, load_schedule
from .interrupts import Terminated
from .runner import Runner, RunPlan
from .scheduler import (
    DEFAULT_CHAOS,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_INTERVAL_S,
    Mode,
    Policy,
    arrival_times,
)
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


MAX_EES = 64  # pdee's own bound on --concurrency and --warm-workers, not the platform's


def _arrivals(
    count: int | None,
    seed: int,
    interval: float | None,
    rate: float | None,
    schedule: Schedule | None,
    user_events: list[dict[str, Any]] | None,
) -> tuple[list[float], dict[str, Any]]:
    """The virtual arrival times, and how the report describes them."""
    if sum(x is not None for x in (interval, rate, schedule)) > 1:
        raise UsageError("--interval, --rate and --schedule each set arrival times; use one")
    if schedule is not None:
        count = len(schedule.events) if count is None else count
        if count > len(schedule.events):
            raise UsageError(
                f"--events {count}: the schedule holds {len(schedule.events)} events; "
                f"give at most that many"
            )
        described: dict[str, Any] = {"kind": "schedule"}
        return arrival_times(count, seed, timestamps=schedule.timestamps), described
    if count is None:
        count = len(user_events) if user_events else 1
    if rate is not None:
        if rate <= 0:
            raise UsageError(f"--rate {rate:g}: give a positive number of events per minute")
        described = {"kind": "rate", "per_minute": rate}
        return arrival_times(count, seed, rate_per_minute=rate), described
    interval = DEFAULT_INTERVAL_S if interval is None else interval
    if interval < 0:
        raise UsageError(f"--interval {interval:g}: give 0 (a burst) or more seconds")
    described = {"kind": "interval", "interval_s": interval}
    return arrival_times(count, seed, interval_s=interval), described


def _policy(
    mode: Mode,
    concurrency: int,
    idle_timeout: float | None,
    chaos: float | None,
    warm_workers: int,
    seed: int,
) -> Policy:
    if mode is not Mode.REALISTIC:
        for name, value in (("--idle-timeout", idle_timeout), ("--chaos", chaos)):
            if value is not None:
                raise UsageError(
                    f"{name} applies to --mode realistic only, not --mode {mode.value}"
                )
    if mode is Mode.COLD and warm_workers:
        raise UsageError("--warm-workers keeps EEs for reuse; --mode cold never reuses one")
    if not 1 <= concurrency <= MAX_EES:
        raise UsageError(f"--concurrency {concurrency}: give 1 to {MAX_EES}")
    if not 0 <= warm_workers <= MAX_EES:
        raise UsageError(f"--warm-workers {warm_workers}: give 0 to {MAX_EES}")
    if idle_timeout is not None and idle_timeout <= 0:
        raise UsageError(f"--idle-timeout {idle_timeout:g}: give a positive number of seconds")
    if chaos is not None and not 0 <= chaos <= 1:
        raise UsageError(f"--chaos {chaos:g}: give a probability from 0 to 1")
    return Policy(
        mode=mode,
        concurrency=concurrency,
        idle_timeout_s=DEFAULT_IDLE_TIMEOUT_S if idle_timeout is None else idle_timeout,
        chaos=DEFAULT_CHAOS if chaos is None else chaos,
        warm_workers=warm_workers,
        seed=seed,
    )


def build_plan(
    steps: list[Path],
    *,
    events: int | None = None,
    event_file: Path | None = None,
    event: str | None = None,
    schedule: Path | None = None,
    inputs: Path | None = None,
    mode: Mode = Mode.REALISTIC,
    concurrency: int = 1,
    interval: float | None = None,
    rate: float | None = None,
    idle_timeout: float | None = None,
    chaos: float | None = None,
    warm_workers: int = 0,
    tmp_size: str = "2GB",
    memory: str = "256MB",
    timeout: float = 30.0,
    network: str = "bridge",
    image: str = DEFAULT_IMAGE,
    seed: int | None = None,
) -> RunPlan:
    """Check every option and input file; the plan to run.

    Raises:
        UsageError: anything wrong, with how to fix it.
    """
    workflow = load_steps(steps)
    if schedule is not None and (event is not None or event_file is not None):
        raise UsageError("--schedule holds the events; drop --event and --event-file")
    user_events = load_events(event, event_file)
    loaded_schedule = load_schedule(schedule) if schedule is not None else None
    memory_bytes = parse_size(memory, "--memory")
    if memory_bytes > PLATFORM_MAX_MEMORY:
        raise UsageError(f"--memory {memory} is over the platform's maximum of 10GB")
    if not 0 < timeout <= PLATFORM_MAX_TIMEOUT_S:
        raise UsageError(f"--timeout {timeout:g} is out of range; the platform allows 0 < s <= 750")
    if events is not None and events < 1:
        raise UsageError(f"--events {events}: give at least 1 execution")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    arrivals, described = _arrivals(events, seed, interval, rate, loaded_schedule, user_events)
    return RunPlan(
        steps=workflow,
        events=loaded_schedule.events if loaded_schedule else user_events,
        arrivals=arrivals,
        inputs=load_inputs(inputs),
        policy=_policy(mode, concurrency, idle_timeout, chaos, warm_workers, seed),
        tmp_size_bytes=parse_size(tmp_size, "--tmp-size"),
        memory_bytes=memory_bytes,
        timeout_s=timeout,
        network=network,
        image=image,
        arrivals_described=described,
        origin=loaded_schedule.origin if loaded_schedule else None,
    )


@app.command()
def run(
    steps: Annotated[
        list[Path], typer.Argument(help="Step files, in workflow order.", show_default=False)
    ],
    events: Annotated[
        int | None,
        typer.Option(
            help="Executions to run (default: one per event in --event-file or --schedule, else 1)."
        ),
    ] = None,
    event_file: Annotated[
        Path | None,
        typer.Option(
            help="Events: a JSON object, a JSON array or JSON Lines; executions cycle through them."
        ),
    ] = None,
    event: Annotated[str | None, typer.Option(help="One event as inline JSON.")] = None,
    schedule: Annotated[
        Path | None,
        typer.Option(
            help='Events that carry their arrival time in a "ts" field (seconds or ISO 8601).'
        ),
    ] = None,
    inputs: Annotated[
        Path | None, typer.Option(help="pd.inputs for every step, as a JSON object file.")
    ] = None,
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
        int | None,
        typer.Option(
            help="Seed of every random choice (default: a new one, printed), to replay a run."
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the summary and errors.")
    ] = False,
) -> None:
    """Run a workflow's steps for a number of events in emulated EEs."""
    interrupts.install()
    runner: Runner | None = None
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
            image=image,
            seed=seed,
        )
        if report_path is not None:
            report.check_writable(report_path)
        policy = plan.policy
        # One API call at a time per EE thread: the EEs in flight, as many standby
        # EEs in cold mode, the warm workers, and a few for the main thread.
        connections = 2 * policy.concurrency + policy.warm_workers + 8
        with (
            DockerEngine.connect(connections) as engine,
            render.progress(console, plan.executions, enabled=not quiet) as on_execution,
        ):
            runner = Runner(engine, plan, on_execution)
            result = runner.run()
        built = report.build(result)
        if report_path is not None:
            report.write(report_path, built)
        render.show(console, built, quiet)
    except PdeeError as exc:
        _fail(exc)
    except (KeyboardInterrupt, Terminated) as exc:
        ctrl_c = isinstance(exc, KeyboardInterrupt)
        message = "Interrupted" if ctrl_c else "Terminated"
        message += ": the run's EE containers were removed"
        if runner is not None and runner.result.settings and report_path is not None:
            try:
                with interrupts.deferred():
                    report.write(report_path, report.build(runner.result, interrupted=True))
                message += f"; the executions that ended are in {report_path}"
            except PdeeError as error:
                message += f"; {error}"
        err_console.print(message + ".", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INTERRUPTED if ctrl_c else EXIT_TERMINATED) from None
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
