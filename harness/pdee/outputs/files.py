"""Output files (``--report``, ``--junit``, ``check --json``), claimed before a run.

A run can take minutes; an output that cannot be written must be known before the first
EE starts, not after the last. ``OutputFile.claim`` proves the file can be written: it
creates it (empty) or opens the existing one for writing, on a filesystem with room.
If the run is then refused or cut short before the file is written, ``abandon`` removes
what pdee created.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError


def _is_own_stream(mode: os.stat_result) -> bool:
    """Whether ``mode`` is /dev/null or pdee's own stdout or stderr (``--report
    /dev/stdout`` pipes the report on)."""
    candidates = [os.stat(os.devnull)]
    for fd in (1, 2):
        try:
            candidates.append(os.fstat(fd))
        except OSError:
            pass
    return any((c.st_dev, c.st_ino) == (mode.st_dev, mode.st_ino) for c in candidates)


@dataclass
class OutputFile:
    """An output file a run promised to write."""

    path: Path
    what: str  # how errors name it: "report", "JUnit file"
    created: bool = False  # pdee created it empty, to prove it could

    @classmethod
    def claim(cls, path: Path, what: str, example: str) -> OutputFile:
        """Prove ``path`` can be written, creating it empty if it does not exist.

        Args:
            path: the file.
            what: how errors name it.
            example: a file name the error suggests, e.g. ``report.json``.

        Raises:
            UsageError: a directory, a device other than /dev/null or pdee's own
                stdout/stderr, a missing directory, no permission, a read-only or full
                filesystem.
        """
        try:
            existing = os.stat(path)
        except FileNotFoundError:
            existing = None
        except OSError as exc:
            raise UsageError(f"cannot write {what} {path}: {exc.strerror}") from None
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise UsageError(f"{what} {path} is a directory; give a file name like {example}")
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            if _is_own_stream(existing):
                return cls(path, what)
            raise UsageError(
                f"{what} {path} is not a regular file; give a file name like {example}"
            )
        if existing is None and not path.parent.exists():
            raise UsageError(f"{what} {path}: directory {path.parent} does not exist")
        flags = os.O_WRONLY | (os.O_APPEND if existing else os.O_CREAT | os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise UsageError(
                f"cannot write {what} {path}: {exc.strerror}; check the path"
            ) from None
        output = cls(path, what, created=existing is None)
        try:
            room = os.fstatvfs(fd)
        finally:
            os.close(fd)
        if room.f_bavail == 0:
            output.abandon()
            raise UsageError(f"cannot write {what} {path}: its filesystem is full")
        return output

    def abandon(self) -> None:
        """Remove the file if pdee created it and nothing was written to it."""
        if not self.created:
            return
        try:
            if self.path.stat().st_size == 0:
                self.path.unlink()
        except OSError:
            pass
        self.created = False
