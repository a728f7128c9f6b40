"""``--debug-port`` against the real daemon and image (issue 31): a real Debug Adapter
Protocol client, written here, attaches over the port pdee relays into the EE, with no
path mapping, and debugs the step by its file on this machine.

Each test runs ``pdee run`` as a process and ends it (SIGTERM, which removes its EEs)
if it outlives the test; every wait is bounded.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import pdee
from pdee.provision.image import DEFAULT_TAG

pytestmark = pytest.mark.usefixtures("no_new_containers")

IMAGE = os.environ.get("PDEE_IMAGE", DEFAULT_TAG)
WAIT_S = 90.0  # the longest any one exchange may take (an EE's cold start included)

STEP = """\
def handler(pd):
    greeting = "hello"
    count = 41
    count += 1
    return {"greeting": greeting, "count": count}
"""
STEP_LINE = 4  # count += 1: stopped there, count is still 41

CALLS_BREAKPOINT = """\
def handler(pd):
    answer = 42
    breakpoint()
    return answer
"""

HOLDS_OR_SLEEPS = """\
import time

def handler(pd):
    event = pd.steps["trigger"]["event"]
    if event.get("sleep"):
        time.sleep(event["sleep"])
        return "slept"
    held = "here"
    return held
"""
HOLD_LINE = 8


class Dap:
    """A Debug Adapter Protocol client over TCP: requests, responses, events."""

    def __init__(self, port: int, deadline: float) -> None:
        self.deadline = deadline
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.buffer = b""
        self.seq = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        self.sock.close()

    def request(self, command: str, **arguments: Any) -> int:
        seq = next(self.seq)
        message = {"seq": seq, "type": "request", "command": command, "arguments": arguments}
        body = json.dumps(message).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return seq

    def call(self, command: str, **arguments: Any) -> dict[str, Any]:
        """Send a request and return its response's body; fails the test on an error."""
        seq = self.request(command, **arguments)
        response = self.response(seq)
        assert response["success"], response
        body: dict[str, Any] = response.get("body", {})
        return body

    def response(self, seq: int) -> dict[str, Any]:
        return self.until(lambda m: m["type"] == "response" and m["request_seq"] == seq)

    def event(self, name: str) -> dict[str, Any]:
        return self.until(lambda m: m["type"] == "event" and m["event"] == name)

    def until(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            message = self.read()
            if message["type"] == "event":
                self.events.append(message)
            if wanted(message):
                return message

    def read(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(head.split(b":")[1])
        while len(rest) < length:
            self._receive()
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest[length:]
        message: dict[str, Any] = json.loads(rest[:length])
        return message

    def _receive(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the debug adapter said nothing in time")
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the debug adapter hung up")
        self.buffer += data

    def attach(self, breakpoints: dict[Path, list[int]]) -> None:
        """initialize, attach (no path mapping), set breakpoints, configurationDone."""
        self.call(
            "initialize",
            clientID="pdee-test",
            adapterID="debugpy",
            pathFormat="path",
            linesStartAt1=True,
            columnsStartAt1=True,
        )
        attach = self.request("attach", justMyCode=True)  # answered after configurationDone
        self.event("initialized")
        for path, lines in breakpoints.items():
            set_ = self.call(
                "setBreakpoints",
                source={"path": str(path)},
                breakpoints=[{"line": line} for line in lines],
            )
            assert [b["verified"] for b in set_["breakpoints"]] == [True] * len(lines), set_
        self.call("configurationDone")
        assert self.response(attach)["success"]

    def top_frame(self, thread_id: int) -> dict[str, Any]:
        frames = self.call("stackTrace", threadId=thread_id)["stackFrames"]
        frame: dict[str, Any] = frames[0]
        return frame

    def locals(self, frame_id: int) -> dict[str, str]:
        scopes = self.call("scopes", frameId=frame_id)["scopes"]
        local = next(s for s in scopes if s["name"] == "Locals")
        found = self.call("variables", variablesReference=local["variablesReference"])
        return {v["name"]: v["value"] for v in found["variables"]}

    def resume(self, thread_id: int) -> None:
        """Continue the step; its response may not come before the run ends and pdee
        ends the stream with the EE (as when a debugged process exits)."""
        self.request("continue", threadId=thread_id)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def pdee_run(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts ``pdee run`` (its report at tmp_path/report.json); ends what outlives the test."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "pdee", "run", *args, "--image", IMAGE]
        command += ["--report", str(tmp_path / "report.json"), "--seed", "1"]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # pdee removes its EEs on the way out
            try:
                process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def finished(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=WAIT_S)
    return process.returncode, out, err


def test_a_breakpoint_in_the_users_file_stops_the_step_in_its_ee(
    tmp_path: Path, pdee_run: Callable[..., subprocess.Popen[str]]
) -> None:
    step = tmp_path / "step.py"
    step.write_text(STEP)
    port = free_port()
    process = pdee_run(str(step), "--debug-port", str(port))
    dap = Dap(port, time.monotonic() + WAIT_S)
    try:
        dap.attach({step: [STEP_LINE]})
        stopped = dap.event("stopped")
        assert stopped["body"]["reason"] == "breakpoint"
        thread = stopped["body"]["threadId"]
        frame = dap.top_frame(thread)
        # The frame is in the user's own file, by its path on this machine.
        assert (frame["source"]["path"], frame["line"]) == (str(step), STEP_LINE)
        values = dap.locals(frame["id"])
        assert (values["count"], values["greeting"]) == ("41", "'hello'")
        dap.resume(thread)
        code, _out, err = finished(process)
    finally:
        dap.close()
    assert code == 0, err
    report = json.loads((tmp_path / "report.json").read_text())
    (execution,) = report["executions"]
    assert execution["status"] == "ok"
    assert execution["steps"]["step"]["return_value"] == {"greeting": "hello", "count": 42}
    assert report["settings"]["debug_port"] == port  # the report says the run was debugged
    assert execution["debug"]["held_ms"] > 0
    # The terminal said where to attach, that the execution waits, and how from VS Code.
    assert f"the first execution waits for a debugger on 127.0.0.1:{port}" in err
    assert '"request": "attach"' in err
    assert "pathMappings" not in err


def test_breakpoint_in_the_step_stops_in_the_debugger(
    tmp_path: Path, pdee_run: Callable[..., subprocess.Popen[str]]
) -> None:
    step = tmp_path / "calls.py"
    step.write_text(CALLS_BREAKPOINT)
    port = free_port()
    process = pdee_run(str(step), "--debug-port", str(port))
    dap = Dap(port, time.monotonic() + WAIT_S)
    try:
        dap.attach({})
        stopped = dap.event("stopped")
        thread = stopped["body"]["threadId"]
        frame = dap.top_frame(thread)
        assert frame["source"]["path"] == str(step)
        assert frame["line"] == 4  # debugpy stops on the line after breakpoint()
        assert dap.locals(frame["id"])["answer"] == "42"
        dap.resume(thread)
        code, _out, err = finished(process)
    finally:
        dap.close()
    assert code == 0, err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["executions"][0]["steps"]["calls"]["return_value"] == 42


def test_the_timeout_stops_while_a_debugger_holds_the_step_and_only_then(
    tmp_path: Path, pdee_run: Callable[..., subprocess.Popen[str]]
) -> None:
    step = tmp_path / "holds.py"
    step.write_text(HOLDS_OR_SLEEPS)
    events = tmp_path / "events.json"
    # The first execution is held at a breakpoint past its timeout; the second, with the
    # debugger still attached but holding nothing, sleeps past it; the third runs in a new
    # EE (a timed-out one is destroyed), whose debug server's start, about a second, is
    # not counted against the timeout (no debugger attached there: it runs through).
    events.write_text(json.dumps([{"hold": True}, {"sleep": 4}, {"hold": True}]))
    port = free_port()
    process = pdee_run(
        str(step), "--debug-port", str(port), "--timeout", "1.5", "--event-file", str(events)
    )
    dap = Dap(port, time.monotonic() + WAIT_S)
    try:
        dap.attach({step: [HOLD_LINE]})
        stopped = dap.event("stopped")
        thread = stopped["body"]["threadId"]
        assert dap.top_frame(thread)["line"] == HOLD_LINE
        time.sleep(4)  # held well past the 1.5 s timeout
        dap.resume(thread)
        code, _out, err = finished(process)
    finally:
        dap.close()
    report = json.loads((tmp_path / "report.json").read_text())
    held, slept, again = report["executions"]
    assert held["status"] == "ok", err
    assert held["steps"]["holds"]["return_value"] == "here"
    assert held["debug"]["held_ms"] >= 3500
    assert held["duration_ms"] >= 4000
    assert any("timeout did not run" in note for note in held["notes"])
    assert slept["status"] == "timeout"  # not held: the timeout runs as ever
    assert slept["debug"]["held_ms"] == 0
    assert (again["status"], again["start"]) == ("ok", "cold"), again["error"]
    assert again["steps"]["holds"]["return_value"] == "here"
    assert code == 1


LOOKS_FOR_THE_DEBUGGER = """\
import sys
import threading

def handler(pd):
    return {
        "debugger_modules": sorted(m for m in sys.modules if m.startswith(("debugpy", "pydevd"))),
        "breakpointhook_is_pythons": sys.breakpointhook is sys.__breakpointhook__,
    }
"""


def test_without_debug_port_nothing_of_the_debugger_is_in_the_step(tmp_path: Path) -> None:
    step = tmp_path / "looks.py"
    step.write_text(LOOKS_FOR_THE_DEBUGGER)
    result = pdee.run([step], image=IMAGE)
    (execution,) = result.executions
    assert execution.steps["looks"].return_value == {
        "debugger_modules": [],
        "breakpointhook_is_pythons": True,
    }
    assert execution.debug is None
    assert result.settings.debug_port is None


RESPONDS = """\
def handler(pd):
    count = 41
    count += 1
    pd.respond({"status": 200, "body": {"count": count}})
"""


def test_serve_debugs_a_request_through_the_api(tmp_path: Path) -> None:
    step = tmp_path / "responds.py"
    step.write_text(RESPONDS)
    port = free_port()
    answers: list[requests.Response] = []
    with pdee.serve([step], custom_response=True, debug_port=port, image=IMAGE) as server:
        caller = threading.Thread(
            target=lambda: answers.append(requests.get(server.url + "/hook", timeout=WAIT_S)),
            daemon=True,
        )
        caller.start()  # its execution, the first, waits for the debugger
        dap = Dap(port, time.monotonic() + WAIT_S)
        try:
            dap.attach({step: [3]})
            stopped = dap.event("stopped")
            thread = stopped["body"]["threadId"]
            frame = dap.top_frame(thread)
            assert (frame["source"]["path"], frame["line"]) == (str(step), 3)
            assert dap.locals(frame["id"])["count"] == "41"
            assert answers == []  # the caller waits while the step is held
            dap.resume(thread)
            caller.join(WAIT_S)
        finally:
            dap.close()
    (answer,) = answers
    assert (answer.status_code, answer.json()) == (200, {"count": 42})
    assert server.result is not None
    (execution,) = server.result.executions
    assert execution.debug is not None and execution.debug.held_ms > 0


FIRST = """\
def handler(pd):
    first = 1
    return first
"""
SECOND = """\
def handler(pd):
    got = pd.steps["first"]["$return_value"]
    return got + 1
"""


def test_each_python_step_is_debugged_at_its_own_port(
    tmp_path: Path, pdee_run: Callable[..., subprocess.Popen[str]]
) -> None:
    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text(FIRST)
    second.write_text(SECOND)
    port = free_port()
    while not port_free(port + 1):
        port = free_port()
    process = pdee_run(str(first), str(second), "--debug-port", str(port))
    deadline = time.monotonic() + WAIT_S
    debuggers = [Dap(port, deadline), Dap(port + 1, deadline)]
    try:
        debuggers[0].attach({first: [3]})
        debuggers[1].attach({second: [3]})  # the first execution waited for both
        for dap, step, local in zip(debuggers, (first, second), ("first", "got"), strict=True):
            stopped = dap.event("stopped")
            thread = stopped["body"]["threadId"]
            frame = dap.top_frame(thread)
            assert (frame["source"]["path"], frame["line"]) == (str(step), 3)
            assert dap.locals(frame["id"])[local] == "1"
            dap.resume(thread)
        code, _out, err = finished(process)
    finally:
        for dap in debuggers:
            dap.close()
    assert code == 0, err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["executions"][0]["steps"]["second"]["return_value"] == 2
    assert f"second at 127.0.0.1:{port + 1}" in err
    assert '"compounds"' in err


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
