"""The built-in actions pdee emulates (``runtime/actions.py``): the filter conditions with
JavaScript's meanings, the data store app's literal evaluation, and each action's
result through the worker's ``run_handler`` (no EE)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pdee.engine.ee_work import step_message
from pdee.plan.run_plan import build_plan
from pdee.runtime import actions
from pdee.runtime.actions import ConfigurationError, check_condition, parse_float, parse_value
from pdee.runtime.store import Store
from pdee.runtime.worker import run_handler
from pdee.services.data_stores import DataStore

NOW = 1_800_000_000.0


def run(uses: str, props: dict[str, Any], steps: dict[str, Any] | None = None) -> Any:
    """The outcome of the action ``uses`` as a step with ``props``."""
    return run_handler(actions.handler_for(uses), "", steps or {}, props)


@pytest.fixture
def store():
    with DataStore("data_store") as opened:
        yield Store("data_store", lambda call: opened.answer(call, NOW))


# -- the filter app's conditions ------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "a", "b", "holds"),
    [
        ("CONTAINS", "/Apps/Output/x.mp3", "/output/", True),  # case-insensitive by default
        ("NOT_CONTAINS", "/Apps/Output/x.mp3", "/output/", False),
        ("TEXT_EQUALS", "Yes", "yes", True),
        ("TEXT_NOT_EQUALS", "Yes", "no", True),
        ("STARTS_WITH", "Hello world", "HELLO", True),
        ("ENDS_WITH", "report.PDF", ".pdf", True),
        ("NOT_ENDS_WITH", "report.pdf", ".txt", True),
        ("GREATER_THAN", "12px", 11, True),  # parseFloat reads a number's prefix
        ("GREATER_THAN_EQUALS", 1, "1", True),
        ("LESS_THAN", " 3", "4", True),
        ("LESS_THAN_EQUALS", 5, 4.5, False),
        ("EQUALS", "1.0", 1, True),
        ("EQUALS", [2, 3], 2, True),  # String([2, 3]) is "2,3"
        ("TRUE", "false", None, True),  # JavaScript truthiness: text that says false is true
        ("TRUE", [], None, True),
        ("TRUE", 0, None, False),
        ("FALSE", "", None, True),
        ("IS_NULL", None, None, True),
        ("IS_NULL", "undefined", None, True),
        ("IS_NULL", "null", None, True),
        ("NOT_NULL", 0, None, True),
        ("IN_ARRAY", 1, "[1, 2]", True),
        ("IN_ARRAY", "1", "[1, 2]", False),  # strict equality
        ("IN_ARRAY", "a", ["a"], True),
        ("NOT_IN_ARRAY", True, [1], True),
        ("KEY_EXISTS", "a", '{"a": 1}', True),
        ("KEY_EXISTS", "a", {"a": None}, False),  # a null value counts as missing
        ("KEY_NOT_EXISTS", "b", {"a": 1}, True),
    ],
)
def test_conditions_have_the_filter_apps_meaning(condition, a, b, holds):
    assert check_condition(condition, a, b) is holds


def test_case_sensitive_text_when_asked():
    assert not check_condition("CONTAINS", "Hello", "hello", True)
    assert check_condition("TEXT_EQUALS", 1, 1, True)  # no toLowerCase: strict equality


@pytest.mark.parametrize(
    ("condition", "a", "b", "error", "match"),
    [
        ("CONTAINS", 12, "1", TypeError, "toLowerCase is not a function"),
        ("TEXT_EQUALS", None, "x", TypeError, "reading 'toLowerCase'"),
        ("GREATER_THAN", "abc", 1, ValueError, "Input cannot be converted to a number"),
        ("EQUALS", True, 1, ValueError, "Input cannot be converted to a number"),
        ("LESS_THAN", "", 1, ValueError, "Input cannot be converted to a number"),
        ("IN_ARRAY", 1, "1", ConfigurationError, "Unable to parse second value to array"),
        ("IN_ARRAY", 1, "[1", ConfigurationError, "JSON|Expecting"),
        ("KEY_EXISTS", "a", "[1]", ConfigurationError, "Unable to parse second value to object"),
        ("BETWEEN", 1, 2, Exception, "Condition operation not supported"),
    ],
)
def test_what_javascript_refuses_is_the_steps_error(condition, a, b, error, match):
    with pytest.raises(error, match=match):
        check_condition(condition, a, b)


@pytest.mark.parametrize(
    ("given", "number"),
    [("12px", 12.0), ("  -3.5e2x", -350.0), (".5", 0.5), ("Infinity", math.inf), (7, 7.0)],
)
def test_parse_float_reads_a_prefix(given, number):
    assert parse_float(given) == number


@pytest.mark.parametrize("given", ["abc", "", None, True, {}, [], "e5"])
def test_parse_float_nan(given):
    assert math.isnan(parse_float(given))


# -- the data store app's parseValue --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ("{a: 1, 'b': [1, 2,], c: undefined}", {"a": 1, "b": [1, 2]}),
        ("[1, 2]", [1, 2]),
        ("[1, undefined, NaN]", [1, None, None]),
        ("123", 123),
        ("-1.5", -1.5),
        ("0x10", 16),
        ("true", True),
        ("null", None),
        ("NaN", None),  # JSON.stringify(NaN) is "null"
        ("'quoted'", "quoted"),
        ("hello", "hello"),
        ("hello world", "hello world"),
        ("undefined", "undefined"),
        ("{a: 1", "{a: 1"),
        ("1 + 2", "1 + 2"),  # an expression: pdee keeps the text
    ],
)
def test_parse_value_evaluates_literals(text, value):
    assert parse_value(text) == value


def test_parse_value_keeps_what_is_not_text():
    assert parse_value([1]) == [1] and parse_value(None) is None


# -- the actions, as steps ------------------------------------------------------------


def test_continue_ends_the_workflow_after_the_step_unless_the_condition_holds():
    props = {"initialValue": "0", "condition": "GREATER_THAN_EQUALS", "secondValue": "1"}
    ended = run("filter-continue-based-on-condition@0.0.2", {**props, "messageOnEnd": "none"})
    assert ended["exit"] == {"reason": "none"} and ended["error"] is None
    went_on = run("filter-continue-based-on-condition@0.0.2", {**props, "initialValue": 3})
    assert went_on["exit"] is None and went_on["return_value"] is None


def test_end_ends_the_workflow_when_the_condition_holds():
    props = {"initialValue": "/Apps/output/a", "condition": "CONTAINS", "secondValue": "/output/"}
    assert run("filter-end-based-on-condition@0.0.1", props)["exit"] == {"reason": None}
    props["secondValue"] = "/input/"
    outcome = run("filter-end-based-on-condition@0.0.1", {**props, "messageOnContinue": "go"})
    assert outcome["exit"] is None and outcome["return_value"] == "go"


def test_a_condition_javascript_refuses_fails_the_step():
    props = {"initialValue": "many", "condition": "GREATER_THAN", "secondValue": 1}
    outcome = run("filter-continue-based-on-condition@0.0.2", props)
    assert outcome["error"]["type"] == "ValueError"
    assert outcome["error"]["message"] == "Input cannot be converted to a number"


def test_end_workflow_execution_continues_or_ends():
    props = {"initialValue": 1, "condition": "EQUALS", "secondValue": 1, "continueOrEnd": "END"}
    assert run("filter-end-workflow-execution@0.0.2", props)["exit"] == {
        "reason": "Ending workflow..."
    }
    outcome = run("filter-end-workflow-execution@0.0.2", {**props, "continueOrEnd": "CONTINUE"})
    assert outcome["exit"] is None
    assert outcome["exports"] == {"$summary": "Continuing workflow..."}


def test_return_http_response_responds():
    outcome = run(
        "http-return-http-response@0.0.3",
        {"resStatusCode": 201, "resBody": "<rss/>", "resHeaders": {"content-type": "text/xml"}},
    )
    assert outcome["respond"] == {
        "status": 201,
        "body": "<rss/>",
        "headers": {"content-type": "text/xml"},
    }
    assert outcome["return_value"] is None
    default = run("http-return-http-response@0.0.5", {})["respond"]
    assert default == {"status": 200, "body": '{ "success": true }'}


def test_email_to_self_is_recorded():
    outcome = run("email-send-email-to-self@0.4.4", {"subject": "Hi", "text": "body"})
    assert outcome["emails"] == [{"subject": "Hi", "text": "body", "html": ""}]
    assert outcome["exports"] == {"$summary": "Successfully sent email"}


def test_delay_returns_its_urls_and_pauses():
    outcome = run(
        "delay-workflow-delay@0.0.2", {"delayDurationValue": 2, "delayDurationUnit": "Minutes"}
    )
    assert outcome["pause"]["kind"] == "delay" and outcome["pause"]["ms"] == 120_000
    assert set(outcome["return_value"]) == {"resume_url", "cancel_url"}
    bad = run("delay-workflow-delay@0.0.2", {"delayDurationValue": 2, "delayDurationUnit": "Days"})
    assert bad["error"]["message"] == "something here"


def test_get_record_or_create(store):
    uses = "data_stores-get-record-or-create@0.0.10"
    props = {"dataStore": store, "key": "models", "addRecordIfNotFound": "Yes", "value": "[]"}
    created = run(uses, props)
    assert created["return_value"] == [] and store["models"] == []
    store["models"] = ["gpt"]
    assert run(uses, props)["return_value"] == ["gpt"]
    missing = run(uses, {**props, "key": "other", "addRecordIfNotFound": "No"})
    assert missing["return_value"] is None and "other" not in store


def test_add_update_append_and_delete(store):
    added = run(
        "data_stores-add-update-record@0.0.11", {"dataStore": store, "key": "k", "value": "{n: 1}"}
    )
    assert added["return_value"] == {"key": "k", "value": {"n": 1}, "ttl": None}
    run("data_stores-append-to-record@0.0.4", {"dataStore": store, "key": "list", "value": "2"})
    run("data_stores-append-to-record@0.0.4", {"dataStore": store, "key": "list", "value": "x"})
    assert store["list"] == [2, "x"]
    refused = run(
        "data_stores-append-to-record@0.0.4", {"dataStore": store, "key": "k", "value": 1}
    )
    assert refused["error"]["type"] == "ConfigurationError"
    deleted = run("data_stores-delete-single-record@0.0.11", {"dataStore": store, "key": "k"})
    assert deleted["return_value"] == {"n": 1} and "k" not in store
    many = run(
        "data_stores-add-update-multiple-records@0.0.8",
        {"dataStore": store, "data": {"a": "true", "b": "12", "c": "{x: 1}", "d": "text"}},
    )
    assert many["return_value"] == {"a": True, "b": 12, "c": {"x": 1}, "d": "text", "_ttl": None}
    assert run("data_stores-has-key@0.0.1", {"dataStore": store, "key": "a"})["return_value"]
    assert sorted(run("data_stores-list-keys@0.0.4", {"dataStore": store})["return_value"]) == [
        "a", "b", "c", "d", "list"
    ]  # fmt: skip
    run("data_stores-delete-all-records@0.0.4", {"dataStore": store})
    assert list(store.keys()) == []


def test_every_action_is_named_by_its_key():
    assert actions.emulated("filter-continue-based-on-condition@0.0.2")
    assert actions.emulated("data_stores-add-update-record@0.0.9")
    assert not actions.emulated("slack-send-message@0.0.1")
    assert actions.split_uses("email-send-email-to-self@0.4.4") == (
        "email-send-email-to-self",
        "0.4.4",
    )


def test_get_difference_and_record_keys(store):
    with DataStore("other") as opened:
        other = Store("other", lambda call: opened.answer(call, NOW))
        store["a"], store["b"], other["b"] = 1, {"x": [2, "Ab"]}, 0
        difference = "data_stores-get-difference@0.0.4"
        both = {"dataStoreA": store, "dataStoreB": other}
        assert run(difference, both)["return_value"] == {"a": 1}
        array = run(difference, {**both, "returnType": "array"})["return_value"]
        assert array == [{"key": "a", "value": 1}]
        unknown = run(difference, {**both, "returnType": "list"})
        assert unknown["error"]["message"] == "Unknown return type: list"
    keys = "data_stores-get-record-keys@0.0.5"
    exact = run(keys, {"dataStore": store, "query": "2"})["return_value"]
    assert exact == {"hasRegisteredKeys": True, "keys": ["b.x.0"], "values": [2]}
    folded = {"dataStore": store, "query": "a", "contains": True, "caseInsensitive": True}
    assert run(keys, folded)["return_value"]["keys"] == ["b.x.1"]
    assert run(keys, {"dataStore": store, "query": "a"})["return_value"] == {
        "hasRegisteredKeys": False,
        "keys": [],
        "values": [],
    }


def test_update_ttl(store):
    uses = "data_stores-update-ttl@0.0.1"
    missing = run(uses, {"dataStore": store, "key": "k", "ttlOption": "3600"})
    assert missing["return_value"] == {"success": False, "message": "No record found with key k"}
    store["k"] = 1
    assert run(uses, {"dataStore": store, "key": "k", "ttlOption": "3600"})["return_value"] == {
        "success": True,
        "key": "k",
        "ttl": 3600,
    }
    removed = run(uses, {"dataStore": store, "key": "k", "ttlOption": "custom", "ttl": 0})
    assert removed["return_value"]["ttl"] is None and store["k"] == 1


def test_download_takes_http_only():
    outcome = run(
        "helper_functions-download-file-to-tmp@0.3.0",
        {"url": "file:///etc/passwd", "filename": "x"},
    )
    assert outcome["error"]["message"] == "Unsupported protocol file:"


# -- the plan: which steps pdee emulates, and what the EE gets ------------------------

EXAMPLE_REPORT = (
    Path(__file__).resolve().parents[2] / "examples" / "project" / "reports"
    / "daily-report-p_Q8mWv2n"
)  # fmt: skip


def test_a_synced_built_in_action_is_a_step_the_ee_runs():
    plan = build_plan([EXAMPLE_REPORT])
    email = plan.steps[-1]
    assert email.action == "email-send-email-to-self@0.4.4" and email.runs
    assert email.inputs == {"subject": "Daily report"}
    assert "text" in email.expressions  # {{steps...}}: evaluated in the EE before the step
    message = step_message(email)
    assert message["name"] == "send_email_to_self"
    assert message.get("action") == "email-send-email-to-self@0.4.4"
    assert "action" not in step_message(plan.steps[0])  # Python code


def test_a_step_result_stands_a_built_in_action_in():
    plan = build_plan([EXAMPLE_REPORT], step_results=['send_email_to_self={"sent": true}'])
    email = plan.steps[-1]
    assert email.stand_in is not None and email.stand_in.return_value == {"sent": True}
    assert email.stand_in.what == "action email-send-email-to-self@0.4.4" and not email.runs
    assert step_message(email) == {
        "name": "send_email_to_self",
        "stand_in": True,
        "return_value": {"sent": True},
    }


def _workflow(tmp_path: Path, steps: str) -> Path:
    folder = tmp_path / "hook-p_AbC1234"
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "entry.py").write_text("def handler(pd):\n    return {'ok': 1}\n")
    (folder / "workflow.yaml").write_text(
        "schema: workflow/2022.04\nname: hook\ntriggers:\n- hi_AbC1234\nsteps:\n"
        "- namespace: code\n  runtime: python3.12\n  uses: ./code/entry.py\n" + steps
    )
    return folder


def test_a_workflow_answered_by_the_response_action_returns_a_custom_response(tmp_path):
    from pdee.serving.handle import answers_itself

    answering = _workflow(
        tmp_path / "a",
        "- namespace: respond\n  runtime: nodejs20.x\n  uses: http-return-http-response@0.0.5\n"
        "  props:\n    resStatusCode: 201\n",
    )
    assert answers_itself(build_plan([answering]))
    assert not answers_itself(build_plan([_workflow(tmp_path / "b", "")]))


def test_a_workflow_of_built_in_actions_alone_runs(tmp_path):
    folder = tmp_path / "only-p_AbC1234"
    folder.mkdir()
    (folder / "workflow.yaml").write_text(
        "schema: workflow/2022.04\nname: only\ntriggers:\n- hi_AbC1234\nsteps:\n"
        "- namespace: respond\n  runtime: nodejs20.x\n  uses: http-return-http-response@0.0.5\n"
    )
    plan = build_plan([folder])
    assert [step.action for step in plan.steps] == ["http-return-http-response@0.0.5"]
