"""What ``--debug-port`` tells the user: where to attach, and a VS Code ``launch.json``.

The attach configurations name no path mapping: the EE's debug server maps each step's
file on this machine to the copy that runs (see ``runtime.worker.serve_debugger``).
"""

from __future__ import annotations

import json
from typing import Any

from ..plan.run_plan import RunPlan, debugged_steps


def attach_configurations(plan: RunPlan) -> list[dict[str, Any]]:
    """One VS Code attach configuration per Python step (debugpy's ``attach`` over TCP)."""
    assert plan.debug_port is not None
    return [
        {
            "name": f"pdee: attach to {step.name}",
            "type": "debugpy",
            "request": "attach",
            "connect": {"host": "127.0.0.1", "port": plan.debug_port + n},
            "justMyCode": True,
        }
        for n, step in enumerate(debugged_steps(plan.steps))
    ]


def launch_json(plan: RunPlan) -> dict[str, Any]:
    """A ``.vscode/launch.json`` that attaches to every Python step (a compound when the
    workflow has more than one)."""
    configurations = attach_configurations(plan)
    launch: dict[str, Any] = {"version": "0.2.0", "configurations": configurations}
    if len(configurations) > 1:
        launch["compounds"] = [
            {
                "name": "pdee: attach to every step",
                "configurations": [c["name"] for c in configurations],
            }
        ]
    return launch


def attach_note(plan: RunPlan) -> str:
    """The lines printed before a debugged run: the ports, the wait, the launch.json."""
    assert plan.debug_port is not None
    steps = debugged_steps(plan.steps)
    where = ", ".join(
        f"{step.name} at 127.0.0.1:{plan.debug_port + n}" for n, step in enumerate(steps)
    )
    return (
        f"Debugging with debugpy: attach a debugger to {where}. The first execution waits "
        f"until it is attached; breakpoints go in your own step files (no path mapping "
        f"needed); the timeout stops while a debugger holds a step.\n"
        f"VS Code (.vscode/launch.json):\n{json.dumps(launch_json(plan), indent=2)}"
    )
