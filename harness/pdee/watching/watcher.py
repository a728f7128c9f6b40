"""The file watcher: watchfiles (the Rust ``notify`` crate's events, as uvicorn's
``--reload`` uses them) on a thread of its own, handing each batch of changes to the
thread that waits for them.

On its own thread so that the waiting thread stays interruptible: Ctrl-C and SIGTERM
reach pdee's handlers (``pdee.interrupts``) as they do during a run, and SIGTERM stays
SIGTERM (watchfiles turns any signal caught in its own wait into a KeyboardInterrupt).
watchfiles debounces: it yields once no change has come for ``STEP_MS`` (an editor
that writes a file several times in one save makes one batch), and at the latest
``DEBOUNCE_MS`` after the first.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

from ..errors import UsageError
from .targets import Targets

log = logging.getLogger("pdee")

STEP_MS = 200  # quiet time that ends a batch of changes (one save, several writes)
DEBOUNCE_MS = 1600  # the longest a batch is held (watchfiles' default)
POLL_S = 0.2  # how often the waiting thread looks at its stop event
JOIN_S = 5.0


class Watcher:
    """Changes to ``targets``, in batches, from watchfiles on its own thread."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets
        self.stop_event = threading.Event()
        self.batches: queue.Queue[set[Path] | BaseException] = queue.Queue()
        self.thread = threading.Thread(target=self._watch, name="pdee-watch", daemon=True)

    def __repr__(self) -> str:
        return f"<Watcher {len(self.targets.files)} files in {len(self.targets.folders)} folders>"

    def start(self) -> Watcher:
        self.thread.start()
        return self

    def _watch(self) -> None:
        import watchfiles  # only a watch loads it

        folders = sorted(str(folder) for folder in self.targets.folders if folder.is_dir())
        if not folders:
            return
        try:
            for batch in watchfiles.watch(
                *folders,
                watch_filter=lambda _change, path: self.targets.relevant(path),
                stop_event=self.stop_event,
                recursive=False,
                step=STEP_MS,
                debounce=DEBOUNCE_MS,
                raise_interrupt=False,
            ):
                self.batches.put({Path(path) for _change, path in batch})
        except Exception as exc:  # told to the waiting thread
            self.batches.put(exc)

    def next(self, stop: threading.Event | None = None) -> set[Path] | None:
        """The next batch of changed files, and any batch that came with it; None once
        ``stop`` is set.

        Raises:
            UsageError: the watcher failed (a folder went away, too many watches).
        """
        while True:
            try:
                batch = self.batches.get(timeout=POLL_S)
                break
            except queue.Empty:
                if stop is not None and stop.is_set():
                    return None
        changed: set[Path] = set()
        while True:
            if isinstance(batch, BaseException):
                raise UsageError(f"pdee cannot watch the files any more: {batch}") from batch
            changed |= batch
            try:
                batch = self.batches.get_nowait()
            except queue.Empty:
                return changed

    def close(self) -> None:
        """Stop watching (safe to call twice)."""
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(JOIN_S)
