"""pdee's exceptions: one root, each with the exit code the CLI ends with.

Hierarchy::

    PdeeError                 (exit 1) the root; only the CLI edge catches it
    ├── UsageError            (exit 2) bad invocation or input: a missing step file,
    │                                  an unreadable event file, a bad size
    ├── DockerUnavailable     (exit 3) no Docker daemon answers
    ├── ImageError            (exit 4) the EE image is missing or was built from
    │                                  other runtime code
    └── EEError               (exit 5) an EE broke in a way that is not the step's
                                       doing (the container vanished, the runtime
                                       stopped answering)

A step's own exception is never one of these: it is the step's error, in the report.
Messages are one line: what happened and how to fix it.
"""

from __future__ import annotations


class PdeeError(Exception):
    """Something pdee cannot do; the message says what and how to fix it."""

    exit_code = 1


class UsageError(PdeeError):
    """The command line or one of its input files is wrong."""

    exit_code = 2


class DockerUnavailable(PdeeError):
    """No Docker daemon answers where docker-py looks (DOCKER_HOST or the socket)."""

    exit_code = 3


class ImageError(PdeeError):
    """The EE image is missing, or holds a runtime other than this pdee's."""

    exit_code = 4


class EEError(PdeeError):
    """An EE stopped working for a reason outside the step's code."""

    exit_code = 5


EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_TERMINATED = 143  # SIGTERM
