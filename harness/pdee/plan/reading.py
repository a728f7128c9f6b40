"""Reading what a user hands pdee: files of bounded size, JSON within bounds.

Every file pdee reads from a user (steps, events, schedules, inputs, env files) goes
through ``read_text``: it must be a regular file (not a directory, FIFO or device, which
could block or never end) no larger than its kind's limit, and every mistake is a
one-line ``UsageError``. All JSON a user gives (``--event``, event files, schedules,
``--inputs``, ``--step-result``, ``--resume-data``, data store records) goes through
``loads`` (or ``parse_json``, which names where it came from): it refuses ``NaN`` and
``Infinity``, which are not JSON, nesting past ``MAX_DEPTH`` (what pdee carries to the
EE and back; Python's parser itself stops near 1,000 levels) and integers of more than
4,300 digits. Data a Python caller gives goes through ``dumps_checked``, to the same
rules.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..runtime.protocol import MAX_DEPTH, nesting_over
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


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as a one-line message shows it: as it is, unless it holds control
    characters (then escaped) or is too long to read (then cut)."""
    text = os.fspath(path)
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= 200 else f"{text[:120]}...{text[-40:]}"


def probe(path: Path, what: str) -> os.stat_result | None:
    """``path``'s status (links followed), or None when there is nothing there.

    Raises:
        UsageError: it cannot be a path (a NUL character, a name too long) or cannot be
            looked at (no permission).
    """
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError:  # "embedded null byte"
        raise UsageError(
            f"{what} {shown_path(path)} holds a NUL character; check the path"
        ) from None
    except OSError as exc:
        raise UsageError(f"{what} {shown_path(path)}: {exc.strerror}; check the path") from None


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
    shown = shown_path(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UsageError(f"{what} {shown} does not exist; check the path") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {shown}: {exc.strerror}") from None
    except ValueError:  # "embedded null byte"
        raise UsageError(f"{what} {shown} holds a NUL character; check the path") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UsageError(f"{what} {shown} is {_kind(mode)}; give a regular file")
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(limit + 1)  # one past the limit tells a file too large
    except OSError as exc:
        raise UsageError(f"cannot read {what} {shown}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UsageError(
            f"{what} {shown} is larger than pdee reads ({format_size(limit)}); give a smaller file"
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
            f"{what} {shown_path(path)} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
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
    """JSON pdee does not take, though it is valid JSON: nested too deep, or a number
    too long for Python."""


class _NotJSON(ValueError):
    """A constant Python's parser takes but JSON does not have (NaN, Infinity)."""


def _refuse_constant(name: str) -> Any:
    raise _NotJSON(name)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*\\?(?:"|\Z)', re.DOTALL)


def _constant_error(text: str, name: str) -> json.JSONDecodeError:
    """A ``JSONDecodeError`` at the first ``name`` outside a string: where it is."""
    blanked = _STRING.sub(lambda m: " " * len(m.group()), text)
    found = re.search(re.escape(name), blanked)
    return json.JSONDecodeError(
        f"{name}, which JSON does not have; write null or a number",
        text,
        found.start() if found else 0,
    )


def loads(text: str) -> Any:
    """``json.loads``, within pdee's bounds: ``NaN`` and ``Infinity`` are not JSON; JSON
    nested past ``MAX_DEPTH`` or holding an integer longer than Python converts raises
    ``JSONLimitError`` (a ``ValueError``) with the reason. Never ``RecursionError``.

    Raises:
        json.JSONDecodeError: the text is not JSON (a ``NaN`` is, at its place).
        JSONLimitError: it is, but pdee does not take it.
    """
    deepest = nesting_over(text, MAX_DEPTH)
    if not deepest:
        try:
            return _DECODER.decode(text)
        except json.JSONDecodeError:
            raise
        except _NotJSON as exc:
            raise _constant_error(text, str(exc)) from None
        except RecursionError:  # only when the caller's own stack is all but full
            deepest = MAX_DEPTH
        except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string"
            raise JSONLimitError(f"a number in it is too long for Python ({exc})") from None
    raise JSONLimitError(
        f"it nests deeper than the {MAX_DEPTH} levels pdee reads ({deepest:,} levels of "
        f"arrays and objects in one another)"
    )


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
    a dict holding itself) and nesting past ``MAX_DEPTH``, as ``loads`` does.

    Raises:
        UsageError: naming ``where`` and the reason.
    """
    try:
        text = json.dumps(value, allow_nan=False)
    except RecursionError:
        text = None
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"{where}: not JSON data ({exc}); give dicts, lists, text, numbers"
        ) from None
    if text is None or nesting_over(text, MAX_DEPTH):
        raise UsageError(
            f"{where}: it nests too deep (pdee carries JSON data at most {MAX_DEPTH} levels "
            f"deep); simplify it"
        )
    return text
