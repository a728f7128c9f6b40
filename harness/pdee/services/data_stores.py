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
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..plan.reading import MAX_EVENTS_BYTES
from ..plan.steps import read_json_file

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000  # another pdee run writing the same file
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,        -- JSON
    expires_at REAL             -- Unix time on the virtual clock; NULL: never
) WITHOUT ROWID
"""


@dataclass(frozen=True)
class Record:
    """One record of a store: its value and when it expires (Unix time, or None)."""

    key: str
    value: Any
    expires_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "expires_at": self.expires_at}


def _open(path: Path | None, name: str) -> sqlite3.Connection:
    """A connection to the store's database, made ready (schema, WAL).

    Raises:
        UsageError: the file cannot be opened or is not a pdee data store.
    """
    where = f"data store {name!r}" + (f" ({path})" if path is not None else "")
    if path is not None and path.exists() and not path.is_file():
        raise UsageError(f"{where}: {path} is not a file; give a file path like .pdee/{name}.db")
    if path is not None and not path.parent.is_dir():
        raise UsageError(f"{where}: directory {path.parent} does not exist; create it first")
    try:
        connection = sqlite3.connect(
            ":memory:" if path is None else str(path),
            isolation_level=None,  # autocommit: every statement is its own transaction
            check_same_thread=False,  # lanes answer calls on their threads, under a lock
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except sqlite3.Error as exc:
        raise UsageError(f"{where} cannot be opened: {exc}; check the path") from None
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
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise UsageError(f"{where} cannot be used: {exc}") from None
    except UsageError:
        connection.close()
        raise
    return connection


class DataStore:
    """One data store: its records in SQLite, read and written on the virtual clock.

    Safe to call from several threads (one lock around the connection).
    """

    def __init__(self, name: str, path: Path | None = None) -> None:
        """Open (creating if needed) the store ``name`` kept in ``path`` (None: in memory).

        Raises:
            UsageError: the file cannot be opened or is not a pdee data store.
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

    def _execute(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._db is None:
                raise RuntimeError(f"data store {self.name!r} is closed")
            return self._db.execute(sql, args).fetchall()

    # -- the operations a step's Store makes; ``now`` is the caller's Unix time --------

    def get(self, key: str, now: float) -> tuple[bool, Any]:
        """Whether ``key`` holds a live record, and its value."""
        rows = self._execute(
            "SELECT value FROM records WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (key, now),
        )
        return (True, json.loads(rows[0][0])) if rows else (False, None)

    def set(self, key: str, value: Any, now: float, ttl_s: float | None = None) -> None:
        """Set ``key`` to ``value`` (JSON data), expiring ``ttl_s`` seconds after ``now``."""
        expires = None if ttl_s is None else now + ttl_s
        self._execute(
            "INSERT INTO records (key, value, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at",
            (key, json.dumps(value, allow_nan=False), expires),
        )

    def set_ttl(self, key: str, now: float, ttl_s: float | None) -> bool:
        """Make a live ``key`` expire ``ttl_s`` seconds after ``now`` (None: never);
        whether it was there."""
        expires = None if ttl_s is None else now + ttl_s
        with self._lock:
            assert self._db is not None
            cursor = self._db.execute(
                "UPDATE records SET expires_at = ? "
                "WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (expires, key, now),
            )
            return cursor.rowcount > 0

    def delete(self, key: str, now: float) -> bool:
        """Delete ``key``; whether a live record was there."""
        with self._lock:
            assert self._db is not None
            cursor = self._db.execute(
                "DELETE FROM records WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (key, now),
            )
            self._db.execute("DELETE FROM records WHERE key = ?", (key,))  # an expired one
            return cursor.rowcount > 0

    def clear(self) -> None:
        """Delete every record."""
        self._execute("DELETE FROM records")

    def keys(self, now: float) -> list[str]:
        """The keys of the live records, in key order."""
        rows = self._execute(
            "SELECT key FROM records WHERE expires_at IS NULL OR expires_at > ? ORDER BY key",
            (now,),
        )
        return [row[0] for row in rows]

    def items(self, now: float) -> list[tuple[str, Any]]:
        """The live records as (key, value), in key order."""
        rows = self._execute(
            "SELECT key, value FROM records WHERE expires_at IS NULL OR expires_at > ? "
            "ORDER BY key",
            (now,),
        )
        return [(key, json.loads(value)) for key, value in rows]

    def records(self, now: float | None = None) -> Iterator[Record]:
        """Every record (only the live ones at ``now``, if given), in key order."""
        sql, args = "SELECT key, value, expires_at FROM records", []
        if now is not None:
            sql, args = sql + " WHERE expires_at IS NULL OR expires_at > ?", [now]
        for key, value, expires_at in self._execute(sql + " ORDER BY key", tuple(args)):
            yield Record(key, json.loads(value), expires_at)

    def answer(self, call: dict[str, Any], now: float) -> dict[str, Any]:
        """Carry out one call of a step's ``Store`` (``runtime/store.py``); its answer.

        A call is ``{"op": ..., "key": ..., "value": ..., "ttl": ...}``; the answer
        ``{"found": bool, "value": ...}`` or ``{"error": "..."}``.
        """
        op, key, ttl = call.get("op"), call.get("key"), call.get("ttl")
        if op == "clear":
            self.clear()
            return {"found": True}
        if op == "keys":
            return {"found": True, "value": self.keys(now)}
        if op == "items":
            return {"found": True, "value": self.items(now)}
        if op not in KEYED_OPS:
            return {"error": f"unknown data store operation {op!r}"}
        if not isinstance(key, str):
            return {"error": f"keys are strings, not {type(key).__name__}"}
        if op == "set":
            self.set(key, call.get("value"), now, ttl)
            return {"found": True}
        if op == "set_ttl":
            return {"found": self.set_ttl(key, now, ttl)}
        if op == "delete":
            return {"found": self.delete(key, now)}
        found, value = self.get(key, now)
        return {"found": found, "value": value if op == "get" else None}  # get, has


KEYED_OPS = frozenset({"get", "has", "set", "set_ttl", "delete"})
WRITES = frozenset({"set", "set_ttl", "delete", "clear"})


def show(path: Path) -> dict[str, dict[str, Any]]:
    """Every record of the store in ``path``, expired ones too, with its expiry.

    Raises:
        UsageError: there is no such file, or it is not a data store.
    """
    if not path.exists():
        raise UsageError(f"data store {path} does not exist; check the path")
    with DataStore(path.stem, path) as store:
        return {record.key: record.to_json() for record in store.records()}


def load(path: Path, records_file: Path, replace: bool = False) -> int:
    """Set the records of the JSON object in ``records_file`` (key: value, no expiry) in
    the store in ``path``, creating it if needed; how many.

    Raises:
        UsageError: the file is not a JSON object, or the store cannot be opened.
    """
    records = read_json_file(records_file, "records file", MAX_EVENTS_BYTES)
    if not isinstance(records, dict):
        raise UsageError(f'records file {records_file} must hold a JSON object, like {{"k": 1}}')
    with DataStore(path.stem, path) as store:
        if replace:
            store.clear()
        for key, value in records.items():
            store.set(key, value, now=0.0)
    return len(records)
