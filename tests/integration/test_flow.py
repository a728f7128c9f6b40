"""pd.flow.delay, suspend and rerun, pd.context and pd.send.email against the real daemon
and image: a paused workflow resumes later on pdee's virtual clock, as a new execution,
on whatever EE the lifecycle gives it."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

WRITE = """
def handler(pd):
    with open("/tmp/report.csv", "w") as out:
        out.write("a,b\\n")
    return "written"
"""
WAIT = """
def handler(pd):
    return pd.flow.delay(pd.steps["trigger"]["event"]["ms"])
"""
UPLOAD = """
import os

def handler(pd):
    return {
        "file": os.path.exists("/tmp/report.csv"),
        "earlier": pd.steps["write"]["$return_value"],
        "context": [pd.context["id"], pd.context["trace_id"]],
    }
"""


@pytest.fixture
def workflow(write_step):
    return [write_step("write", WRITE), write_step("wait", WAIT), write_step("upload", UPLOAD)]


def parts(outcome):
    return {e["index"]: e for e in outcome.executions}


def test_a_short_delay_resumes_warm_with_the_file(pdee, workflow):
    outcome = pdee("run", *workflow, "--event", '{"ms": 2000}')
    assert outcome.exit_code == 0, outcome.stderr
    first, second = outcome.executions
    assert first["pause"]["kind"] == "delay" and first["pause"]["outcome"] == "resumed"
    assert first["pause"]["resumed_as"] == 1 and "upload" not in first["steps"]
    assert (second["part"], second["first_index"], second["start"]) == (2, 0, "warm")
    assert second["ee"] == first["ee"] and second["at_s"] >= 2.0
    got = second["steps"]["upload"]["return_value"]
    assert got["file"] is True and got["earlier"] == "written"
    execution_id, trace_id = got["context"]
    assert execution_id != trace_id  # a new instance of the workflow, the same trace
    assert (second["context_id"], second["trace_id"]) == (execution_id, trace_id)
    assert first["trace_id"] == first["context_id"] == trace_id
    assert set(second["steps"]) == {"upload"}


def test_a_twenty_minute_delay_takes_seconds_and_resumes_cold_without_the_file(pdee, workflow):
    started = time.monotonic()
    outcome = pdee("run", *workflow, "--event", '{"ms": 1200000}')
    assert time.monotonic() - started < 30
    first, second = outcome.executions
    assert second["start"] == "cold" and second["ee"] != first["ee"]
    assert second["at_s"] >= 1200
    got = second["steps"]["upload"]["return_value"]
    assert got["file"] is False and got["earlier"] == "written"
    retired = {ee["id"]: ee["retired"] for ee in outcome.report["ees"]}
    assert retired[first["ee"]] == "idle"  # the platform's 10 idle minutes passed
    assert "delay 1200s after wait: → #1" in outcome.stdout


POLL = """
def handler(pd):
    run = pd.context["run"]
    if run["runs"] < 3:
        pd.flow.rerun(1000, {"seen": run["runs"]}, 5)
        return None
    return run
"""


def test_rerun_runs_the_step_again_with_runs_and_context(pdee, write_step):
    after = write_step("after", 'def handler(pd):\n    return pd.steps["poll"]["$return_value"]\n')
    outcome = pdee("run", write_step("poll", POLL), after)
    assert outcome.exit_code == 0, outcome.stderr
    assert [e["part"] for e in outcome.executions] == [1, 2, 3]
    last = outcome.executions[-1]
    assert last["steps"]["poll"]["return_value"] == {"runs": 3, "context": {"seen": 2}}
    assert last["steps"]["after"]["return_value"] == {"runs": 3, "context": {"seen": 2}}


EXHAUST = """
def handler(pd):
    pd.flow.rerun(1000, None, 2)
    return pd.context["run"]["runs"]
"""


def test_past_max_retries_the_next_step_runs(pdee, write_step):
    after = write_step("after", 'def handler(pd):\n    return "went on"\n')
    outcome = pdee("run", write_step("exhaust", EXHAUST), after)
    assert [e["steps"]["exhaust"]["return_value"] for e in outcome.executions] == [1, 2, 3]
    assert outcome.executions[-1]["steps"]["after"]["return_value"] == "went on"


APPROVE = """
def handler(pd):
    urls = pd.flow.suspend(pd.steps["trigger"]["event"].get("timeout_ms"))
    pd.send.email(subject="Please approve", text=f"resume: {urls['resume_url']}", html=None)
    return "asked"
"""
NOTIFY = """
def handler(pd):
    return pd.steps["approve"].get("$resume_data")
"""


def test_a_suspend_is_cancelled_at_its_timeout_and_its_later_steps_skipped(pdee, write_step):
    workflow = [write_step("approve", APPROVE), write_step("notify", NOTIFY)]
    outcome = pdee("run", *workflow, "--event", "{}")
    assert outcome.exit_code == 0, outcome.stderr  # a cancelled suspend is not a failure
    (only,) = outcome.executions
    assert only["pause"]["outcome"] == "cancelled" and only["pause"]["ms"] == 86_400_000
    assert "notify" not in only["steps"]
    assert only["emails"] == [
        {"step": "approve", "subject": "Please approve", "html": None,
         "text": f"resume: {only['pause']['resume_url']}"}
    ]  # fmt: skip


def test_resume_after_resumes_suspends_with_data(pdee, write_step):
    workflow = [write_step("approve", APPROVE), write_step("notify", NOTIFY)]
    outcome = pdee("run", *workflow, "--event", "{}", "--resume-after", "3600",
                   "--resume-data", '{"approved": true}')  # fmt: skip
    first, second = outcome.executions
    assert first["pause"]["outcome"] == "resumed" and second["at_s"] >= 3600
    assert second["steps"]["notify"]["return_value"] == {"approved": True}
    late = pdee("run", *workflow, "--event", '{"timeout_ms": 60000}', "--resume-after", "3600")
    assert late.executions[0]["pause"]["outcome"] == "cancelled"  # its own timeout came first


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("pd.flow.delay(0)", "ValueError"),
        ("pd.flow.delay(366 * 24 * 3600 * 1000)", "ValueError"),
        ("pd.flow.rerun(1000, None, -1)", "ValueError"),
        ("pd.flow.rerun(1000, {1, 2})", "TypeError"),
    ],
)
def test_bad_flow_arguments_fail_at_the_steps_line(pdee, write_step, code, error):
    step = write_step("bad", f"def handler(pd):\n    {code}\n")
    outcome = pdee("run", step)
    assert outcome.exit_code == 1
    failure = outcome.executions[0]["error"]
    assert failure["type"] == error and failure["line"] == 2


def test_check_fails_chaos_for_a_step_that_needs_tmp_across_a_delay(pdee, write_step):
    strict = UPLOAD.replace(
        '"file": os.path.exists("/tmp/report.csv"),', '"file": open("/tmp/report.csv").read(),'
    )
    steps = [write_step("write", WRITE), write_step("wait", WAIT), write_step("upload", strict)]
    event = '{"ms": 1200000}'
    outcome = pdee("check", *steps, "--event", event, "--network", "none", "--seed", "3")
    assert outcome.exit_code == 1, outcome.stdout
    assert "resumed after a pause" in outcome.stdout
