"""The debug relay: TCP streams carried over an EE's channel, so that a debugger on the
host reaches the debug server in a step's process with no port published.

Under ``--debug-port`` pdee listens on the host's loopback; each connection a debugger
makes there becomes a *stream*, carried as ``relay`` messages (``protocol.RelayFrame``)
on the channel pdee already has with the EE's supervisor, between the other messages::

    pdee -> EE   {"type":"relay","stream":3,"port":5678}       open stream 3 to 127.0.0.1:5678
    both ways    {"type":"relay","stream":3,"data":"<base64>"}  bytes, in order, at most
                                                                CHUNK_BYTES a frame
    both ways    {"type":"relay","stream":3,"end":true}         the stream ends (an EE that
                                                                cannot connect adds "error")

pdee numbers the streams; the channel keeps each stream's frames in order. There is no
flow control: a debugger's traffic is small, and each side writes what it reads at once.

This module is both sides' framing (``open_frame``, ``data_frames``, ``end_frame``,
``frame_bytes``), the supervisor's end (``EndPoint``, ``Lines``, ``LockedWriter``) and
what it learns by reading the Debug Adapter Protocol that passes (``DapReader``,
``Session``): whether a debugger attached (its ``configurationDone``) and whether it
holds a step stopped (a ``stopped`` event, until it continues), for the execution's
timeout. Imported by the supervisor only under ``--debug-port``; standard library only.
"""

from __future__ import annotations

import base64
import json
import queue
import socket
import threading
import time

from . import protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import IO, Any

    from .protocol import RelayFrame

CHUNK_BYTES = 48 * 1024  # of a stream's bytes in one frame (64 KiB of base64)
# How long the EE keeps trying to reach a debug server that is not listening yet (a
# step's process starts it while it starts, after the workflow is loaded).
CONNECT_WAIT_S = 20.0
# A DAP message's headers end within this; longer: not DAP, and no longer read.
MAX_HEADER_BYTES = 4096
# The requests by which a debugger lets a stopped step run on.
RESUMING = frozenset(
    {"continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue", "goto"}
)


# -- framing, both sides ---------------------------------------------------------------


def open_frame(stream: int, port: int) -> RelayFrame:
    """The frame that opens ``stream`` to ``port`` on the EE's loopback."""
    return {"type": protocol.RELAY, "stream": stream, "port": port}


def data_frames(stream: int, data: bytes) -> Iterator[RelayFrame]:
    """``data`` of ``stream`` as frames of at most ``CHUNK_BYTES`` each (none if empty)."""
    for at in range(0, len(data), CHUNK_BYTES):
        chunk = base64.b64encode(data[at : at + CHUNK_BYTES]).decode("ascii")
        yield {"type": protocol.RELAY, "stream": stream, "data": chunk}


def end_frame(stream: int, error: str | None = None) -> RelayFrame:
    """The frame that ends ``stream`` (``error``: why, if it failed)."""
    frame: RelayFrame = {"type": protocol.RELAY, "stream": stream, "end": True}
    if error is not None:
        frame["error"] = error
    return frame


def frame_bytes(frame: RelayFrame) -> bytes:
    """The bytes a data frame carries (b"" for another frame).

    Raises:
        ValueError: the frame has no integer stream, or its data is not base64.
    """
    if not isinstance(frame.get("stream"), int):
        raise ValueError(f"a relay frame names no stream: {str(frame)[:200]}")
    data = frame.get("data")
    if data is None:
        return b""
    if not isinstance(data, str):
        raise ValueError("a relay frame's data is not a string")
    try:
        return base64.b64decode(data, validate=True)
    except ValueError as exc:  # binascii.Error is a ValueError
        raise ValueError(f"a relay frame's data is not base64 ({exc})") from None


# -- the Debug Adapter Protocol, as it passes --------------------------------------------


class DapReader:
    """Splits one direction of a DAP stream (``Content-Length: N\\r\\n\\r\\n`` then N
    bytes of JSON) into its messages, from the pieces it comes in. It only watches: a
    stream that is not DAP is no longer read, and is relayed all the same."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.broken = False

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The messages ``data`` completes."""
        if self.broken:
            return []
        self.buffer += data
        found: list[dict[str, Any]] = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    self._break()
                return found
            length = None
            for header in bytes(self.buffer[:end]).split(b"\r\n"):
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    length = int(value.strip())
            if length is None:
                self._break()
                return found
            if len(self.buffer) < end + 4 + length:
                return found
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            try:
                message = json.loads(body)
            except ValueError:
                continue
            if isinstance(message, dict):
                found.append(message)

    def _break(self) -> None:
        self.broken = True
        self.buffer.clear()


class Session:
    """What one debugger's stream says of it: attached (its ``configurationDone`` went
    by), and whether it holds the step stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.configured = False
        self.stopped = False
        self.from_debugger = DapReader()
        self.from_server = DapReader()

    def debugger_sent(self, data: bytes) -> None:
        for message in self.from_debugger.feed(data):
            if message.get("type") != "request":
                continue
            command = message.get("command")
            if command == "configurationDone":
                self.configured = True
            elif command in RESUMING or command == "disconnect":
                self.stopped = False

    def server_sent(self, data: bytes) -> None:
        for message in self.from_server.feed(data):
            if message.get("type") != "event":
                continue
            event = message.get("event")
            if event == "stopped":
                self.stopped = True
            elif event in ("continued", "terminated", "exited"):
                self.stopped = False


# -- the supervisor's end ---------------------------------------------------------------


class _Stream:
    """One relayed stream in the EE: its socket to the debug server, once connected."""

    def __init__(self, number: int, port: int) -> None:
        self.number = number
        self.session = Session(port)
        self.sock: socket.socket | None = None
        self.pending = bytearray()  # what came from pdee before the socket connected
        self.lock = threading.Lock()
        self.ended = False


class EndPoint:
    """The EE's end of the relay: opens each stream pdee asks for to a port of the EE's
    loopback, writes what pdee sends into it, sends back what comes out (``send``), and
    reads the DAP that passes (``held``, ``configured``). Thread-safe."""

    def __init__(self, send: Callable[[RelayFrame], None]) -> None:
        self.send = send
        self.streams: dict[int, _Stream] = {}
        self.lock = threading.Lock()

    def take(self, frame: RelayFrame) -> None:
        """Carry out one frame from pdee."""
        try:
            data = frame_bytes(frame)
        except ValueError as exc:
            number = frame.get("stream")
            if isinstance(number, int):
                self._end(number, str(exc))
            return
        number = frame["stream"]
        port = frame.get("port")
        if port is not None:
            self._open(number, int(port))
        with self.lock:
            stream = self.streams.get(number)
        if stream is None:
            return
        if data:
            stream.session.debugger_sent(data)
            with stream.lock:
                sock = stream.sock
                if sock is None:
                    stream.pending += data
            if sock is not None:
                try:
                    sock.sendall(data)
                except OSError as exc:
                    self._end(number, f"the debug server's socket failed: {exc}")
        if frame.get("end"):
            self._end(number, None, tell=False)

    def held(self) -> bool:
        """Whether a debugger holds a step stopped (at a breakpoint, a step, a pause)."""
        with self.lock:
            return any(s.session.stopped for s in self.streams.values())

    def configured(self, port: int) -> bool:
        """Whether a debugger attached to the debug server at ``port`` is configured
        (its ``configurationDone``: its breakpoints are set) and still connected."""
        with self.lock:
            return any(
                s.session.port == port and s.session.configured for s in self.streams.values()
            )

    def close(self) -> None:
        """End every stream."""
        with self.lock:
            numbers = list(self.streams)
        for number in numbers:
            self._end(number, None)

    def _open(self, number: int, port: int) -> None:
        stream = _Stream(number, port)
        with self.lock:
            if number in self.streams:
                return
            self.streams[number] = stream
        threading.Thread(
            target=self._pump, args=(stream,), name=f"relay-{number}", daemon=True
        ).start()

    def _pump(self, stream: _Stream) -> None:
        """Connect the stream's socket (retrying while the debug server starts), then
        send what it reads to pdee until it ends."""
        give_up = time.monotonic() + CONNECT_WAIT_S
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", stream.session.port), timeout=5)
                break
            except OSError as exc:
                if time.monotonic() >= give_up or stream.ended:
                    why = f"no debug server on port {stream.session.port}: {exc}"
                    self._end(stream.number, why)
                    return
                time.sleep(0.05)
        sock.settimeout(None)
        with stream.lock:
            try:
                sock.sendall(bytes(stream.pending))
            except OSError:
                pass
            stream.pending.clear()
            stream.sock = sock
        while True:
            try:
                data = sock.recv(CHUNK_BYTES)
            except OSError:
                data = b""
            if not data:
                self._end(stream.number, None)
                return
            stream.session.server_sent(data)
            for frame in data_frames(stream.number, data):
                self.send(frame)

    def _end(self, number: int, error: str | None, tell: bool = True) -> None:
        with self.lock:
            stream = self.streams.pop(number, None)
        if stream is None:
            return
        stream.ended = True
        with stream.lock:
            sock = stream.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if tell:
            self.send(end_frame(number, error))


class LockedWriter:
    """The supervisor's reply stream, shared by its threads: one message at a time."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.lock = threading.Lock()

    def send(self, message: Any) -> None:
        data = protocol.encode(message)
        with self.lock:
            self.raw.write(data)
            self.raw.flush()


class Lines:
    """The supervisor's request stream under ``--debug-port``: a thread reads it, hands
    relay frames to ``on_frame`` at once (while the supervisor waits on a step), and
    queues every other line for ``readline``."""

    def __init__(self, raw: IO[bytes], on_frame: Callable[[RelayFrame], None]) -> None:
        self.raw = raw
        self.on_frame = on_frame
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, name="relay-in", daemon=True).start()

    def readline(self) -> bytes:
        """The next line that is not a relay frame (b"" at the end of input)."""
        line = self.lines.get()
        if not line:
            self.lines.put(line)  # the end, for every later reader too
        return line

    def _read(self) -> None:
        try:
            for line in iter(self.raw.readline, b""):
                if protocol.kind(line) == protocol.RELAY:
                    try:
                        frame: RelayFrame = protocol.decode(line)
                    except ValueError:
                        continue
                    self.on_frame(frame)
                else:
                    self.lines.put(line)
        finally:
            self.lines.put(b"")
