"""The ``pdee`` command's entry point: signals handled from the first instant.

Importing the CLI (Typer, Rich, docker-py and pdee itself) takes a few hundred
milliseconds. A Ctrl-C or SIGTERM in that time must end pdee as one at any later moment
does, with one line and exit code 130 or 143, not with a traceback of the imports or a
death by the signal. This module imports nothing of pdee but ``interrupts`` until its
handlers are in place (``pdee/__init__`` imports its public names lazily).
"""

from __future__ import annotations

import signal
import sys

from . import interrupts
from .errors import EXIT_INTERRUPTED, EXIT_TERMINATED


def main() -> None:
    """The ``pdee`` console script."""
    interrupts.install()
    try:
        from .cli import main as cli_main
    except (KeyboardInterrupt, interrupts.Terminated) as exc:
        ctrl_c = isinstance(exc, KeyboardInterrupt)
        sys.stderr.write(("Interrupted" if ctrl_c else "Terminated") + ": pdee was starting.\n")
        sys.exit(EXIT_INTERRUPTED if ctrl_c else EXIT_TERMINATED)
    try:
        cli_main()
    except interrupts.Terminated:  # before a command took over its signals
        sys.stderr.write("Terminated.\n")
        sys.exit(EXIT_TERMINATED)
    finally:  # exiting: a signal now must not turn the exit code into a death by signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
