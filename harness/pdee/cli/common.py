"""What every command of the CLI shares: its consoles, its one-line errors, the output
files it claims before any EE starts (none of them one of its inputs), and how a run's
end is shown and written.

Only the CLI knows Typer; it catches ``PdeeError`` here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

from .. import interrupts
from ..errors import ExitCode, PdeeError
from ..outputs import report, terminal
from ..outputs.files import OutputFile, refuse_clashes
from ..plan.input_files import input_files
from ..results.records import RunResult

if TYPE_CHECKING:
    from ..backends.docker import DockerBackend


class Consoles:
    """stdout and stderr as they are when a command starts (a terminal, a pipe or a file)."""

    out: Console = terminal.make_console()
    err: Console = terminal.make_console(stderr=True)

    @classmethod
    def renew(cls) -> None:
        cls.out, cls.err = terminal.make_console(), terminal.make_console(stderr=True)


def say(text: str, stderr: bool = False) -> None:
    """Print ``text`` as it is (no markup) on stdout or stderr."""
    (Consoles.err if stderr else Consoles.out).print(
        text, markup=False, highlight=False, soft_wrap=True
    )


def fail(exc: PdeeError) -> NoReturn:
    """End the command with ``exc``'s one line on stderr and its exit code."""
    say(f"Error: {exc}", stderr=True)
    raise typer.Exit(exc.exit_code)


def signal_code(exc: BaseException) -> ExitCode:
    """The exit code of a Ctrl-C (``KeyboardInterrupt``) or a SIGTERM (``Terminated``)."""
    return ExitCode.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else ExitCode.TERMINATED


@contextmanager
def claimed(
    *wanted: tuple[Path | None, str, str, str],
    steps: Sequence[Path] = (),
    options: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Prove, before any EE starts, that each output file asked for can be written
    (``wanted``: its path or None, its option, what it is, an example name) and is none
    of the files the command reads (its ``steps`` and ``options``, as
    ``pdee.plan.input_files`` lists them) nor another output; the command writes them
    inside the block, and on the way out pdee removes those it created and a way out
    left unwritten (empty).

    Raises:
        UsageError: an output is an input or another output (before any is claimed), or
            one cannot be written (those claimed before it are abandoned).
    """
    asked = [(option, path) for path, option, _what, _example in wanted if path is not None]
    reads = input_files(steps, options or {})
    refuse_clashes(asked, reads)
    outputs: list[OutputFile] = []
    try:
        for path, _option, what, example in wanted:
            if path is not None:
                outputs.append(OutputFile.claim(path, what, example))
        # Again, now that each output exists: two spellings of one new file (on a
        # case-insensitive filesystem) are one inode.
        refuse_clashes(asked, reads)
        yield
    finally:
        for output in outputs:
            output.abandon()


def finish(
    result: RunResult,
    report_path: Path | None,
    junit_path: Path | None,
    verbosity: terminal.Verbosity,
) -> None:
    """Show the run, then write its reports (a report that fails leaves the tables); from
    here on a signal changes neither the exit code nor what is shown and written."""
    interrupts.settled()
    terminal.show(Consoles.out, result, verbosity)
    try:
        if report_path is not None:
            report.write_run(report_path, result)
        if junit_path is not None:
            from ..outputs import junit  # junitparser: imported for --junit only

            junit.write(junit_path, junit.run_xml(result))
    except PdeeError as exc:
        fail(exc)


def interrupted(exc: BaseException, result: RunResult | None, report_path: Path | None) -> NoReturn:
    """Say what was kept of a run cut short by Ctrl-C or SIGTERM, and exit."""
    message = "Interrupted" if isinstance(exc, KeyboardInterrupt) else "Terminated"
    message += ": the run's EE containers were removed"
    if result is not None and report_path is not None:
        try:
            with interrupts.deferred():
                report.write_run(report_path, result)
            message += f"; the executions that ended are in {report_path}"
        except PdeeError as error:
            message += f"; {error}"
    say(message + ".", stderr=True)
    raise typer.Exit(signal_code(exc))


@contextmanager
def docker(connections: int = 10) -> Iterator[DockerBackend]:
    """The Docker backend, for a command that needs a daemon but runs no plan (imported
    here: only the commands that need a daemon load docker-py).

    Raises:
        BackendUnavailable: no daemon answers.
    """
    from ..backends.docker import DockerBackend

    with DockerBackend.connect(connections) as backend:
        yield backend
