"""The trigger's side of an execution: events, and the context the platform adds.

A user's event is what ``pd.steps["trigger"]["event"]`` holds, as it is. Without one,
each execution gets a realistic HTTP-trigger event. Ids are drawn from a seeded
random source, so a run is reproducible from its seed.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..lifecycle.cron import CronSchedule, zone
from .reading import MAX_EVENTS_BYTES, JSONLimitError, describe_json_error, loads, read_text

if TYPE_CHECKING:
    from .synced import SyncedWorkflow

_ALPHABET = string.ascii_letters + string.digits
# What pdee's virtual clock carries: a run spans at most a century, from a start between
# 1970 and 9000, so every time of it is a datetime and a Unix timestamp on any platform.
MAX_SPAN_YEARS = 100
MAX_SPAN_S = MAX_SPAN_YEARS * 365.25 * 86400
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)
EARLIEST_TO_LATEST_S = (LATEST - EARLIEST).total_seconds()
PLATFORM_VERSION = "3.62.0"
# The prefix of a trigger's id (the context's emitter_id), by its kind.
EMITTER_PREFIXES = {"http": "hi_", "timer": "ti_", "email": "ei_"}


def _id(rng: random.Random, prefix: str = "", length: int = 27) -> str:
    """An id shaped like the platform's (a base-62 string, with a kind prefix)."""
    return prefix + "".join(rng.choices(_ALPHABET, k=length))


def default_event(index: int, endpoint: str) -> dict[str, Any]:
    """A realistic HTTP-trigger event: a JSON POST to the workflow's endpoint, with its
    body's text in ``bodyRaw`` as the platform's HTTP events carry it."""
    body = {"message": "hello from pdee", "index": index}
    raw = json.dumps(body)
    host = f"{endpoint}.m.pipedream.net"
    return {
        "method": "POST",
        "path": "/",
        "query": {},
        "client_ip": "203.0.113.7",
        "url": f"https://{host}/",
        "headers": {
            "host": host,
            "content-length": str(len(raw)),
            "content-type": "application/json",
            "user-agent": "curl/8.5.0",
            "accept": "*/*",
        },
        "body": body,
        "bodyRaw": raw,
    }


def _formatted(when: datetime, zone_name: str) -> dict[str, Any]:
    return {
        "iso8601": {
            "timestamp": when.isoformat(timespec="seconds"),
            "date": when.date().isoformat(),
            "time": when.time().isoformat(timespec="seconds"),
        },
        "year": when.year,
        "month": when.month,
        "day": when.day,
        "hour": when.hour,
        "minute": when.minute,
        "second": when.second,
        "day_of_week": when.strftime("%A"),
        "timezone": zone_name,
    }


def timer_event(
    when: datetime, interval_s: float | None, cron: CronSchedule | None = None
) -> dict[str, Any]:
    """A timer trigger's event at ``when``, shaped as the platform's docs give it; a
    cron schedule's carries its expression, and ``timezone_configured`` is in its zone."""
    event: dict[str, Any] = {"timestamp": int(when.timestamp())}
    if interval_s is not None:
        event["interval_seconds"] = round(interval_s)
    utc = _formatted(when.astimezone(timezone.utc), "UTC")
    configured = utc
    if cron is not None:
        event["cron"] = cron.expression
        configured = _formatted(when.astimezone(zone(cron.timezone)), cron.timezone)
    return {**event, "timezone_configured": configured, "timezone_utc": utc}


def trigger_event(
    trigger: str,
    index: int,
    endpoint: str,
    when: datetime,
    interval_s: float | None,
    cron: CronSchedule | None = None,
) -> dict[str, Any]:
    """The default event of the workflow's trigger: a timer's, else an HTTP request."""
    if trigger == "timer":
        return timer_event(when, interval_s, cron)
    return default_event(index, endpoint)


@dataclass(frozen=True)
class WorkflowIds:
    """The ids that stay the same for every execution of one run's workflow."""

    workflow_id: str
    deployment_id: str
    emitter_id: str
    owner_id: str
    endpoint: str
    name: str

    @classmethod
    def create(
        cls,
        rng: random.Random,
        name: str,
        synced: SyncedWorkflow | None = None,
        trigger: str = "http",
    ) -> WorkflowIds:
        """Ids drawn from ``rng``, the emitter's a ``trigger``'s (``hi_``, ``ti_``,
        ``ei_``); a synced workflow's own id, name and trigger where its files give them."""
        made = cls(
            workflow_id=_id(rng, "p_", 7),
            deployment_id=_id(rng, "d_", 8),
            emitter_id=_id(rng, EMITTER_PREFIXES.get(trigger, "hi_"), 7),
            owner_id=_id(rng, "o_", 7),
            endpoint="eo" + _id(rng, "", 13).lower(),
            name=name,
        )
        if synced is None:
            return made
        return replace(
            made,
            workflow_id=synced.workflow_id or made.workflow_id,
            emitter_id=synced.triggers[0] if synced.triggers else made.emitter_id,
            name=synced.name,
        )


def iso_ms(when: datetime) -> str:
    """``when`` in ISO 8601 to the millisecond, UTC written as the platform writes it:
    ``2026-12-06T14:30:00.250Z``."""
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def context(
    workflow: WorkflowIds, rng: random.Random, when: datetime | None = None
) -> dict[str, Any]:
    """``pd.steps["trigger"]["context"]`` for one execution: a fresh ``id`` each time."""
    execution_id = _id(rng)
    return {
        "id": execution_id,
        "ts": iso_ms(when or datetime.now(timezone.utc)),
        "pipeline_id": None,
        "workflow_id": workflow.workflow_id,
        "deployment_id": workflow.deployment_id,
        "source_type": "COMPONENT",
        "verified": False,
        "hops": None,
        "test": False,
        "replay": False,
        "owner_id": workflow.owner_id,
        "platform_version": PLATFORM_VERSION,
        "workflow_name": workflow.name,
        "resume": None,
        "emitter_id": workflow.emitter_id,
        "external_user_id": None,
        "external_user_environment": None,
        "trace_id": execution_id,
        "project_id": None,
    }


def _require_objects(events: list[Any], where: str) -> list[dict[str, Any]]:
    for number, event in enumerate(events, start=1):
        if not isinstance(event, dict):
            raise UsageError(f"{where}: event {number} is not a JSON object; each event is {{...}}")
    if not events:
        raise UsageError(f"{where} holds no event; put at least one JSON object in it")
    return events


def parse_events(text: str, where: str) -> list[dict[str, Any]]:
    """Events from a JSON object, a JSON array of objects, or JSON Lines.

    Raises:
        UsageError: the text is none of those; the message says at which line and column.
    """
    return _parse_events(text, where)[0]


def _parse_events(text: str, where: str) -> tuple[list[dict[str, Any]], list[int] | None]:
    """``parse_events``, with the line each event is on (None: one JSON document)."""
    try:
        whole = loads(text)
    except json.JSONDecodeError as exc:
        whole_error = exc
    except JSONLimitError as exc:
        raise UsageError(f"{where}: {exc}; simplify it") from None
    else:
        if where == "--event" and type(whole) is int:  # --event 20 for --events 20
            raise UsageError(
                f"--event {whole}: an event is a JSON object ({{...}}); did you mean --events "
                f"{whole}?"
            )
        return _require_objects(whole if isinstance(whole, list) else [whole], where), None
    events = []
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(loads(line))
        except JSONLimitError as exc:
            raise UsageError(f"{where}: line {number}: {exc}; simplify it") from None
        except json.JSONDecodeError as exc:
            if not events:  # not JSON Lines either: one document, wrong where it says
                raise UsageError(
                    f"{where} is not JSON: {describe_json_error(whole_error)}"
                ) from exc
            raise UsageError(
                f"{where}: line {number}, column {exc.colno} is not JSON ({exc.msg}); "
                f"in JSON Lines, each line is one event"
            ) from exc
        lines.append(number)
    return _require_objects(events, where), lines


def load_events(event_json: str | None, event_file: Path | None) -> list[dict[str, Any]] | None:
    """The user's events (executions cycle through them), or None for the default.

    Raises:
        UsageError: both sources given, or one that is unreadable or not events.
    """
    if event_json is not None and event_file is not None:
        raise UsageError("--event and --event-file both give events; use one of them")
    if event_json is not None:
        return parse_events(event_json, "--event")
    if event_file is not None:
        return read_events(event_file, "event file")
    return None


def read_events(path: Path, what: str) -> list[dict[str, Any]]:
    """The events in file ``path`` (``what`` names it in errors: "event file", "schedule").

    Raises:
        UsageError: missing, not a regular file, too large, or not events.
    """
    text = read_text(path, what, MAX_EVENTS_BYTES)
    return parse_events(text, f"{what} {path}")


@dataclass(frozen=True)
class Schedule:
    """Events that carry their own arrival times (``--schedule``), in arrival order."""

    events: list[dict[str, Any]]
    timestamps: list[float]  # seconds, in the file's own origin
    origin: datetime | None  # the first event's wall-clock time, when ts is ISO 8601


def _timestamp(value: Any, where: str) -> tuple[float, datetime | None]:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UsageError(f"{where}: ts must be seconds (a number) or an ISO 8601 time")
    if not isinstance(value, str):
        if not 0 <= value <= EARLIEST_TO_LATEST_S:  # NaN fails both
            raise UsageError(
                f"{where}: ts {value} is out of range; give seconds from 0 (a Unix time, "
                f"or seconds from the schedule's start) to {EARLIEST_TO_LATEST_S:.0f} (the "
                f"year 9000), or an ISO 8601 time between 1970 and 9000"
            )
        return float(value), None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{where}: ts {value!r} is not an ISO 8601 time; write e.g. 2026-11-23T10:00:00Z "
            f"or a number of seconds"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if not EARLIEST <= when < LATEST:
        raise UsageError(
            f"{where}: ts {value!r} is out of range; give a time between 1970 and 9000"
        )
    return when.timestamp(), when


def load_schedule(path: Path) -> Schedule:
    """Events with a ``ts`` each (seconds, or ISO 8601 times), sorted by it.

    Raises:
        UsageError: unreadable, not events, an event without ``ts``, or mixed kinds of ts.
    """
    where = f"schedule {path}"
    events, lines = _parse_events(read_text(path, "schedule", MAX_EVENTS_BYTES), where)
    stamped = []
    for number, event in enumerate(events, start=1):
        which = f"{where}: line {lines[number - 1]}" if lines else f"{where}: event {number}"
        if "ts" not in event:
            raise UsageError(f'{which} has no ts; give each event a "ts"')
        seconds, when = _timestamp(event["ts"], which)
        stamped.append((seconds, when, event))
    if len({when is None for _, when, _ in stamped}) > 1:
        raise UsageError(f"{where}: mix of numeric and ISO 8601 ts; use one kind")
    stamped.sort(key=lambda item: item[0])  # stable: equal ts keep the file's order
    span = stamped[-1][0] - stamped[0][0]
    if span > MAX_SPAN_S:
        raise UsageError(
            f"{where}: its events span {span / 86400 / 365.25:.0f} years; pdee's virtual "
            f"clock carries at most {MAX_SPAN_YEARS}"
        )
    return Schedule(
        events=[event for _, _, event in stamped],
        timestamps=[seconds for seconds, _, _ in stamped],
        origin=stamped[0][1],
    )
