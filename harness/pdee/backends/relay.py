"""The host's end of the debug relay (``--debug-port``): local ports a debugger attaches
to, each connection carried into the EE that runs over the EE's own channel.

``DebugRelay`` listens on ``127.0.0.1`` at one port per Python step (``--debug-port
PORT`` for the first, ``PORT+1`` for the next, ...). Each connection becomes a stream
(the framing is the runtime's ``relay``) to that step's debug server on the loopback of
the EE that runs the current execution: an EE's ``Link`` becomes current when it is asked
to run one (``Link.route``). A debugger that connects before any EE runs waits, unread,
until one does. Streams end with their EE (``Link.close``): the debugger sees the
connection close, as when a debugged process exits.

Nothing is published: the streams travel on the attach socket pdee already holds, so a
remote ``DOCKER_HOST`` works. No Docker here.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..runtime import protocol, relay

if TYPE_CHECKING:
    from ..runtime.protocol import RelayFrame

log = logging.getLogger(__name__)

SendLine = Callable[[bytes], None]  # writes one line into an EE's channel


@dataclass
class _Connection:
    """A debugger's connection: its stream number and the EE port it goes to."""

    number: int
    sock: socket.socket
    ee_port: int
    link: Link | None = None


@dataclass
class Link:
    """One EE's side of the relay: how to write into its channel, its streams."""

    relay: DebugRelay
    send_line: SendLine
    connections: dict[int, _Connection] = field(default_factory=dict)
    closed: bool = False

    def send(self, frame: RelayFrame) -> None:
        try:
            self.send_line(protocol.encode(frame))
        except OSError:
            pass  # the EE is going away: its streams end with it

    def route(self) -> None:
        """New connections go to this EE (it is about to run an execution)."""
        self.relay.route(self)

    def deliver(self, line: bytes) -> None:
        """Take in one relay frame the EE sent (a line of its channel)."""
        try:
            frame: RelayFrame = protocol.decode(line)
            data = relay.frame_bytes(frame)
        except ValueError as exc:
            log.debug("an unreadable relay frame from the EE: %s", exc)
            return
        connection = self.connections.get(frame["stream"])
        if connection is None:
            return
        if data:
            try:
                connection.sock.sendall(data)
            except OSError:
                self.relay.end(connection, tell_ee=True)
        if frame.get("end"):
            if frame.get("error"):
                log.warning("debugger connection ended: %s", frame.get("error"))
            self.relay.end(connection, tell_ee=False)

    def close(self) -> None:
        """The EE is gone: end its streams."""
        self.closed = True
        for connection in list(self.connections.values()):
            self.relay.end(connection, tell_ee=False)
        self.relay.forget(self)


class DebugRelay:
    """Listens for debuggers and relays each into the current EE; a context manager."""

    def __init__(self, ports: Mapping[int, int]) -> None:
        """Args:
        ports: each host port (on 127.0.0.1) and the EE port it relays to.
        """
        self.ports = dict(ports)
        self.listeners: list[socket.socket] = []
        self.current: Link | None = None
        self.waiting: list[_Connection] = []  # connected before any EE ran
        self.numbers = itertools.count(1)
        self.lock = threading.RLock()
        self.closed = False

    def __repr__(self) -> str:
        return f"<DebugRelay {sorted(self.ports)}>"

    def __enter__(self) -> DebugRelay:
        self.open()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Listen on every host port.

        Raises:
            UsageError: a port is taken (or cannot be had).
        """
        for host_port, ee_port in self.ports.items():
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind(("127.0.0.1", host_port))
                listener.listen(8)
            except OSError as exc:
                listener.close()
                self.close()
                why = exc.strerror or exc
                raise UsageError(
                    f"--debug-port: cannot listen on 127.0.0.1:{host_port} ({why}); give another"
                ) from None
            self.listeners.append(listener)
            threading.Thread(
                target=self._accept,
                args=(listener, ee_port),
                name=f"debug-relay-{host_port}",
                daemon=True,
            ).start()

    def link(self, send_line: SendLine) -> Link:
        """A new EE's side of the relay (``send_line`` writes into its channel)."""
        return Link(self, send_line)

    def route(self, link: Link) -> None:
        """Make ``link`` current; connections waiting for an EE go to it."""
        with self.lock:
            if link.closed:
                return
            self.current = link
            waiting, self.waiting = self.waiting, []
        for connection in waiting:
            self._attach(connection, link)

    def forget(self, link: Link) -> None:
        with self.lock:
            if self.current is link:
                self.current = None

    def end(self, connection: _Connection, tell_ee: bool) -> None:
        """End a debugger's connection (and, with ``tell_ee``, its stream in the EE)."""
        with self.lock:
            link = connection.link
            if link is not None and link.connections.pop(connection.number, None) is None:
                return
            if connection in self.waiting:
                self.waiting.remove(connection)
        if link is not None and tell_ee:
            link.send(relay.end_frame(connection.number))
        try:
            connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        connection.sock.close()

    def close(self) -> None:
        """Stop listening and end every connection. Safe to call again."""
        with self.lock:
            self.closed = True
            listeners, self.listeners = self.listeners, []
            waiting, self.waiting = self.waiting, []
            current = self.current
        for listener in listeners:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for connection in waiting:
            connection.sock.close()
        if current is not None:
            current.close()

    def _accept(self, listener: socket.socket, ee_port: int) -> None:
        while True:
            try:
                sock, _address = listener.accept()
            except OSError:
                return  # closed
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(next(self.numbers), sock, ee_port)
            with self.lock:
                if self.closed:
                    sock.close()
                    return
                link = self.current
                if link is None:
                    self.waiting.append(connection)
                    continue
            self._attach(connection, link)

    def _attach(self, connection: _Connection, link: Link) -> None:
        """Open the connection's stream in ``link``'s EE and start carrying its bytes."""
        with self.lock:
            connection.link = link
            link.connections[connection.number] = connection
        link.send(relay.open_frame(connection.number, connection.ee_port))
        threading.Thread(
            target=self._pump,
            args=(connection, link),
            name=f"debug-relay-stream-{connection.number}",
            daemon=True,
        ).start()

    def _pump(self, connection: _Connection, link: Link) -> None:
        """Carry what the debugger sends into the EE until it hangs up."""
        while True:
            try:
                data = connection.sock.recv(relay.CHUNK_BYTES)
            except OSError:
                data = b""
            if not data:
                self.end(connection, tell_ee=True)
                return
            for frame in relay.data_frames(connection.number, data):
                link.send(frame)
