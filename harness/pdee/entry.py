"""The ``pdee`` command's entry point: signals handled from the first instant.

Importing the CLI (Typer, Rich, docker-py and pdee itself) takes a few hundred
milliseconds. A Ctrl-C or SIGTERM in that time must end pdee as one at any later moment
does, with one line and exit code 130 or 143, not with a traceback of the imports or a
death by the signal. This module imports nothing of pdee but ``interrupts`` until its
handlers are in place (``pdee/__init__`` imports its public names lazily).
"""

from __future__ import annotations

import os
import signal
import sys

from . import interrupts
from .errors import EXIT_INTERRUPTED, EXIT_TERMINATED


def _exit_now(code: int) -> None:
    """Flush what pdee printed and end the process with ``code`` at once.

    A command has cleaned up after itself (containers removed, files written and
    closed) when it returns; what the interpreter would still do is tear down some 600
    modules, which took about 40 ms of every command here (a tenth of a one-shot
    ``pdee run``). Only the console script exits this way: the Python API and
    in-process tests never come here.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _leave(ctrl_c: bool, what: str) -> None:
    """Say that a signal ended pdee, and exit with its code at once (nothing to clean up:
    the commands clean up after themselves; an import cut short can leave the
    interpreter's own exit to die by the signal after all)."""
    sys.stderr.write(f"{'Interrupted' if ctrl_c else 'Terminated'}{what}.\n")
    _exit_now(EXIT_INTERRUPTED if ctrl_c else EXIT_TERMINATED)


def _exit_code(exc: SystemExit) -> int:
    """The exit status ``sys.exit`` makes of ``exc``: None is 0; a message is printed, 1."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    sys.stderr.write(f"{exc.code}\n")
    return 1


def main() -> None:
    """The ``pdee`` console script."""
    interrupts.install(command=False)
    try:
        from .cli import main as cli_main
    except (KeyboardInterrupt, interrupts.Terminated) as exc:
        _leave(isinstance(exc, KeyboardInterrupt), ": pdee was starting")
    code = 0
    try:
        cli_main()
    except (KeyboardInterrupt, interrupts.Terminated) as exc:  # before a command's own
        _leave(isinstance(exc, KeyboardInterrupt), "")
    except SystemExit as exc:
        # Typer turns a Ctrl-C while it parses the command line into a silent exit 130.
        if exc.code == EXIT_INTERRUPTED and not interrupts.in_command():
            _leave(True, "")
        code = _exit_code(exc)
    finally:  # exiting: a signal now must not turn the exit code into a death by signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _exit_now(code)
