"""pdee serve answers the flow URLs of paused executions (pd.flow.suspend, delay) on its
own server: a real client resumes and cancels them, against the real daemon and image."""

from __future__ import annotations

import threading

import pytest
import requests

import pdee
from pdee.engine.flow_urls import FlowAnswer
from pdee.results.records import Execution

pytestmark = pytest.mark.usefixtures("no_new_containers")

APPROVE = """
def handler(pd):
    urls = pd.flow.suspend()
    print(urls["resume_url"], urls["cancel_url"])
    return urls
"""
AFTER = """
def handler(pd):
    return pd.steps["approve"]["$resume_data"]
"""


def test_a_suspend_resumed_with_json_and_one_cancelled_by_real_requests(write_step):
    steps = [write_step("approve", APPROVE), write_step("after", AFTER)]
    calls: list[tuple[str, str, FlowAnswer]] = []
    ended: dict[int, Execution] = {}
    second_part = threading.Event()

    def on_execution(execution: Execution) -> None:
        ended[execution.index] = execution
        if execution.part == 2:
            second_part.set()

    with pdee.serve(
        steps,
        network="none",
        on_execution=on_execution,
        on_flow=lambda method, path, answer: calls.append((method, path, answer)),
    ) as server:
        assert requests.post(server.url + "/a").status_code == 200
        assert requests.post(server.url + "/b").status_code == 200
        while len(ended) < 2:  # both paused; each part ends before the next is placed
            threading.Event().wait(0.05)
        first, second = (ended[i].steps["approve"].return_value for i in (0, 1))
        assert first["resume_url"].startswith(server.url + "/__pdee__/flow/")
        assert first["resume_url"] != second["resume_url"]

        resumed = requests.post(first["resume_url"], json={"approved": True})
        assert second_part.wait(60)
        again = requests.get(first["resume_url"])  # each URL is valid once
        late_cancel = requests.get(first["cancel_url"])  # and so is its pair
        cancelled = requests.get(second["cancel_url"])
        after_cancel = requests.post(second["resume_url"], json={})
        unknown = requests.get(server.url + "/__pdee__/flow/nope/resume")

    assert resumed.status_code == 200 and "Resumed" in resumed.text
    assert cancelled.status_code == 200 and "Cancelled" in cancelled.text
    assert [r.status_code for r in (again, late_cancel, after_cancel, unknown)] == [404] * 4
    assert "no paused execution" in again.text
    assert [answer.status for _, _, answer in calls] == [200, 404, 404, 200, 404, 404]
    assert all("\n" not in answer.text for _, _, answer in calls)

    result = server.result
    assert result is not None
    later = result.executions.by_index(2)
    assert later.part == 2 and later.first_index == 0
    assert later.steps["after"].return_value == {"approved": True}  # its $resume_data
    kept = result.executions.by_index(0).pause
    assert kept is not None and kept.outcome == "resumed" and kept.resumed_as == 2
    gone = result.executions.by_index(1).pause
    assert gone is not None and gone.outcome == "cancelled"
    assert len(result.executions) == 3 and result.pending_parts == 0


RAISES = """
def handler(pd):
    urls = pd.flow.suspend()
    print(urls["resume_url"])
    raise ValueError("after suspend")
"""


def test_a_step_that_suspends_then_raises_has_urls_that_answer_404_and_serve_goes_on(
    write_step,
):
    steps = [write_step("approve", RAISES), write_step("after", AFTER)]
    with pdee.serve(steps, network="none", auto_retry=True) as server:
        assert requests.post(server.url + "/a").status_code == 200
        while not server.runner.result.executions:  # (its retry waits 141 s: not run)
            threading.Event().wait(0.05)
        failed = server.runner.result.executions.by_index(0)
        url = failed.steps["approve"].logs.split()[0]
        assert url.startswith(server.url + "/__pdee__/flow/")
        resumed = requests.post(url, json={})
        assert requests.post(server.url + "/b").status_code == 200  # still serving
    assert resumed.status_code == 404 and "no paused execution" in resumed.text
    result = server.result
    assert result is not None and result.aborted is None
    first = result.executions.by_index(0)
    assert first.retry is not None and first.retry.outcome == "pending"
