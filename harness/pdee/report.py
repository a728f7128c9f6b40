"""The JSON report (a contract: CI jobs parse it) and the run's exit code."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from . import __version__
from .errors import UsageError
from .runner import RunResult
from .scheduler import Retire

# Statuses that count as success: ``exit`` is a step's own ``pd.flow.exit``.
PASSING = frozenset({"ok", "exit"})
STATUSES = ("ok", "exit", "error", "timeout", "oom")


def summary(executions: list[dict[str, Any]], ees: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Counts over a run: executions by status and start, and EEs."""
    statuses = Counter(execution["status"] for execution in executions)
    starts = Counter(execution["start"] for execution in executions)
    retired = Counter(ee["retired"] for ee in ees.values() if ee.get("retired"))
    return {
        "executions": len(executions),
        "ok": statuses["ok"] + statuses["exit"],
        "failed": sum(n for status, n in statuses.items() if status not in PASSING),
        "by_status": {status: statuses[status] for status in STATUSES},
        "cold": starts["cold"],
        "warm": starts["warm"],
        "ees_started": len(ees),
        "ees_reused": sum(len(ee.get("executions", [])) > 1 for ee in ees.values()),
        "ees_expired": retired[Retire.IDLE.value],
        "ees_destroyed_at_random": retired[Retire.CHAOS.value],
        "ees_retired": {reason.value: retired[reason.value] for reason in Retire},
        "max_tmp_used_bytes": max(
            (e["tmp"]["used_bytes"] for e in executions if e.get("tmp")), default=0
        ),
        "max_memory_peak_bytes": max(
            (e["memory"]["peak_bytes"] for e in executions if e.get("memory")), default=0
        ),
    }


def build(result: RunResult, interrupted: bool = False) -> dict[str, Any]:
    """The report of a run, as ``--report`` writes it.

    Args:
        interrupted: the run was cut short (Ctrl-C, SIGTERM): the report holds the
            executions that had ended, and the EEs as far as they had got.
    """
    return {
        "pdee_version": __version__,
        "interrupted": interrupted,
        "settings": result.settings,
        "executions": result.executions,
        "ees": list(result.ees.values()),
        "summary": summary(result.executions, result.ees),
    }


def exit_code(executions: list[dict[str, Any]]) -> int:
    """0 when every execution passed (ok, or ended by ``pd.flow.exit``), else 1."""
    return 0 if all(execution["status"] in PASSING for execution in executions) else 1


def write(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` as JSON to ``path``.

    Raises:
        UsageError: the file cannot be written.
    """
    try:
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write report {path}: {exc.strerror}; check the path") from exc


def check_writable(path: Path) -> None:
    """Fail before the run, not after it, when the report cannot be written.

    Raises:
        UsageError: the report's directory does not exist or the path is a directory.
    """
    if path.is_dir():
        raise UsageError(f"report {path} is a directory; give a file name like report.json")
    if not path.parent.exists():
        raise UsageError(f"report {path}: directory {path.parent} does not exist")
