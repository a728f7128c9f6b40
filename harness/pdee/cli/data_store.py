"""``pdee data-store``: data stores kept in files (``--data-store NAME=PATH``)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from ..errors import PdeeError
from ..plan.events import iso_ms
from ..plan.sizes import plural
from ..services import data_stores
from .common import fail, say

app = typer.Typer(no_args_is_help=True, help="Data stores kept in files (--data-store NAME=PATH).")

StoreFile = Annotated[Path, typer.Argument(help="The store's SQLite file.", show_default=False)]


def iso_time(ts: float | None) -> str | float | None:
    """A Unix time as ISO 8601 in UTC (``2026-12-06T14:30:00.250Z``); None stays None, and
    a time no calendar holds (past the year 9999) stays a number."""
    if ts is None:
        return None
    try:
        moment = datetime.fromtimestamp(ts, timezone.utc)
    except (OverflowError, ValueError, OSError):
        return ts
    return iso_ms(moment)


@app.command("show")
def show(path: StoreFile) -> None:
    """Print a data store's records as JSON: each key's value and expiry (an ISO 8601
    time in UTC on the virtual clock of the run that set it, or null)."""
    try:
        records = data_stores.show(path)
    except PdeeError as exc:
        fail(exc)
    for record in records.values():
        record["expires_at"] = iso_time(record["expires_at"])
    text = json.dumps(records, indent=2, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate in a value: JSON's escapes carry it
        text = json.dumps(records, indent=2)
    say(text)


@app.command("load")
def load(
    path: StoreFile,
    records: Annotated[
        Path, typer.Argument(help="A JSON object: each key and its value.", show_default=False)
    ],
    replace: Annotated[bool, typer.Option(help="Delete the store's records first.")] = False,
) -> None:
    """Put records into a data store (a fixture for CI), creating the file if needed."""
    try:
        count = data_stores.load(path, records, replace=replace)
    except PdeeError as exc:
        fail(exc)
    say(f"{plural(count, 'record')} loaded into {path}")
