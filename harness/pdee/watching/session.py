"""The watch loop: run a command, wait for a change to what it reads, run it again, as
the platform runs a workflow again after a redeploy.

``watch`` calls ``each(change)`` at once and again after every batch of changes (saves
made while a run goes on make the next run start as soon as it ends). Before each call
the step files are compiled: a syntax error is one message (``on_problem``) and no run,
and the watch goes on, as it does after a run refused with a ``PdeeError`` (a bad event
file saved), but for what no save can fix (``UNFIXABLE``: no Docker daemon, no image),
which ends it. What to watch is worked out again after each run, so a
step added to ``workflow.yaml`` is watched from the next run on. A Ctrl-C or SIGTERM
(on the calling thread) or ``stop`` ends it; the watcher is closed on every way out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable, ImageError, PdeeError
from .targets import Targets, divider, syntax_error, targets
from .watcher import Watcher


@dataclass(frozen=True)
class Change:
    """Why a run of a watch starts: ``number`` 0 is the first run, which nothing
    changed; each later one names the files whose change started it."""

    number: int
    changed: tuple[Path, ...] = ()

    @property
    def divider(self) -> str:
        """The line that starts the run's output, naming the changed files."""
        return divider(self.number, self.changed)

    @property
    def reload_divider(self) -> str:
        """The line that says a served workflow is reloaded, naming the changed files."""
        return divider(self.number, self.changed, what="reload")


# Called with the change and a one-message problem: a syntax error, or a refused run.
OnProblem = Callable[[Change, str], None]


# What a run raises that no save of a watched file can fix: it ends the watch.
UNFIXABLE: tuple[type[PdeeError], ...] = (BackendUnavailable, ImageError)


def watch(
    steps: Sequence[Any],
    options: Mapping[str, Any],
    each: Callable[[Change], None],
    *,
    outputs: Iterable[Path | None] = (),
    on_problem: OnProblem | None = None,
    on_waiting: Callable[[Targets], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Call ``each`` now and after every change to the files a command with ``steps``
    and ``options`` reads, until ``stop`` is set or a signal ends it.

    Args:
        steps: the command's step files, workflow folder or project.
        options: its run options (which name the event, inputs, env, schedule files).
        each: runs the command once; a ``PdeeError`` it raises goes to ``on_problem``
            (one of ``UNFIXABLE`` ends the watch).
        outputs: the files the command writes, which never count as a change.
        on_problem: told of a syntax error (no run) or a refused run (default: ignored).
        on_waiting: told, after each run, what the watch waits for.
        stop: ends the watch when set (from another thread).

    Raises:
        KeyboardInterrupt, Terminated: a signal, once the watcher is closed.
        UsageError: the watcher failed.
        BackendUnavailable, ImageError: from ``each``: no save fixes them.
    """
    outputs = list(outputs)
    problem = on_problem or (lambda _change, _message: None)
    watched = targets(steps, options, outputs)
    watcher = Watcher(watched).start()
    try:
        change = Change(0)
        while True:
            error = syntax_error(watched.python_files())
            if error is not None:
                problem(change, error)
            else:
                try:
                    each(change)
                except UNFIXABLE:
                    raise
                except PdeeError as exc:
                    problem(change, str(exc))
            now = targets(steps, options, outputs)
            if now != watched:  # a step added or removed: watch what the workflow is now
                watcher.close()
                watched, watcher = now, Watcher(now).start()
            if on_waiting is not None:
                on_waiting(watched)
            changed = watcher.next(stop)
            if changed is None:
                return
            change = Change(change.number + 1, tuple(sorted(changed)))
    finally:
        watcher.close()
