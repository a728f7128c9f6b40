"""The flow URLs of pdee serve without a socket or Docker: the doors' bookkeeping, a
call's path and data, and the runner resuming and cancelling paused parts through them
(on the fake backend, fed by a request queue as serve feeds it)."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend, FakeEE
from http_client import call

import pdee
from pdee.backends import EESpec, OnCall
from pdee.engine.flow_urls import PREFIX, Action, FlowAnswer, FlowDoors, FlowUrls, loopback
from pdee.engine.parts import WAITING, Part, follow, resumed_by_url
from pdee.engine.runner import Runner
from pdee.lifecycle.scheduler import Policy, Start
from pdee.plan.run_plan import RunPlan
from pdee.plan.steps import Step
from pdee.results.records import Execution, Pause, RunResult, Status
from pdee.runtime import protocol
from pdee.runtime.pd import Pipedream
from pdee.serving.flow_requests import flow_answer, parse_path, resume_data
from pdee.serving.http_trigger import Refused
from pdee.serving.request_queue import RequestQueue

# -- the doors ------------------------------------------------------------------------


def test_a_token_opens_once_its_part_paused_and_lets_one_call_through():
    tokens = iter(["t0", "t1", "t2"])
    doors = FlowDoors(lambda: next(tokens))
    assert doors.issue(0) == "t0" and doors.issue(1) == "t1"
    assert doors.enter("t0") is None  # still running: nothing to resume yet
    assert doors.open(0, leads_to=5) == "t0" and doors.open(1, leads_to=None) == "t1"
    assert not doors.is_open("t1")  # no pause, or nothing after it: no door
    assert doors.enter("t0") == 5 and doors.enter("t0") is None  # once
    doors.issue(2)
    doors.open(2, leads_to=6)
    doors.shut(6)  # its delay ran out first
    assert doors.enter("t2") is None and doors.enter("never") is None


def test_calls_cross_threads_and_a_closed_end_answers_503():
    urls = FlowUrls()
    woken: list[int] = []
    urls.open(lambda: woken.append(1))
    urls.base = loopback("http://0.0.0.0:8123")
    assert urls.url("abc") == f"http://127.0.0.1:8123{PREFIX}/abc"
    pending = urls.call("abc", Action.RESUME, {"a": 1})
    [taken] = urls.take()
    assert woken == [1] and (taken.token, taken.action, taken.data) == (
        "abc",
        Action.RESUME,
        {"a": 1},
    )
    assert not pending.done() and urls.take() == []
    waiting = urls.call("def", Action.CANCEL)
    urls.close()
    assert waiting.result(0).status == 503 and urls.call("x", Action.CANCEL).result(0).status == 503


# -- a call's path, data and answer ---------------------------------------------------


def test_a_flow_urls_path_data_and_answer():
    assert parse_path(f"{PREFIX}/tok/resume") == ("tok", Action.RESUME)
    assert parse_path(f"{PREFIX}/tok/cancel/") == ("tok", Action.CANCEL)
    for other in (PREFIX, f"{PREFIX}/tok", f"{PREFIX}/tok/pause", f"{PREFIX}//resume", "/x"):
        assert parse_path(other) is None, other
    assert resume_data("application/json", b'{"approved": true}', "") == {"approved": True}
    assert resume_data("text/plain", b"yes", "a=1") == "yes"  # the body, when there is one
    assert resume_data("", b"", "approved=1&by=ann") == {"approved": "1", "by": "ann"}
    assert resume_data("", b"", "") is None
    with pytest.raises(Refused) as refused:
        resume_data("application/json", b"{nope", "")
    assert refused.value.status == 400
    page = flow_answer(FlowAnswer(200, "resumed #0's suspend after <a>"))
    assert (
        page.status == 200 and page.body == b"<p><b>Resumed #0's suspend after &lt;a&gt;.</b></p>"
    )
    missing = flow_answer(FlowAnswer(404, "Not Found: gone"))
    assert (missing.status, missing.body, missing.header("content-type")) == (
        404,
        b"Not Found: gone",
        "text/plain; charset=utf-8",
    )


# -- a suspend on serve waits for its URL ---------------------------------------------


def test_a_suspend_waits_for_its_resume_url_until_its_timeout_and_takes_the_data():
    pause = Pause(kind="suspend", step="ask", ms=60_000, resume_url="r", cancel_url="c")
    execution = Execution(
        index=0, ee="ee-1", start=Start.COLD, status=Status.OK, arrived_at_s=0.0, at_s=0.0,
        duration_ms=1.0, pause=pause,
    )  # fmt: skip
    part = Part(index=0, first_index=0)
    cancelled, none = follow(part, execution, ["ask", "next"], 10.0, 1, None)
    assert none is None and cancelled.pause is not None and cancelled.pause.outcome == "cancelled"

    waiting, resumption = follow(part, execution, ["ask", "next"], 10.0, 1, None, by_url=True)
    assert waiting.pause is not None and waiting.pause.outcome == WAITING
    assert resumption is not None and resumption.until_called and resumption.at_s == 70.0
    early = resumed_by_url(resumption, 12.5, {"ok": 1}, "ask")
    assert early.at_s == 12.5 and not early.until_called
    assert early.part.prior_steps["ask"]["$resume_data"] == {"ok": 1}


# -- the runner, on the fake backend --------------------------------------------------


class PausingEE(FakeEE):
    """A workflow of two steps whose first pauses as its event says (``pause``: kind and
    ms), the URLs from the run's ``flow_url``; the second returns what it got. A body
    with ``raise`` makes the first step hand out its URL (``backend.handed``) and raise,
    so its pause is dropped."""

    def request(
        self, message: dict[str, Any], timeout_s: float, on_call: OnCall | None = None
    ) -> dict[str, Any]:
        reply = super().request(message, timeout_s, on_call)
        if message["type"] != protocol.RUN:
            return reply
        if message["event"].get("body", {}).get("raise"):
            self.backend.handed.append(message["flow_url"])  # type: ignore[attr-defined]
            reply["steps"] = {"ask": reply["steps"]["step"]}
            reply["status"] = "error"
            reply["error"] = {"type": "ValueError", "message": "after suspend",
                              "traceback": None, "step": "ask"}  # fmt: skip
            return reply
        if message.get("start_step"):
            reply["steps"] = {"next": {**reply["steps"]["step"], "return_value": message}}
        else:
            event = message["event"]
            kind, ms = event.get("pause") or event["body"]["pause"]  # a request's: its body
            url = message["flow_url"]
            reply["steps"] = {"ask": reply["steps"]["step"]}
            reply["pause"] = {"kind": kind, "ms": ms, "step": "ask",
                              "resume_url": f"{url}/resume", "cancel_url": f"{url}/cancel"}  # fmt: skip
        return reply


class PausingBackend(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.handed: list[str] = []  # the flow URLs of the steps that raised

    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> FakeEE:
        ee = PausingEE(self, spec, ee_id)
        self.ees.append(ee)
        return ee


class ServedRun:
    """A ``Runner`` fed by a ``RequestQueue``, with flow URLs, as ``pdee serve`` runs."""

    def __init__(self, auto_retry: bool = False) -> None:
        backend = self.backend = PausingBackend()
        code = "def handler(pd):\n    return 1\n"
        plan = RunPlan(
            steps=[Step(name=n, path=Path(f"{n}.py"), code=code) for n in ("ask", "next")],
            events=None,
            arrivals=[0.0],
            inputs={},
            policy=Policy(concurrency=2, chaos=0.0),
            tmp_size_bytes=2**30,
            memory_bytes=2**28,
            timeout_s=30.0,
            network="none",
            image="pdee-ee:test",
            auto_retry=auto_retry,
        )
        self.queue = RequestQueue()
        self.urls = FlowUrls()
        self.urls.base = "http://127.0.0.1:9"
        self.ended: list[Execution] = []
        self.part_two = threading.Semaphore(0)

        def ended(execution: Execution) -> None:
            self.ended.append(execution)
            self.queue.finished(execution)
            if execution.part == 2:
                self.part_two.release()

        self.runner = Runner(backend, plan, ended, source=self.queue, flow_urls=self.urls)
        self.result: RunResult | None = None
        self.thread = threading.Thread(target=self._run, name="served-run")

    def _run(self) -> None:
        try:
            self.result = self.runner.run()
        finally:
            self.queue.close()
            self.urls.close()

    def paused(self, kind: str, ms: float) -> tuple[Execution, str]:
        """A request whose execution pauses; its record and its token."""
        execution = self.queue.submit({"pause": [kind, ms]}).result(10)
        assert execution.pause is not None
        return execution, execution.pause.resume_url.split("/")[-2]

    def call(self, token: str, action: Action, data: Any = None) -> FlowAnswer:
        answer: Future[FlowAnswer] = self.urls.call(token, action, data)
        return answer.result(10)

    def __enter__(self) -> ServedRun:
        self.thread.start()
        assert self.queue.ready.wait(5)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.queue.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()


def test_serve_resumes_a_delay_early_cancels_another_and_leaves_a_suspend_pending():
    with ServedRun() as run:
        hour = 3_600_000
        first, early = run.paused("delay", hour)
        assert first.pause is not None
        assert first.pause.resume_url == f"http://127.0.0.1:9{PREFIX}/{early}/resume"
        _, cancel = run.paused("delay", hour)
        _, waits = run.paused("suspend", hour)
        assert run.call(early, Action.RESUME).status == 200
        assert run.part_two.acquire(timeout=10)
        assert run.call(cancel, Action.CANCEL).status == 200
        assert run.call(early, Action.CANCEL).status == 404  # used
        assert run.call(cancel, Action.RESUME).status == 404
    result = run.result
    assert result is not None and run.call(waits, Action.RESUME).status == 503
    resumed = result.executions.by_index(0).pause
    assert resumed is not None and resumed.outcome == "resumed" and resumed.resumed_as == 1
    assert resumed.resume_at_s is not None and resumed.resume_at_s < 60  # early: not an hour
    later = result.executions.by_index(1)  # the index it took as request 0 paused
    assert (
        later.part == 2
        and "$resume_data" not in later.steps["next"].return_value["prior_steps"]["ask"]
    )
    outcomes = [result.executions.by_index(i).pause for i in (2, 4)]
    assert [p.outcome if p else None for p in outcomes] == ["cancelled", "pending"]
    assert result.pending_parts == 1 and len(result.executions) == 4


def test_a_failed_parts_flow_url_is_unknown_even_with_a_retry_to_come():
    # A step hands out its resume_url and raises: no pause, but auto-retry's retry
    # follows. Its URLs lead nowhere (404), and the run goes on serving.
    with ServedRun(auto_retry=True) as run:
        failed = run.queue.submit({"body": {"raise": True}}).result(10)
        assert failed.retry is not None and failed.retry.outcome == "retried"
        token = run.backend.handed[0].split("/")[-1]
        assert run.call(token, Action.RESUME).status == 404
        assert run.call(token, Action.CANCEL).status == 404
        later, _ = run.paused("delay", 3_600_000)  # still serving
        assert later.pause is not None
    result = run.result
    assert result is not None and not result.aborted
    assert result.executions.by_index(0).retry.outcome == "pending"  # type: ignore[union-attr]


def test_the_server_answers_its_flow_urls_and_refuses_bad_bodies_without_using_them(write_step):
    told: list[tuple[str, str, int]] = []
    steps = [
        write_step("ask", "def handler(pd):\n    pd.flow.suspend()\n"),
        write_step("next", "def handler(pd):\n    return 1\n"),
    ]
    with pdee.serve(
        steps,
        backend=PausingBackend(),
        on_flow=lambda method, path, answer: told.append((method, path, answer.status)),
    ) as server:
        assert call(server.url + "/x", {"pause": ["suspend", 3_600_000]})[0] == 200
        deadline = threading.Event()
        while len(server.runner.result.executions) < 1:  # the request's part has paused
            deadline.wait(0.01)
        [paused] = server.runner.result.executions
        assert paused.pause is not None
        resume = paused.pause.resume_url
        assert resume.startswith(server.url + PREFIX + "/")
        big = call(resume, data=b"x" * (512 * 1024 + 1))
        bad = call(resume, data=b"{nope", headers={"content-type": "application/json"})
        preflight = call(resume, method="OPTIONS")
        elsewhere = call(server.url + PREFIX + "/a/b/c")
        done = call(resume, {"approved": True})
        twice = call(resume, {"approved": True})
    assert (big[0], bad[0], preflight[0], elsewhere[0]) == (413, 400, 200, 404)
    assert big[1]["connection"] == "close" and b"512KB" in big[2]
    assert preflight[1]["access-control-allow-origin"] == "*"
    assert b"not a flow URL" in elsewhere[2]
    assert done[0] == 200 and done[1]["content-type"].startswith("text/html")
    assert twice[0] == 404 and twice[2].startswith(b"Not Found: no paused execution")
    assert [status for _, _, status in told] == [413, 400, 404, 200, 404]
    result = server.result
    assert result is not None
    later = result.executions.by_index(1)
    prior = later.steps["next"].return_value["prior_steps"]
    assert prior["ask"]["$resume_data"] == {"approved": True}


def test_the_step_gets_the_urls_of_its_server_or_pdees_own():
    served = Pipedream({}, {}, None, f"http://127.0.0.1:9{PREFIX}/tok").flow
    assert served.suspend() == {
        "resume_url": f"http://127.0.0.1:9{PREFIX}/tok/resume",
        "cancel_url": f"http://127.0.0.1:9{PREFIX}/tok/cancel",
    }
    assert served.delay(5)["cancel_url"].endswith("/tok/cancel")  # one pair per part
    context = {"trigger": {"context": {"id": "e_1"}}}
    run = Pipedream(context, {}).flow.delay(5)
    assert run["resume_url"] == "https://pdee.invalid/flow/e_1/delay/resume"  # nothing answers
