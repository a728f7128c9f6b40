"""The execution controls and the timer's schedule of a run, checked: ``--throttle``,
``--queue-size``, ``--cron`` and ``--timezone``, each over what a synced
``workflow.yaml`` holds (the command line wins, as for ``settings.lambda_timeout``).

The platform's docs (``docs-v2/pages/workflows/building-workflows/settings/
concurrency-and-throttling.mdx``) say which triggers queue: "Event queues are currently
supported for any workflow that is triggered by an event source. Event queues are not
currently supported for native workflow triggers (native HTTP, cron, SDK and email)";
PipedreamHQ/pipedream#12861 shows it for HTTP (queue size 1, concurrency 1: the events
were queued, not dropped). So the queue's limit applies to an event source's workflow
(a synced workflow whose trigger is an app's, default 100 as on the free plan); with a
native trigger nothing is dropped, and a queue size given is said to have no effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..lifecycle.admission import FREE_PLAN_QUEUE_SIZE, MAX_QUEUE_SIZE, Admission, Throttle
from ..lifecycle.cron import UTC, CronSchedule
from .settings import ControlsSetting
from .synced import SyncedWorkflow

QUEUES = "other"  # the trigger kind whose events the platform queues: an event source's
CONCURRENCY_DOCS = (
    "docs-v2/pages/workflows/building-workflows/settings/concurrency-and-throttling.mdx"
)


@dataclass(frozen=True)
class Controls:
    """The throttle and the event queue of a run, and where each came from."""

    throttle: Throttle | None = None
    queue_size: int | None = None  # None: no limit (the trigger does not queue)
    throttle_from: str = "none"  # "given", "workflow.yaml" or "none"
    queue_from: str = "none"  # "given", "workflow.yaml", "default" (free plan) or "none"
    notes: list[str] = field(default_factory=list)

    def admission(self) -> Admission | None:
        """What admits the run's arrivals; None when nothing holds them back."""
        if self.throttle is None and self.queue_size is None:
            return None
        return Admission(self.throttle, self.queue_size)

    def describe(self) -> ControlsSetting:
        """The report's ``settings.controls``."""
        return ControlsSetting(self.throttle, self.throttle_from, self.queue_size, self.queue_from)


def _throttle(text: Any, where: str) -> Throttle:
    if not isinstance(text, str):
        raise UsageError(f"{where}: {text!r} is not a throttle; write it as N/SECONDS, like 2/60")
    shown = text[:40] if text.isprintable() else repr(text[:40])
    try:
        return Throttle.parse(text)
    except ValueError as exc:
        raise UsageError(f"{where} {shown}: {exc}") from None


def _queue_size(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{where}: {value!r} is not a number of events")
    if not 1 <= value <= MAX_QUEUE_SIZE:
        raise UsageError(f"{where} {value}: give 1 to {MAX_QUEUE_SIZE:,} events (the platform's)")
    return value


def controls(
    throttle: str | None, queue_size: int | None, synced: SyncedWorkflow | None, trigger: str
) -> Controls:
    """The run's throttle and queue: the options', else ``workflow.yaml``'s; a queue
    limit only where the trigger queues.

    Raises:
        UsageError: a throttle or queue size that is not the platform's kind.
    """
    yaml = f"{synced.folder}/workflow.yaml" if synced is not None else ""
    found, throttle_from = None, "none"
    if throttle is not None:
        found, throttle_from = _throttle(throttle, "--throttle"), "given"
    elif synced is not None and synced.throttle is not None:
        found = _throttle(synced.throttle, f"{yaml}: settings.throttle")
        throttle_from = "workflow.yaml"
    size, queue_from = None, "none"
    if queue_size is not None:
        size, queue_from = _queue_size(queue_size, "--queue-size"), "given"
    elif synced is not None and synced.queue_size is not None:
        size = _queue_size(synced.queue_size, f"{yaml}: settings.queue_size")
        queue_from = "workflow.yaml"
    notes = []
    if trigger != QUEUES:
        if size is not None:
            notes.append(
                f"the platform keeps no event queue for a native {trigger} trigger "
                f'("Event queues are not currently supported for native workflow triggers", '
                f"{CONCURRENCY_DOCS}; PipedreamHQ/pipedream#12861): the queue size "
                f"{size} drops nothing here, and events wait for a free worker however many"
            )
        size, queue_from = None, "none"
    elif size is None:
        size, queue_from = FREE_PLAN_QUEUE_SIZE, "default"
    if found is not None and found.paused:
        notes.append(
            f"--throttle {found}: a limit of 0 pauses the workflow; no event runs, each is "
            f"recorded as dropped (Workflow Paused)"
        )
    return Controls(found, size, throttle_from, queue_from, notes)


def cron_schedule(
    cron: str | None, timezone: str | None, synced: SyncedWorkflow | None
) -> tuple[CronSchedule | None, str]:
    """The timer's schedule (``--cron``, else the synced timer trigger's) and where it
    came from ("given", "workflow.yaml"; "none").

    Raises:
        UsageError: a bad expression or zone, or a zone without a schedule.
    """
    where, expression = "--cron", cron
    if cron is None and synced is not None and synced.cron is not None:
        where, expression = f"{synced.folder}/workflow.yaml: the trigger's cron", synced.cron
    if expression is None:
        if timezone is not None:
            raise UsageError("--timezone is the --cron schedule's time zone: give --cron too")
        return None, "none"
    zone_name = timezone
    if zone_name is None and cron is None and synced is not None:
        zone_name = synced.timezone
    try:
        schedule = CronSchedule(expression, UTC if zone_name is None else zone_name)
    except ValueError as exc:
        if timezone is not None and "time zone" in str(exc):
            where, expression = "--timezone", timezone
        shown = expression[:60] if expression.isprintable() else repr(expression[:60])
        raise UsageError(f"{where} {shown or repr(expression)}: {exc}") from None
    return schedule, "given" if cron is not None else "workflow.yaml"


def check_cron_trigger(given_trigger: str | None, synced: SyncedWorkflow | None) -> None:
    """Raises UsageError if ``--cron`` is given to a workflow whose trigger is no timer."""
    if given_trigger not in (None, "timer"):
        raise UsageError(f"--cron schedules a timer trigger, not --trigger {given_trigger}")
    if synced is not None and synced.triggers and synced.trigger != "timer":
        raise UsageError(
            f"--cron schedules a timer trigger; workflow {synced.name}'s trigger is "
            f"{synced.trigger} ({synced.triggers[0]} in its workflow.yaml); drop --cron"
        )
