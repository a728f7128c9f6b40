"""A run's executions on disk: ``ExecutionLog``, the sequence ``RunResult.executions``.

Each record waits in a temporary file (logs included), with only its ``Brief`` in memory,
so that a run of 100,000 executions, or of megabytes of logs each, takes no more of
pdee's memory than a short one. The report streams the records from there
(``json_lines``).
"""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, overload

from ..plan.sizes import plural

if TYPE_CHECKING:  # the records hold a log (``RunResult``): a log imports none of them
    from .records import Brief, Execution

# What json.dumps(..., separators=(",", ":")) makes, without a new encoder each time.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


class ExecutionLog(Sequence["Execution"]):
    """A run's executions in event order (by index), their records on disk.

    Appending writes the record to an unnamed temporary file (gone when the log is);
    reading one back reads it from there, with the class of the records appended
    (``Execution.from_json``). ``briefs`` and ``notes`` are in memory.
    """

    def __init__(self, executions: Iterable[Execution] = ()) -> None:
        self._file: IO[bytes] | None = None
        self._load: Callable[[dict[str, Any]], Execution] | None = None
        self._end = 0  # the file's length
        self._where: dict[int, tuple[int, int]] = {}  # index: (offset, length)
        self._briefs: dict[int, Brief] = {}
        self._order: list[int] | None = []  # the indices in order; None: to sort again
        self.notes: set[str] = set()
        for execution in executions:
            self.append(execution)

    def __repr__(self) -> str:
        return f"<ExecutionLog of {plural(len(self), 'execution')}>"

    def append(self, execution: Execution) -> None:
        """Keep ``execution`` (its record to disk, its brief in memory)."""
        if self._file is None:
            # It lives as long as the log (closed when the log is collected, or by close()).
            # Unbuffered: each record is one write at the end, each read one pread, and
            # the file's position never moves from the end.
            self._file = tempfile.TemporaryFile(prefix="pdee-executions-", buffering=0)  # noqa: SIM115
            weakref.finalize(self, self._file.close)
            self._load = type(execution).from_json
        line = _COMPACT.encode(execution.to_json()).encode() + b"\n"
        if self._file.write(line) != len(line):  # a regular file takes it whole, or fails
            raise OSError(f"could not keep execution {execution.index}'s record (disk full?)")
        self._where[execution.index] = (self._end, len(line))
        self._end += len(line)
        self._briefs[execution.index] = execution.brief
        self.notes.update(execution.notes)
        self._order = None

    def _indices(self) -> list[int]:
        if self._order is None:
            self._order = sorted(self._where)
        return self._order

    def _raw(self, index: int) -> bytes:
        offset, length = self._where[index]
        assert self._file is not None
        return os.pread(self._file.fileno(), length, offset)

    def by_index(self, index: int) -> Execution:
        """The execution of event ``index``.

        Raises:
            KeyError: no such execution (yet).
        """
        raw = self._raw(index)
        assert self._load is not None  # set with the first record
        return self._load(json.loads(raw))

    def json_lines(self) -> Iterator[bytes]:
        """Each record's report form as a line of JSON, in order, straight from disk."""
        for index in self._indices():
            yield self._raw(index)

    def briefs(self) -> list[Brief]:
        """Every execution's brief, in order."""
        return [self._briefs[index] for index in self._indices()]

    def __len__(self) -> int:
        return len(self._where)

    @overload
    def __getitem__(self, position: int) -> Execution: ...

    @overload
    def __getitem__(self, position: slice) -> list[Execution]: ...

    def __getitem__(self, position: int | slice) -> Execution | list[Execution]:
        indices = self._indices()
        if isinstance(position, slice):
            return [self.by_index(index) for index in indices[position]]
        return self.by_index(indices[position])

    def __iter__(self) -> Iterator[Execution]:
        for index in list(self._indices()):
            yield self.by_index(index)

    def close(self) -> None:
        """Let go of the file (the records go with it)."""
        if self._file is not None:
            self._file.close()
