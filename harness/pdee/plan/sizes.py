"""Sizes as people write them on the command line: ``512MB``, ``2GB``, ``1.5g``.

Units are binary, as the platform's (Lambda's) and Docker's are: 1MB = 1MiB =
1,048,576 bytes, so ``2GB`` is tmpfs's ``size=2g``.
"""

from __future__ import annotations

import re

from ..errors import UsageError

_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kb": 2**10,
    "kib": 2**10,
    "m": 2**20,
    "mb": 2**20,
    "mib": 2**20,
    "g": 2**30,
    "gb": 2**30,
    "gib": 2**30,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str, option: str = "size") -> int:
    """Bytes in ``text``.

    Args:
        text: a number with an optional unit (B, KB, MB, GB; K, M, G; KiB, MiB, GiB).
        option: the option's name, for the error message.

    Raises:
        UsageError: ``text`` is not a size, or is zero.
    """
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise UsageError(f"{option}: {text!r} is not a size; write it like 512MB or 2GB")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise UsageError(f"{option}: {text!r} is zero; give a size like 512MB or 2GB")
    return size


def format_size(size: int) -> str:
    """A short human form of ``size`` bytes, in the same binary units."""
    for unit, factor in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return f"{size}B"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and ``noun``, in the plural unless it is 1: ``1 execution``,
    ``2 executions``, ``0 executions`` (``nouns``: a plural that is not ``noun + "s"``;
    a phrase's last word takes the ``s``: ``3 more failed executions``)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
