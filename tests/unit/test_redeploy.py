"""A served workflow redeployed (``Serving.redeploy``, what ``serve --reload`` calls on a
save) on the fake backend: the execution in flight finishes on the old code, the next
request runs the new code in a new EE, the old EE retires, the port and the data store
go on. No Docker, no watcher."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend, FakeEE
from http_client import call
from test_flow_urls import ServedRun

import pdee
from pdee.backends import EESpec, OnCall
from pdee.engine.flow_urls import Action
from pdee.engine.runner import Runner
from pdee.lifecycle.admission import Throttle
from pdee.lifecycle.scheduler import Policy
from pdee.plan.controls import Controls
from pdee.plan.options import RunOptions
from pdee.plan.run_plan import RunPlan, plan_from
from pdee.plan.steps import Step

V1 = "def handler(pd):\n    return 1  # slow\n"
V2 = "def handler(pd):\n    return 2\n"


class CodeEE(FakeEE):
    """A fake EE that answers with the code it loaded (and waits 0.3 s under code that
    says ``slow``)."""

    code = ""

    def request(
        self, message: dict[str, Any], timeout_s: float, on_call: OnCall | None = None
    ) -> dict[str, Any]:
        if message["type"] == "load":
            self.code = message["steps"][0]["code"]
        if message["type"] == "run" and "slow" in self.code:
            message = {**message, "event": {**message["event"], "sleep": 0.3}}
        reply = super().request(message, timeout_s, on_call)  # type: ignore[arg-type]
        if message["type"] == "run":
            reply["respond"] = {"status": 200, "body": {"ee": self.id, "code": self.code}}
        return reply  # type: ignore[return-value]


class CodeBackend(FakeBackend):
    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> FakeEE:
        ee = CodeEE(self, spec, ee_id)
        self.ees.append(ee)
        return ee


def _answer(url: str) -> dict[str, Any]:
    status, _headers, body = call(url + "/")
    assert status == 200, body
    return json.loads(body)


def _until(what: str, done: Any) -> None:
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, f"waited 30 s for {what}"
        time.sleep(0.01)


def test_a_redeploy_lets_the_execution_in_flight_finish_and_runs_the_next_on_new_code(tmp_path):
    step = tmp_path / "hook.py"
    step.write_text(V1)
    backend = CodeBackend()
    with pdee.serve([step], custom_response=True, backend=backend, mode="warm") as server:
        url = server.url
        assert _answer(url) == {"ee": "ee-1", "code": V1}
        slow: list[dict[str, Any]] = []
        in_flight = threading.Thread(target=lambda: slow.append(_answer(url)))
        in_flight.start()
        _until("the execution in flight", lambda: backend.in_flight == 1)

        step.write_text(V2)
        server.redeploy(plan_from([step], RunOptions(mode="warm")))
        after = _answer(url)  # on the same port: the server never stopped
        in_flight.join(30)

        assert slow == [{"ee": "ee-1", "code": V1}]  # it finished where it ran
        assert after["code"] == V2 and after["ee"] != "ee-1"
        assert _answer(url) == after  # the new code's EE is kept warm
        assert server.url == url
    result = server.result
    assert result is not None
    lives = result.ees
    assert lives["ee-1"].retired == "redeploy" and lives["ee-1"].executions == [0, 1]
    assert [e.index for e in result.executions] == [0, 1, 2, 3]  # one log across the reload
    assert all(ee.destroyed.is_set() for ee in backend.ees)


def test_a_redeploy_refused_keeps_the_old_code_serving(tmp_path):
    step = tmp_path / "hook.py"
    step.write_text(V2)
    backend = CodeBackend()
    with pdee.serve([step], custom_response=True, backend=backend) as server:
        timer = plan_from([step], RunOptions(trigger="timer"))
        with pytest.raises(pdee.UsageError, match="pdee serve answers HTTP"):
            server.redeploy(timer)
        assert _answer(server.url)["code"] == V2


def test_serve_with_reload_redeploys_on_a_save_and_keeps_the_old_code_past_a_syntax_error(
    tmp_path,
):
    step = tmp_path / "hook.py"
    step.write_text(V2)
    told: list[tuple[int, str | None]] = []
    with pdee.serve(
        [step],
        custom_response=True,
        backend=CodeBackend(),
        reload=True,
        on_reload=lambda change, problem: told.append((change.number, problem)),
    ) as server:
        assert _answer(server.url)["code"] == V2
        step.write_text("def handler(pd):\n    return (\n")
        _until("the syntax error told", lambda: told)
        assert told[0][0] == 1 and "SyntaxError: '(' was never closed" in str(told[0][1])
        assert _answer(server.url)["code"] == V2  # not reloaded: the old code serves
        v3 = V2.replace("2", "3")
        step.write_text(v3)
        _until("the reload", lambda: len(told) == 2)
        assert told[1] == (2, None)
        assert _answer(server.url)["code"] == v3
    assert [t.name for t in threading.enumerate() if t.name.startswith("pdee-")] == []


# -- what a redeploy does to the run's state (the runner, fed as serve feeds it) ------


def _redeployed(run: Any, **changes: Any) -> None:
    """Switch ``run``'s runner to its plan with ``changes``, as serve --reload does."""
    runner = run.runner
    deployment = runner.prepare(replace(runner.plan, **changes))
    runner.redeploy(deployment)
    assert deployment.switched.wait(10)


def _steps(*names: str) -> list[Step]:
    return [
        Step(name=n, path=Path(f"{n}.py"), code="def handler(pd):\n    return 2\n") for n in names
    ]


def test_parts_to_come_are_cancelled_when_a_redeploy_changes_the_steps():
    with ServedRun(auto_retry=True) as run:
        paused, token = run.paused("delay", 3_600_000)
        failed = run.queue.submit({"body": {"raise": True}}).result(10)
        assert failed.retry is not None and failed.retry.outcome == "retried"
        _redeployed(run, steps=_steps("ask", "check", "next"))
        assert run.call(token, Action.RESUME).status == 404  # its door closed
    result = run.result
    assert result is not None and result.pending_parts == 0
    pause = result.executions.by_index(paused.index).pause
    assert pause is not None and pause.outcome == "cancelled (redeployed: its steps changed)"
    assert pause.resumed_as is None
    retry = result.executions.by_index(failed.index).retry
    assert retry is not None and retry.outcome == "not retried (redeployed: its steps changed)"
    assert retry.retried_as is None and not result.passed


def test_parts_to_come_go_on_when_a_redeploy_keeps_the_steps():
    with ServedRun() as run:
        paused, token = run.paused("delay", 3_600_000)
        _redeployed(run, steps=_steps("ask", "next"))
        assert run.call(token, Action.RESUME).status == 200
        assert run.part_two.acquire(timeout=10)
    result = run.result
    assert result is not None
    pause = result.executions.by_index(paused.index).pause
    assert pause is not None and pause.outcome == "resumed"


def test_a_redeploy_brings_its_auto_retry_and_its_execution_controls():
    with ServedRun(auto_retry=True) as run:
        _redeployed(run, auto_retry=False)
        failed = run.queue.submit({"body": {"raise": True}}).result(10)
        assert failed.retry is None  # not retried: the new code has it off
        _redeployed(run, controls=Controls(throttle=Throttle(0, 60.0), throttle_from="given"))
        held = run.queue.submit({"pause": ["delay", 1]}).result(10)
        assert held.error is not None and held.error.type == "Workflow Paused"
    assert run.result is not None and not run.result.settings.auto_retry.to_json()["on"]
    assert run.result.settings.controls.to_json()["throttle"] is not None


def test_a_redeploy_that_debugs_other_steps_is_refused():
    plan = RunPlan(
        steps=_steps("ask", "next"), events=None, arrivals=[0.0], inputs={},
        policy=Policy(chaos=0.0), tmp_size_bytes=2**30, memory_bytes=2**28, timeout_s=30.0,
        network="none", image="pdee-ee:test", debug_port=5678,
    )  # fmt: skip
    backend = FakeBackend()
    runner = Runner(backend, plan)
    runner.image = backend.image(plan.image)
    same = runner.prepare(replace(plan, steps=_steps("ask", "next")))
    assert same.plan.steps[0].name == "ask"  # the same steps debugged: it may reload
    with pytest.raises(pdee.UsageError, match="restart pdee serve to debug the new steps"):
        runner.prepare(replace(plan, steps=_steps("ask", "check", "next")))


def test_a_part_in_flight_through_a_redeploy_that_changes_the_steps_pauses_for_nothing():
    with ServedRun() as run:
        slow = run.queue.submit({"pause": ["delay", 3_600_000], "sleep": 0.3})
        _until("the execution in flight", lambda: run.backend.in_flight == 1)
        _redeployed(run, steps=_steps("ask", "check", "next"))
        paused = slow.result(10)  # it ran the old code to its end
    result = run.result
    assert paused.pause is not None and result is not None and result.pending_parts == 0
    assert paused.pause.outcome == "cancelled (redeployed: its steps changed)"
    assert len(result.executions) == 1
