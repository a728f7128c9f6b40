"""pdee's exceptions: one root, each with the exit code the CLI ends with (``ExitCode``).

Hierarchy::

    PdeeError                 (exit 1) the root; only the CLI edge catches it
    ├── StepSyntaxError       (exit 1) a step file does not compile: every execution
    │                                  would fail, so none is run
    ├── UsageError            (exit 2) bad invocation or input: a missing step file,
    │                                  an unreadable event file, a bad size
    ├── BackendUnavailable    (exit 3) the EE backend (the Docker daemon) does not answer
    ├── ImageError            (exit 4) the EE image is missing or was built from
    │                                  another pdee's recipe
    ├── PackageError          (exit 6) the steps' packages could not be fetched (no
    │                                  network on the host, or --offline and not cached)
    ├── EEError               (exit 5) an EE broke in a way that is not the step's
    │   │                              doing (it could not start, its runtime stopped
    │   │                              answering)
    │   ├── EEGone            (exit 5) its container ended under pdee's feet
    │   └── EEUnresponsive    (exit 5) it stopped answering mid-execution (paused,
    │                                  frozen); the execution is a timeout, the run goes on
    └── RunAborted            (its cause's code) a run stopped half-way because the
                                       backend failed; carries the partial result

A step's own exception is never one of these: it is the step's error, in the report.
Messages are one line: what happened and how to fix it.
"""

from __future__ import annotations

import enum

TYPE_CHECKING = False  # not typing's: the entry point imports this module first, and fast
if TYPE_CHECKING:
    from .results.records import RunResult


class ExitCode(enum.IntEnum):
    """How the ``pdee`` command ends: every exit code it has, in one place."""

    OK = 0  # every execution ok (or ended by pd.flow.exit); a check found the step safe
    FAILED = 1  # an execution failed; a check found the step unsafe
    USAGE = 2  # bad invocation or input
    BACKEND = 3  # no Docker daemon answers
    IMAGE = 4  # the EE image is missing, stale or not buildable
    EE = 5  # an EE broke outside the step's code
    PACKAGES = 6  # the steps' packages could not be fetched
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


class PdeeError(Exception):
    """Something pdee cannot do; the message says what and how to fix it."""

    exit_code: ExitCode = ExitCode.FAILED


class StepSyntaxError(PdeeError):
    """A step file does not compile (found before any EE starts; the message has its line)."""


class UsageError(PdeeError):
    """The command line, an API argument or one of the input files is wrong."""

    exit_code: ExitCode = ExitCode.USAGE


class BackendUnavailable(PdeeError):
    """The EE backend does not answer (for Docker: no daemon at DOCKER_HOST or the socket)."""

    exit_code: ExitCode = ExitCode.BACKEND


class ImageError(PdeeError):
    """The EE image is missing, or was built by another version of pdee."""

    exit_code: ExitCode = ExitCode.IMAGE


class PackageError(PdeeError):
    """The steps' packages could not be had: PyPI out of reach, or not cached offline."""

    exit_code: ExitCode = ExitCode.PACKAGES


class EEError(PdeeError):
    """An EE stopped working for a reason outside the step's code."""

    exit_code: ExitCode = ExitCode.EE


class EEGone(EEError):
    """The EE's container ended under pdee's feet, e.g. killed for memory."""

    def __init__(
        self,
        message: str,
        oom_killed: bool,
        container_exit_code: int | None,
        step: str | None = None,
        logs: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.oom_killed = oom_killed
        self.container_exit_code = container_exit_code
        self.step = step  # the step that was running, if one was
        self.logs = logs or {}  # what each step of the execution had printed (the last 64KB)


class EEUnresponsive(EEError):
    """The EE gave no reply to an execution long past its timeout (paused, frozen)."""

    def __init__(self, message: str, step: str | None = None, logs: dict[str, str] | None = None):
        super().__init__(message)
        self.step = step  # the step that was running, if one was
        self.logs = logs or {}  # what each step of the execution had printed (the last 64KB)


class RunAborted(PdeeError):
    """A run stopped before its last event because the backend failed.

    ``result`` holds every execution that had ended, and says why the run stopped
    (``result.aborted``); the exit code is the cause's (3 backend, 4 image, 5 EE).
    """

    def __init__(self, cause: PdeeError, result: RunResult) -> None:
        n = len(result.executions)
        super().__init__(f"the run stopped after {n} execution{'s' * (n != 1)}: {cause}")
        self.cause = cause
        self.result = result
        self.exit_code = cause.exit_code


EXIT_INTERRUPTED = ExitCode.INTERRUPTED  # 0.3's names
EXIT_TERMINATED = ExitCode.TERMINATED
