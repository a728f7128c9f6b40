"""The protocol between pdee and the runtime, from both sides, with no Docker: every
message encoded by one side and decoded by the other.

pdee's end is the real channel (``backends.channel``: Docker's framing, progress, calls)
on one end of a socket pair; the runtime's end is the real supervisor (``serve``, as the
EE's ``main`` runs it) on the other, with a real step process behind it, so that the
supervisor's messages to a worker (start, invoke, answer) and the worker's (loaded, done,
call) cross real pipes too. The requests are the ones pdee builds (``EEWork``, ``Part``).
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend

from pdee.backends.channel import AttachedStream, ReplyProgress, next_reply, send_message
from pdee.engine.ee_work import EEWork
from pdee.engine.parts import Part
from pdee.engine.runner import Runner
from pdee.errors import PdeeError
from pdee.lifecycle.scheduler import Policy
from pdee.plan.run_plan import RunPlan
from pdee.plan.steps import StandIn, Step
from pdee.runtime import protocol
from pdee.runtime.supervisor import Supervisor, serve

STEP = """\
def handler(pd):
    print("hi from the step")
    pd.inputs["store"]["seen"] = pd.inputs["token"]  # a call, and its answer
    pd.export("got", pd.inputs["store"].get("seen"))
    return {"first": pd.steps["first"]["$return_value"], "runs": pd.context["run"]["runs"]}
"""


def plan(**overrides: Any) -> RunPlan:
    values: dict[str, Any] = {
        "steps": [
            Step("first", Path("first.js"), "", stand_in=StandIn("a Node.js step", 7, True)),
            Step(
                name="step",
                path=Path("step.py"),
                code=STEP,
                inputs={"token": "t"},
                stores={"store": "ds_1"},
            ),
        ],
        "events": [{}],
        "arrivals": [0.0],
        "inputs": {},
        "policy": Policy(chaos=0.0),
        "tmp_size_bytes": 2**30,
        "memory_bytes": 2**50,  # the meter reads this machine's memory: never over it
        "timeout_s": 30.0,
        "network": "none",
        "image": "pdee-ee:test",
    }
    values.update(overrides)
    return RunPlan(**values)


class Framed:
    """The runtime's stdout as pdee reads it: each write one frame of Docker's
    multiplexed stream (stream 1, three zero bytes, the length)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def write(self, data: bytes) -> int:
        self.sock.sendall(struct.pack(">BxxxL", 1, len(data)) + data)
        return len(data)

    def flush(self) -> None:
        pass


@pytest.fixture
def ee(tmp_path, monkeypatch):
    """pdee's end of an EE whose runtime serves on a thread; the runtime writes the
    steps' code under ``tmp_path`` rather than this machine's /tmp/__pdg__."""
    monkeypatch.setattr(protocol, "CODE_DIR", str(tmp_path))
    host, runtime = socket.socketpair()
    supervisor = Supervisor()
    server = threading.Thread(
        target=serve, args=(supervisor, runtime.makefile("rb"), Framed(runtime)), daemon=True
    )
    server.start()
    stream = AttachedStream(host)
    yield stream
    stream.shutdown()  # the end of the runtime's input: it ends its step processes
    server.join(10)
    stream.close()
    runtime.close()
    assert not server.is_alive() and not supervisor.workers


def load_message() -> protocol.Load:
    """The load message pdee sends every EE of the plan."""
    return EEWork(plan(), new_ee=lambda _ee_id: pytest.fail("no EE is made")).load_message()


def ask(
    stream: AttachedStream, message: Any, on_call: Any = None
) -> tuple[protocol.Reply | None, ReplyProgress]:
    send_message(stream, message)
    progress = ReplyProgress()
    return next_reply(stream, time.monotonic() + 30, progress, on_call), progress


def test_every_message_crosses_from_pdee_to_the_runtime_and_back(ee):
    progress = ReplyProgress()
    hello = next_reply(ee, time.monotonic() + 30, progress)
    assert hello is not None and hello["type"] == protocol.HELLO
    assert hello["protocol"] == protocol.PROTOCOL_VERSION and hello["separated"] is False

    load = load_message()
    assert [step["name"] for step in load["steps"]] == ["first", "step"]
    ready, _ = ask(ee, load)
    assert ready == {"type": protocol.READY, "packages_bytes": 0}

    calls: list[dict[str, Any]] = []
    kept: dict[str, Any] = {}

    def on_call(call: dict[str, Any]) -> dict[str, Any]:
        calls.append(call)
        if call["op"] == "set":
            kept[call["key"]] = call["value"]
            return {"found": True}
        return {"found": call["key"] in kept, "value": kept.get(call["key"])}

    context = {"id": "c1", "trace_id": "t1"}
    run: protocol.Run = {"type": protocol.RUN, "index": 0, "event": {}, "context": context}
    result, progress = ask(ee, {**run, **Part(0, 0).message()}, on_call)
    assert result is not None and result["type"] == protocol.RESULT, result
    assert (result["index"], result["status"], result["error"]) == (0, "ok", None)
    assert result["steps"]["first"]["stand_in"] is True
    assert result["steps"]["step"]["return_value"] == {"first": 7, "runs": 1}
    assert result["steps"]["step"]["exports"] == {"got": "t"}
    assert [(c["store"], c["op"], c["key"]) for c in calls] == [
        ("ds_1", "set", "seen"),
        ("ds_1", "get", "seen"),
    ]
    assert progress.step == "step"  # StepStarted, then Log, before the result
    assert progress.texts() == {"step": "hi from the step\n"}

    # A later part of a paused execution: it starts at a later step, with what the
    # earlier parts' steps gave and its rerun's pd.context["run"].
    prior = {"first": {"$return_value": 8}}
    later = Part(1, 0, 2, start_step=1, prior_steps=prior, run={"runs": 2, "context": None})
    result, _ = ask(ee, {**run, "index": 1, **later.message()}, on_call)
    assert result is not None and result["type"] == protocol.RESULT, result
    assert list(result["steps"]) == ["step"]
    assert result["steps"]["step"]["return_value"] == {"first": 8, "runs": 2}

    swept, _ = ask(ee, {"type": protocol.RESET})
    assert swept is not None and swept["type"] == protocol.RESET
    assert swept["clean"] is False and "not an EE's own" in str(swept["why"])

    fatal, _ = ask(ee, {"type": protocol.ANSWER, "answer": {}})  # not a request
    assert fatal == {"type": protocol.FATAL, "message": "unknown message 'answer'"}


def test_a_call_with_no_one_to_answer_it_gets_an_error(ee):
    next_reply(ee, time.monotonic() + 30, ReplyProgress())
    ask(ee, load_message())
    run = {"type": protocol.RUN, "index": 0, "event": {}, "context": {"id": "c", "trace_id": "t"}}
    result, _ = ask(ee, run)  # no on_call: the channel answers with an error
    assert result is not None and result["type"] == protocol.RESULT
    assert result["status"] == "error" and result["error"] is not None
    assert "this request takes no calls" in result["error"]["message"]


def test_a_line_that_is_not_a_message_is_refused_on_both_sides(ee):
    next_reply(ee, time.monotonic() + 30, ReplyProgress())
    ee.send(b'{"no": "type"}\n')
    fatal = next_reply(ee, time.monotonic() + 30, ReplyProgress())
    assert fatal is not None and fatal["type"] == protocol.FATAL
    assert "is not a message" in fatal["message"]
    for line in (b"[1]", b'{"type": 1}', b"{", b'"run"'):
        with pytest.raises(ValueError):
            protocol.decode(line)


def test_the_worker_link_round_trips_each_of_its_messages():
    messages: list[protocol.Message] = [
        {"type": protocol.START, "id": "a"},
        {
            "type": protocol.INVOKE,
            "id": "b",
            "steps": {"trigger": {"event": {"ü": [1, None]}}},
            "inputs": {},
            "stores": {"s": "k"},
            "measure": True,
            "run": None,
        },
        {"type": protocol.LOADED, "id": "a", "error": None, "duration_ms": 1.5},
        {"type": protocol.CALL, "id": "b", "call": {"store": "k", "op": "keys"}},
        {"type": protocol.ANSWER, "answer": {"found": True, "value": ["x"]}},
    ]
    for message in messages:
        line = protocol.encode(message)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert protocol.decode(line) == message


def test_pdee_refuses_an_ee_that_speaks_another_protocol():
    backend = FakeBackend()
    backend.protocol = protocol.PROTOCOL_VERSION - 1
    with pytest.raises(PdeeError, match=f"speaks runtime protocol {backend.protocol}, this"):
        Runner(backend, plan(memory_bytes=2**28)).run()
    assert all(fake.destroyed.is_set() for fake in backend.ees)


# -- what a step hands over is bounded where it hands it over (issue 28) ------------

BOUNDED_STEP = """\
import json

def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value

def handler(pd):
    what = pd.steps["trigger"]["event"]["what"]
    store = pd.inputs["store"]
    if what == "deep return":
        return nested(990)
    if what == "deep export":
        pd.export("rows", nested(985))
    if what == "deep store":
        store["k"] = nested(975)
    if what == "deep rerun":
        pd.flow.rerun(1000, nested(980))
    if what == "surrogate key":
        store["\\ud800"] = 1
    if what == "forged ttl":
        store._call({"store": "ds_1", "op": "set", "key": "k", "value": 1, "ttl": "abc"})
        store._ask("set", key="k", value=1, ttl="abc")
    if what == "changed export":
        rows = [1]
        pd.export("rows", rows)
        rows.append(float("nan"))
    return "fine"
"""


def bounded_plan() -> RunPlan:
    step = Step("step", Path("step.py"), BOUNDED_STEP, stores={"store": "ds_1"})
    return plan(steps=[step])


@pytest.mark.parametrize(
    ("what", "error", "said"),
    [
        ("deep return", "ValueError", r"the step's return value nests 990 levels"),
        ("deep export", "ValueError", r"export 'rows' nests 985 levels"),
        ("deep store", "ValueError", r"the value of data store key 'k' nests 975 levels"),
        ("deep rerun", "ValueError", r"pd.flow.rerun's context nests 980 levels"),
        ("surrogate key", "ValueError", r"'\\ud800' at position 0 is half of a surrogate pair"),
        ("forged ttl", "RuntimeError", r"data store 'ds_1': ttl must be a number of seconds"),
        ("changed export", "TypeError", r"export 'rows', as it was when the step ended, must"),
    ],
)
def test_a_step_handing_over_what_pdee_cannot_carry_fails_in_its_own_traceback(
    ee, what, error, said
):
    next_reply(ee, time.monotonic() + 30, ReplyProgress())
    work = EEWork(bounded_plan(), new_ee=lambda _ee_id: pytest.fail("no EE is made"))
    ask(ee, work.load_message())
    calls: list[dict[str, Any]] = []

    def on_call(call: dict[str, Any]) -> dict[str, Any]:
        calls.append(call)
        from pdee.services.data_stores import call_problem

        problem = call_problem(call)
        return {"error": problem} if problem else {"found": True}

    for index, event in enumerate(({"what": what}, {"what": "nothing"})):
        context = {"id": f"c{index}", "trace_id": "t"}
        run = {"type": protocol.RUN, "index": index, "event": event, "context": context}
        result, _ = ask(ee, {**run, **Part(index, 0).message()}, on_call)
        assert result is not None and result["type"] == protocol.RESULT, result
        if index == 0:  # the step's error, at its own line, and the EE serves on
            assert result["status"] == "error" and result["error"] is not None, result
            assert (result["error"]["type"], result["error"]["step"]) == (error, "step")
            assert re.search(said, result["error"]["message"]), result["error"]["message"]
            traceback = result["error"]["traceback"] or ""
            assert what in ("changed export", "deep return") or 'File "step.py", line' in traceback
            assert result["pause"] is None and result["steps"]["step"]["exports"] == {}
        else:
            assert result["status"] == "ok" and result["steps"]["step"]["return_value"] == "fine"
    assert all(call.get("key") != "\ud800" for call in calls)
