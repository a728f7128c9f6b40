"""Environment variables for the steps: ``--env KEY=VALUE`` and ``--env-file PATH``.

The platform's rules: a name starts with a letter or ``_`` and holds letters, digits
and ``_``; names starting with ``PIPEDREAM_`` are the platform's own; a value holds at
most 64KB. Values are secrets there: pdee shows and reports only the names.

Env files are dotenv files, read with python-dotenv (the format most tools share:
``KEY=VALUE``, ``export KEY=...``, quotes, ``#`` comments, ``${VAR}`` expansion).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import UsageError
from .reading import MAX_ENV_FILE_BYTES, read_text

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
RESERVED_PREFIX = "PIPEDREAM_"
MAX_VALUE_BYTES = 64 * 1024


def check(name: str, value: str, where: str) -> None:
    """Raises UsageError unless ``name=value`` keeps the platform's rules."""
    if not NAME.match(name):
        raise UsageError(
            f"{where}: {name!r} is not a valid variable name; start with a letter or _ "
            f"and use letters, digits and _"
        )
    if name.upper().startswith(RESERVED_PREFIX):
        raise UsageError(f"{where}: {name} starts with {RESERVED_PREFIX}, which the platform keeps")
    if "\0" in value:
        raise UsageError(
            f"{where}: the value of {name} holds a NUL character, which no variable can"
        )
    try:
        size = len(value.encode())
    except UnicodeEncodeError:  # from a command line in another encoding than UTF-8
        raise UsageError(f"{where}: the value of {name} is not UTF-8 text") from None
    if size > MAX_VALUE_BYTES:
        raise UsageError(f"{where}: the value of {name} is over the platform's 64KB")


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of a dotenv file, checked.

    Raises:
        UsageError: unreadable, a line that is not ``KEY=VALUE``, or a rule broken.
    """
    from dotenv import dotenv_values  # python-dotenv: imported for an env file only
    from dotenv.parser import parse_stream

    text = read_text(path, "env file", MAX_ENV_FILE_BYTES)
    for binding in parse_stream(io.StringIO(text)):
        where = f"env file {path}, line {binding.original.line}"
        if binding.error:
            raise UsageError(f"{where}: {binding.original.string.strip()!r} is not KEY=VALUE")
        if binding.key is not None and binding.value is None:
            raise UsageError(f"{where}: {binding.key} has no value; write {binding.key}=VALUE")
    values = dotenv_values(stream=io.StringIO(text))
    env = {}
    for name, value in values.items():
        assert value is not None  # checked above
        check(name, value, f"env file {path}")
        env[name] = value
    return env


def build_env(
    pairs: Sequence[str] | Mapping[str, str] | None, env_file: Path | None
) -> dict[str, str]:
    """The steps' variables: those of ``env_file``, then ``pairs`` (which win).

    Args:
        pairs: ``KEY=VALUE`` texts (``--env``, repeatable), or a mapping.
        env_file: a dotenv file.

    Raises:
        UsageError: a pair without ``=``, a bad file, or a rule broken.
    """
    env = read_env_file(env_file) if env_file is not None else {}
    if isinstance(pairs, Mapping):
        items = [(str(name), value) for name, value in pairs.items()]
    else:
        items = []
        for pair in pairs or ():
            name, sep, value = str(pair).partition("=")
            if not sep:
                # not echoed: it may be a secret pasted without its name
                raise UsageError("--env: an item has no '='; write each as KEY=VALUE")
            items.append((name, value))
    for name, value in items:
        if not isinstance(value, str):
            raise UsageError(f"--env {name}: the value must be text, not {type(value).__name__}")
        check(name, value, f"--env {name}")
        env[name] = value
    return env
