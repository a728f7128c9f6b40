"""The local HTTP server of ``pdee serve``: uvicorn, driven from code, on its own thread.

uvicorn with Starlette is what Python users already run locally: HTTP/1.1 with
keep-alive, concurrent requests, a graceful stop (``should_exit``), all driven from code
(``uvicorn.Server``, not a subprocess). A port of 0 lets the OS pick one; ``url`` says
which.
"""

from __future__ import annotations

import socket
import threading

import uvicorn
from starlette.applications import Starlette

from ..errors import UsageError


class HTTPServer:
    """uvicorn serving the app on its own thread; ``url`` once it listens."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.host = host
        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="pdee-http", daemon=True)
        self.url = ""

    def __repr__(self) -> str:
        return f"<HTTPServer {self.url or 'not listening'}>"

    def start(self, within_s: float = 10.0) -> str:
        """Listen; the URL.

        Raises:
            UsageError: the host or port cannot be had.
        """
        self._check_bind()
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

    def _check_bind(self) -> None:
        try:
            infos = socket.getaddrinfo(self.host, self.config.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UsageError(
                f"--host {self.host}: {exc.strerror}; give an address like 127.0.0.1"
            ) from None
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise UsageError(
                    f"cannot listen on {self.host}:{self.config.port}: {exc.strerror}; give "
                    f"another --port (0 picks a free one)"
                ) from None

    def stop(self) -> None:
        """Stop listening, letting the requests in progress finish."""
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(30)
