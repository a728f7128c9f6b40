"""``pdee image``: the EE image, built offline from the recipe inside this pdee."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import interrupts
from ..errors import PdeeError
from ..interrupts import Terminated
from ..provision import image
from .common import Consoles, docker, fail, say, signal_code

app = typer.Typer(no_args_is_help=True, help="The EE image.")


@app.command("build")
def build(
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
        with docker() as backend:
            if Consoles.out.is_terminal:
                with Consoles.out.status("building the EE image") as status:

                    def show(line: str) -> None:
                        status.update(line[:120])

                    built = image.build(backend, tag, base, show, show)
            else:
                built = image.build(backend, tag, base, lambda line: say(line, stderr=True))
    except PdeeError as exc:
        fail(exc)
    except (KeyboardInterrupt, Terminated) as exc:
        raise typer.Exit(signal_code(exc)) from None
    what = "built" if built.built else "up to date"
    off = not built.python.startswith("3.12.")
    note = " (not the platform's 3.12: see docs/image.md)" if off else ""
    say(f"image {built.tag} {what}: {built.id}, Python {built.python}{note}, base {built.base}")
