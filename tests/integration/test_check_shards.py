"""`pdee check PROJECT --shard K/N` against the real daemon and image: two CI jobs of a
small synced project check every workflow once, and their JUnit files merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import JUnitXml

pytestmark = pytest.mark.usefixtures("no_new_containers")

WORKFLOW = """schema: workflow/2022.04
name: {name}
triggers:
- id: hi_{id}
steps:
- namespace: step
  runtime: python3.12
  uses: "./step/entry.py"
"""
STEP = 'def handler(pd: "pipedream"):\n    return "ok"\n'
# Folder name: the workflow's id (p_...) after its slug, as GitHub Sync writes it.
WORKFLOWS = {"Alpha": "p_Z9ab", "Beta": "p_M1cd", "Gamma": "p_A5ef"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for name, workflow_id in WORKFLOWS.items():
        folder = root / ("nested" if name == "Gamma" else "") / f"{name.lower()}-{workflow_id}"
        (folder / "step").mkdir(parents=True)
        (folder / "workflow.yaml").write_text(WORKFLOW.format(name=name, id=workflow_id))
        (folder / "step" / "entry.py").write_text(STEP)
    return root


def test_two_shards_check_every_workflow_once_and_their_junit_files_merge(pdee, project, tmp_path):
    suites, shards = [], []
    for k in (1, 2):
        junit, report = tmp_path / f"check-{k}.xml", tmp_path / f"check-{k}.json"
        checked = pdee(
            "check", project, "--shard", f"{k}/2", "--warm", "1", "--horizon", "2",
            "--network", "none", "--junit", junit, "--json", report,
        )  # fmt: skip
        assert checked.exit_code == 0, checked.stdout + checked.stderr
        assert (
            f"shard {k}/2: " in checked.stdout and "of the project's 3 workflows" in checked.stdout
        )
        shards.append(json.loads(report.read_text()))
        suites += [suite.name for suite in JUnitXml.fromfile(str(junit))]
    # By id, not by folder: p_A5ef (Gamma) and p_M1cd (Beta) in the first part, each part
    # in the project's folder order; p_Z9ab (Alpha) in the second.
    assert [[w["name"] for w in shard["workflows"]] for shard in shards] == [
        ["Beta", "Gamma"],
        ["Alpha"],
    ]
    assert shards[0]["shard"] == {"k": 1, "n": 2, "of_workflows": 3}
    assert sorted(suites) == sorted(WORKFLOWS)  # merged: each workflow's suite once
