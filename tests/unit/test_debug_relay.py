"""The debug relay of ``--debug-port`` without Docker: its frames (``runtime.relay``),
the DAP it reads as it passes, and both ends (the host's ``DebugRelay``, the EE's
``EndPoint``) joined by a channel made of the frames' own lines; the options."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pdee.backends.relay import DebugRelay, Link
from pdee.errors import UsageError
from pdee.outputs.debugging import attach_note, launch_json
from pdee.plan.run_plan import build_plan
from pdee.runtime import protocol, relay

WAIT_S = 10.0


def dap(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


# -- frames -------------------------------------------------------------------------------


def test_frames_travel_as_protocol_lines_and_give_back_the_bytes() -> None:
    data = bytes(range(256)) * 1000  # past one frame's CHUNK_BYTES, every byte value
    frames = [relay.open_frame(7, 5678), *relay.data_frames(7, data), relay.end_frame(7)]
    lines = [protocol.encode(frame) for frame in frames]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    assert {protocol.kind(line) for line in lines} == {protocol.RELAY}
    decoded = [protocol.decode(line) for line in lines]
    assert decoded[0] == {"type": "relay", "stream": 7, "port": 5678}
    assert b"".join(relay.frame_bytes(frame) for frame in decoded) == data
    assert len(decoded) == 2 + -(-len(data) // relay.CHUNK_BYTES)
    assert all(len(relay.frame_bytes(f)) <= relay.CHUNK_BYTES for f in decoded)
    assert decoded[-1] == {"type": "relay", "stream": 7, "end": True}


def test_no_bytes_make_no_frame_and_an_end_can_say_why() -> None:
    assert list(relay.data_frames(1, b"")) == []
    assert relay.end_frame(1, "refused")["error"] == "refused"
    assert relay.frame_bytes(relay.open_frame(1, 1)) == b""


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "relay", "data": "aGk="},  # no stream
        {"type": "relay", "stream": "1", "data": "aGk="},
        {"type": "relay", "stream": 1, "data": "not base64!"},
        {"type": "relay", "stream": 1, "data": 5},
    ],
)
def test_a_bad_frame_is_a_value_error(frame: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        relay.frame_bytes(frame)  # type: ignore[arg-type]


# -- the DAP that passes ------------------------------------------------------------------


def test_dap_messages_are_read_from_pieces_of_any_size() -> None:
    stream = dap({"type": "event", "event": "stopped"}) + dap({"type": "request", "seq": 2})
    for size in (1, 3, 17, len(stream)):
        reader = relay.DapReader()
        found = []
        for at in range(0, len(stream), size):
            found += reader.feed(stream[at : at + size])
        assert [m["type"] for m in found] == ["event", "request"], size


def test_a_stream_that_is_not_dap_is_no_longer_read_and_raises_nothing() -> None:
    reader = relay.DapReader()
    assert reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == []
    assert reader.broken
    assert reader.feed(dap({"type": "event"})) == []
    endless = relay.DapReader()
    assert endless.feed(b"x" * (relay.MAX_HEADER_BYTES + 1)) == []
    assert endless.broken


def test_a_session_is_held_from_stopped_until_the_debugger_lets_the_step_run() -> None:
    session = relay.Session(5678)
    assert not session.configured and not session.stopped
    session.debugger_sent(dap({"type": "request", "command": "configurationDone"}))
    assert session.configured
    session.server_sent(dap({"type": "event", "event": "stopped", "body": {"threadId": 1}}))
    assert session.stopped
    session.debugger_sent(dap({"type": "request", "command": "stackTrace"}))
    assert session.stopped  # looking around keeps it held
    session.debugger_sent(dap({"type": "request", "command": "next"}))
    assert not session.stopped
    session.server_sent(dap({"type": "event", "event": "stopped"}))
    session.server_sent(dap({"type": "event", "event": "continued"}))
    assert not session.stopped


# -- both ends, joined ---------------------------------------------------------------------


class Echo:
    """A TCP server on the loopback that sends back what it reads (the debug server)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self) -> None:
        self.listener.close()


class Joined:
    """A host relay and an EE end point, joined by protocol lines (as the channel is)."""

    def __init__(self, ee_port: int) -> None:
        self.host_port = free_port()
        self.relay = DebugRelay({self.host_port: ee_port})
        self.relay.open()
        self.link: Link | None = None
        self.end = relay.EndPoint(self.to_host)
        self.lines_to_ee: list[bytes] = []

    def to_host(self, frame: protocol.RelayFrame) -> None:
        assert self.link is not None
        self.link.deliver(protocol.encode(frame))

    def to_ee(self, line: bytes) -> None:
        self.lines_to_ee.append(line)
        self.end.take(protocol.decode(line))

    def new_ee(self) -> Link:
        self.link = self.relay.link(self.to_ee)
        return self.link

    def connect(self) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", self.host_port), timeout=WAIT_S)
        client.settimeout(WAIT_S)
        return client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the stream ended early"
        data += chunk
    return data


def wait_until(condition: object) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.01)


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    yield server
    server.close()


@pytest.fixture
def joined(echo: Echo) -> Iterator[Joined]:
    both = Joined(echo.port)
    yield both
    both.relay.close()
    both.end.close()


def test_a_connection_made_before_any_ee_runs_waits_then_reaches_the_ees_server(
    joined: Joined,
) -> None:
    client = joined.connect()
    client.sendall(b"early")  # before any EE: kept in the socket, unread
    time.sleep(0.1)
    assert joined.lines_to_ee == []
    joined.new_ee().route()
    payload = bytes(range(256)) * 800  # several frames each way
    client.sendall(payload)
    assert read_exactly(client, 5 + len(payload)) == b"early" + payload
    opened = protocol.decode(joined.lines_to_ee[0])
    assert opened == {
        "type": "relay",
        "stream": opened["stream"],
        "port": joined.relay.ports[joined.host_port],
    }
    client.close()


def test_streams_end_with_their_ee_and_the_next_connection_goes_to_the_next_ee(
    joined: Joined,
) -> None:
    first = joined.new_ee()
    first.route()
    client = joined.connect()
    client.sendall(b"ping")
    assert read_exactly(client, 4) == b"ping"
    first.close()  # the EE is destroyed: its debugger's connection closes
    assert client.recv(10) == b""
    client.close()
    second = joined.new_ee()
    second.route()
    again = joined.connect()
    again.sendall(b"pong")
    assert read_exactly(again, 4) == b"pong"
    (number,) = second.connections
    assert not first.connections
    again.close()
    wait_until(lambda: not second.connections)
    wait_until(lambda: number not in joined.end.streams)  # a hang-up ends it in the EE too


def test_the_ee_end_reads_the_dap_both_ways(joined: Joined) -> None:
    joined.new_ee().route()
    client = joined.connect()
    port = joined.relay.ports[joined.host_port]
    done = dap({"type": "request", "command": "configurationDone"})
    client.sendall(done)
    read_exactly(client, len(done))  # the echo: the "server" said the same bytes back
    assert joined.end.configured(port)
    assert not joined.end.configured(port + 1)
    stopped = dap({"type": "event", "event": "stopped"})
    client.sendall(stopped)  # echoed back: as if the server sent it
    read_exactly(client, len(stopped))
    wait_until(joined.end.held)
    client.close()
    wait_until(lambda: not joined.end.held())  # a debugger gone holds nothing


def test_no_debug_server_ends_the_stream_with_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay, "CONNECT_WAIT_S", 0.2)
    both = Joined(free_port())  # nothing listens there
    try:
        both.new_ee().route()
        client = both.connect()
        assert client.recv(10) == b""
        client.close()
    finally:
        both.relay.close()


def test_a_taken_port_is_a_usage_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"127.0.0.1:{port}"):
            DebugRelay({port: 5678}).open()


# -- the option ------------------------------------------------------------------------------


@pytest.fixture
def steps(tmp_path: Path) -> list[Path]:
    for name in ("first", "second"):
        (tmp_path / f"{name}.py").write_text("def handler(pd):\n    return 1\n")
    return [tmp_path / "first.py", tmp_path / "second.py"]


def test_debug_port_gives_each_python_step_a_port_and_a_launch_json(steps: list[Path]) -> None:
    plan = build_plan(steps, debug_port=5800)
    assert plan.debug_port == 5800
    launch = launch_json(plan)
    assert [c["connect"]["port"] for c in launch["configurations"]] == [5800, 5801]
    assert all(
        c["request"] == "attach" and "pathMappings" not in c for c in launch["configurations"]
    )
    assert launch["compounds"][0]["configurations"] == [c["name"] for c in launch["configurations"]]
    note = attach_note(plan)
    assert "first at 127.0.0.1:5800" in note and "second at 127.0.0.1:5801" in note
    assert build_plan(steps).debug_port is None


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"debug_port": 5800, "concurrency": 2}, "drop --concurrency 2"),
        ({"debug_port": 80}, "--debug-port 80"),
        ({"debug_port": 65535}, "--debug-port 65535"),  # the second step would be 65536
    ],
)
def test_bad_debug_ports_are_usage_errors(
    steps: list[Path], options: dict[str, int], said: str
) -> None:
    with pytest.raises(UsageError, match=said):
        build_plan(steps, **options)  # type: ignore[arg-type]
