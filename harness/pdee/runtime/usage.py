"""Measuring an EE from inside: its memory as the kernel charges it, and what /tmp holds.

Step memory is what the EE's memory cgroup holds in anonymous and shared memory, less
the pages of files in /tmp and the runtime's own held bodies::

    step memory = anon + shmem - /tmp used - the runtime's bodies

- every process of the EE counts (a child started in its own session too), and a page
  shared by several processes (copy-on-write after ``fork``, ``mmap(-1, ...)``) once;
- /tmp is a tmpfs, whose pages the kernel charges as shared memory: they are taken
  out again, so /tmp never counts as memory, as on the platform where /tmp is disk;
- the request bodies the runtime serves to the step (``blobs``: ``pdee serve``'s
  uploads) wait in in-memory files, shared memory of a size the runtime knows
  (``MemoryMeter.runtime_bytes``): taken out too, as on the platform, where they wait in
  storage, not in the step's memory;
- the page cache of the image's own files (reclaimable) is not counted.

The cgroup's counters are read where the EE's runtime finds them (cgroup v2 or v1);
without them, the processes' own ``RssAnon`` are summed (shared pages then go uncounted).

Peaks: a sampler reads that figure every few milliseconds, and each step process's
own high-water mark (``VmHWM``, reset per execution through ``clear_refs``) catches
what it held between two samples.
"""

from __future__ import annotations

import os

from .protocol import used_bytes

# (memory.stat path, its anonymous-memory key, its shared-memory key), v2 then v1.
CGROUP_MEMORY_STATS = (
    ("/sys/fs/cgroup/memory.stat", "anon", "shmem"),
    ("/sys/fs/cgroup/memory/memory.stat", "total_rss", "total_shmem"),
)


def _field(text: str, key: str, separator: str) -> str | None:
    """The value of the line ``key<separator>value`` in ``text``, or None. Found by
    search, not by splitting every line: it is read for every sample."""
    at = text.find(f"\n{key}{separator}")
    if at < 0:
        if not text.startswith(f"{key}{separator}"):
            return None
        start = len(key) + len(separator)
    else:
        start = at + 1 + len(key) + len(separator)
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end]


def _status_fields(text: str, names: tuple[str, ...]) -> dict[str, int]:
    """Parse the ``kB`` fields ``names`` out of a /proc/<pid>/status text, in bytes."""
    found: dict[str, int] = {}
    for name in names:
        value = _field(text, name, ":")
        if value is not None:
            found[name] = int(value.split()[0]) * 1024
    return found


def process_peak(status_text: str) -> int:
    """What one process held at its peak, from its /proc/<pid>/status text.

    ``VmHWM`` is the peak of its resident memory, files mapped from the image and from
    /tmp included: their share now (``RssFile + RssShmem``) is taken off.
    """
    fields = _status_fields(status_text, ("VmHWM", "RssFile", "RssShmem"))
    mapped = fields.get("RssFile", 0) + fields.get("RssShmem", 0)
    return max(fields.get("VmHWM", 0) - mapped, 0)


def session_of(stat_text: str) -> int:
    """The session id in a /proc/<pid>/stat text (field 6; the name may hold spaces)."""
    after_name = stat_text[stat_text.rindex(")") + 2 :].split()
    return int(after_name[3])


def sessions(proc: str = "/proc") -> dict[int, int]:
    """Every process's session id, by pid."""
    found = {}
    for pid in _pids(proc):
        text = _read(f"{proc}/{pid}/stat")
        if text is not None:
            try:
                found[int(pid)] = session_of(text)
            except (ValueError, IndexError):
                continue
    return found


def parse_memory_stat(text: str, keys: tuple[str, ...]) -> int:
    """The sum of the byte counters ``keys`` in a cgroup's memory.stat text."""
    total = 0
    for key in keys:
        value = _field(text, key, " ")
        if value is not None:
            total += int(value)
    return total


def _pids(proc: str) -> list[str]:
    try:
        return [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return []


def _read(path: str) -> str | None:  # for files read once
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return None


def _pread(fd: int) -> str:
    return os.pread(fd, 1 << 16, 0).decode()


class MemoryMeter:
    """Reads the EE's step memory (see the module's docstring) and /tmp's use.

    It keeps its files open: in an EE, opening a file costs about 100 times as much
    as reading one again (measured: 90 against 1 µs), and it reads them for every
    sample.
    """

    def __init__(self, tmp: str = "/tmp", proc: str = "/proc") -> None:
        self.proc = proc
        self.tmp_fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        # Shared memory that is the runtime's own, not the step's: the bodies it serves.
        self.runtime_bytes = 0
        self.stat: tuple[str, int, tuple[str, str]] | None = None
        for path, anon, shmem in CGROUP_MEMORY_STATS:
            try:
                self.stat = (path, os.open(path, os.O_RDONLY), (anon, shmem))
                break
            except OSError:
                continue

    @property
    def source(self) -> str:
        """Where the figure comes from, for the report."""
        return f"cgroup ({self.stat[0]})" if self.stat else "processes (RssAnon)"

    def tmp_used(self) -> int:
        """Bytes used in /tmp now."""
        return used_bytes(os.fstatvfs(self.tmp_fd))

    def current(self) -> int:
        """Bytes of step memory now."""
        if self.stat is not None:
            _, fd, keys = self.stat
            charged = parse_memory_stat(_pread(fd), keys)
            # /tmp read after the counters: a write in between is not counted twice.
            return max(charged - self.tmp_used() - self.runtime_bytes, 0)
        total = 0
        for pid in _pids(self.proc):
            text = _read(f"{self.proc}/{pid}/status")
            if text is not None:
                total += _status_fields(text, ("RssAnon",)).get("RssAnon", 0)
        return total


class ProcessPeak:
    """One process's high-water mark of memory (``process_peak``), reset at will."""

    def __init__(self, pid: int, proc: str = "/proc") -> None:
        self.status: int | None = None
        self.clear_refs: int | None = None
        try:
            self.status = os.open(f"{proc}/{pid}/status", os.O_RDONLY)
            self.clear_refs = os.open(f"{proc}/{pid}/clear_refs", os.O_WRONLY)
        except OSError:
            pass  # ended already, or not ours: no peak then

    def reset(self) -> None:
        """Start the high-water mark again from what the process holds now."""
        if self.clear_refs is not None:
            try:
                os.write(self.clear_refs, b"5")
            except OSError:
                pass

    def peak(self) -> int:
        """What the process held at most since the last reset; 0 once it ended."""
        if self.status is None:
            return 0
        try:
            return process_peak(_pread(self.status))
        except OSError:
            return 0

    def close(self) -> None:
        for fd in (self.status, self.clear_refs):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.status = self.clear_refs = None


class TmpReading:
    """What /tmp holds: bytes used (as ``df`` counts them) and the files in it. (A plain
    class: dataclasses would add about 10 ms to an EE's start.)"""

    __slots__ = ("files", "platform_files_intact", "size_bytes", "some_files", "used_bytes")

    def __init__(
        self,
        used_bytes: int,
        size_bytes: int,
        files: int,
        platform_files_intact: bool,
        some_files: list[str],  # the first FILES_NAMED of them found, as paths
    ) -> None:
        self.used_bytes, self.size_bytes, self.files = used_bytes, size_bytes, files
        self.platform_files_intact, self.some_files = platform_files_intact, some_files


FILES_NAMED = 10


def tmp_usage(
    tmp: str = "/tmp", platform_files: tuple[str, ...] = (), tmp_fd: int | None = None
) -> TmpReading:
    """Measure ``tmp``: bytes used, capacity, regular files outside ``__pdg__``.

    Every lookup is relative to an open directory, not a path from ``/``: in an EE on a
    FUSE root (Docker's fuse-overlayfs) each absolute path costs a round trip to the FUSE
    daemon, about 60 µs against 1.

    Args:
        tmp: the directory to measure.
        platform_files: paths that the platform put there; ``platform_files_intact``
            says whether they all still exist.
        tmp_fd: ``tmp``, already open as a directory (else it is opened here).
    """
    root = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY) if tmp_fd is None else tmp_fd
    try:
        fs = os.fstatvfs(root)
        files, named = _count_files(tmp, root)
        intact = all(_exists(tmp, root, path) for path in platform_files)
    finally:
        if tmp_fd is None:
            os.close(root)
    return TmpReading(used_bytes(fs), fs.f_blocks * fs.f_frsize, files, intact, sorted(named))


def _count_files(tmp: str, root: int) -> tuple[int, list[str]]:
    """The files under ``tmp`` (open as ``root``) outside ``__pdg__``, and the first
    ``FILES_NAMED`` of them found, as paths."""
    files = 0
    named: list[str] = []
    pending = [""]  # directories to read, relative to tmp
    while pending:
        relative = pending.pop()
        try:
            if relative:
                fd = os.open(relative, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root)
                try:
                    entries = list(os.scandir(fd))
                finally:
                    os.close(fd)
            else:
                entries = list(os.scandir(root))
        except OSError:
            continue
        for entry in entries:
            name = f"{relative}/{entry.name}" if relative else entry.name
            if name == "__pdg__":
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(name)
                else:
                    files += 1
                    if len(named) < FILES_NAMED:
                        named.append(f"{tmp}/{name}")
            except OSError:
                continue
    return files, named


def _exists(tmp: str, root: int, path: str) -> bool:
    """Whether ``path`` exists, looked up from ``root`` (``tmp``) if it lies under it."""
    prefix = tmp.rstrip("/") + "/"
    if not path.startswith(prefix):
        return os.path.exists(path)
    try:
        os.stat(path[len(prefix) :], dir_fd=root)
    except OSError:
        return False
    return True
