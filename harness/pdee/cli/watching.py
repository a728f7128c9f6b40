"""``--watch`` on ``pdee run`` and ``pdee check``: the command's run, again after each
change (``pdee.watch``), each run's output under a divider naming what changed.

A Ctrl-C or SIGTERM while the watch waits ends it with exit 0 (no EE is left: each run
removed its own); one that cuts a run short ends it as it ends a run without
``--watch`` (130 or 143, what ended is written).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from .. import api, interrupts
from ..errors import ExitCode
from ..interrupts import Interrupted, Terminated
from ..plan.sizes import plural
from .common import say, signal_code

if TYPE_CHECKING:  # the watch's modules load with a watch only (start-up time)
    from ..watching.session import Change
    from ..watching.targets import Targets


def watch_runs(
    steps: Sequence[Path],
    options: Mapping[str, Any],
    once: Callable[[], object],
    outputs: Sequence[Path | None],
    what: str = "run",
) -> NoReturn:
    """Run ``once`` now and after every change, until a signal; then exit.

    ``once`` shows and writes one run; a ``PdeeError`` it raises is shown as one line
    and the watch goes on: the command has checked its options first (what no save
    can fix ends it with exit 2 before the watch). ``options`` are those ``once`` runs
    with: without ``--seed`` one is drawn here, for every run of the watch (runs differ
    by the code alone).
    """
    if "seed" in options and options["seed"] is None:
        options["seed"] = random.SystemRandom().randrange(2**31)  # type: ignore[index]
    started: set[int] = set()

    def begin(change: Change) -> None:
        if change.number not in started:
            started.add(change.number)
            say(change.divider)

    def each(change: Change) -> None:
        interrupts.install()  # the last run settled the signals: this one reports them
        begin(change)
        once()

    def problem(change: Change, message: str) -> None:
        begin(change)
        say(f"Error: {message}", stderr=True)

    def waiting(watched: Targets) -> None:
        interrupts.install()
        files = plural(len(watched.files), "file")
        say(f"watching {files} for changes; Ctrl-C ends the watch", True)

    try:
        api.watch(
            steps, each, outputs=[p for p in outputs if p is not None], on_problem=problem,
            on_waiting=waiting, **options,
        )  # fmt: skip
    except (KeyboardInterrupt, Terminated) as exc:
        cut = isinstance(exc, Interrupted) or getattr(exc, "result", None) is not None
        if cut:  # the run has said what was cut and written
            raise typer.Exit(signal_code(exc)) from None
        say(f"the watch ended: no EE is left (each {what} removed its own)", stderr=True)
        raise typer.Exit(ExitCode.OK) from None
    raise AssertionError("a watch ends by a signal")  # pragma: no cover
