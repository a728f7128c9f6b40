"""pdee serve on the fake backend: a request in, an execution placed, the response out.

The HTTP tests talk to the real server (uvicorn, 127.0.0.1, a port the OS picks) with a
real client, through ``pdee.serve``; the EEs are ``fake_backend``'s, so no Docker. The
request queue (the run's arrival source for serve) is also tested alone, and under the
real ``Runner``, without a socket.
"""

from __future__ import annotations

import json
import math
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend, FakeEE
from http_client import call

import pdee
from pdee.backends import EESpec, OnCall
from pdee.engine.runner import Runner
from pdee.lifecycle.scheduler import Mode, Policy, Start
from pdee.plan.run_plan import RunPlan
from pdee.plan.steps import Step
from pdee.results.records import Execution, RunResult, Status
from pdee.runtime import protocol
from pdee.serving.http_trigger import NO_RESPOND, SUCCESS_PAGE, Refused
from pdee.serving.request_queue import RequestQueue

QUIET = "def handler(pd):\n    return 1\n"


def threads_alive() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("pdee-")]


@pytest.fixture(autouse=True)
def nothing_left():
    yield
    assert threads_alive() == []


class EchoEE(FakeEE):
    """A fake EE whose workflow answers as a step calling ``pd.respond`` would: 201, a
    header, and the trigger's event as the body."""

    def request(
        self, message: dict[str, Any], timeout_s: float, on_call: OnCall | None = None
    ) -> dict[str, Any]:
        reply = super().request(message, timeout_s, on_call)
        if message["type"] == protocol.RUN:
            event = message["event"]
            reply["respond"] = {"status": 201, "headers": {"X-Step": "echo"}, "body": event}
        return reply


class EchoBackend(FakeBackend):
    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> FakeEE:
        ee = EchoEE(self, spec, ee_id)
        self.ees.append(ee)
        return ee


# -- through pdee.serve, over 127.0.0.1 --


def test_a_request_in_an_execution_placed_the_default_page_out(write_step):
    backend = FakeBackend()
    seen: list[tuple[str, int]] = []
    with pdee.serve(
        [write_step("hook", QUIET)],
        backend=backend,
        on_request=lambda event, execution: seen.append((event["path"], execution.index)),
    ) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, headers, body = call(server.url + "/orders?id=7", {"sku": "a1"})
        assert status == 200 and body.decode() == SUCCESS_PAGE
        assert headers["content-type"].startswith("text/html")
        assert server.plan.steps[0].name == "hook"
    result = server.result
    assert result is not None and result.settings.arrivals == {"kind": "requests"}
    (execution,) = result.executions
    assert (execution.index, execution.ee, execution.start) == (0, "ee-1", Start.COLD)
    assert execution.status is Status.OK and execution.arrived_at_s >= 0.0
    # The default page does not wait for the execution: on_request told of it later.
    assert seen == [("/orders", 0)]
    assert all(ee.destroyed.is_set() for ee in backend.ees)
    assert backend.swept == [result.run_id] and not backend.closed  # the caller's


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("full", {"bodyRaw": '{"sku": "a1"}'}),
        ("raw", {"bodyRaw": '{"sku": "a1"}'}),
        ("body", {"sku": "a1"}),
    ],
)
def test_the_step_gets_the_http_event_asked_for_and_on_request_the_full_one(
    write_step, kind, expected
):
    seen: list[dict[str, Any]] = []
    with pdee.serve(
        [write_step("echo", QUIET)],
        custom_response=True,
        backend=EchoBackend(),
        http_event=kind,
        on_request=lambda event, _execution: seen.append(event),
    ) as server:
        status, _headers, body = call(server.url + "/orders", {"sku": "a1"})
    event = json.loads(body)
    assert status == 201
    if kind == "body":
        assert event == expected
    else:
        assert event["body"] == {"sku": "a1"} and event["bodyRaw"] == expected["bodyRaw"]
        assert ("rawHeaders" in event) is (kind == "raw")
        if kind == "raw":  # names and values, flat, as they came
            pairs = list(zip(event["rawHeaders"][::2], event["rawHeaders"][1::2], strict=True))
            assert ("content-type", "application/json") in pairs
    assert seen[0]["path"] == "/orders" and seen[0]["method"] == "POST"


def test_an_unknown_http_event_is_refused_before_any_ee(write_step):
    backend = FakeBackend()
    serving = pdee.serve([write_step("hook", QUIET)], backend=backend, http_event="xml")
    with pytest.raises(pdee.UsageError, match="--http-event xml: give one of full, body, raw"):
        serving.__enter__()
    assert backend.ees == []


def test_with_a_custom_response_the_caller_gets_what_the_workflow_responds(write_step):
    # No chaos: an EE destroyed at random (1% a draw) would make the second start cold.
    with pdee.serve(
        [write_step("echo", QUIET)], custom_response=True, backend=EchoBackend(), chaos=0
    ) as server:
        first = call(server.url + "/orders?id=7&id=8", {"sku": "a1"})
        second = call(server.url + "/again", method="PUT")
    status, headers, body = first
    assert status == 201 and headers["x-step"] == "echo"
    event = json.loads(body)
    assert event["method"] == "POST" and event["path"] == "/orders"
    assert event["query"] == {"id": ["7", "8"]} and event["body"] == {"sku": "a1"}
    assert event["client_ip"] == "127.0.0.1"
    assert second[0] == 201 and json.loads(second[2])["method"] == "PUT"
    assert server.result is not None
    executions = server.result.executions
    assert [e.index for e in executions] == [0, 1]
    assert [e.start for e in executions] == [Start.COLD, Start.WARM]  # the same EE, warm
    assert executions[1].arrived_at_s >= executions[0].arrived_at_s


def test_a_workflow_that_never_responds_gets_the_platforms_400(write_step):
    with pdee.serve(
        [write_step("quiet", QUIET)], custom_response=True, backend=FakeBackend()
    ) as server:
        status, _, body = call(server.url + "/")
    assert status == 400 and body.decode() == NO_RESPOND
    assert server.result is not None and len(server.result.executions) == 1


# -- the request queue, without a socket --


def record(index: int) -> Execution:
    return Execution(
        index=index, ee="ee-1", start=Start.COLD, status=Status.OK, arrived_at_s=0.0,
        at_s=0.0, duration_ms=1.0,
    )  # fmt: skip


def test_the_request_queue_stamps_hands_over_and_completes_each_request():
    told: list[tuple[dict[str, Any], int]] = []
    woken: list[str] = []
    queue = RequestQueue(lambda event, execution: told.append((event, execution.index)))
    assert (queue.real_clock, queue.inline) == (True, False)
    assert queue.describe() == {"kind": "requests"}
    assert queue.next_at() == math.inf and queue.left() == 1  # none yet; more may come
    queue.open(lambda: woken.append("wake"))
    assert queue.ready.is_set()

    blobs = {"t0": {"data": "eA==", "type": "text/plain"}}
    done = queue.submit({"path": "/a"}, blobs)
    later = queue.submit({"path": "/b"})
    assert woken == ["wake", "wake"] and queue.left() == 3
    arrived_at = queue.next_at()
    assert arrived_at is not None and 0.0 <= arrived_at <= queue.now_s()

    part = queue.take()
    assert (part.index, part.first_index, part.number) == (0, 0, 1)
    assert part.event == {"path": "/a"} and part.blobs == blobs
    assert queue.next_index == 1  # a paused execution's next part would take it
    second_at = queue.next_at()
    assert second_at is not None and arrived_at <= second_at < math.inf

    queue.finished(record(0))
    queue.finished(record(7))  # not a request's: a paused execution's later part
    assert done.result(0) == record(0) and told == [({"path": "/a"}, 0)]

    queue.stop()
    assert woken[-1] == "wake" and queue.next_at() == second_at  # queued ones still go
    assert queue.take().index == 1 and queue.next_at() is None and queue.left() == 0
    queue.close()  # the run ended before request 1's execution did
    with pytest.raises(RuntimeError, match="pdee serve stopped before this request's"):
        later.result(0)
    with pytest.raises(Refused) as refused:  # never queued where no runner takes it
        queue.submit({"path": "/c"})
    assert refused.value.status == 503


def one_step_plan(policy: Policy) -> RunPlan:
    return RunPlan(
        steps=[Step(name="step", path=Path("step.py"), code=QUIET)],
        events=None,
        arrivals=[0.0],
        inputs={},
        policy=policy,
        tmp_size_bytes=2**30,
        memory_bytes=2**28,
        timeout_s=30.0,
        network="none",
        image="pdee-ee:test",
    )


class QueueRun:
    """A ``Runner`` fed by a ``RequestQueue`` on a thread, as ``pdee serve`` runs it."""

    def __init__(self, backend: FakeBackend, policy: Policy) -> None:
        self.queue = RequestQueue()
        self.runner = Runner(backend, one_step_plan(policy), self.queue.finished, source=self.queue)
        self.result: RunResult | None = None
        self.thread = threading.Thread(target=self._run, name="queue-run")

    def _run(self) -> None:
        try:
            self.result = self.runner.run()
        finally:
            self.queue.close()

    def __enter__(self) -> RequestQueue:
        self.thread.start()
        assert self.queue.ready.wait(5)
        return self.queue

    def __exit__(self, *_exc: object) -> None:
        self.queue.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()


def test_a_request_behind_a_busy_ee_waits_from_its_arrival_and_starts_no_earlier_than_now():
    run = QueueRun(FakeBackend(), Policy(concurrency=1, chaos=0.0))
    with run as queue:
        busy = queue.submit({"sleep": 0.3})
        time.sleep(0.05)
        behind: list[Future[Execution]] = [queue.submit({"sleep": 0.01}) for _ in range(2)]
        executions = [busy.result(5), *(future.result(5) for future in behind)]
    first, second, third = executions
    assert [e.index for e in executions] == [0, 1, 2]
    assert [e.ee for e in executions] == ["ee-1"] * 3  # one EE: each waited for it
    assert second.start is Start.WARM and second.at_s >= first.at_s + 0.3
    # Stamped when they came, not when they were placed: the wait counts from there.
    assert first.arrived_at_s < second.arrived_at_s <= third.arrived_at_s < second.at_s
    assert third.at_s >= second.at_s  # nothing starts before now
    assert run.result is not None and len(run.result.executions) == 3


def test_a_request_that_comes_while_one_runs_is_placed_at_once():
    """The runner's thread takes requests while an execution runs: with two EEs, one
    that comes meanwhile runs at once on the second."""
    backend = FakeBackend()
    with QueueRun(backend, Policy(mode=Mode.REALISTIC, concurrency=2, chaos=0.0)) as queue:
        slow = queue.submit({"sleep": 0.5})
        time.sleep(0.05)
        quick = queue.submit({})
        assert quick.result(0.4).ee == "ee-2"  # placed while the first still ran
        assert not slow.done()
    assert slow.result(0).ee == "ee-1" and backend.most_in_flight == 2
    assert all(ee.destroyed.is_set() for ee in backend.ees)
