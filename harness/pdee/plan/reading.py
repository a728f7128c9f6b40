"""Reading what a user hands pdee: files of bounded size, JSON within Python's limits.

Every file pdee reads from a user (steps, events, schedules, inputs, env files) goes
through ``read_text``: it must be a regular file (not a directory, FIFO or device, which
could block or never end) no larger than its kind's limit, and every mistake is a
one-line ``UsageError``. JSON goes through ``parse_json``, which turns what Python's
parser cannot take (nesting past its recursion limit, integers of more than 4,300
digits) into the same kind of error.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .sizes import format_size

# The largest file of each kind pdee reads. The platform's own limits give the scale:
# an execution's payload (event, logs, exports) is at most 6MB, a variable 64KB.
MAX_STEP_BYTES = 6 * 2**20
MAX_EVENTS_BYTES = 64 * 2**20  # an event file or a schedule: many events
MAX_INPUTS_BYTES = 6 * 2**20
MAX_ENV_FILE_BYTES = 1 * 2**20


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: Path, what: str, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Args:
        path: the file.
        what: how errors name it, e.g. ``"event file"``.
        limit: the most bytes the file may hold.

    Raises:
        UsageError: it does not exist, is not a regular file, is larger than ``limit``
            or cannot be read.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist; check the path") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UsageError(f"{what} {path} is {_kind(mode)}; give a regular file")
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(limit + 1)  # one past the limit tells a file too large
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UsageError(
            f"{what} {path} is larger than pdee reads ({format_size(limit)}); give a smaller file"
        )
    return data


def read_text(path: Path, what: str, limit: int) -> str:
    """The UTF-8 text of the regular file ``path`` (see ``read_bytes``).

    Raises:
        UsageError: as ``read_bytes``, or the file is not UTF-8.
    """
    data = read_bytes(path, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what} {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None


def describe_json_error(exc: json.JSONDecodeError) -> str:
    """Where and what a JSON error is, as a person reads it: ``line 4, column 12: ...``.

    A trailing comma, which ``json`` reports at the next token, is pointed at itself.
    """
    before = exc.doc[: exc.pos].rstrip()
    if before.endswith(",") and exc.msg.startswith(("Expecting property name", "Expecting value")):
        pos = len(before) - 1
        line = exc.doc.count("\n", 0, pos) + 1
        column = pos - (exc.doc.rfind("\n", 0, pos) + 1) + 1
        return f"line {line}, column {column}: a trailing comma; remove it"
    return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"


class JSONLimitError(ValueError):
    """JSON Python's parser cannot take, though it is valid JSON."""


def loads(text: str) -> Any:
    """``json.loads``, but JSON nested past Python's recursion limit or holding an integer
    longer than Python converts raises ``JSONLimitError`` (a ``ValueError``) with the reason.

    Raises:
        json.JSONDecodeError: the text is not JSON.
        JSONLimitError: it is, but Python cannot hold it.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise JSONLimitError(
            "it nests deeper than Python's JSON parser goes (about 1,000 levels)"
        ) from None
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string ..."
        raise JSONLimitError(f"a number in it is too long for Python ({exc})") from None


def parse_json(text: str, where: str) -> Any:
    """The JSON in ``text``; ``where`` names it in errors (``"inputs file x.json"``).

    Raises:
        UsageError: not JSON (at which line and column), or JSON Python cannot hold.
    """
    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where} is not JSON: {describe_json_error(exc)}") from None
    except JSONLimitError as exc:
        raise UsageError(f"{where}: {exc}; simplify it") from None


def dumps_checked(value: Any, where: str) -> str:
    """``value`` as JSON text, refusing what JSON cannot carry (NaN, infinities, sets,
    nesting past Python's recursion limit).

    Raises:
        UsageError: naming ``where`` and the reason.
    """
    try:
        return json.dumps(value, allow_nan=False)
    except RecursionError:
        raise UsageError(f"{where}: it nests too deep for JSON; simplify it") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"{where}: not JSON data ({exc}); give dicts, lists, text, numbers"
        ) from None
