"""Measuring an EE from inside: step memory from /proc, and what /tmp holds.

Step memory is the resident memory of a step's processes *less* their shared memory
(``RssAnon + RssFile``): pages of files in /tmp live in tmpfs, which the kernel
accounts as shared memory, so a step that writes or maps big files in /tmp is not
charged for them, as on the platform where /tmp is disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _status_fields(text: str, names: tuple[str, ...]) -> dict[str, int]:
    """Parse the ``kB`` fields ``names`` out of a /proc/<pid>/status text, in bytes."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in names:
            found[key] = int(rest.split()[0]) * 1024
    return found


def process_memory(status_text: str) -> int:
    """Bytes of step memory of one process, from its /proc/<pid>/status text."""
    fields = _status_fields(status_text, ("RssAnon", "RssFile"))
    return fields.get("RssAnon", 0) + fields.get("RssFile", 0)


def session_of(stat_text: str) -> int:
    """The session id in a /proc/<pid>/stat text (field 6; the name may hold spaces)."""
    after_name = stat_text[stat_text.rindex(")") + 2 :].split()
    return int(after_name[3])


def session_memory(session: int, proc: str = "/proc") -> int:
    """Bytes of step memory of every process in ``session``.

    A step runs as the leader of its own session, so the processes it starts (say,
    an ffmpeg it downloaded to /tmp) are charged to it too.
    """
    total = 0
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat") as stat:
                if session_of(stat.read()) != session:
                    continue
            with open(f"{proc}/{name}/status") as status:
                total += process_memory(status.read())
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return total


@dataclass(frozen=True)
class TmpUsage:
    """What /tmp holds: bytes used (as ``df`` counts them) and the files in it."""

    used_bytes: int
    size_bytes: int
    files: int
    platform_files_intact: bool


def tmp_usage(tmp: str = "/tmp", platform_files: tuple[str, ...] = ()) -> TmpUsage:
    """Measure ``tmp``: bytes used, capacity, regular files outside ``__pdg__``.

    Args:
        tmp: the directory to measure.
        platform_files: paths that the platform put there; ``platform_files_intact``
            says whether they all still exist.
    """
    fs = os.statvfs(tmp)
    used = (fs.f_blocks - fs.f_bfree) * fs.f_frsize
    files = 0
    pending = [tmp]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.path == os.path.join(tmp, "__pdg__"):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    files += 1
            except OSError:
                continue
    intact = all(os.path.exists(path) for path in platform_files)
    return TmpUsage(used, fs.f_blocks * fs.f_frsize, files, intact)
