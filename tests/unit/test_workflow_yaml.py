"""``workflow.yaml`` read as the platform reads it (issue 29): ``settings.lambda_timeout``,
``disabled`` steps, ``inactive`` workflows, ``_filter`` noted, and ``{{ }}`` path
expressions in props (evaluated by ``runtime.expressions``). No Docker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fake_backend import FakeBackend
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pdee.checking.project import check_project
from pdee.cli import app
from pdee.engine.runner import Runner
from pdee.errors import UsageError
from pdee.plan.run_plan import build_plan
from pdee.plan.synced import read_workflow
from pdee.runtime.expressions import (
    MISSING,
    as_text,
    lookup,
    parse_path,
    paths_only,
    render,
    resolve,
)

STEP = 'def handler(pd: "pipedream"):\n    return 1\n'
RAISES = 'def handler(pd: "pipedream"):\n    raise RuntimeError("disabled, never run")\n'
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "project"


def workflow(folder: Path, head: str = "", steps: str = "", names: tuple[str, ...] = ()) -> Path:
    """A synced workflow: ``head`` after its name, ``steps`` after step ``a``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (
        f"schema: workflow/2022.04\nname: W\n{head}triggers:\n- id: hi_x\nsteps:\n"
        f"- namespace: a\n  runtime: python3.12\n  uses: ./a/entry.py\n{steps}"
    )
    (folder / "workflow.yaml").write_text(text)
    for name in ("a", *names):
        (folder / name).mkdir(exist_ok=True)
        (folder / name / "entry.py").write_text(RAISES if name.startswith("skip") else STEP)
    return folder


def python_step(name: str, extra: str = "") -> str:
    return f"- namespace: {name}\n  runtime: python3.12\n  uses: ./{name}/entry.py\n{extra}"


# -- settings.lambda_timeout ---------------------------------------------------------


def test_lambda_timeout_is_the_default_under_the_command_line(tmp_path):
    folder = workflow(
        tmp_path / "wf", "settings:\n  error_notification: true\n  lambda_timeout: 40\n"
    )
    assert read_workflow(folder).lambda_timeout_s == 40.0
    plan = build_plan([folder])
    assert (plan.timeout_s, plan.timeout_from) == (40.0, "workflow.yaml")
    given = build_plan([folder], timeout=5)
    assert (given.timeout_s, given.timeout_from) == (5.0, "given")
    plain = build_plan([workflow(tmp_path / "plain")])
    assert (plain.timeout_s, plain.timeout_from) == (30.0, "default")
    result = Runner(FakeBackend(), plan).run()
    assert (result.settings.timeout_s, result.settings.timeout_from) == (40.0, "workflow.yaml")
    assert result.settings.to_json()["timeout_from"] == "workflow.yaml"


@pytest.mark.parametrize("value", ["0", "751", "-3", "'40'", "true", "[40]", ".nan"])
def test_a_lambda_timeout_the_platform_does_not_allow_is_one_line(tmp_path, value):
    folder = workflow(tmp_path / "wf", f"settings:\n  lambda_timeout: {value}\n")
    with pytest.raises(UsageError, match=r"workflow.yaml"):
        build_plan([folder])


def test_settings_must_be_a_mapping(tmp_path):
    with pytest.raises(UsageError, match="settings must be a mapping"):
        build_plan([workflow(tmp_path / "wf", "settings: 40\n")])


# -- disabled steps, inactive workflows, _filter ---------------------------------------


def test_a_disabled_step_is_not_run_nor_in_pd_steps(tmp_path):
    steps = python_step("skip", "  disabled: true\n") + python_step("b")
    steps += "- namespace: tell\n  disabled: true\n  runtime: nodejs20.x\n  uses: x-y@0.0.1\n"
    folder = workflow(tmp_path / "wf", steps=steps, names=("skip", "b"))
    assert read_workflow(folder).disabled == ["skip", "tell"]
    plan = build_plan([folder])
    assert [s.name for s in plan.steps] == ["a", "b"]
    assert sum("disabled steps skip, tell" in note for note in plan.notes) == 1
    load = Runner(FakeBackend(), plan).work.load_message()
    assert [step["name"] for step in load["steps"]] == ["a", "b"]
    with pytest.raises(UsageError, match="not a step of the workflow"):
        build_plan([folder], step_results=["tell=1"])


def test_a_workflow_whose_python_steps_are_all_disabled_is_one_line(tmp_path):
    text = "schema: workflow/2022.04\nsteps:\n" + python_step("skip", "  disabled: true\n")
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "workflow.yaml").write_text(text)
    (folder / "skip").mkdir()
    (folder / "skip" / "entry.py").write_text(RAISES)
    with pytest.raises(UsageError, match="none of its enabled steps is Python code"):
        build_plan([folder])
    with pytest.raises(UsageError, match="disabled must be true or false"):
        build_plan(
            [workflow(tmp_path / "x", steps=python_step("b", "  disabled: 'yes'\n"), names=("b",))]
        )


def test_an_inactive_workflow_is_run_with_a_note(tmp_path):
    folder = workflow(tmp_path / "wf", "inactive: true\n")
    plan = build_plan([folder])
    assert plan.workflow is not None and plan.workflow.inactive
    assert any("is inactive (inactive: true" in note and "runs it" in note for note in plan.notes)
    assert not any("inactive" in n for n in build_plan([workflow(tmp_path / "on")]).notes)
    with pytest.raises(UsageError, match="inactive must be true or false"):
        build_plan([workflow(tmp_path / "bad", "inactive: 1\n")])


def test_a_project_check_skips_inactive_workflows_unless_asked(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    workflow(project / "paused-p_X1", "inactive: true\n")
    seen: list[str] = []
    checked = check_project(
        project, backend=FakeBackend(), on_workflow=lambda w: seen.append(w.name)
    )
    skipped = {w.workflow.folder.name: w.skipped for w in checked.workflows if w.skipped}
    assert skipped == {
        "paused-p_X1": "it is inactive (inactive: true); check it with --include-inactive"
    }
    assert "W" not in seen and checked.safe
    shown = checked.to_json()["workflows"]
    assert [w["inactive"] for w in shown] == [False, True, False]
    every = check_project(project, backend=FakeBackend(), include_inactive=True)
    assert all(w.result is not None for w in every.workflows)


def test_the_cli_has_include_inactive():
    result = CliRunner().invoke(app, ["check", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--include-inactive" in result.output


def test_a_step_filter_is_noted_not_evaluated_nor_an_input(tmp_path):
    extra = (
        "  props:\n    _filter:\n      continue: 'false'\n      rules:\n"
        "      - '{{steps.trigger.event.path_display}}'\n    city: nola\n"
    )
    plan = build_plan([workflow(tmp_path / "wf", steps=python_step("b", extra), names=("b",))])
    assert plan.steps[1].inputs == {"city": "nola"} and not plan.steps[1].expressions
    notes = [n for n in plan.notes if "_filter" in n]
    assert notes == [
        "step b's filter (_filter) is not evaluated: the step runs, and the workflow goes "
        "on, whatever its rules say"
    ]


# -- {{ }} expressions: the plan -------------------------------------------------------


def test_props_with_path_expressions_are_evaluated_others_are_noted(tmp_path):
    extra = (
        "  props:\n"
        '    x: "{{steps.a.$return_value.x}}"\n'
        "    texts:\n    - 'Hi {{ steps.trigger.event.body.name }}!'\n"
        "    picked:\n      __lv: {label: /SSOut, value: /SSOut}\n"
        '    when: "{{Date.now()}}"\n'
        '    trimmed: "{{steps.trigger.event.body.text.trim()}}"\n'
        "    plain: '{ \"photos\": steps.get_photos.$return_value }'\n"
    )
    plan = build_plan([workflow(tmp_path / "wf", steps=python_step("b", extra), names=("b",))])
    b = plan.steps[1]
    assert b.expressions == {
        "x": "{{steps.a.$return_value.x}}",
        "texts": ["Hi {{ steps.trigger.event.body.name }}!"],
    }
    assert b.inputs == {"picked": "/SSOut", "plain": '{ "photos": steps.get_photos.$return_value }'}
    assert set(b.unset) == {"when", "trimmed"}
    notes = " | ".join(plan.notes)
    assert "step b's prop when is the expression '{{Date.now()}}' (JavaScript, not a path" in notes
    assert "step b's prop trimmed is the expression" in notes
    load = Runner(FakeBackend(), plan).work.load_message()
    assert load["steps"][1]["expressions"] == b.expressions  # type: ignore[typeddict-item]
    given = build_plan([tmp_path / "wf"], inputs={"$steps": {"b": {"x": 1, "when": 2}}}).steps[1]
    assert "x" not in given.expressions and given.inputs["x"] == 1  # --inputs wins
    assert "when" not in given.unset


def test_a_path_over_a_step_not_before_is_noted(tmp_path):
    first = '  props:\n    early: "{{steps.b.$return_value}}"\n'
    later = (
        "  props:\n"
        '    fine: "{{steps.a.$return_value}} {{steps.trigger.event}}"\n'
        '    gone: ["{{steps.skip.$return_value}}", "{{steps.nope[0]}}"]\n'
    )
    text = (
        "schema: workflow/2022.04\ntriggers:\n- id: hi_x\nsteps:\n"
        + python_step("a", first)
        + python_step("skip", "  disabled: true\n")
        + python_step("b", later)
    )
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "workflow.yaml").write_text(text)
    for name in ("a", "skip", "b"):
        (folder / name).mkdir()
        (folder / name / "entry.py").write_text(STEP)
    notes = [n for n in build_plan([folder]).notes if "which is not a step before it" in n]
    assert [n.split(":")[0] for n in notes] == [
        "step a's prop early reads steps.b, which is not a step before it",
        "step b's prop gone reads steps.skip, which is not a step before it",
        "step b's prop gone reads steps.nope, which is not a step before it",
    ]


# -- {{ }} expressions: the evaluator (runtime/expressions.py) --------------------------


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("steps.a.$return_value", ["a", "$return_value"]),
        (" steps.trigger.event.body.text ", ["trigger", "event", "body", "text"]),
        ("steps.x.$return_value[1]", ["x", "$return_value", 1]),
        ("steps.x.$return_value.images[0].url", ["x", "$return_value", "images", 0, "url"]),
        ("steps[\"a b\"]['c'] [ 2 ]", ["a b", "c", 2]),
        ("steps", []),
    ],
)
def test_paths_parse(text, keys):
    assert parse_path(text) == keys


@pytest.mark.parametrize(
    "text",
    [
        "Date.now()",
        "steps.a.trim()",
        "steps.a.replace(/<.*?>/g,'')",
        "steps.a.split(':').pop()",
        "a.length >= 1 || b.length >= 1",
        "steps.a + 1",
        "`${new Date()}`",
        "event.body",
        "stepsX.a",
        "steps.a[b]",
        "steps.a[-1]",
        "steps.a.",
        "steps.a['x\\'y']",
        "JSON.stringify(steps.a)",
    ],
)
def test_anything_but_a_path_is_not_one(text):
    assert parse_path(text) is None


STEPS = {
    "trigger": {"event": {"body": {"name": "Ann", "n": 2.0, "tags": ["x", None, 3]}}},
    "first": {"$return_value": {"x": [1, {"y": True}], "s": "abc", "none": None}},
}


def test_lookup_reads_as_javascript_reads():
    assert lookup(["first", "$return_value", "x", 1, "y"], STEPS) is True
    assert lookup(["first", "$return_value", "x", "length"], STEPS) == 2
    assert lookup(["first", "$return_value", "s", 0], STEPS) == "a"
    assert lookup(["first", "$return_value", "none"], STEPS) is None
    assert lookup(["first", "$return_value", "nope"], STEPS) is MISSING
    assert lookup(["first", "$return_value", "none", "deeper"], STEPS) is MISSING
    assert lookup(["nope", "$return_value", "a"], STEPS) is MISSING  # JS would throw
    assert lookup(["first", "$return_value", "x", 9], STEPS) is MISSING
    assert lookup(["first", "$return_value", "x", "1", "y"], STEPS) is True
    for odd in ("²", "01", "-1", "1.0"):  # not an index: a property arrays do not have
        assert lookup(["first", "$return_value", "x", odd], STEPS) is MISSING


def test_render_keeps_types_and_writes_text_as_javascript():
    assert render("{{steps.first.$return_value.x}}", STEPS) == [1, {"y": True}]
    assert render(" {{ steps.trigger.event.body.n }} ", STEPS) == 2.0
    assert render("n={{steps.trigger.event.body.n}}", STEPS) == "n=2"
    assert render("{{steps.trigger.event.body.name}}/{{steps.first.$return_value.x}}", STEPS) == (
        "Ann/1,[object Object]"
    )
    assert render("{{steps.first.$return_value.nope}}", STEPS) is MISSING
    assert render("a {{steps.first.$return_value.nope}}", STEPS) == "a undefined"
    assert render(["{{steps.first.$return_value.nope}}", 1], STEPS) == [None, 1]
    assert render({"k": "{{steps.first.$return_value.nope}}", "j": 1}, STEPS) == {"j": 1}
    assert render("{{Date.now()}} {{steps.first.$return_value.s}}", STEPS) == "{{Date.now()}} abc"
    assert [as_text(v) for v in (None, True, 1.5, 3, ["a", None], {})] == [
        "null", "true", "1.5", "3", "a,", "[object Object]",
    ]  # fmt: skip


def test_resolve_leaves_out_props_that_are_undefined():
    props = {"x": "{{steps.first.$return_value.x[0]}}", "gone": "{{steps.skip.$return_value}}"}
    assert resolve(props, STEPS) == {"x": 1}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
TEMPLATED = st.text(alphabet="{}[]().'\"$ steps.ab0_-+", max_size=40)


@settings(max_examples=300, deadline=None)
@given(value=st.recursive(TEMPLATED, lambda inner: st.lists(inner, max_size=3), max_leaves=6))
def test_props_render_or_are_left_alone_never_an_exception(value):
    steps = {"trigger": {"event": {}}, "a": {"$return_value": [1, {"b": None}]}}
    held, others = paths_only(value)
    rendered = render(value, steps)
    if not held:
        assert rendered == value
    assert all(parse_path(text) is None for text in others)


@settings(max_examples=200, deadline=None)
@given(data=JSON, keys=st.lists(st.integers(0, 5) | st.text(max_size=5), max_size=4))
@example(data=[1], keys=["²"])
def test_lookup_is_total_over_json(data, keys):
    found = lookup(["s", *keys], {"s": data})
    if not keys:
        assert found == data or found is MISSING
