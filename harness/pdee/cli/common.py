"""What every command of the CLI shares: its consoles, its one-line errors, the output
files it claims before any EE starts (none of them one of its inputs), and how a run's
end is shown and written.

Only the CLI knows Typer; it catches ``PdeeError`` here and nowhere else.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
    from ..checking.project import ProjectCheck
    from ..checking.verdicts import CheckResult


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


def typed_command(ctx: typer.Context) -> list[str]:
    """The running command's line as typed (without ``pdee``), remade from what Typer
    parsed: the command, its arguments, then each option given on the command line or
    by its environment variable."""
    words, arguments = [str(ctx.info_name)], []
    for param in ctx.command.params:
        name = param.name or ""
        source = ctx.get_parameter_source(name)
        if source is None or source.name not in ("COMMANDLINE", "ENVIRONMENT"):
            continue
        value = ctx.params.get(name)
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        texts = [str(v.value if isinstance(v, enum.Enum) else v) for v in values]
        if param.param_type_name == "argument":
            arguments += texts
        elif getattr(param, "is_flag", False):
            if value:
                words.append(param.opts[0])
            elif param.secondary_opts:
                words.append(param.secondary_opts[0])
        else:
            for text in texts:
                words += [param.opts[0], text]
    return [words[0], *arguments, *words[1:]]


@dataclass(frozen=True)
class HtmlReport:
    """``--html``: where to write the HTML report, and the command line as typed (for
    the command that replays the run)."""

    path: Path
    argv: list[str]

    @classmethod
    def asked(cls, ctx: typer.Context, path: Path | None) -> HtmlReport | None:
        """The HTML report ``--html`` asks for, if it does."""
        return None if path is None else cls(path, typed_command(ctx))

    def write(self, what: RunResult | CheckResult | ProjectCheck) -> None:
        """Write the report of ``what`` (imported here: only ``--html`` loads plotly).

        Raises:
            UsageError, PdeeError: as ``pdee.outputs.html.write_html``.
        """
        from ..outputs import html

        html.write_html(self.path, what, argv=self.argv, command=self.argv[0])


def finish(
    result: RunResult,
    report_path: Path | None,
    junit_path: Path | None,
    verbosity: terminal.Verbosity,
    html: HtmlReport | None = None,
) -> None:
    """Show the run, then write its reports (a report that fails leaves the tables); from
    here on a signal changes neither the exit code nor what is shown and written."""
    interrupts.settled()
    terminal.show(Consoles.out, result, verbosity, report_path)
    try:
        if report_path is not None:
            report.write_run(report_path, result)
        if html is not None:
            html.write(result)
        if junit_path is not None:
            from ..outputs import junit  # junitparser: imported for --junit only

            junit.write(junit_path, junit.run_xml(result))
    except PdeeError as exc:
        fail(exc)


def interrupted(
    exc: BaseException,
    result: RunResult | None,
    report_path: Path | None,
    html: HtmlReport | None = None,
    verbosity: terminal.Verbosity = terminal.Verbosity.NORMAL,
) -> NoReturn:
    """Say what was kept of a run cut short by Ctrl-C or SIGTERM (the executions that
    ended, as a finished run's are shown, with the seed that replays it), and exit."""
    message = "Interrupted" if isinstance(exc, KeyboardInterrupt) else "Terminated"
    message += ": the run's EE containers were removed"
    written = [path for path in (report_path, html and html.path) if path is not None]
    if result is not None and written:
        try:
            with interrupts.deferred():
                if report_path is not None:
                    report.write_run(report_path, result)
                if html is not None:
                    html.write(result)
            message += f"; the executions that ended are in {' and '.join(map(str, written))}"
        except PdeeError as error:
            message += f"; {error}"
    if result is not None:  # a second signal cuts this short, with one line (pdee.entry)
        terminal.show(Consoles.out, result, verbosity, report_path)
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
