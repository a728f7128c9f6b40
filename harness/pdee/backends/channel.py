"""An EE's channel: one JSON message a line over the container's attached stdin and
multiplexed stdout/stderr, on one socket (Docker's attach API; no docker import here).

The messages and their framing are the runtime's ``protocol``. Besides its replies the
runtime sends ``StepStarted`` (which step starts) and ``Log`` (what a step prints, as it
prints it); the channel keeps them as the ``ReplyProgress`` of the request awaited, so that
an EE gone under a step is laid at its door, with its logs. It answers a ``Call`` (a
step's data store operation) with the run's ``OnCall``.

What the EE sends is read with bounds (``protocol.decode``: depth, no NaN), and a line
that fails them is the fault of the execution that made it, never of the run: a call
pdee cannot read is answered with an error (the step raises it), and a result pdee
cannot read becomes that execution's error (``UNREADABLE``).
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..runtime import protocol
from . import OnCall

STDOUT, STDERR = 1, 2
LOG_TAIL_BYTES = 64 * 1024
# The error type of an execution whose result pdee could not read.
UNREADABLE = "UnreadableResult"


class AttachedStream:
    """The container's stdin and multiplexed stdout/stderr, over one attach socket.

    Without a TTY Docker frames each chunk of output with an 8-byte header: the
    stream (1 stdout, 2 stderr), three zero bytes, the chunk's length (big-endian).
    """

    def __init__(self, attached: Any) -> None:
        # docker-py hands back the HTTP response's socket, wrapped in a SocketIO for
        # a local daemon; both must be closed.
        self.attached = attached
        self.sock: socket.socket = getattr(attached, "_sock", attached)
        self.raw = bytearray()
        self.stdout = bytearray()
        self.stderr_tail = bytearray()
        self.send_lock = threading.Lock()  # a request and a relayed stream's frames
        self.lines: queue.Queue[bytes | None] | None = None  # pumped (``pump``)

    def send(self, data: bytes) -> None:
        with self.send_lock:
            if self.lines is None:  # a pumped stream's socket never has a timeout
                self.sock.settimeout(None)
            self.sock.sendall(data)

    def pump(self, on_relay: Callable[[bytes], None]) -> None:
        """From now on a thread reads the stream: relay frames (``--debug-port``) go to
        ``on_relay`` as they come, even while no request is awaited; the other lines
        wait for ``read_line``."""
        self.sock.settimeout(None)
        self.lines = queue.Queue()
        threading.Thread(
            target=self._pump, args=(self.lines, on_relay), name="ee-channel", daemon=True
        ).start()

    def _pump(self, lines: queue.Queue[bytes | None], on_relay: Callable[[bytes], None]) -> None:
        try:
            while True:
                line = self._next_line(None)
                if line is None:
                    break
                if protocol.kind(line) == protocol.RELAY:
                    on_relay(line)
                else:
                    lines.put(line)
        except OSError:
            pass
        finally:
            lines.put(None)

    def read_line(self, deadline: float) -> bytes | None:
        """The next line of stdout, or None at end of stream.

        Raises:
            TimeoutError: no full line came before ``deadline`` (``time.monotonic``).
        """
        if self.lines is None:
            return self._next_line(deadline)
        try:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.0))
        except queue.Empty:
            raise TimeoutError from None
        if line is None:
            self.lines.put(None)  # the end, for every later reader too
        return line

    def _next_line(self, deadline: float | None) -> bytes | None:
        while b"\n" not in self.stdout:
            if not self._read_frame(deadline):
                return None
        line, _, rest = bytes(self.stdout).partition(b"\n")
        self.stdout = bytearray(rest)
        return line

    def _read_frame(self, deadline: float | None) -> bool:
        while True:
            if len(self.raw) >= 8:
                stream, size = struct.unpack(">BxxxL", self.raw[:8])
                if len(self.raw) >= 8 + size:
                    payload = bytes(self.raw[8 : 8 + size])
                    del self.raw[: 8 + size]
                    if stream == STDERR:
                        self.stderr_tail = (self.stderr_tail + payload)[-8192:]
                    else:
                        self.stdout += payload
                    return True
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self.sock.settimeout(remaining)
            chunk = self.sock.recv(1 << 16)  # raises TimeoutError past the deadline
            if not chunk:
                return False
            self.raw += chunk

    def shutdown(self) -> None:
        """End the stream; a thread blocked reading it wakes up. Safe from any thread."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        """Free the socket. Only when no thread reads it: a read blocked on a socket
        closed under it may wait for its whole timeout instead of waking up."""
        for closable in (self.sock, self.attached):
            try:
                closable.close()
            except OSError:
                pass


@dataclass
class ReplyProgress:
    """How far the runtime got with the request awaited: the step it started, the last
    ``LOG_TAIL_BYTES`` each step printed."""

    step: str | None = None
    logs: dict[str, bytearray] = field(default_factory=dict)

    def texts(self) -> dict[str, str]:
        """Each step's kept logs, as text."""
        return {name: text.decode(errors="replace") for name, text in self.logs.items()}

    def add_logs(self, step: str, text: str) -> None:
        kept = self.logs.setdefault(step, bytearray())
        kept += text.encode()
        del kept[:-LOG_TAIL_BYTES]


def send_message(stream: AttachedStream, message: protocol.ToRuntime) -> None:
    """Send one message, as one line.

    Raises:
        OSError: the stream is closed (the EE went away).
    """
    stream.send(protocol.encode(message))


def next_reply(
    stream: AttachedStream, deadline: float, progress: ReplyProgress, on_call: OnCall | None = None
) -> protocol.Reply | None:
    """The next message that is not progress (``progress`` takes those in) or a call
    (``on_call`` answers those: a step's data store operations); None at the end of the
    stream.

    Raises:
        TimeoutError: nothing came before ``deadline``.
        OSError: the socket failed (or was shut down from another thread).
        ValueError: a line that is not a message (but a call or a result: see above).
    """
    while True:
        line = stream.read_line(deadline)
        if line is None:
            return None
        try:
            message: protocol.FromRuntime = protocol.decode(line)
        except ValueError as exc:
            kind = protocol.kind(line)
            if kind == protocol.CALL:  # the step waits for an answer: it gets the error
                answer: dict[str, Any] = {"error": f"pdee cannot read this call: {exc}"}
                send_message(stream, {"type": protocol.ANSWER, "answer": answer})
                continue
            if kind == protocol.RESULT:
                return unreadable_result(str(exc), progress)
            raise
        if message["type"] == protocol.STEP:
            progress.step = str(message["name"])
        elif message["type"] == protocol.LOG:
            progress.add_logs(str(message["name"]), str(message["data"]))
        elif message["type"] == protocol.CALL:
            call = message.get("call")
            if on_call is None:
                answer = {"error": "this request takes no calls"}
            elif not isinstance(call, dict):
                answer = {"error": f"a call is a JSON object, not {type(call).__name__}"}
            else:  # with the step that made it: the last one the runtime said it started
                answer = on_call({**call, "step": progress.step})
            send_message(stream, {"type": protocol.ANSWER, "answer": answer})
        elif message["type"] == protocol.RELAY:
            continue  # a relayed stream's frame, on a stream not pumped: nobody to take it
        else:
            return message


def unreadable_result(why: str, progress: ReplyProgress) -> protocol.Result:
    """The result of an execution whose own result pdee cannot read (``why``): an error
    laid at the step that ran last, with what each step printed. Its /tmp and memory
    readings were in the result, so they are not known (zeros)."""
    step = progress.step
    last = f" (the last to run: {step!r})" if step else ""
    return {
        "type": protocol.RESULT,
        "index": None,
        "status": "error",
        "error": {
            "type": UNREADABLE,
            "message": (
                f"pdee cannot read the execution's result: {why}; what its steps{last} "
                f"return, export, respond or pass to rerun must be JSON data nested at "
                f"most {protocol.MAX_DEPTH} levels deep"
            ),
            "traceback": None,
            "step": step,
        },
        "steps": {
            name: {"return_value": None, "exports": {}, "logs": text, "duration_ms": 0.0}
            for name, text in progress.texts().items()
        },
        "respond": None,
        "exit_reason": None,
        "pause": None,
        "emails": [],
        "tmp": {
            "used_bytes": 0,
            "peak_used_bytes": 0,
            "files": 0,
            "some_files": [],
            "size_bytes": 0,
        },
        "platform_files_intact": True,
        "memory": {"peak_bytes": 0, "limit_bytes": 0},
        "restarted_steps": [],
        "restart_reasons": {},
        "stray_lines": {},
        "duration_ms": 0.0,
    }
