"""What a step hands over that pdee cannot carry is that execution's error, against the
real daemon and image (issue 28): a return value, an export or a rerun context nested
about 990 levels deep, a data store key with a lone surrogate, a forged store call. The
run goes on to the next execution, ends with exit 1 and a full report, and leaves no
container; a damaged store file is one line before any EE starts."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

STEP = """
def nested(depth):
    value = "leaf"
    for _ in range(depth):
        value = [value]
    return value

def handler(pd):
    what = pd.steps["trigger"]["event"]["what"]
    if what == "deep return":
        return nested(990)
    if what == "deep export":
        pd.export("rows", nested(985))
    if what == "deep rerun":
        return pd.flow.rerun(1000, nested(980))
    if what == "surrogate key":
        pd.inputs["data_store"]["\\ud800"] = 1
    if what == "forged ttl":
        pd.inputs["data_store"]._ask("set", key="k", value=1, ttl="abc")
    if what == "surrogate value":
        pd.inputs["data_store"]["text"] = "a\\ud800b"
        return pd.inputs["data_store"]["text"]
    return "fine"
"""


@pytest.mark.parametrize(
    ("what", "error", "said"),
    [
        ("deep return", "ValueError", r"the step's return value nests 990 levels"),
        ("deep export", "ValueError", r"export 'rows' nests 985 levels"),
        ("deep rerun", "ValueError", r"pd.flow.rerun's context nests 980 levels"),
        ("surrogate key", "ValueError", r"'\\ud800' at position 0 is half of a surrogate pair"),
        ("forged ttl", "RuntimeError", r"ttl must be a number of seconds or None, not 'abc'"),
    ],
)
def test_what_pdee_cannot_carry_is_that_executions_error(
    pdee, write_step, tmp_path, what, error, said
):
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"what": what}) + "\n" + json.dumps({"what": "fine"}) + "\n")
    step = write_step("step", STEP)
    outcome = pdee("run", step, "--event-file", events, "--data-store", "data_store")
    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    assert "Traceback" not in outcome.stderr, outcome.stderr
    report = outcome.report
    assert report is not None and report["summary"]["executions"] == 2
    failed, then = report["executions"]
    assert failed["status"] == "error" and failed["error"]["type"] == error, failed["error"]
    assert re.search(said, failed["error"]["message"]), failed["error"]["message"]
    assert failed["error"]["step"] == "step"
    assert then["status"] == "ok" and then["steps"]["step"]["return_value"] == "fine"
    assert report["data_stores"]["data_store"]["records"] == {}


def test_a_lone_surrogate_in_a_value_is_json_and_kept(pdee, write_step, tmp_path):
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"what": "surrogate value"}))
    store = tmp_path / "data.db"
    outcome = pdee(
        "run",
        write_step("step", STEP),
        "--event-file",
        events,
        "--data-store",
        f"data_store={store}",
    )
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert outcome.report is not None
    assert outcome.report["executions"][0]["steps"]["step"]["return_value"] == "a\ud800b"
    shown = pdee("data-store", "show", store)
    assert shown.exit_code == 0 and json.loads(shown.stdout)["text"]["value"] == "a\ud800b"


def test_a_damaged_store_file_is_one_line_before_any_ee(pdee, write_step, tmp_path):
    store = tmp_path / "data.db"
    assert pdee("data-store", "load", store, _records(tmp_path)).exit_code == 0
    with sqlite3.connect(store) as db:
        db.execute("INSERT INTO records VALUES ('bad', 'not json', NULL)")
    db.close()
    outcome = pdee("run", write_step("step", STEP), "--data-store", f"data_store={store}")
    assert outcome.exit_code == 2, outcome.stdout + outcome.stderr
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and "the value of key 'bad' is not JSON" in lines[0], outcome.stderr


def _records(tmp_path):
    records = tmp_path / "records.json"
    records.write_text('{"a": 1}')
    return records
