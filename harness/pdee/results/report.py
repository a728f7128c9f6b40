"""The JSON report of a run (a contract: CI jobs parse it), as ``--report`` writes it."""

from __future__ import annotations

from typing import Any

from ..version import __version__
from .records import RunResult


def build(result: RunResult, executions: Any = None) -> dict[str, Any]:
    """The report of a run, as ``--report`` writes it (``executions``: what to put in its
    place, for ``write_run``).

    A run cut short (``interrupted``: Ctrl-C, SIGTERM; ``aborted``: the backend failed,
    with the reason) holds the executions that had ended, and the EEs as far as they
    had got.
    """
    return {
        "pdee_version": __version__,
        "interrupted": result.interrupted,
        "aborted": result.aborted,
        "pending_parts": result.pending_parts,  # paused parts still to come when it stopped
        "settings": result.settings.to_json(),
        "executions": (
            [execution.to_json() for execution in result.executions]
            if executions is None
            else executions
        ),
        "ees": [ee.to_json() for ee in result.ees.values()],
        "data_stores": {store.name: store.to_json() for store in result.data_stores},
        "summary": result.summary.to_json(),
    }
