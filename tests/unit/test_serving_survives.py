"""pdee serve survives every execution and every request, and stops when told (issue 28).

On the fake backend (``fake_requests``: EEs steered by the request), over real HTTP on
127.0.0.1: a response the workflow cannot have sent is a one-line 500 and the next
request runs; a request pdee cannot take is a one-line 4xx with no traceback; the bodies
held for queued requests are bounded; a stop does not wait for slow clients, and
reports a paused execution's later part as pending. The command itself (its log line,
a second Ctrl-C, a bad port) runs as a process, on the same fake EEs.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fake_requests import RequestBackend
from http_client import call
from rich.console import Console

import pdee
from pdee.backends import ImageInfo
from pdee.errors import RunAborted
from pdee.outputs import terminal
from pdee.results.records import Execution, Status
from pdee.serving import app as serving_app
from pdee.serving.handle import GRACE_S
from pdee.serving.http_trigger import INVALID_RESPONSE, custom_answer

STEP = "def handler(pd):\n    return 1\n"
UNIT = Path(__file__).parent


def raw(url: str, data: bytes, read: bool = True) -> bytes:
    """Send ``data`` as it is on a new connection; what comes back until it closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while read:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def status_line(answer: bytes) -> tuple[int, bytes]:
    """The status and body of a response read whole (a chunked body put together)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        whole = b""
        while body:
            size, _, rest = body.partition(b"\r\n")
            whole, body = whole + rest[: int(size, 16)], rest[int(size, 16) + 2 :]
        body = whole
    return int(head.split()[1]), body


def threads_alive() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("pdee-")]


@pytest.fixture(autouse=True)
def nothing_left():
    yield
    assert threads_alive() == []


@pytest.fixture
def hook(write_step) -> str:
    return str(write_step("hook", STEP))


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def server_logs() -> Iterator[list[logging.LogRecord]]:
    """What uvicorn and pdee log while the block runs (attached once the server started:
    uvicorn's config replaces its loggers' handlers)."""
    kept = Kept()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "pdee")]
    for logger in loggers:
        logger.addHandler(kept)
    try:
        yield kept.records
    finally:
        for logger in loggers:
            logger.removeHandler(kept)


def no_traceback(records: list[logging.LogRecord]) -> None:
    shown = [record.getMessage() for record in records]
    assert not any(record.exc_info for record in records), shown
    assert not any("Exception in ASGI application" in line for line in shown), shown


# -- a response the workflow cannot have sent --

CANNOT_BE_SENT = [
    ({"headers": ["x-a", "b"]}, "pd.respond's headers are a list"),
    ({"headers": "x-a: b"}, "pd.respond's headers are a string"),
    ({"headers": 7}, "pd.respond's headers are a number"),
    ({"status": 1000}, "pd.respond's status 1000 is not a final HTTP status"),
    ({"status": 101}, "pd.respond's status 101 is not a final HTTP status"),
    ({"headers": {"x-a": "b\r\nx-injected: 1"}}, "holds a control character ('\\r'"),
    ({"headers": {"x a": "b"}}, "header name 'x a' is not an HTTP header name"),
    ({"headers": {"x:a": "b"}}, "header name 'x:a' is not an HTTP header name"),
    ({"headers": {"x-a": "snow \u2603"}}, "holds a character past Latin-1"),
]


def test_a_response_that_cannot_be_sent_is_a_500_and_the_next_request_runs(hook):
    backend = RequestBackend()
    told: list[tuple[int, int]] = []

    def on_request(event: dict[str, Any], execution: Execution) -> None:
        answer = custom_answer(execution.respond, execution.pause is not None)  # as the CLI
        told.append((execution.index, answer.status))

    with pdee.serve(
        [hook], custom_response=True, backend=backend, on_request=on_request
    ) as server, server_logs() as logs:  # fmt: skip
        answers = []
        for change, _ in CANNOT_BE_SENT:
            respond = {"status": 200, "body": "x", **change}
            answers.append(call(server.url + "/", {"respond": respond}))
            answers.append(call(server.url + "/", {"respond": {"status": 201, "body": "ok"}}))
    for (change, why), bad, good in zip(CANNOT_BE_SENT, answers[::2], answers[1::2], strict=True):
        status, headers, body = bad
        assert status == 500 and why in body.decode() and b"\n" not in body, (change, body)
        assert "x-injected" not in headers
        assert good[0] == 201 and good[2] == b"ok"
    no_traceback(logs)
    assert server.result is not None
    executions = list(server.result.executions)
    assert len(executions) == 2 * len(CANNOT_BE_SENT)
    for execution, (_, why) in zip(executions[::2], CANNOT_BE_SENT, strict=True):
        assert execution.status is Status.ERROR and execution.error is not None
        assert execution.error.type == INVALID_RESPONSE and why in execution.error.message
    assert all(e.status is Status.OK for e in executions[1::2])
    # What on_request works out (the CLI's log line) is what the caller got.
    assert [status for _, status in sorted(told)] == [a[0] for a in answers]
    assert all(ee.destroyed.is_set() for ee in backend.ees)


def responding(status: int = 200, body: Any = "x", **fields: Any) -> dict[str, Any]:
    """A request whose workflow responds with ``status``, ``body`` and ``fields``."""
    return {"respond": {"status": status, "body": body, **fields}}


def test_what_the_server_owns_is_set_right_and_noted(hook):
    with pdee.serve([hook], custom_response=True, backend=RequestBackend()) as server:
        url = server.url + "/"
        length = call(url, responding(body="twelve bytes", headers={"Content-Length": "5"}))
        empty = call(url, responding(status=204, body={"dropped": 1}))
        framing = call(url, responding(headers={"Transfer-Encoding": "chunked"}))
        cookies = call(url, responding(headers={"Set-Cookie": ["a=1", "b=2"], "X-N": 7}))
    assert length[0] == 200 and length[2] == b"twelve bytes"
    assert length[1]["content-length"] == "12"
    assert empty[0] == 204 and empty[2] == b""
    assert framing[0] == 200 and framing[2] == b"x" and "transfer-encoding" not in framing[1]
    assert cookies[0] == 200 and cookies[1]["x-n"] == "7"
    assert server.result is not None
    executions = list(server.result.executions)
    assert all(e.status is Status.OK for e in executions)
    assert "content-length '5' was dropped" in executions[0].notes[0]
    assert executions[1].notes == ["pd.respond's body was dropped: a 204 response has none"]


def test_a_callback_that_fails_neither_hangs_the_request_nor_stops_serve(hook, caplog):
    def boom(*_args: Any) -> None:
        raise RuntimeError("the caller's bug")

    with pdee.serve(
        [hook], custom_response=True, backend=RequestBackend(), on_request=boom,
        on_execution=boom,
    ) as server:  # fmt: skip
        first = call(server.url + "/", {"respond": {"status": 202, "body": "a"}})
        second = call(server.url + "/", {"respond": {"status": 203, "body": "b"}})
    assert (first[0], second[0]) == (202, 203)
    assert server.result is not None and len(server.result.executions) == 2
    assert sum("the caller's bug" in r.getMessage() for r in caplog.records) == 4


def test_a_backend_that_fails_ends_serve_and_the_callers_are_told_why(hook):
    backend = RequestBackend(fail_during=0)
    with (
        pytest.raises(RunAborted) as aborted,
        pdee.serve([hook], custom_response=True, backend=backend) as server,
    ):
        cut = call(server.url + "/", {"x": 1})
        later = call(server.url + "/", {"x": 2})
        server.wait()  # returns: the run ended by itself
    why = b"EE ee-1 did not answer 'run' in time"
    assert cut[0] == 503 and why in cut[2] and b"stopped before this request's" in cut[2]
    assert later[0] == 503 and why in later[2] and b"takes no more requests" in later[2]
    assert aborted.value.result.executions.briefs() == []
    assert all(ee.destroyed.is_set() for ee in backend.ees)


# -- requests pdee cannot take --


def multipart(parts: list[bytes], boundary: bytes = b"B") -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + b"--" + boundary + b"--\r\n"


def post(body: bytes, content_type: str, extra: bytes = b"") -> bytes:
    head = (
        f"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n"
    ).encode()
    return head + extra + b"\r\n" + body


FIELD = b'content-disposition: form-data; name="f%d"\r\n\r\nv'
FILE = b'content-disposition: form-data; name="f%d"; filename="a.txt"\r\n\r\nv'
BAD_REQUESTS = [
    ("json nested 100k deep", post(b"[" * 100_000 + b"]" * 100_000, "application/json"), 400,
     "nests deeper than the 500 levels"),
    ("NaN", post(b'{"a": NaN}', "application/json"), 400, "NaN, which JSON does not have"),
    ("1,500 fields", post(multipart([FIELD % i for i in range(1500)]),
     "multipart/form-data; boundary=B"), 400, "Too many fields"),
    ("1,500 files", post(multipart([FILE % i for i in range(1500)]),
     "multipart/form-data; boundary=B"), 400, "Too many files"),
    ("a 100KB filename", post(multipart([b'content-disposition: form-data; name="f"; '
     b'filename="' + b"a" * 100_000 + b'"\r\n\r\nv']), "multipart/form-data; boundary=B"), 400,
     "the multipart body cannot be read"),
    ("no boundary", post(b"abc", "multipart/form-data"), 400, "Missing boundary"),
    ("a malformed chunk size", b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n"
     b"connection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400, "Invalid HTTP request"),
    ("a length over 512KB, refused before its body", b"POST / HTTP/1.1\r\nhost: x\r\n"
     b"content-length: 600000\r\nconnection: close\r\n\r\n", 413, "Payload Too Large"),
]  # fmt: skip


def test_requests_pdee_cannot_take_get_a_one_line_4xx_and_the_server_goes_on(hook):
    with pdee.serve([hook], backend=RequestBackend()) as server, server_logs() as logs:
        answers = [status_line(raw(server.url, request)) for _, request, _, _ in BAD_REQUESTS]
        # A client that goes away mid-body: nobody to answer, nothing logged.
        raw(server.url, b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nabc", False)
        time.sleep(0.2)
        fine = call(server.url + "/", {"ok": 1})
    for (what, _, status, why), (got, body) in zip(BAD_REQUESTS, answers, strict=True):
        text = body.decode(errors="replace")
        assert got == status and why in text, (what, got, text)
        assert "\n" not in text, (what, text)
    assert fine[0] == 200
    no_traceback(logs)
    assert server.result is not None and len(server.result.executions) == 1


def test_a_refused_body_still_coming_gets_its_answer_not_a_reset(hook):
    with pdee.serve([hook], backend=RequestBackend()) as server:
        big = [call(server.url + "/", data=b"x" * 8 * 2**20) for _ in range(3)]
        # A client that waits for 100 Continue is refused without sending its body.
        waiting = raw(
            server.url,
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 9000000\r\n"
            b"expect: 100-continue\r\n\r\n",
        )
        fine = call(server.url + "/", {"ok": 1})
    assert [answer[0] for answer in big] == [413] * 3
    assert status_line(waiting)[0] == 413 and b"100 Continue" not in waiting
    assert fine[0] == 200
    assert server.result is not None and len(server.result.executions) == 1


# -- the bodies held for queued requests --


def test_the_bodies_held_are_bounded_past_which_a_request_gets_503_and_retry_after(
    hook, monkeypatch
):
    monkeypatch.setattr(serving_app, "HELD_BODIES_BYTES", 2**20)
    monkeypatch.setattr(serving_app, "UPLOAD_LIMIT_BYTES", 2**19)  # held: max(1MB, 2 x 512KB)
    upload = os.urandom(300 * 1024)
    ended: list[Execution] = []
    with pdee.serve(
        [hook], backend=RequestBackend(), concurrency=1, on_execution=ended.append
    ) as server:
        url = server.url + "/up?pipedream_upload_body=1&sleep=0.4"
        held = [call(url, data=upload) for _ in range(3)]  # 900KB: queued behind one EE
        full = call(url, data=upload)

        def chunks() -> Iterator[bytes]:
            yield upload

        streamed = call(url, data=chunks())  # type: ignore[arg-type]  # no length: chunked
        deadline = time.monotonic() + 10
        while len(ended) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        again = call(url, data=upload)  # their executions ended: their bodies went
    assert [answer[0] for answer in held] == [200, 200, 200]
    for refused in (full, streamed):
        assert refused[0] == 503 and refused[1]["retry-after"] == "2"
        assert b"keeps at most 1MB" in refused[2] and b"\n" not in refused[2]
    assert again[0] == 200
    assert server.result is not None and len(server.result.executions) == 4


# -- stopping --


def test_a_stop_finishes_what_is_in_flight_but_not_what_slow_clients_hold(hook):
    backend = RequestBackend()
    with pdee.serve([hook], custom_response=True, backend=backend) as server:
        port = int(server.url.rsplit(":", 1)[1])
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        for connection in slow[:4]:  # bodies that never come whole
            connection.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nab")
        slow[4].sendall(b"POST / HTTP/1.1\r\nhost:")  # headers that never end
        answered: list[tuple[int, dict[str, str], bytes]] = []
        body = {"respond": {"status": 201, "body": "done"}}
        caller = threading.Thread(
            target=lambda: answered.append(call(server.url + "/?sleep=0.5", body))
        )
        caller.start()
        time.sleep(0.2)  # in flight
        stopping = time.monotonic()
    took = time.monotonic() - stopping
    caller.join(5)
    assert answered and answered[0][0] == 201  # the request in flight finished
    assert took < GRACE_S + 2, took  # the slow clients were cut after the grace
    for connection in slow:  # cut: closed, with nothing sent
        connection.settimeout(5)
        try:
            assert connection.recv(1024) == b""
        except ConnectionResetError:
            pass
        connection.close()
    assert server.result is not None and len(server.result.executions) == 1
    assert all(ee.destroyed.is_set() for ee in backend.ees)


def test_a_part_still_to_come_when_serve_stops_is_pending_not_resumed(write_step):
    steps = [str(write_step(name, STEP)) for name in ("first", "second")]
    ended: list[Execution] = []
    with pdee.serve(steps, backend=RequestBackend(), on_execution=ended.append) as server:
        assert call(server.url + "/", {"delay_ms": 3_600_000})[0] == 200
        deadline = time.monotonic() + 5
        while not ended and time.monotonic() < deadline:
            time.sleep(0.02)
    result = server.result
    assert result is not None and result.pending_parts == 1
    (paused,) = result.executions
    assert paused.pause is not None and paused.pause.outcome == "pending"
    assert paused.pause.resumed_as is None and paused.pause.resume_at_s is not None
    assert paused.brief.flow == "delay 3600s after first: pending"
    console = Console(record=True, width=200)
    terminal.show(console, result, terminal.Verbosity.QUIET)
    assert (
        "1 paused execution was pending when serve stopped: its later steps never ran"
        in console.export_text()
    )


class SlowToGetReady(RequestBackend):
    def image(self, tag: str) -> ImageInfo:
        time.sleep(0.6)  # the run is getting ready when the Ctrl-C comes
        return super().image(tag)


def test_a_ctrl_c_while_serve_starts_leaves_no_ee_and_no_thread(hook):
    backend = SlowToGetReady()
    ctrl_c = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    ctrl_c.start()
    with pytest.raises(KeyboardInterrupt), pdee.serve([hook], backend=backend, warm_workers=1):
        pytest.fail("it listened")
    ctrl_c.join()
    assert backend.ees == []  # the abort was seen before the warm worker's EE started


# -- the command, on the fake EEs --


@contextmanager
def fake_pdee(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``pdee`` with ``args`` on the fake EEs, as a process; killed if left running."""
    process = subprocess.Popen(
        [sys.executable, str(UNIT / "fake_requests.py"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def listening(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert " on http://" in line, line + (process.stderr.read() if process.stderr else "")
    return line.split(" on ")[1].split()[0]


def test_the_log_line_says_the_status_the_caller_got(hook):
    with fake_pdee("serve", hook, "--port", "0", "--custom-response", "-q") as process:
        url = listening(process)
        bad = call(url + "/", {"respond": {"status": 200, "body": "x", "headers": ["x"]}})
        good = call(url + "/", {"respond": {"status": 201, "body": "ok"}})
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert (bad[0], good[0]) == (500, 201)
    assert "POST / 500 · #0 " in out and "POST / 201 · #1 " in out, out
    assert "InvalidResponse: pd.respond's headers are a list" in out, out
    assert process.returncode == 1, err  # an execution failed
    assert "Traceback" not in out + err and "destroyed ee-1" in err


def test_a_second_ctrl_c_stops_at_once_cutting_what_is_in_flight(hook):
    with fake_pdee("serve", hook, "--port", "0", "--custom-response") as process:
        url = listening(process)
        answered: list[int] = []

        def caller() -> None:
            try:
                answered.append(call(url + "/?sleep=60", {"x": 1})[0])
            except OSError:
                answered.append(0)  # the connection cut

        thread = threading.Thread(target=caller)
        thread.start()
        assert process.stderr is not None
        assert process.stderr.readline() == "running #0 on ee-1\n"  # in flight, for a minute
        process.send_signal(signal.SIGINT)
        assert process.stderr.readline().startswith("stopping:")
        time.sleep(0.3)
        assert process.poll() is None  # the first one waits for what is in flight
        again = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        took = time.monotonic() - again
        thread.join(10)
    assert process.returncode == 130, err
    assert took < 5, took
    assert "destroyed ee-1" in err and "Interrupted: the executions in flight were cut" in err
    assert "Traceback" not in out + err
    assert answered == [503]  # answered, in one line, before the connection went


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_out_of_range_is_a_one_line_usage_error(hook, port):
    with fake_pdee("serve", hook, "--port", port) as process:
        out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert err == f"Error: --port {port}: give a port from 0 to 65535 (0 picks a free one)\n"
    assert "destroyed" not in err and out == ""
