"""pdee: Pipedream Python steps in an emulated execution environment (EE).

A step runs in an EE whose ``/tmp`` is a real, size-capped tmpfs, under the platform's
memory and time limits, with the platform's warm/cold lifecycle::

    import pdee

    result = pdee.run(["step.py"], events=3, mode="warm", tmp_size="2GB", memory="256MB")
    assert [e.status for e in result.executions] == ["ok", "ok", "ok"]
    print(result.executions[0].steps["step"].return_value, result.executions[0].tmp.used_bytes)

``pdee.run`` takes ``pdee run``'s options as keyword arguments; the CLI is a thin edge
over it. Errors are ``PdeeError``s with a one-line message and the CLI's exit code.
"""

from .api import execute, run
from .errors import (
    BackendUnavailable,
    EEError,
    EEGone,
    ImageError,
    PdeeError,
    RunAborted,
    UsageError,
)
from .plan import RunPlan, build_plan
from .records import (
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
from .scheduler import Mode, Retire, Start
from .verdicts import CheckResult, Outcome, Verdict, check
from .version import __version__

__all__ = [
    "BackendUnavailable",
    "CheckResult",
    "EEError",
    "EEGone",
    "EELife",
    "Execution",
    "ImageError",
    "MemoryUsage",
    "Mode",
    "Outcome",
    "PdeeError",
    "Retire",
    "RunAborted",
    "RunPlan",
    "RunResult",
    "Settings",
    "Start",
    "Status",
    "StepError",
    "StepResult",
    "Summary",
    "TmpUsage",
    "UsageError",
    "Verdict",
    "__version__",
    "build_plan",
    "check",
    "execute",
    "run",
]
