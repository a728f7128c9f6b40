"""Runs for the HTML report's tests, made with no Docker: on the fake backend, or as
records (10,000 executions in a second)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fake_backend import FakeBackend

import pdee
from pdee.checking.verdicts import CheckResult
from pdee.lifecycle.retry import described
from pdee.lifecycle.scheduler import Retire, Start
from pdee.results.log import ExecutionLog
from pdee.results.records import (
    EELife,
    Execution,
    MemoryUsage,
    Retry,
    RunResult,
    Settings,
    Status,
    StepError,
    StepResult,
    TmpUsage,
)

# What a step prints that would run as script or markup if it were not escaped.
HOSTILE = (
    '</script><script>window.pwned = 1</script><!-- <img src=x onerror="window.pwned = 2">'
    " & \u2028 done"
)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/tmp/__pdg__/dist/code/step.py", line 3, in handler\n'
    '    raise ValueError("bad row")\n'
    "ValueError: bad row <b>not bold</b>"
)
FAILING = {
    "status": "error",
    "leaves": ["/tmp/out.csv", HOSTILE],
    "error": {
        "type": "ValueError",
        "message": "bad row <b>not bold</b>",
        "step": "step",
        "traceback": TRACEBACK,
    },
}


def step_file(folder: Path) -> Path:
    path = folder / "step.py"
    path.write_text("def handler(pd):\n    return 1\n")
    return path


def fake_run(folder: Path, **options: Any) -> RunResult:
    """A realistic run of 12 events on 2 EEs, some destroyed at random: every warm
    execution fails, leaving files in /tmp."""
    event = {"warm_status": "error", **{k: v for k, v in FAILING.items() if k != "status"}}
    defaults: dict[str, Any] = {
        "events": 12, "mode": "realistic", "interval": 60, "chaos": 0.25, "concurrency": 2,
        "seed": 7, "event": event,
    }  # fmt: skip
    return pdee.run([step_file(folder)], backend=FakeBackend(), **{**defaults, **options})


def fake_check(folder: Path) -> CheckResult:
    """A check whose warm and chaos verdicts fail (warm executions fail)."""
    event = {"returns": "same", "exports": {}, "warm_status": "error", "error": FAILING["error"]}
    return pdee.check([step_file(folder)], event=event, backend=FakeBackend(), seed=1)


def settings(executions: int) -> Settings:
    return Settings(
        mode="realistic", concurrency=1, idle_timeout_s=600.0, chaos=0.01, warm_workers=0,
        arrivals={"kind": "interval", "interval_s": 5.0}, seed=11, tmp_size_bytes=2**31,
        memory_bytes=2**28, container_memory_bytes=2**31 + 2**29, timeout_s=30.0,
        image="pdee-ee:latest", image_id="sha256:0", base_image="pdee-base:bookworm",
        network="bridge", executions=executions, steps=["step"], pdee_version="0",
        run_id="big", python="3.11.2",
        python_note="the EE runs Debian's Python 3.11.2, not the platform's 3.12",
    )  # fmt: skip


def big_run(count: int, per_ee: int = 50) -> RunResult:
    """``count`` executions as records, ``per_ee`` on each EE (its first cold), every
    tenth failed with a traceback, each with a line of logs."""
    log = ExecutionLog()
    ees: dict[str, EELife] = {}
    for index in range(count):
        ee = f"ee-{index // per_ee + 1}"
        cold = index % per_ee == 0
        failed = index % 10 == 9
        log.append(
            Execution(
                index=index, ee=ee, start=Start.COLD if cold else Start.WARM,
                status=Status.ERROR if failed else Status.OK, arrived_at_s=index * 5.0,
                at_s=index * 5.0, duration_ms=12.5, cold_start_ms=300.0 if cold else None,
                error=StepError("ValueError", f"row {index}", "step", TRACEBACK)
                if failed else None,
                steps={"step": StepResult({"row": index}, {}, f"row {index} done\n", 11.0)},
                tmp=TmpUsage(4096 * (index % per_ee), 8192 * (index % per_ee), 1, 2**31),
                memory=MemoryUsage(20 * 2**20, 2**28),
            )
        )  # fmt: skip
        life = ees.setdefault(ee, EELife(ee, False, index * 5.0))
        life.executions.append(index)
        if index % per_ee == per_ee - 1 or index == count - 1:
            life.retired, life.retired_at_s = Retire.IDLE, index * 5.0 + 600
    return RunResult("big", settings(count), log, ees)


def retried_run() -> RunResult:
    """Auto-retry and a full queue, as records: #0 fails cold and its retry #1 passes warm;
    #2 is dropped from a full queue at 7 s; #3 passes warm; #4 fails warm, its retry still to come when the run ended."""
    error = StepError("ValueError", "bad row", "step", TRACEBACK)
    log = ExecutionLog()
    for execution in [
        Execution(
            index=0, ee="ee-1", start=Start.COLD, status=Status.ERROR, arrived_at_s=0.0,
            at_s=0.0, duration_ms=10.0, error=error,
            retry=Retry("step", 1, "retried", 141.0, 1),
        ),
        Execution(
            index=1, ee="ee-1", start=Start.WARM, status=Status.OK, arrived_at_s=141.0,
            at_s=141.0, duration_ms=10.0, part=2, first_index=0, attempt=2, found_files=[],
        ),
        Execution(
            index=2, ee="", start=Start.COLD, status=Status.DROPPED, arrived_at_s=7.0,
            at_s=7.0, duration_ms=0.0,
            error=StepError("Event Queue Full", "the queue holds 1 event", None),
        ),
        Execution(
            index=3, ee="ee-1", start=Start.WARM, status=Status.OK, arrived_at_s=200.0,
            at_s=200.0, duration_ms=10.0,
        ),
        Execution(
            index=4, ee="ee-1", start=Start.WARM, status=Status.ERROR, arrived_at_s=300.0,
            at_s=300.0, duration_ms=10.0, error=error,
            retry=Retry("step", 1, "pending", 441.0),
        ),
    ]:  # fmt: skip
        log.append(execution)
    ees = {"ee-1": EELife("ee-1", False, 0.0, [0, 1, 3, 4], Retire.END, 300.01)}
    run_settings = settings(len(log))
    run_settings.auto_retry = described(True)
    return RunResult("retried", run_settings, log, ees)
