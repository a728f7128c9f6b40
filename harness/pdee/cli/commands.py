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
from typing import Annotated

import typer

from ..errors import PdeeError
from ..version import __version__
from . import data_store, image
from .check import check
from .common import Consoles, docker, fail, say
from .packages import packages
from .run import run
from .serve import serve

app = typer.Typer(
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
    say(f"removed {sweep.removed} EE container(s){spared}")


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
