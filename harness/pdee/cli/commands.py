"""The ``pdee`` command line: parse, call the Python API, print.

A thin edge: each command (one module each: ``run``, ``check``, ``serve``, ``packages``,
``image``, ``data_store``) turns its options into the API's keyword arguments and shows
what it returns; only this package knows Typer. Exit codes: ``pdee.errors.ExitCode``
(0 every execution ok, or ended by ``pd.flow.exit``; 1 an execution failed; 2 bad
invocation or input; 3 no Docker daemon; 4 EE image missing, stale or not buildable; 5
an EE broke outside the step's code; 6 packages could not be fetched; 130 Ctrl-C; 143
SIGTERM).
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from ..errors import ExitCode, PdeeError
from ..plan.sizes import plural
from ..version import __version__
from . import data_store, image
from .check import check
from .common import Consoles, docker, fail, say
from .packages import packages
from .run import run
from .serve import serve

# The Click that Typer parses with: the package before Typer 0.27, Typer's own copy since.
ClickUsageError: type[Exception] = import_module(typer.BadParameter.__module__).UsageError


def usage_line(exc: Any) -> str:
    """A usage error of Click's (an unknown option, a bad value, a missing argument) as
    pdee's own are: ``Error: what; see `pdee run --help```, one line."""
    possible = sorted(getattr(exc, "possibilities", None) or [])  # an unknown option's
    message = " ".join((exc.message if possible else exc.format_message()).split()).rstrip(".")
    if possible:
        message += f" (did you mean {' or '.join(possible)}?)"
    if message[:2].istitle():  # "No such option" as pdee's messages begin
        message = message[0].lower() + message[1:]
    command = exc.ctx.command_path if exc.ctx is not None else "pdee"
    return f"Error: {message}; see `{command} --help`"


def _usage_error(exc: Exception) -> NoReturn:
    if type(exc).__name__ == "NoArgsIsHelpError":  # as Typer tells it (Click 8.2 and later)
        raise exc  # the help, which Typer shows
    typer.echo(usage_line(exc), err=True)
    raise typer.Exit(ExitCode.USAGE)


class OneLineErrors(TyperGroup):
    """pdee's command group: Click's usage errors, raised while a command line is parsed
    (this group's, or a subcommand's in ``invoke``), end the command in one line with exit
    code 2, as pdee's own do, rather than in Typer's box of four lines or more."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except ClickUsageError as exc:
            _usage_error(exc)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ClickUsageError as exc:
            _usage_error(exc)


app = typer.Typer(
    cls=OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    help="Run Pipedream Python steps in an emulated execution environment (EE).",
)
app.command()(run)
app.command()(check)
app.command()(serve)
app.command()(packages)
app.add_typer(image.app, name="image")
app.add_typer(data_store.app, name="data-store")


def _version(value: bool) -> None:
    if value:
        say(f"pdee {__version__}")
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
    Consoles.renew()
    # Without --debug, logging's last resort prints pdee's warnings to stderr.
    if debug:
        logging.basicConfig(
            level=logging.DEBUG, format="%(asctime)s %(name)s: %(message)s", force=True
        )


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
        with docker() as backend:
            sweep = backend.sweep(everything, only)
    except PdeeError as exc:
        fail(exc)
    spared = f"; {sweep.spared} of live runs left alone" if sweep.spared else ""
    say(f"removed {plural(sweep.removed, 'EE container')}{spared}")


@app.command()
def version() -> None:
    """Print pdee's version."""
    say(f"pdee {__version__}")


def main() -> None:
    """The ``pdee`` console script."""
    app()


__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
