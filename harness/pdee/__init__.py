"""pdee: Pipedream Python steps in an emulated execution environment (EE).

A step runs in an EE whose ``/tmp`` is a real, size-capped tmpfs, under the platform's
memory and time limits, with the platform's warm/cold lifecycle::

    import pdee

    result = pdee.run(["step.py"], events=3, mode="warm", tmp_size="2GB", memory="256MB")
    assert [e.status for e in result.executions] == ["ok", "ok", "ok"]
    print(result.executions[0].steps["step"].return_value, result.executions[0].tmp.used_bytes)

``pdee.run`` takes ``pdee run``'s options as keyword arguments; the CLI is a thin edge
over it. Errors are ``PdeeError``s with a one-line message and the CLI's exit code.

The names below are imported when first used (PEP 562), so that importing a part of
pdee (the ``pdee`` command's entry point above all) does not import all of it.
"""

from __future__ import annotations

import importlib

# Not typing's: importing typing would cost the entry point's first milliseconds (mypy
# takes any name TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .api import execute, run, serve, watch
    from .checking.project import ProjectCheck, WorkflowCheck, check_project
    from .checking.scenarios import check
    from .checking.verdicts import CheckResult, Outcome, Verdict
    from .errors import (
        BackendUnavailable,
        EEError,
        ExitCode,
        ImageError,
        PdeeError,
        RunAborted,
        UsageError,
    )
    from .lifecycle.scheduler import Mode, Retire, Start
    from .outputs.html import write_html
    from .plan.run_plan import RunPlan, build_plan
    from .results.records import (
        EELife,
        Execution,
        MemoryUsage,
        RunResult,
        Settings,
        Status,
        StepError,
        StepResult,
        Summary,
        TmpUsage,
    )
    from .serving.handle import Serving
    from .version import __version__
    from .watching.session import Change

_WHERE = {
    **dict.fromkeys(["execute", "run", "serve", "watch"], ".api"),
    **dict.fromkeys(
        ["BackendUnavailable", "EEError", "EEGone", "EEUnresponsive", "ExitCode",
         "ImageError", "PdeeError", "RunAborted", "UsageError"],
        ".errors",
    ),
    **dict.fromkeys(["RunPlan", "build_plan"], ".plan.run_plan"),
    **dict.fromkeys(["ProjectCheck", "WorkflowCheck", "check_project"], ".checking.project"),
    **dict.fromkeys(
        ["EELife", "Execution", "MemoryUsage", "RunResult", "Settings", "Status", "StepError",
         "StepResult", "Summary", "TmpUsage"],
        ".results.records",
    ),
    **dict.fromkeys(["Mode", "Retire", "Start"], ".lifecycle.scheduler"),
    **dict.fromkeys(["CheckResult", "Outcome", "Verdict"], ".checking.verdicts"),
    "check": ".checking.scenarios",
    "write_html": ".outputs.html",
    "Serving": ".serving.handle",
    "Change": ".watching.session",
    "__version__": ".version",
}  # fmt: skip

# Internal errors (the runner turns them into an execution's record): still found by
# 0.3 code that imported them, no longer exported.
_INTERNAL = {"EEGone", "EEUnresponsive"}

__all__ = [
    "BackendUnavailable",
    "Change",
    "CheckResult",
    "EEError",
    "EELife",
    "Execution",
    "ExitCode",
    "ImageError",
    "MemoryUsage",
    "Mode",
    "Outcome",
    "PdeeError",
    "ProjectCheck",
    "Retire",
    "RunAborted",
    "RunPlan",
    "RunResult",
    "Serving",
    "Settings",
    "Start",
    "Status",
    "StepError",
    "StepResult",
    "Summary",
    "TmpUsage",
    "UsageError",
    "Verdict",
    "WorkflowCheck",
    "__version__",
    "build_plan",
    "check",
    "check_project",
    "execute",
    "run",
    "serve",
    "watch",
    "write_html",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pdee' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
