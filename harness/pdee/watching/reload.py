"""``serve --reload``: the served workflow redeployed on every change to its files.

A thread of its own runs the watch loop (``session.watch``) while the server serves;
each change builds the plan anew from the files and hands it to
``Serving.redeploy``, which switches the run to it as the platform deploys new code.
A syntax error, or a plan or packages that cannot be had, is told (``on_reload``) and
the old code goes on serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..plan.options import RunOptions
from ..plan.run_plan import plan_from
from ..serving.handle import Serving
from . import session
from .session import Change

log = logging.getLogger("pdee")

# Told of each reload: the change, and None once the new code serves, or why the old
# code still does (one message).
OnReload = Callable[[Change, "str | None"], None]
JOIN_S = 10.0  # how long a stop waits for a reload under way (a package image being built)


@contextmanager
def reloading(
    serving: Serving,
    steps: Sequence[Any],
    options: Mapping[str, Any],
    on_reload: OnReload | None = None,
    outputs: Iterable[Path | None] = (),
) -> Iterator[None]:
    """Redeploy ``serving``'s workflow on every change to its files while the block runs.

    Args:
        serving: what serves the workflow.
        steps, options: what it was started with (``pdee.serve``'s), read again on each
            change.
        on_reload: told of each reload (on the watch's thread).
        outputs: the files serving writes (report, record), never a change.
    """
    told = on_reload or (lambda _change, _problem: None)
    stop = threading.Event()
    waiting = threading.Event()  # the watch has read the files as serving started
    given = RunOptions.of(options, "serve")

    def each(change: Change) -> None:
        if change.number == 0:  # serving already
            return
        serving.redeploy(plan_from(steps, given))
        told(change, None)

    def watch() -> None:
        try:
            session.watch(
                steps, options, each, outputs=outputs, on_problem=told, stop=stop,
                on_waiting=lambda _targets: waiting.set(),
            )  # fmt: skip
        except Exception as exc:  # the watcher failed: serving goes on, without reloads
            log.warning("pdee serve --reload stopped watching: %s", exc)
            told(Change(-1), f"the reload stopped watching the files: {exc}")

    thread = threading.Thread(target=watch, name="pdee-reload", daemon=True)
    thread.start()
    # From the block on, a save is a change: not read as the code serving started with.
    while not waiting.wait(0.05) and thread.is_alive():
        pass
    try:
        yield
    finally:
        stop.set()
        thread.join(JOIN_S)
