"""The local HTTP server of ``pdee serve``: uvicorn, driven from code, on its own thread.

uvicorn with Starlette is what Python users already run locally: HTTP/1.1 with
keep-alive, concurrent requests, a graceful stop, all driven from code
(``uvicorn.Server``, not a subprocess). A port of 0 lets the OS pick one; ``url`` says
which. Its HTTP is h11's, whatever else is installed: the strictest parser uvicorn has,
and the same answers to a malformed request everywhere.

A stop comes in two halves, so that the run's executions finish in between: ``close``
stops listening (idle keep-alive connections are closed, busy ones close after their
response), and ``finish`` waits a short grace for what is left (a client that is slow
to send its request or to read its response) and then cuts it. Not uvicorn's own
``timeout_graceful_shutdown``: its clock runs for every connection alike, so it would
cut a caller whose execution is still running, and it cancels the requests' tasks,
which uvicorn logs as tracebacks; a cut connection is one its request sees gone.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn
from starlette.applications import Starlette

from ..errors import UsageError

# Once the connections are cut: how long the server's thread gets to end.
CUT_JOIN_S = 5.0


def check_port(port: object) -> int:
    """``port`` as a TCP port (0 to 65535; 0 picks a free one).

    Raises:
        UsageError: it is not one.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: give a port from 0 to 65535 (0 picks a free one)")
    return port


def check_address(host: str, port: int) -> None:
    """Prove ``host:port`` can be listened on now (a probe, bound and let go).

    Raises:
        UsageError: the host is no address, or the port is taken or not ours to have.
    """
    try:
        infos = socket.getaddrinfo(host, check_port(port), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise UsageError(f"--host {host}: {why}; give an address like 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror}; give another --port (0 "
                f"picks a free one)"
            ) from None


class HTTPServer:
    """uvicorn serving the app on its own thread; ``url`` once it listens."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        """Raises: UsageError: ``port`` is no TCP port."""
        self.host = host
        self.config = uvicorn.Config(
            app,
            host=host,
            port=check_port(port),
            log_level="warning",
            lifespan="off",
            http="h11",
            loop="asyncio",
            server_header=False,  # the workflow's response says what it says
            date_header=False,  # the app dates each response, unless pd.respond did
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self._run, name="pdee-http", daemon=True)
        # Waited on, not joined: a signal that interrupts Thread.join can leave the
        # thread taken for ended while it runs (CPython 3.11).
        self.ended = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"<HTTPServer {self.url or 'not listening'}>"

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        finally:
            self.ended.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve()

    def check(self) -> None:
        """Prove the host and port can be had, before anything starts.

        Raises:
            UsageError: they cannot.
        """
        check_address(self.host, self.config.port)

    def start(self, within_s: float = 10.0) -> str:
        """Listen; the URL.

        Raises:
            UsageError: the host or port cannot be had.
        """
        self.check()
        self.thread.start()
        deadline = threading.Event()
        for _ in range(int(within_s / 0.01)):
            if self.server.started:
                break
            if not self.thread.is_alive():
                raise UsageError(f"cannot listen on {self.host}:{self.config.port}")
            deadline.wait(0.01)
        sockets = [s for server in self.server.servers for s in server.sockets]
        port = sockets[0].getsockname()[1] if sockets else self.config.port
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{port}"
        return self.url

    def close(self) -> None:
        """Stop listening: idle connections close now, busy ones after their response."""
        self.server.should_exit = True

    def finish(self, grace_s: float) -> None:
        """Wait up to ``grace_s`` for the connections left to end, then cut them (a
        client slow to send or to read); the server's thread ends.

        Call it once nothing waits for an execution any more (every request's future
        is done): a request cut while it waits would be answered by no one.
        """
        self.close()
        if not self.thread.is_alive():
            return
        if not self.ended.wait(max(grace_s, 0.0)):
            self._cut()
            self.ended.wait(CUT_JOIN_S)
        if self.ended.is_set():
            self.thread.join(CUT_JOIN_S)  # it has ended: a moment at most

    def _cut(self) -> None:
        """Abort every connection left, from the server's loop: their requests see the
        client gone, and uvicorn's graceful stop, with no task left, ends."""
        loop = self.loop

        def cut() -> None:
            for connection in list(self.server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()

        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(cut)
            except RuntimeError:
                pass  # the loop closed meanwhile: nothing left to cut
