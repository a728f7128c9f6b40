"""``pdee packages``: the packages the steps need, as the platform finds them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ImageError, PdeeError
from ..outputs import terminal
from ..plan.requirements import requirements_by_workflow
from ..plan.sizes import parse_size
from ..provision import packages as provision
from ..provision.image import check_image
from . import options as o
from .common import Consoles, docker, fail, say


def packages(
    steps: Annotated[
        list[Path],
        typer.Argument(
            help="Step files, in workflow order; or a workflow or project folder (GitHub Sync).",
            show_default=False,
        ),
    ],
    offline: Annotated[bool, typer.Option(help="Use only pdee's cache; fetch nothing.")] = False,
    tmp_size: o.TmpSize = o.TMP_SIZE,
    image: o.Image = o.D.image,
) -> None:
    """Show the packages the steps need, as the platform finds them: versions and sizes.

    Imports map to PyPI packages by pipreqs' table; `# pipedream add-package NAME==V` adds or pins.
    A project folder: each workflow's packages, as each is deployed with its own.

    Wheels for the EE's Python are fetched on this host once, then read from pdee's cache.
    """
    try:
        wanted = requirements_by_workflow(steps)
        cap = parse_size(tmp_size, "--tmp-size")
        python = None
        if any(needs for _, needs in wanted):
            with docker() as backend:
                python = check_image(backend, image).python
            if python is None:
                raise ImageError(f"image {image} does not say its Python; rebuild it")
        for folder, needs in wanted:
            label = f"workflow {folder}: " if folder is not None else ""
            if not needs or python is None:
                say(f"{label}the steps import no package outside the standard library")
                continue
            if label:
                Consoles.out.print(
                    label.removesuffix(": "), style="bold", markup=False, highlight=False
                )
            fetched = provision.fetch(
                needs, python, offline=offline, progress=lambda line: say(line, stderr=True)
            )
            terminal.packages(Consoles.out, fetched, python, cap)
    except PdeeError as exc:
        fail(exc)
