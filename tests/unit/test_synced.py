"""Workflow and project folders as GitHub Sync writes them: read, checked, turned into a
plan, and every way to get them wrong. No Docker."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fake_backend import FakeBackend

from pdee.checking.project import check_project
from pdee.engine.runner import Runner
from pdee.errors import UsageError
from pdee.outputs import junit
from pdee.plan.events import WorkflowIds, timer_event
from pdee.plan.run_plan import build_plan
from pdee.plan.synced import find_workflows, read_workflow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "project"
CACHE = "events-cache-p_JZCLpgk"
REPORT = "reports/daily-report-p_Q8mWv2n"
STEP = 'def handler(pd: "pipedream"):\n    return 1\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project, for a test to change."""
    shutil.copytree(EXAMPLE, tmp_path / "project")
    return tmp_path / "project"


def write_workflow(folder: Path, yaml_text: str, steps: tuple[str, ...] = ("a",)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workflow.yaml").write_text(yaml_text)
    for name in steps:
        (folder / name).mkdir(exist_ok=True)
        (folder / name / "entry.py").write_text(STEP)
    return folder


def one_step(namespace: str = "a", uses: str = "./a/entry.py", extra: str = "") -> str:
    return (
        "schema: workflow/2022.04\nname: W\ntriggers:\n- id: hi_x\nsteps:\n"
        f"- namespace: {namespace}\n  runtime: python3.12\n  uses: {uses}\n{extra}"
    )


def test_the_example_project_reads_as_the_platform_wrote_it():
    assert [p.relative_to(EXAMPLE).as_posix() for p in find_workflows(EXAMPLE)] == [CACHE, REPORT]
    cache = read_workflow(EXAMPLE / CACHE)
    assert (cache.name, cache.workflow_id, cache.trigger) == ("Events cache", "p_JZCLpgk", "http")
    get_events = cache.steps[0]
    assert get_events.stores == {"data_store": "ds_A2unn7q"}
    assert get_events.inputs == {"city": "nola"}  # a literal prop is pd.inputs
    report = read_workflow(EXAMPLE / REPORT)
    assert report.trigger == "timer" and not report.serves_http
    assert [s.namespace for s in report.steps if not s.runs] == ["log_run", "send_email_to_self"]
    assert report.steps[-1].what == "nodejs20.x action email-send-email-to-self@0.4.4"


def test_a_workflow_folder_is_a_plan_with_steps_named_by_namespace():
    plan = build_plan([EXAMPLE / REPORT], events=2)
    assert [s.name for s in plan.steps] == [
        "export_rows",
        "summarize",
        "create_email_text",
        "log_run",
        "send_email_to_self",
    ]
    assert [s.runs for s in plan.steps] == [True, True, True, False, True]  # email: emulated
    assert plan.steps[1].stores == {"cache": "ds_A2unn7q"}
    assert plan.data_stores == {"ds_A2unn7q": None}  # attached, empty for the run
    assert plan.timeout_s == 60.0 and plan.trigger == "timer"  # a timer's default
    assert build_plan([EXAMPLE / CACHE]).timeout_s == 30.0
    assert build_plan([EXAMPLE / REPORT], timeout=12).timeout_s == 12.0
    assert plan.code_bytes == 3 * 4096  # stand-ins take no room in /tmp
    notes = " | ".join(plan.notes)
    assert "step send_email_to_self runs email-send-email-to-self@0.4.4 as pdee emulates" in notes
    assert "--step-result log_run=JSON" in notes


def test_step_results_give_what_a_step_pdee_cannot_run_returns(tmp_path):
    given = tmp_path / "sent.json"
    given.write_text('{"sent": true}')
    plan = build_plan(
        [EXAMPLE / REPORT], step_results=["log_run=[1, 2]", f"send_email_to_self=@{given}"]
    )
    stand_ins = {s.name: s.stand_in for s in plan.steps if s.stand_in}
    assert stand_ins["log_run"].return_value == [1, 2] and stand_ins["log_run"].given
    assert stand_ins["send_email_to_self"].return_value == {"sent": True}
    assert build_plan([EXAMPLE / REPORT], step_results={"log_run": None}).steps[3].stand_in.given
    for bad, message in [
        (["summarize=1"], "a Python step, which pdee runs"),
        (["nope=1"], "not a step of the workflow"),
        (["log_run"], "write NAME=JSON or NAME=@FILE"),
        (["log_run={"], "--step-result log_run"),
    ]:
        with pytest.raises(UsageError, match=message):
            build_plan([EXAMPLE / REPORT], step_results=bad)


def test_data_stores_are_named_by_prop_or_by_store_id(tmp_path):
    by_prop = build_plan([EXAMPLE / REPORT], data_stores=[f"cache={tmp_path / 'c.db'}"])
    assert by_prop.data_stores == {"ds_A2unn7q": tmp_path / "c.db"}
    by_id = build_plan([EXAMPLE / CACHE], data_stores=["ds_A2unn7q=x.db"])
    assert by_id.data_stores == {"ds_A2unn7q": Path("x.db")}
    with pytest.raises(
        UsageError,
        match=r"no such data store prop or storeId; its data "
        r"stores: data_store \(ds_A2unn7q\)",
    ):
        build_plan([EXAMPLE / CACHE], data_stores=["other"])


def test_a_prop_that_names_two_stores_must_be_given_by_store_id(tmp_path):
    extra = "  props:\n    data_store:\n      storeId: ds_{}\n"
    folder = tmp_path / "wf"
    text = one_step("a", extra=extra.format("one")) + (
        "- namespace: b\n  runtime: python3.12\n  uses: ./b/entry.py\n" + extra.format("two")
    )
    write_workflow(folder, text, ("a", "b"))
    with pytest.raises(UsageError, match=r"names 2 stores \(ds_one, ds_two\); give the storeId"):
        build_plan([folder], data_stores=["data_store=x.db"])
    plan = build_plan([folder], data_stores=["ds_two=x.db"])
    assert plan.data_stores == {"ds_one": None, "ds_two": Path("x.db")}


def test_inputs_are_shared_or_a_steps_own(tmp_path):
    inputs = {"token": "t", "$steps": {"get_events": {"city": "paris"}, "reply": {"n": 1}}}
    plan = build_plan([EXAMPLE / CACHE], inputs=inputs)
    assert plan.steps[0].inputs == {"city": "paris", "token": "t"}  # its own win
    assert plan.steps[1].inputs == {"n": 1, "token": "t"}
    with pytest.raises(UsageError, match="names step 'nope', which is not a Python step"):
        build_plan([EXAMPLE / CACHE], inputs={"$steps": {"nope": {}}})
    with pytest.raises(UsageError, match='"\\$steps" must map step names to objects'):
        build_plan([EXAMPLE / CACHE], inputs={"$steps": {"reply": 1}})
    with pytest.raises(UsageError, match=r"both give pd.inputs\['data_store'\] of step"):
        build_plan([EXAMPLE / CACHE], inputs={"data_store": 1})


def test_props_pdee_cannot_give_are_noted(tmp_path):
    extra = (
        "  props:\n    slack:\n      authProvisionId: apn_1\n"
        '    text: "{{steps.trigger.event.body}}"\n'
    )
    folder = write_workflow(tmp_path / "wf", one_step(extra=extra))
    plan = build_plan([folder])
    assert plan.steps[0].inputs == {}
    assert plan.steps[0].unset == {"slack": "a connected account"}
    assert plan.steps[0].expressions == {"text": "{{steps.trigger.event.body}}"}
    assert any('give pd.inputs["slack"] in --inputs under "$steps"' in n for n in plan.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (one_step().replace("workflow/2022.04", "workflow/2030.01"), "is not workflow/2022.04"),
        ("schema: workflow/2022.04\nsteps: []\n", "lists no steps"),
        ("schema: [unclosed\n", r"workflow.yaml at line 2: .*expected .* \(while parsing a flow sequence at line 1\); fix the YAML"),
        ("- a list\n", "is not a workflow"),
        (one_step(uses="../../etc/passwd.py"), "is outside the workflow's folder"),
        (one_step(uses="./b/entry.py"), "uses ./b/entry.py, which does not exist"),
        (one_step(namespace="trigger"), "'trigger' is the trigger's name"),
        (one_step(namespace="'a b'"), "step 1 has no valid namespace"),
        (one_step().replace("  runtime: python3.12\n", ""), "step a has no runtime"),
        (one_step() + "- namespace: a\n  runtime: python3.12\n  uses: ./a/entry.py\n", "two steps are named 'a'"),
        (one_step(extra="  props:\n    __configurableProps:\n    - name: ds\n      type: data_store\n    ds: {}\n"), "data store prop 'ds' has no storeId"),
    ],
)  # fmt: skip
def test_bad_workflow_files_are_one_line_errors(tmp_path, text, message):
    folder = write_workflow(tmp_path / "wf", text)
    with pytest.raises(UsageError, match=message) as caught:
        build_plan([folder])
    assert "\n" not in str(caught.value)


def test_folders_that_are_no_workflow_say_what_to_give(tmp_path, project, write_step):
    with pytest.raises(UsageError, match="is a project of 2 workflow"):
        build_plan([project])
    with pytest.raises(UsageError, match=r"holds no workflow\.yaml; give step files"):
        build_plan([tmp_path / "project" / "reports" / "daily-report-p_Q8mWv2n" / "summarize"])
    with pytest.raises(UsageError, match="give one workflow folder alone, or step files"):
        build_plan([project / CACHE, write_step("s", STEP)])
    only_node = (
        "schema: workflow/2022.04\nsteps:\n- namespace: n\n  runtime: nodejs20.x\n"
        "  uses: ./n/entry.js\n"
    )
    with pytest.raises(UsageError, match="none of its steps is Python code"):
        build_plan([write_workflow(tmp_path / "node", only_node, ())])


def test_find_workflows_skips_version_control_and_dependencies(project):
    write_workflow(project / ".git" / "wf", one_step())
    write_workflow(project / "node_modules" / "wf", one_step())
    write_workflow(project / "a" / "b" / "c" / "deep", one_step())
    found = [p.relative_to(project).as_posix() for p in find_workflows(project)]
    assert found == ["a/b/c/deep", CACHE, REPORT]


def test_the_workflow_id_comes_from_the_state_file_or_the_folder_name(project):
    (project / CACHE / ".workflow.state").unlink()
    assert read_workflow(project / CACHE).workflow_id == "p_JZCLpgk"  # the folder's name
    (project / CACHE / ".workflow.state").write_text("id: p_fromState\n")
    assert read_workflow(project / CACHE).workflow_id == "p_fromState"


def test_the_context_names_the_synced_workflow():
    import random

    made = WorkflowIds.create(random.Random(1), "last_step", read_workflow(EXAMPLE / CACHE))
    assert (made.workflow_id, made.name, made.emitter_id) == (
        "p_JZCLpgk",
        "Events cache",
        "hi_PrHpRDw",
    )


def test_a_timer_event_carries_its_time():
    when = datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc)
    event = timer_event(when, 900.0)
    assert event["timestamp"] == int(when.timestamp()) and event["interval_seconds"] == 900
    assert event["timezone_utc"]["iso8601"]["date"] == "2026-12-02"
    assert event["timezone_configured"]["day_of_week"] == "Wednesday"


def test_the_runtime_loads_stand_ins_and_each_steps_own_props():
    plan = build_plan([EXAMPLE / REPORT], events=1, seed=1, step_results=["log_run=7"])
    backend = FakeBackend()
    result = Runner(backend, plan).run()
    load = Runner(backend, plan).work.load_message()
    steps = {step["name"]: step for step in load["steps"]}
    assert steps["log_run"] == {"name": "log_run", "stand_in": True, "return_value": 7}
    assert steps["summarize"]["stores"] == {"cache": "ds_A2unn7q"}
    assert backend.ees[0].stores == ["ds_A2unn7q"]
    assert result.settings.workflow == {
        "name": "Daily report",
        "id": "p_Q8mWv2n",
        "folder": str(EXAMPLE / REPORT),
        "triggers": ["ti_bx3Lq0W"],
        "trigger": "timer",
        "inactive": False,
        "disabled_steps": [],
        "lambda_timeout_s": None,
        "auto_retry": False,
    }
    assert len(result.settings.notes) == 2 and result.settings.timeout_s == 60.0
    assert result.settings.timeout_from == "default"


def test_a_project_check_has_a_suite_per_workflow_and_shares_named_stores(project, tmp_path):
    seen = []
    result = check_project(project, backend=FakeBackend(), on_workflow=seen.append, seed=3)
    assert [w.name for w in seen] == ["Events cache", "Daily report"]
    assert result.safe
    stores = [w.result.runs["warm"].settings.data_stores for w in result.workflows if w.result]
    assert stores[0] == stores[1] and list(stores[0]) == ["ds_A2unn7q"]  # one shared file
    assert stores[0]["ds_A2unn7q"] is not None
    xml = junit.project_xml(result)
    assert [suite.name for suite in xml] == ["Events cache", "Daily report"]
    shown = json.loads(json.dumps(result.to_json()))
    assert [w["name"] for w in shown["workflows"]] == ["Events cache", "Daily report"]
    with pytest.raises(UsageError, match="--data-store nope: no workflow of"):
        check_project(project, backend=FakeBackend(), data_stores=["nope"])
    with pytest.raises(UsageError, match="--step-result reply: no workflow of"):
        check_project(project, backend=FakeBackend(), step_results=["reply=1"])
    with pytest.raises(UsageError, match="holds no workflow"):
        check_project(tmp_path / "project" / CACHE / "reply", backend=FakeBackend())
