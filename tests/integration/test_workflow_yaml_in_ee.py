"""``workflow.yaml`` read as the platform reads it (issue 29), against the real daemon and
image: ``settings.lambda_timeout``, a ``disabled`` step, an ``inactive`` workflow in a
project check, and a ``{{ }}`` path expression reaching the next step's ``pd.inputs``.
Each test writes its own small synced folder."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

FIRST = """
def handler(pd: "pipedream"):
    return {"x": {"n": [1, 2]}, "name": "Ann"}
"""
SECOND = """
def handler(pd: "pipedream"):
    return {"inputs": dict(pd.inputs), "steps": sorted(pd.steps)}
"""
SLOW = """
import time

def handler(pd: "pipedream"):
    time.sleep(30)
"""
RAISES = """
def handler(pd: "pipedream"):
    raise RuntimeError("a disabled step must never run")
"""


def synced(
    folder: Path, steps: dict[str, str], head: str = "", yaml_steps: dict[str, str] | None = None
) -> Path:
    """A workflow folder as GitHub Sync writes it: ``steps`` (namespace: code) in order,
    ``head`` after its name, ``yaml_steps`` (each step's extra YAML lines) by namespace."""
    folder.mkdir(parents=True)
    listed = ""
    for name, code in steps.items():
        (folder / name).mkdir()
        (folder / name / "entry.py").write_text(code)
        listed += f"- namespace: {name}\n  runtime: python3.12\n  uses: ./{name}/entry.py\n"
        listed += (yaml_steps or {}).get(name, "")
    (folder / "workflow.yaml").write_text(
        f"schema: workflow/2022.04\nname: {folder.name}\n{head}triggers:\n- id: hi_T1\n"
        f"steps:\n{listed}"
    )
    return folder


def test_lambda_timeout_ends_a_slow_step_as_a_timeout(pdee, tmp_path):
    folder = synced(tmp_path / "slow-p_A1", {"slow": SLOW}, "settings:\n  lambda_timeout: 2\n")
    ran = pdee("run", folder, "--network", "none")
    assert ran.exit_code == 1, ran.stdout + ran.stderr
    (execution,) = ran.executions
    assert execution["status"] == "timeout" and execution["duration_ms"] < 15_000
    assert "ran past 2 s" in execution["error"]["message"]
    settings = ran.report["settings"]
    assert (settings["timeout_s"], settings["timeout_from"]) == (2, "workflow.yaml")


def test_a_disabled_step_is_not_run_and_a_prop_expression_reaches_the_next_step(pdee, tmp_path):
    extra = {
        "skipped": "  disabled: true\n",
        "second": (
            "  props:\n"
            '    x: "{{steps.first.$return_value.x}}"\n'
            "    greeting: 'Hi {{ steps.first.$return_value.name }}, n={{steps.first.$return_value.x.n[1]}}'\n"
            '    gone: "{{steps.skipped.$return_value}}"\n'
            '    now: "{{Date.now()}}"\n'
        ),
    }
    folder = synced(
        tmp_path / "props-p_B2",
        {"first": FIRST, "skipped": RAISES, "second": SECOND},
        yaml_steps=extra,
    )
    ran = pdee("run", folder, "--network", "none")
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    (execution,) = ran.executions
    assert list(execution["steps"]) == ["first", "second"]
    second = execution["steps"]["second"]["return_value"]
    assert second["steps"] == ["first", "trigger"]  # no such step as the disabled one
    assert second["inputs"] == {"x": {"n": [1, 2]}, "greeting": "Hi Ann, n=2"}
    assert ran.stdout.count("disabled step skipped") == 1
    assert "step second's prop now is the expression '{{Date.now()}}'" in ran.stdout


def test_a_project_check_skips_an_inactive_workflow_unless_asked(pdee, tmp_path):
    project = tmp_path / "project"
    synced(project / "live-p_C3", {"first": FIRST})
    synced(project / "paused-p_D4", {"boom": RAISES}, "inactive: true\n")
    checked = pdee("check", project, "--warm", "2", "--horizon", "2")
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert "it is inactive (inactive: true); check it with --include-inactive" in checked.stdout
    every = pdee("check", project, "--warm", "2", "--horizon", "2", "--include-inactive")
    assert every.exit_code == 1, every.stdout + every.stderr  # its step raises: not safe
