"""Messages between pdee and the supervisor, and between the supervisor and a worker.

Both links carry one JSON object per line. pdee writes to the container's stdin and
reads its stdout through the Docker API (no bind mounts, no ports); the supervisor
talks to each worker over a pair of pipes.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # typing is not imported at run time: a step's process starts faster
if TYPE_CHECKING:
    from typing import IO, Any

PDG_DIR = "/tmp/__pdg__"
CODE_DIR = f"{PDG_DIR}/dist/code"
PACKAGES_DIR = f"{PDG_DIR}/dist/python"
# Where an image made for a package set holds it installed, outside /tmp.
PREINSTALLED_ARCHIVE = "/opt/pdee/packages.tar"  # a package image's packages, as one tar
# The platform runs step code from a read-only directory, as Lambda does.
WORK_DIR = "/var/task"


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of compact JSON."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One line back into a message.

    Raises:
        ValueError: the line is not a JSON object.
    """
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError(f"expected a JSON object, got {type(message).__name__}")
    return message


def send(stream: IO[bytes], message: dict[str, Any]) -> None:
    """Write one message and flush it."""
    stream.write(encode(message))
    stream.flush()


def code_path(code_hash: str) -> str:
    """Where the platform keeps a step's code: /tmp/__pdg__/dist/code/<sha256>/code.py."""
    return f"{CODE_DIR}/{code_hash}/code.py"


def used_bytes(fs: os.statvfs_result) -> int:
    """Bytes used in a filesystem, as ``df`` counts them, from its ``statvfs``."""
    return (fs.f_blocks - fs.f_bfree) * fs.f_frsize
