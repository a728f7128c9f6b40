"""Auto-retry's timing and rules, as the platform's settings page gives them. Pure.

The platform's "Auto-retry Errors" setting (``docs-v2/pages/workflows/building-workflows/
settings/index.mdx`` in ``PipedreamHQ/pipedream``): "If any step in your workflow throws an
error, Pipedream will retry the workflow from that failed step, re-rerunning the step up
to 8 times over a 10 hour span with an exponential backoff strategy"; and "Pipedream will
not automatically retry if an execution fails due to an Out of Memory (OOM) error or a
timeout".

The docs give no delays, only "8 times", "a 10 hour span" and "exponential". pdee's
schedule: each delay twice the one before, the eight adding up to the 10 hours exactly
(``36000 * 2**k / 255`` seconds for the ``k``-th retry from 0, rounded to the second:
141 s, 282 s, 565 s, 1129 s, 2259 s, 4518 s, 9035 s, 18071 s). No jitter: a run is
replayable from its seed, and the platform documents none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_RETRIES = 8  # "re-rerunning the step up to 8 times"
SPAN_S = 10 * 3600.0  # "over a 10 hour span"
FACTOR = 2  # "exponential backoff": each delay doubles
# The statuses that are never retried: "Out of Memory (OOM) error or a timeout".
NOT_RETRIED = {"oom": "out of memory", "timeout": "a timeout"}


def backoff_s(retry: int) -> float:
    """The virtual (or, on ``serve``, real) seconds between a failed attempt's end and
    retry number ``retry`` (1 to ``MAX_RETRIES``).

    Raises:
        ValueError: ``retry`` is not 1 to ``MAX_RETRIES``.
    """
    if not 1 <= retry <= MAX_RETRIES:
        raise ValueError(f"retry {retry}: the platform retries 1 to {MAX_RETRIES} times")
    return float(round(SPAN_S * FACTOR ** (retry - 1) / (FACTOR**MAX_RETRIES - 1)))


def schedule() -> list[float]:
    """Every retry's delay after the attempt before it, in order."""
    return [backoff_s(retry) for retry in range(1, MAX_RETRIES + 1)]


def why_not(status: str, step: str | None, attempt: int) -> str | None:
    """Why a part that ended with ``status`` is not retried (None: it is retried).

    Args:
        status: how the part ended (``Status`` values: ok, exit, error, timeout, oom).
        step: the step that failed, if pdee knows it.
        attempt: which attempt at that step the part was (1: the first try).
    """
    if status in ("ok", "exit"):
        return "it passed"
    if status in NOT_RETRIED:
        return f"not retried: the platform never retries {NOT_RETRIED[status]}"
    if step is None:
        return "not retried: no step failed (the platform retries from the failed step)"
    if attempt > MAX_RETRIES:
        return f"failed after {MAX_RETRIES} retries: the platform gives up"
    return None


@dataclass(frozen=True)
class AutoRetrySetting:
    """The report's ``settings.auto_retry``: on or off, and when on, how many retries and
    each one's delay after the attempt before it (seconds)."""

    on: bool = False
    max_retries: int = MAX_RETRIES
    backoff_s: tuple[float, ...] = ()

    def to_json(self) -> dict[str, Any]:
        if not self.on:
            return {"on": False}
        return {"on": True, "max_retries": self.max_retries, "backoff_s": list(self.backoff_s)}


def described(on: bool) -> AutoRetrySetting:
    """Auto-retry as the report's ``settings.auto_retry`` gives it."""
    return AutoRetrySetting(on, MAX_RETRIES, tuple(schedule()) if on else ())
