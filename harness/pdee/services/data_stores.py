"""The platform's data stores, kept on the host in SQLite.

A step reaches a store as ``pd.inputs["<prop>"]``, a ``Store`` (``runtime/store.py``)
whose every call travels over the EE's existing channel (the worker's pipe, the
supervisor, the attached stdio) to the run on the host, which answers it here. Nothing
is mounted into the EE and no port is opened.

One SQLite file per store (or an in-memory database for a store that lives for the run
only), in WAL mode; each operation is one statement, committed at once, so that a
``kill -9`` of pdee keeps every write it acknowledged and two pdee runs may share a
file. Operations are atomic one by one and nothing more: a read, then a write, from two
executions at once may lose an update, as on the platform ("not atomic or
transactional").

Expiry is a column compared with the caller's clock: the execution's virtual time (as a
Unix time), so that a TTL of 12 hours over hourly events expires after 12 events with
no real wait.
"""

from __future__ import annotations

import json
import math
import sqlite3
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..plan.reading import (
    MAX_EVENTS_BYTES,
    JSONLimitError,
    describe_json_error,
    loads,
    probe,
    shown_path,
)
from ..plan.steps import read_json_file
from ..runtime.protocol import MAX_DEPTH, nesting_over
from ..runtime.store import key_problem, ttl_problem

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000  # another pdee run writing the same file
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,        -- JSON
    expires_at REAL             -- Unix time on the virtual clock; NULL: never
) WITHOUT ROWID
"""


class StoreFileError(UsageError):
    """A data store's file failed under pdee: damaged (a page overwritten, a record that
    is not JSON), full, or locked too long. Before a run, a usage error; during one,
    the error of the step's call that met it."""


@dataclass(frozen=True)
class Record:
    """One record of a store: its value and when it expires (Unix time, or None)."""

    key: str
    value: Any
    expires_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "expires_at": self.expires_at}


def _reason(exc: BaseException | str) -> str:
    """An error's text on one short line (SQLite's may quote a whole damaged value)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _open(path: Path | None, name: str) -> sqlite3.Connection:
    """A connection to the store's database, made ready (schema, WAL) and, for a file,
    checked whole: its pages (SQLite's ``quick_check``) and every record.

    Raises:
        UsageError: the file cannot be opened or is not a pdee data store.
        StoreFileError: it is one, damaged.
    """
    where = f"data store {name!r}" + (f" ({shown_path(path)})" if path is not None else "")
    if path is not None:
        status = probe(path, f"data store {name!r}")
        if status is not None and not stat.S_ISREG(status.st_mode):
            raise UsageError(
                f"{where}: {shown_path(path)} is not a file; give a file path like .pdee/{name}.db"
            )
        folder = probe(path.parent, f"data store {name!r}'s directory")
        if folder is None or not stat.S_ISDIR(folder.st_mode):
            raise UsageError(
                f"{where}: directory {shown_path(path.parent)} does not exist; create it first"
            )
    try:
        connection = sqlite3.connect(
            ":memory:" if path is None else str(path),
            isolation_level=None,  # autocommit: every statement is its own transaction
            check_same_thread=False,  # lanes answer calls on their threads, under a lock
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except sqlite3.Error as exc:
        raise UsageError(f"{where} cannot be opened: {_reason(exc)}; check the path") from None
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if tables and "records" not in tables:
            raise UsageError(f"{where} is an SQLite database but not a pdee data store")
        if version > SCHEMA_VERSION:
            raise UsageError(
                f"{where} was written by a newer pdee (schema {version}); upgrade pdee"
            )
        if path is not None:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")  # WAL: durable past a kill -9
        connection.execute(_SCHEMA)
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        if path is not None and tables:
            _check_file(connection, where)
    except sqlite3.Error as exc:
        connection.close()
        raise UsageError(f"{where} cannot be used: {_reason(exc)}") from None
    except UsageError:
        connection.close()
        raise
    return connection


def _check_file(connection: sqlite3.Connection, where: str) -> None:
    """Refuse a store whose pages or records are damaged: found now, it is one line
    before any EE starts, not a failure in the middle of a run.

    Raises:
        StoreFileError: the first damage found.
        sqlite3.Error: the file cannot be read at all.
    """
    verdict = connection.execute("PRAGMA quick_check(1)").fetchone()[0]
    if verdict != "ok":
        raise StoreFileError(
            f"{where} is damaged ({_reason(verdict)}); restore it from a copy, or delete it"
        )
    for key, value, expires_at in connection.execute("SELECT key, value, expires_at FROM records"):
        problem = _record_problem(key, value, expires_at)
        if problem is not None:
            raise StoreFileError(
                f"{where} is damaged: {problem}; it was changed outside pdee: delete the "
                f"record or the file"
            )


def _record_problem(key: Any, value: Any, expires_at: Any) -> str | None:
    """What is wrong with a record read from a file (None: nothing)."""
    if not isinstance(key, str):
        return f"a record's key is {type(key).__name__}, not text"
    shown = key if len(key) <= 60 else key[:57] + "..."
    if not isinstance(value, str):
        return f"the value of key {shown!r} is {type(value).__name__}, not JSON text"
    try:
        loads(value)
    except json.JSONDecodeError as exc:
        return f"the value of key {shown!r} is not JSON ({_reason(describe_json_error(exc))})"
    except JSONLimitError as exc:
        return f"the value of key {shown!r}: {_reason(exc)}"
    if expires_at is not None and (
        isinstance(expires_at, bool)
        or not isinstance(expires_at, (int, float))
        or not math.isfinite(expires_at)
    ):
        return f"key {shown!r} expires at {expires_at!r:.40}, not a time"
    return None


class DataStore:
    """One data store: its records in SQLite, read and written on the virtual clock.

    Safe to call from several threads (one lock around the connection).
    """

    def __init__(self, name: str, path: Path | None = None) -> None:
        """Open (creating if needed) the store ``name`` kept in ``path`` (None: in memory).

        Raises:
            UsageError: the file cannot be opened or is not a pdee data store.
            StoreFileError: it is one, damaged.
        """
        self.name = name
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = _open(path, name)

    def __repr__(self) -> str:
        return f"<DataStore {self.name!r} {self.path or 'in memory'}>"

    def __enter__(self) -> DataStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the database (safe to call again)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _execute(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        """One statement: its rows, and how many rows it changed.

        Raises:
            StoreFileError: SQLite failed (a damaged page, a full disk, a lock held too long).
        """
        with self._lock:
            if self._db is None:
                raise RuntimeError(f"data store {self.name!r} is closed")
            try:
                cursor = self._db.execute(sql, args)
                return cursor.fetchall(), cursor.rowcount
            except sqlite3.Error as exc:
                raise self._failed(_reason(exc)) from None

    def _failed(self, why: str) -> StoreFileError:
        where = f" ({shown_path(self.path)})" if self.path is not None else ""
        return StoreFileError(f"data store {self.name!r}{where}: {why}")

    def _value(self, key: str, text: Any) -> Any:
        """A stored value, read back.

        Raises:
            StoreFileError: it is not JSON (the file was changed outside pdee meanwhile).
        """
        problem = _record_problem(key, text, None)
        if problem is not None:
            raise self._failed(f"{problem}; it was changed outside pdee")
        return loads(text)

    # -- the operations a step's Store makes; ``now`` is the caller's Unix time --------

    def get(self, key: str, now: float) -> tuple[bool, Any]:
        """Whether ``key`` holds a live record, and its value."""
        rows, _ = self._execute(
            "SELECT value FROM records WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (key, now),
        )
        return (True, self._value(key, rows[0][0])) if rows else (False, None)

    def set(self, key: str, value: Any, now: float, ttl_s: float | None = None) -> None:
        """Set ``key`` to ``value`` (JSON data), expiring ``ttl_s`` seconds after ``now``.

        Raises:
            ValueError: ``value`` is not JSON data nested at most ``MAX_DEPTH`` levels.
            StoreFileError: SQLite failed.
        """
        text = json.dumps(value, allow_nan=False)
        if nesting_over(text, MAX_DEPTH):
            raise ValueError(f"the value nests deeper than the {MAX_DEPTH} levels pdee carries")
        self._set_text(key, text, now, ttl_s)

    def _set_text(self, key: str, text: str, now: float, ttl_s: float | None) -> None:
        expires = None if ttl_s is None else now + ttl_s
        self._execute(
            "INSERT INTO records (key, value, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at",
            (key, text, expires),
        )

    def set_ttl(self, key: str, now: float, ttl_s: float | None) -> bool:
        """Make a live ``key`` expire ``ttl_s`` seconds after ``now`` (None: never);
        whether it was there."""
        expires = None if ttl_s is None else now + ttl_s
        _, changed = self._execute(
            "UPDATE records SET expires_at = ? "
            "WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (expires, key, now),
        )
        return changed > 0

    def delete(self, key: str, now: float) -> bool:
        """Delete ``key``; whether a live record was there."""
        _, changed = self._execute(
            "DELETE FROM records WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (key, now),
        )
        self._execute("DELETE FROM records WHERE key = ?", (key,))  # an expired one
        return changed > 0

    def clear(self) -> None:
        """Delete every record."""
        self._execute("DELETE FROM records")

    def keys(self, now: float) -> list[str]:
        """The keys of the live records, in key order."""
        rows, _ = self._execute(
            "SELECT key FROM records WHERE expires_at IS NULL OR expires_at > ? ORDER BY key",
            (now,),
        )
        return [row[0] for row in rows]

    def items(self, now: float) -> list[tuple[str, Any]]:
        """The live records as (key, value), in key order."""
        rows, _ = self._execute(
            "SELECT key, value FROM records WHERE expires_at IS NULL OR expires_at > ? "
            "ORDER BY key",
            (now,),
        )
        return [(key, self._value(key, value)) for key, value in rows]

    def records(self, now: float | None = None) -> Iterator[Record]:
        """Every record (only the live ones at ``now``, if given), in key order.

        Raises:
            StoreFileError: SQLite failed, or a record is not JSON.
        """
        sql, args = "SELECT key, value, expires_at FROM records", []
        if now is not None:
            sql, args = sql + " WHERE expires_at IS NULL OR expires_at > ?", [now]
        rows, _ = self._execute(sql + " ORDER BY key", tuple(args))
        for key, value, expires_at in rows:
            problem = _record_problem(key, value, expires_at)
            if problem is not None:
                raise self._failed(f"{problem}; it was changed outside pdee")
            yield Record(key, loads(value), expires_at)

    def answer(self, call: dict[str, Any], now: float) -> dict[str, Any]:
        """Carry out one call of a step's ``Store`` (``runtime/store.py``); its answer.

        A call is ``{"op": ..., "key": ..., "value": ..., "ttl": ...}``; the answer
        ``{"found": bool, "value": ...}`` or ``{"error": "..."}``. Whatever the call
        carries (it comes from the EE, where a step may have forged it), a mistake in
        it, or a failure of the store's file, is an error answer: the step raises it.
        """
        problem = call_problem(call)
        if problem is not None:
            return {"error": problem}
        op, key, ttl = call["op"], call.get("key", ""), call.get("ttl")
        try:
            if op == "clear":
                self.clear()
                return {"found": True}
            if op == "keys":
                return {"found": True, "value": self.keys(now)}
            if op == "items":
                return {"found": True, "value": self.items(now)}
            if op == "set":
                self._set_text(key, json.dumps(call["value"], allow_nan=False), now, ttl)
                return {"found": True}
            if op == "set_ttl":
                return {"found": self.set_ttl(key, now, ttl)}
            if op == "delete":
                return {"found": self.delete(key, now)}
            found, value = self.get(key, now)
            return {"found": found, "value": value if op == "get" else None}  # get, has
        except StoreFileError as exc:
            return {"error": str(exc)}


KEYED_OPS = frozenset({"get", "has", "set", "set_ttl", "delete"})
OPS = KEYED_OPS | {"clear", "keys", "items"}
WRITES = frozenset({"set", "set_ttl", "delete", "clear"})


def call_problem(call: Any) -> str | None:
    """What is wrong with a call from the EE (None: nothing): an unknown operation, a
    key that is not text or not valid Unicode, a ttl that is not a number of seconds up
    to a century, or a value that is not JSON nested at most ``MAX_DEPTH`` levels (the
    step's own ``Store`` checks the same, so only a forged call gets here)."""
    if not isinstance(call, dict):
        return f"a call is a JSON object, not {type(call).__name__}"
    op = call.get("op")
    if not isinstance(op, str) or op not in OPS:
        return f"unknown data store operation {_shown(op)}"
    if op in KEYED_OPS:
        problem = key_problem(call.get("key"))
        if problem is not None:
            return problem[1]
    if op in ("set", "set_ttl"):
        problem = ttl_problem(call.get("ttl"))
        if problem is not None:
            return problem[1]
    if op == "set":
        if "value" not in call:
            return "a set call carries a value"
        try:
            text = json.dumps(call["value"], allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            return f"the value is not JSON data ({_reason(exc)})"
        if nesting_over(text, MAX_DEPTH):
            return f"the value nests deeper than the {MAX_DEPTH} levels pdee carries"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def show(path: Path) -> dict[str, dict[str, Any]]:
    """Every record of the store in ``path``, expired ones too, with its expiry.

    Raises:
        UsageError: there is no such file, or it is not a data store.
        StoreFileError: it is one, damaged.
    """
    if probe(path, "data store") is None:
        raise UsageError(f"data store {shown_path(path)} does not exist; check the path")
    with DataStore(path.stem, path) as store:
        return {record.key: record.to_json() for record in store.records()}


def load(path: Path, records_file: Path, replace: bool = False) -> int:
    """Set the records of the JSON object in ``records_file`` (key: value, no expiry) in
    the store in ``path``, creating it if needed; how many.

    Raises:
        UsageError: the file is not a JSON object (``NaN`` and ``Infinity`` are not
            JSON), a key is not valid Unicode, or the store cannot be opened.
        StoreFileError: the store is damaged, or SQLite failed.
    """
    records = read_json_file(records_file, "records file", MAX_EVENTS_BYTES)
    where = f"records file {shown_path(records_file)}"
    if not isinstance(records, dict):
        raise UsageError(f'{where} must hold a JSON object, like {{"k": 1}}')
    for key in records:
        problem = key_problem(key)
        if problem is not None:
            raise UsageError(f"{where}: {problem[1]}; fix the key")
    with DataStore(path.stem, path) as store:
        if replace:
            store.clear()
        for key, value in records.items():
            store.set(key, value, now=0.0)
    return len(records)
