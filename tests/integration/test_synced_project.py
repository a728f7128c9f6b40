"""A project as GitHub Sync writes it (a copy of examples/project: a workflow with a
data store prop used as a cache, and a timer workflow whose Python steps hand a file
through /tmp and whose last steps pdee cannot run), run, checked and served against the
real daemon and image."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests
from junitparser import JUnitXml

import pdee

pytestmark = pytest.mark.usefixtures("no_new_containers")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "project"
CACHE = "events-cache-p_JZCLpgk"
REPORT = "reports/daily-report-p_Q8mWv2n"
CONTEXT = """
def handler(pd: "pipedream"):
    context = pd.steps["trigger"]["context"]
    found = pd.steps["get_events"]["$return_value"]
    pd.respond({"status": 200, "headers": {"x-cache": "hit" if found["cached"] else "miss"},
                "body": found["events"]})
    return [context["workflow_id"], context["workflow_name"], context["emitter_id"]]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "project")
    (tmp_path / "project" / CACHE / "reply" / "entry.py").write_text(CONTEXT)
    return tmp_path / "project"


def test_run_a_workflow_folder_with_its_data_store_as_a_cache(pdee, project):
    ran = pdee("run", project / CACHE, "--events", "3", "--mode", "warm", "--network", "none")
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    steps = [e["steps"] for e in ran.executions]
    assert [list(s) for s in steps] == [["get_events", "reply"]] * 3  # named by namespace
    assert [s["get_events"]["return_value"]["cached"] for s in steps] == [False, True, True]
    assert steps[0]["reply"]["return_value"] == ["p_JZCLpgk", "Events cache", "hi_PrHpRDw"]
    settings = ran.report["settings"]
    assert settings["data_stores"] == {"ds_A2unn7q": None}
    assert settings["workflow"]["name"] == "Events cache" and settings["timeout_s"] == 30
    assert ran.report["data_stores"]["ds_A2unn7q"]["records"]["nola"]["value"][0] == "nola event 0"


def test_run_a_timer_workflow_whose_last_steps_pdee_cannot_run(pdee, project):
    ran = pdee(
        "run", project / REPORT, "--events", "2", "--mode", "warm", "--network", "none",
        "--step-result", 'send_email_to_self={"sent": true}',
    )  # fmt: skip
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    assert "pdee does not run step log_run (nodejs20.x code ./log_run/entry.js)" in ran.stdout
    for execution in ran.executions:
        steps = execution["steps"]
        assert steps["summarize"]["return_value"]["orders"] == 117  # the file in /tmp
        assert steps["create_email_text"]["return_value"]["email"].startswith("117 orders on ")
        assert steps["log_run"] == {
            "return_value": None, "exports": {}, "logs": "", "stderr_lines": [],
            "duration_ms": 0.0, "stand_in": True,
        }  # fmt: skip
        assert steps["send_email_to_self"]["return_value"] == {"sent": True}
        assert execution["tmp"]["files"] == 0  # the file handed on was removed
    assert ran.report["settings"]["timeout_s"] == 60  # a timer's default


def test_check_a_project_one_junit_suite_per_workflow(pdee, project, tmp_path):
    xml_path, json_path = tmp_path / "check.xml", tmp_path / "check.json"
    checked = pdee("check", project, "--junit", xml_path, "--json", json_path)
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert "project " in checked.stdout and "2 workflows safe to deploy" in checked.stdout
    suites = list(JUnitXml.fromfile(str(xml_path)))
    assert [suite.name for suite in suites] == ["Events cache", "Daily report"]
    assert all(suite.tests == 7 and suite.failures == 0 for suite in suites)

    report = json.loads(json_path.read_text())["workflows"][1]["reports"]["warm"]
    # The store both workflows name is one for the project: the cache the first filled.
    assert report["executions"][0]["steps"]["summarize"]["return_value"]["cached_cities"] == 1


def test_a_broken_workflow_fails_the_project_check(pdee, project):
    entry = project / REPORT / "summarize" / "entry.py"
    entry.write_text(entry.read_text().replace("    os.remove(path)\n", ""))
    checked = pdee("check", project)
    assert checked.exit_code == 1
    assert "NOT safe to deploy: Daily report (1 of 2 workflows)" in checked.stdout


def test_serve_a_workflow_folder(project):
    with pdee.serve([project / CACHE], custom_response=True, network="none") as server:
        first = requests.get(server.url + "/?city=paris")
        second = requests.get(server.url + "/?city=paris")
    assert first.json() == ["paris event 0", "paris event 1", "paris event 2"]
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert server.result is not None
    assert list(server.result.executions[0].steps) == ["get_events", "reply"]


def test_workflow_mistakes_are_usage_errors_before_any_ee(pdee, project):
    yaml_path = project / CACHE / "workflow.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("workflow/2022.04", "workflow/2099.01"))
    ran = pdee("run", project / CACHE)
    assert ran.exit_code == 2 and ran.stderr.count("\n") == 1
    assert "schema 'workflow/2099.01' is not workflow/2022.04" in ran.stderr
    served = pdee("serve", project / REPORT, "--port", "0")
    assert served.exit_code == 2 and "has no HTTP trigger" in served.stderr


def test_packages_of_a_project_are_shown_per_workflow(pdee, project):
    folder = project / "uses-six-p_Six1234"
    (folder / "step").mkdir(parents=True)
    (folder / "step" / "entry.py").write_text(
        'import six\n\ndef handler(pd: "pipedream"):\n    return six.__name__\n'
    )
    (folder / "workflow.yaml").write_text(
        "schema: workflow/2022.04\nname: Uses six\nsteps:\n- namespace: step\n"
        "  runtime: python3.12\n  uses: ./step/entry.py\n"
    )
    shown = pdee("packages", project)
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert f"workflow {project / CACHE}: the steps import no package" in shown.stdout
    assert f"workflow {folder}" in shown.stdout and "six" in shown.stdout
