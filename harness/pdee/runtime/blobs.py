"""Request bodies and uploaded files a step downloads by URL (``pdee serve``).

On the platform, an uploaded body is stored and the event carries ``raw_body_url``; an
uploaded file carries its ``url``. In pdee the bytes travel with the execution's
message over the EE's own channel, and the supervisor serves them to the step on a
loopback port inside the EE's network namespace, for that execution only: no mount and
no published port, so a remote daemon and Docker-in-Docker work, on every network mode.

The host writes ``pdee-blob://<token>`` where a URL goes; ``rewrite`` turns each into
``http://127.0.0.1:<port>/<token>`` before the steps see the event.
"""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .protocol import Blob

SCHEME = "pdee-blob://"


class _Handler(BaseHTTPRequestHandler):
    server: BlobServer

    def do_GET(self) -> None:
        blob = self.server.blobs.get(self.path.lstrip("/"))
        if blob is None:
            self.send_error(404, "no such body in this execution")
            return
        data, kind = blob
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the step's logs are the step's own


class BlobServer(ThreadingHTTPServer):
    """Serves the current execution's bodies on 127.0.0.1, on a port of its own."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.blobs: dict[str, tuple[bytes, str]] = {}
        threading.Thread(target=self.serve_forever, name="pdee-blobs", daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def hold(self, blobs: dict[str, Blob]) -> None:
        """Serve ``blobs`` (token: base64 ``data`` and ``type``) until ``clear``."""
        self.blobs = {
            token: (base64.b64decode(blob["data"]), blob.get("type") or "application/octet-stream")
            for token, blob in blobs.items()
        }

    def clear(self) -> None:
        self.blobs = {}

    def rewrite(self, event: Any) -> Any:
        """``event`` with its ``pdee-blob://`` URLs pointing at this server."""
        return rewrite(event, self.port)


def rewrite(value: Any, port: int) -> Any:
    """``value`` with every ``pdee-blob://<token>`` string made a URL on ``port``."""
    if isinstance(value, str) and value.startswith(SCHEME):
        return f"http://127.0.0.1:{port}/{value[len(SCHEME) :]}"
    if isinstance(value, dict):
        return {key: rewrite(item, port) for key, item in value.items()}
    if isinstance(value, list):
        return [rewrite(item, port) for item in value]
    return value
