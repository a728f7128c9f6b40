"""Output files (``--report``, ``--junit``, ``check --json``, ``serve --record``): checked
against what the command reads, claimed before a run, and written whole or not at all.

- ``refuse_clashes``: no output may be a file the command reads
  (``pdee.plan.input_files``) or another output. Two paths are one file when they
  reach the same device and inode (through symlinks and hard links), or, for a file
  that does not exist yet, the same absolute path with every symlink resolved.
- ``OutputFile.claim``: a run can take minutes; an output that cannot be written must
  be known before the first EE starts, not after the last. Claiming creates the file
  (empty) or opens the existing one for writing, on a filesystem with room, in a folder
  where pdee can add the new file that will replace it. If the run is then refused or
  cut short before the file is written, ``abandon`` removes what pdee created.
- ``write_whole``: the text goes to a new file beside the target, flushed to disk, then
  renamed over it, so the target holds its previous content or the whole new one, never
  an empty or partial file (a file that cannot be renamed over, such as one mounted on
  its own by ``docker run -v``, gets the whole new text copied over it once it is made).
  A symlink stays a symlink (its target is replaced);
  ``/dev/stdout``, ``/dev/null`` and other streams are written in place, once the whole
  text is known to encode.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import PdeeError, UsageError
from ..plan.input_files import InputFile

TEMPORARY_SUFFIX = ".pdee-tmp"  # a new file's name while it is written: .NAME.XXXXXXXX.pdee-tmp
# What renaming over a file it cannot replace gives (a file mounted on its own, another
# user's file in a sticky folder): the whole new text is then copied over it instead.
NO_RENAME_ERRNOS = {errno.EBUSY, errno.EXDEV, errno.EPERM, errno.EACCES}


def _own_stream(mode: os.stat_result) -> int | None:
    """The descriptor (1, 2) of pdee's stdout or stderr that ``mode`` is, -1 for
    /dev/null, else None (``--report /dev/stdout`` pipes the report on)."""
    for fd in (1, 2):
        try:
            found = os.fstat(fd)
        except OSError:
            continue
        if (found.st_dev, found.st_ino) == (mode.st_dev, mode.st_ino):
            return fd
    null = os.stat(os.devnull)
    return -1 if (null.st_dev, null.st_ino) == (mode.st_dev, mode.st_ino) else None


def _is_own_stream(mode: os.stat_result) -> bool:
    """Whether ``mode`` is /dev/null or pdee's own stdout or stderr."""
    return _own_stream(mode) is not None


def _stat(path: Path) -> os.stat_result | None:
    """``path``'s status through symlinks, or None where nothing (readable) is there."""
    try:
        return os.stat(path)
    except (OSError, ValueError):  # missing, a loop, a NUL in the name
        return None


def _is_stream(found: os.stat_result | None) -> bool:
    """An existing output that is no regular file, or is pdee's own stdout or stderr."""
    return found is not None and (not stat.S_ISREG(found.st_mode) or _is_own_stream(found))


def identity(path: Path) -> Hashable:
    """What two paths share when they are one file: its device and inode where it exists
    (through symlinks and hard links), else its absolute path with symlinks resolved."""
    found = _stat(path)
    if found is not None:
        return ("file", found.st_dev, found.st_ino)
    try:
        return ("path", os.path.realpath(path))
    except (OSError, ValueError):
        return ("path", os.path.abspath(path))


def refuse_clashes(outputs: Sequence[tuple[str, Path]], inputs: Sequence[InputFile]) -> None:
    """Refuse an output that is one of the files the command reads, or another output.

    ``/dev/stdout``, ``/dev/null`` and other streams are never a clash.

    Args:
        outputs: each output asked for: its option (``--report``) and path.
        inputs: the files the command reads (``pdee.plan.input_files.input_files``).

    Raises:
        UsageError: the first clash, naming both options.
    """
    read: dict[Hashable, InputFile] = {}
    for given in inputs:
        read.setdefault(identity(given.path), given)
    written: dict[Hashable, str] = {}
    for option, path in outputs:
        if _is_stream(_stat(path)):
            continue
        key = identity(path)
        if key in read:
            raise UsageError(
                f"{option} {path} is {read[key].named}: pdee would overwrite its input; "
                f"give another path"
            )
        if key in written:
            raise UsageError(
                f"{option} {path} is {written[key]} too: one would overwrite the other; "
                f"give each its own path"
            )
        written[key] = f"{option} {path}"


def _beside(target: Path) -> tuple[int, Path]:
    """A new empty file in ``target``'s folder, hidden and named after it so that a
    leftover says whose it is (mode 0644 less the umask), open for writing.

    Raises:
        OSError: the folder does not let pdee add a file.
    """
    stem = target.name[:200]  # room for the suffix within a file name's 255 bytes
    for _ in range(100):
        candidate = target.with_name(f".{stem}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            continue
        return fd, candidate
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(target.parent))


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


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
                stdout/stderr, a missing directory, no permission (on the file, or on
                its folder, where its replacement is written), a read-only or full
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
        if existing is not None and not _is_own_stream(existing):
            target = Path(os.path.realpath(path))
            try:
                fd, probe = _beside(target)
            except OSError as exc:
                raise UsageError(
                    f"cannot write {what} {path}: its folder {target.parent} does not let pdee "
                    f"add the file that replaces it ({exc.strerror}); give a path in a "
                    f"writable folder"
                ) from None
            os.close(fd)
            _remove(probe)
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


def _why(exc: OSError) -> str:
    """An OS error's reason, in one line."""
    if exc.strerror:
        return exc.strerror
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _reason(exc: ValueError | RecursionError) -> str:
    """Why a text could not be made or encoded, in one line."""
    if isinstance(exc, RecursionError):
        return "a value in it is nested too deep to write"
    if isinstance(exc, UnicodeEncodeError):
        bad = exc.object[exc.start : exc.end]
        return f"a text in it holds {bad!r}, which UTF-8 cannot carry"
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"a value in it cannot be written ({first})"


def write_whole(path: Path, what: str, chunks: Iterable[str]) -> None:
    """Write the text ``chunks`` make to ``path``, whole or not at all.

    A regular file (or a new one) is replaced by a new file written beside it, flushed
    to disk and renamed over it; on any failure the target keeps its previous content
    (or, if pdee created it empty, nothing is written to it). A symlink stays one: its
    target is replaced, with the old file's permissions. Streams (``/dev/stdout``,
    ``/dev/null``) are written in place once the whole text is made and encoded.

    Args:
        path: the file.
        what: how errors name it ("report", "JUnit file").
        chunks: the text, in pieces, made as they are written (a failure to make one
            is a failure of the write).

    Raises:
        UsageError: the file cannot be written (no permission, no room).
        PdeeError: the text cannot be made or encoded (a value JSON or UTF-8 cannot
            carry, nesting too deep).
    """
    found = _stat(path)
    if _is_stream(found):
        _write_stream(path, found, what, chunks)
        return
    kept = (
        "its previous content is kept"
        if found is not None and found.st_size
        else "nothing was written"
    )
    target = Path(os.path.realpath(path))
    try:
        fd, temporary = _beside(target)
    except OSError as exc:
        raise UsageError(f"cannot write {what} {path}: {_why(exc)}; {kept}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            if found is not None:
                os.fchmod(out.fileno(), stat.S_IMODE(found.st_mode))
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.replace(temporary, target)
        except OSError as exc:
            if exc.errno not in NO_RENAME_ERRNOS or found is None:
                raise
            _copy_in_place(temporary, target, f"{what} {path}")
    except OSError as exc:
        raise UsageError(f"cannot write {what} {path}: {_why(exc)}; {kept}") from exc
    except (ValueError, RecursionError) as exc:
        raise PdeeError(f"cannot write {what} {path}: {_reason(exc)}; {kept}") from exc
    finally:
        _remove(temporary)  # gone already once renamed
    _sync_folder(target.parent)


def _copy_in_place(whole: Path, target: Path, named: str) -> None:
    """Copy the whole new text over ``target``'s content, for a file that cannot be
    renamed over (a file mounted on its own, as ``docker run -v`` does; another user's
    file in a sticky folder).

    Raises:
        UsageError: the copy failed part-way.
    """
    try:
        with whole.open("rb") as source, target.open("r+b") as out:
            shutil.copyfileobj(source, out)
            out.truncate()
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise UsageError(
            f"cannot write {named}: {_why(exc)}, while copying it over the file, which "
            f"cannot be replaced; it may be incomplete"
        ) from exc


def _sync_folder(folder: Path) -> None:
    """Flush the rename to disk (where the platform lets a folder be synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_stream(
    path: Path, found: os.stat_result | None, what: str, chunks: Iterable[str]
) -> None:
    """Make the whole text in a scratch file, then copy it to the stream ``path``: a
    text that cannot be made leaves the stream untouched. pdee's own stdout and stderr
    are written through their descriptors, after what pdee printed to them."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as staged:
        try:
            for chunk in chunks:
                staged.write(chunk)
        except OSError as exc:
            raise UsageError(
                f"cannot write {what} {path}: making it in {tempfile.gettempdir()} failed "
                f"({_why(exc)}); nothing was written"
            ) from exc
        except (ValueError, RecursionError) as exc:
            raise PdeeError(
                f"cannot write {what} {path}: {_reason(exc)}; nothing was written"
            ) from exc
        staged.seek(0)
        fd = _own_stream(found) if found is not None else None
        try:
            if fd is not None and fd > 0:
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
                with open(fd, "w", encoding="utf-8", closefd=False) as out:
                    shutil.copyfileobj(staged, out)
            else:
                with open(path, "a", encoding="utf-8") as out:
                    shutil.copyfileobj(staged, out)
        except OSError as exc:
            raise UsageError(f"cannot write {what} {path}: {_why(exc)}") from exc
