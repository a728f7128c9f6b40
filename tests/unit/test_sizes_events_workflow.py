"""Parsing what users type and the files they give, without Docker."""

from __future__ import annotations

import json
import random

import pytest

from pdee.errors import UsageError
from pdee.plan import steps as steps_module
from pdee.plan.events import WorkflowIds, context, default_event, load_events, parse_events
from pdee.plan.sizes import format_size, parse_size
from pdee.plan.steps import load_inputs, load_step, load_steps


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2GB", 2 * 2**30),
        ("512MB", 512 * 2**20),
        ("512m", 512 * 2**20),
        ("1.5g", 3 * 2**29),
        ("100", 100),
        ("64KiB", 64 * 1024),
        (" 2 gb ", 2 * 2**30),
    ],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "2TB", "-1MB", "0", "MB", "1.2.3GB"])
def test_parse_size_rejects(text):
    with pytest.raises(UsageError, match="--tmp-size"):
        parse_size(text, "--tmp-size")


def test_format_size():
    assert [format_size(n) for n in (2 * 2**30, 1536 * 2**20, 10, 2048)] == [
        "2GB",
        "1.5GB",
        "10B",
        "2KB",
    ]


def test_parse_events_forms():
    assert parse_events('{"a": 1}', "x") == [{"a": 1}]
    assert parse_events('[{"a": 1}, {"a": 2}]', "x") == [{"a": 1}, {"a": 2}]
    assert parse_events('{"a": 1}\n\n{"a": 2}\n', "x") == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "holds no event"),
        ('{"a": 1}\nnope', "line 2, column 1 is not JSON"),
        ('"text"', "event 1 is not a JSON object"),
        # a pretty-printed file: the real line and column, not "line 1"
        ('{\n  "a": 1,\n  "b": [1, 2],\n  "c": 3,\n}\n', "line 4, column 9: a trailing comma"),
        ('[\n  {"a": 1}\n  {"a": 2}\n]', "line 3, column 3: Expecting ',' delimiter"),
        ('{"a": 1}\n{"b": }\n', "line 2, column 7 is not JSON"),
    ],
)
def test_parse_events_errors(text, message):
    with pytest.raises(UsageError, match=message):
        parse_events(text, "f")


def test_load_events_sources(tmp_path):
    assert load_events(None, None) is None
    path = tmp_path / "e.jsonl"
    path.write_text('{"n": 1}\n{"n": 2}\n')
    assert load_events(None, path) == [{"n": 1}, {"n": 2}]
    with pytest.raises(UsageError, match="both"):
        load_events("{}", path)


def test_context_ids_unique_and_seeded():
    def contexts(seed):
        rng = random.Random(seed)
        workflow = WorkflowIds.create(rng, "step")
        return [context(workflow, rng) for _ in range(3)]

    first, again = contexts(7), contexts(7)
    assert [c["id"] for c in first] == [c["id"] for c in again]
    assert len({c["id"] for c in first}) == 3
    assert len({c["workflow_id"] for c in first}) == 1
    assert first[0]["workflow_id"].startswith("p_")
    assert first[0]["trace_id"] == first[0]["id"]


def test_default_event_is_an_http_post():
    event = default_event(4, "eoabc")
    assert event["method"] == "POST" and event["body"]["index"] == 4
    assert event["headers"]["host"] == "eoabc.m.pipedream.net"
    assert json.loads(event["bodyRaw"]) == event["body"]  # as every platform HTTP event
    assert event["headers"]["content-length"] == str(len(event["bodyRaw"]))


def test_load_step_checks(tmp_path, monkeypatch):
    good = tmp_path / "good.py"
    good.write_text("def handler(pd):\n    return 1\n")
    assert load_step(good).name == "good"
    typo = tmp_path / "typo.py"
    typo.write_text("def handler(pd):\n  return (\n")
    monkeypatch.setattr(steps_module, "SYNTAX_CHECKED", False)  # a host Python before 3.12
    assert load_step(typo).name == "typo"  # the EE reports the syntax error
    imported = tmp_path / "imported.py"
    imported.write_text("from somewhere import handler\n")
    assert load_step(imported).name == "imported"
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_step(binary)


def test_load_steps_rejects_trigger_and_empty(tmp_path):
    trigger = tmp_path / "trigger.py"
    trigger.write_text("def handler(pd): pass\n")
    with pytest.raises(UsageError, match="'trigger' is the trigger's name"):
        load_steps([trigger])
    with pytest.raises(UsageError, match="no step given"):
        load_steps([])


def test_load_inputs(tmp_path):
    assert load_inputs(None) == {}
    path = tmp_path / "in.json"
    path.write_text('{"url": "x"}')
    assert load_inputs(path) == {"url": "x"}
    path.write_text("{bad")
    with pytest.raises(UsageError, match="is not JSON"):
        load_inputs(path)
