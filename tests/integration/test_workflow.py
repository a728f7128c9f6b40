"""Warm and cold EEs, multi-step workflows and the pd object, in real EEs."""

from __future__ import annotations

import pytest

from pdee.plan import steps as steps_module

pytestmark = pytest.mark.usefixtures("no_new_containers")

COUNTER = """
import os

calls = 0

def handler(pd):
    global calls
    calls += 1
    index = pd.steps["trigger"]["event"]["body"]["index"]
    open(f"/tmp/left-by-{index}", "w").write("x")
    return {"calls": calls, "files": sorted(n for n in os.listdir("/tmp") if n.startswith("left"))}
"""


def test_warm_keeps_files_and_globals(pdee, write_step):
    outcome = pdee("run", write_step("counter", COUNTER), "--events", "3", "--mode", "warm")
    assert outcome.exit_code == 0, outcome.stderr
    results = [e["steps"]["counter"]["return_value"] for e in outcome.executions]
    assert [r["calls"] for r in results] == [1, 2, 3]
    assert results[2]["files"] == ["left-by-0", "left-by-1", "left-by-2"]
    assert [e["start"] for e in outcome.executions] == ["cold", "warm", "warm"]
    assert len({e["ee"] for e in outcome.executions}) == 1
    assert outcome.report["summary"]["ees_started"] == 1


def test_cold_starts_empty_every_time(pdee, write_step):
    outcome = pdee("run", write_step("counter", COUNTER), "--events", "3", "--mode", "cold")
    assert outcome.exit_code == 0, outcome.stderr
    results = [e["steps"]["counter"]["return_value"] for e in outcome.executions]
    assert [r["calls"] for r in results] == [1, 1, 1]
    assert [r["files"] for r in results] == [["left-by-0"], ["left-by-1"], ["left-by-2"]]
    assert [e["start"] for e in outcome.executions] == ["cold"] * 3
    assert len({e["ee"] for e in outcome.executions}) == 3
    assert all(ee["retired"] == "cold-mode" for ee in outcome.report["ees"])


def test_steps_share_tmp_exports_and_return_values(pdee, write_step):
    producer = write_step(
        "producer",
        """
        def handler(pd):
            with open("/tmp/handoff.txt", "w") as f:
                f.write("from producer")
            pd.export("path", "/tmp/handoff.txt")
            return {"rows": 3}
    """,
    )
    consumer = write_step(
        "consumer",
        """
        def handler(pd):
            step = pd.steps["producer"]
            with open(step["path"]) as f:
                text = f.read()
            return {"text": text, "rows": step["$return_value"]["rows"],
                    "trigger": sorted(pd.steps["trigger"])}
    """,
    )
    outcome = pdee("run", producer, consumer)
    assert outcome.exit_code == 0, outcome.stderr
    [execution] = outcome.executions
    assert execution["steps"]["producer"]["exports"] == {"path": "/tmp/handoff.txt"}
    assert execution["steps"]["consumer"]["return_value"] == {
        "text": "from producer",
        "rows": 3,
        "trigger": ["context", "event"],
    }


def test_trigger_event_and_context_are_realistic(pdee, write_step):
    step = write_step(
        "look",
        """
        def handler(pd):
            return pd.steps["trigger"]
    """,
    )
    outcome = pdee("run", step, "--events", "2")
    first, second = (e["steps"]["look"]["return_value"] for e in outcome.executions)
    assert first["event"]["method"] == "POST"
    assert set(first["event"]) >= {"body", "client_ip", "headers", "method", "path", "query", "url"}
    assert all(key == key.lower() for key in first["event"]["headers"])
    context_keys = {
        "id",
        "ts",
        "workflow_id",
        "deployment_id",
        "emitter_id",
        "owner_id",
        "platform_version",
        "replay",
        "trace_id",
        "workflow_name",
    }
    assert set(first["context"]) >= context_keys
    assert first["context"]["id"] != second["context"]["id"]
    assert first["context"]["workflow_id"] == second["context"]["workflow_id"]


def test_flow_exit_skips_later_steps(pdee, write_step):
    stop = write_step(
        "stop",
        """
        def handler(pd):
            return pd.flow.exit("nothing to do")
    """,
    )
    never = write_step("never", 'def handler(pd):\n    raise RuntimeError("must not run")\n')
    outcome = pdee("run", stop, never)
    assert outcome.exit_code == 0, outcome.stderr
    [execution] = outcome.executions
    assert execution["status"] == "exit"
    assert execution["exit_reason"] == "nothing to do"
    assert list(execution["steps"]) == ["stop"]


def test_flow_exit_without_return_finishes_the_step(pdee, write_step):
    step = write_step(
        "late",
        """
        def handler(pd):
            pd.flow.exit("later")
            print("still running")
            return 7
    """,
    )
    outcome = pdee("run", step)
    [execution] = outcome.executions
    assert execution["status"] == "exit"
    assert execution["steps"]["late"]["return_value"] == 7
    assert "still running" in execution["steps"]["late"]["logs"]


def test_respond_is_recorded(pdee, write_step, tmp_path):
    step = write_step(
        "reply",
        """
        def handler(pd):
            pd.respond({"status": 201, "body": {"got": pd.steps["trigger"]["event"]["n"]}})
    """,
    )
    outcome = pdee("run", step, "--event", '{"n": 5}')
    [execution] = outcome.executions
    assert execution["respond"] == {"status": 201, "body": {"got": 5}}


def test_step_exception_is_the_steps_error_with_traceback(pdee, write_step):
    step = write_step(
        "broken",
        """
        def helper():
            raise FileExistsError("/tmp/x exists")

        def handler(pd):
            print("before")
            helper()
    """,
    )
    outcome = pdee("run", step)
    assert outcome.exit_code == 1
    [execution] = outcome.executions
    error = execution["error"]
    assert execution["status"] == "error"
    assert (error["type"], error["message"], error["step"]) == (
        "FileExistsError",
        "/tmp/x exists",
        "broken",
    )
    assert "line 7, in handler" in error["traceback"]
    assert "line 3, in helper" in error["traceback"]
    assert "pdee_runtime" not in error["traceback"]
    assert execution["steps"]["broken"]["logs"] == "before\n"
    assert "FileExistsError: /tmp/x exists" in outcome.stdout


def test_syntax_error_is_reported_with_its_line(pdee, write_step, monkeypatch):
    """On a host Python older than the platform's, which cannot judge 3.12 syntax, the EE
    reports a syntax error (a newer one finds it before any EE: test_first_hour)."""
    monkeypatch.setattr(steps_module, "SYNTAX_CHECKED", False)
    step = write_step("typo", "def handler(pd):\n    return 1\n\nx = (\n")
    outcome = pdee("run", step)
    assert outcome.exit_code == 1
    [execution] = outcome.executions
    assert execution["error"]["type"] == "SyntaxError"
    assert "line 4" in execution["error"]["traceback"]


def test_non_json_return_value_fails_like_the_platform(pdee, write_step):
    step = write_step("obj", "def handler(pd):\n    return object()\n")
    outcome = pdee("run", step)
    [execution] = outcome.executions
    assert execution["error"]["type"] == "TypeError"
    assert "JSON" in execution["error"]["message"]


def test_report_contract(pdee, write_step):
    step = write_step("noop", "def handler(pd):\n    return 1\n")
    outcome = pdee("run", step, "--events", "2", "--chaos", "0")
    report = outcome.report
    assert set(report) >= {"pdee_version", "settings", "executions", "summary"}
    assert set(report["settings"]) >= {
        "mode",
        "tmp_size_bytes",
        "memory_bytes",
        "timeout_s",
        "python",
        "image",
    }
    assert report["settings"]["tmp_size_bytes"] == 2 * 2**30
    assert report["settings"]["timeout_s"] == 30
    assert report["settings"]["python"].startswith("3.")
    for execution in report["executions"]:
        assert set(execution) >= {
            "index",
            "ee",
            "start",
            "status",
            "error",
            "steps",
            "tmp",
            "memory",
            "duration_ms",
        }
        assert set(execution["steps"]["noop"]) >= {"return_value", "exports", "logs", "duration_ms"}
        assert execution["tmp"]["files"] == 0
    assert (
        report["summary"]["executions"],
        report["summary"]["ok"],
        report["summary"]["failed"],
        report["summary"]["ees_started"],
    ) == (2, 2, 0, 1)
