"""Ctrl-C and SIGTERM, held back while the daemon holds state pdee cannot see yet.

A signal that lands while ``containers.create`` waits for its reply would leave a
container the daemon finishes making after pdee has cleaned up. Inside ``deferred()``
the signal is only noted; it is raised when the outermost ``deferred()`` block ends,
once pdee knows the container and can remove it.

Signals reach the main thread only. EEs that start on their own threads (a run's
lanes) need no deferral: the main thread destroys every EE on the way out, and an EE
destroyed while the daemon creates its container removes that container itself as
soon as the daemon answers (``EE.start``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

TYPE_CHECKING = False  # not typing's: the entry point imports this module first, and fast
if TYPE_CHECKING:
    from .results.records import RunResult


class Terminated(BaseException):
    """SIGTERM arrived: pdee unwinds as for Ctrl-C, removing every container; ``result``
    holds what a run had done when it ended (None where none had started)."""

    def __init__(self, result: RunResult | None = None) -> None:
        super().__init__()
        self.result = result


class Interrupted(KeyboardInterrupt):
    """Ctrl-C ended a run, once every EE was removed; ``result`` holds the executions that
    had ended. A ``KeyboardInterrupt``, so that code catching that catches it."""

    def __init__(self, result: RunResult) -> None:
        super().__init__()
        self.result = result


_depth = 0
_pending: BaseException | None = None
_ignoring = False
_in_command = False  # a command's own code runs: it reports a signal itself


def _handle(signum: int, _frame: FrameType | None) -> None:
    global _pending
    if _ignoring:
        return
    exc: BaseException = KeyboardInterrupt() if signum == signal.SIGINT else Terminated()
    if _depth:
        _pending = _pending or exc
        return
    raise exc


def install(command: bool = True) -> None:
    """Route SIGINT and SIGTERM through pdee's handler (main thread only); ``command``:
    the caller is a command's own code, which reports a signal itself from now on."""
    global _in_command, _ignoring
    _in_command = _in_command or command
    _ignoring = False
    signal.signal(signal.SIGINT, _handle)
    signal.signal(signal.SIGTERM, _handle)


def in_command() -> bool:
    """Whether a command's own code has started (and so reports a signal itself)."""
    return _in_command


def settled() -> None:
    """The command's run has ended: from now on, until the process exits (or the next
    command installs the handler), Ctrl-C and SIGTERM change neither its exit code nor
    what it shows and writes."""
    global _ignoring
    _ignoring = True


@contextmanager
def deferred() -> Iterator[None]:
    """Hold back Ctrl-C and SIGTERM until the block ends (main thread; a no-op elsewhere)."""
    global _depth, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _pending is not None:
            pending, _pending = _pending, None
            raise pending
