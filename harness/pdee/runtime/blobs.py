"""Request bodies and uploaded files a step downloads by URL (``pdee serve``).

On the platform, an uploaded body is stored and the event carries ``raw_body_url``; an
uploaded file carries its ``url``. In pdee the bytes travel with the execution's
message over the EE's own channel, and the supervisor serves them to the step on a
loopback port inside the EE's network namespace, for that execution only: no mount and
no published port, so a remote daemon and Docker-in-Docker work, on every network mode.

The host writes ``pdee-blob://<token>`` where a URL goes; ``rewrite`` turns each into
``http://127.0.0.1:<port>/<token>`` before the steps see the event.

The bodies are the runtime's, not the step's: on the platform they wait in storage, not
in the step's memory. Each is decoded, a slice at a time, into an anonymous in-memory
file (``memfd``) and sent from there with ``sendfile``; its pages are shared memory
whose size the runtime knows (``held_bytes``), which the step's memory count leaves out
(``usage.MemoryMeter.runtime_bytes``). A step reading a 64MB upload in 1MB chunks holds
about 1MB of it.
"""

from __future__ import annotations

import binascii
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TYPE_CHECKING = False  # typing is not imported at run time: the EE starts faster
if TYPE_CHECKING:
    from typing import Any

    from .protocol import Blob

SCHEME = "pdee-blob://"
# How much base64 text is decoded at a time (a multiple of 4: whole groups).
DECODE_SLICE_CHARS = 4 * 2**20
SEND_SLICE_BYTES = 2**20
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Body:
    """One body, in an in-memory file of its own (or, where there is no ``memfd``, in
    bytes); ``open`` hands out a descriptor of it that outlives ``close``, so that a
    download in flight as the execution ends finishes whole."""

    def __init__(self, text: str, kind: str) -> None:
        """Decode ``text`` (base64) a slice at a time.

        Raises:
            ValueError: it is not base64.
        """
        self.kind = kind
        self.size = 0
        self.data: bytes | None = None
        self.fd: int | None = None
        self.lock = threading.Lock()
        try:
            self.fd = os.memfd_create("pdee-body", os.MFD_CLOEXEC)
        except (AttributeError, OSError):  # not Linux: the bytes, in the process
            self.data = binascii.a2b_base64(text)
            self.size = len(self.data)
            return
        try:
            for start in range(0, len(text), DECODE_SLICE_CHARS):
                chunk = binascii.a2b_base64(text[start : start + DECODE_SLICE_CHARS])
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.fd, view) :]
                self.size += len(chunk)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"<Body {self.kind} {self.size} bytes>"

    @property
    def held_bytes(self) -> int:
        """The shared memory its file takes (whole pages); 0 for bytes in the process."""
        if self.fd is None:
            return 0
        return -(-self.size // PAGE_BYTES) * PAGE_BYTES

    def open(self) -> int | None:
        """A descriptor of its file of one's own (close it), or None: in bytes, or closed."""
        with self.lock:
            return None if self.fd is None else os.dup(self.fd)

    def close(self) -> None:
        """Let go of its file (a descriptor ``open`` gave keeps it until closed)."""
        with self.lock:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            self.data = None


class _Handler(BaseHTTPRequestHandler):
    server: BlobServer

    def do_GET(self) -> None:
        body = self.server.blobs.get(self.path.lstrip("/"))
        fd = body.open() if body is not None else None
        data = body.data if body is not None else None
        if body is None or (fd is None and data is None):
            self.send_error(404, "no such body in this execution")
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", body.kind)
            self.send_header("Content-Length", str(body.size))
            self.end_headers()
            if fd is None:
                assert data is not None
                self.wfile.write(data)
                return
            sent = 0
            while sent < body.size:
                n = os.sendfile(
                    self.connection.fileno(), fd, sent, min(SEND_SLICE_BYTES, body.size - sent)
                )
                if n == 0:
                    break
                sent += n
        except (BrokenPipeError, ConnectionResetError):
            pass  # the step stopped reading: its loss
        finally:
            if fd is not None:
                os.close(fd)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the step's logs are the step's own


class BlobServer(ThreadingHTTPServer):
    """Serves the current execution's bodies on 127.0.0.1, on a port of its own."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.blobs: dict[str, Body] = {}
        threading.Thread(target=self.serve_forever, name="pdee-blobs", daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def held_bytes(self) -> int:
        """The shared memory the bodies held take: the runtime's, not the step's."""
        return sum(body.held_bytes for body in self.blobs.values())

    def hold(self, blobs: dict[str, Blob]) -> None:
        """Serve ``blobs`` (token: base64 ``data`` and ``type``) until ``clear``. Each
        is taken out of ``blobs`` as it is decoded, so that its text goes at once.

        Raises:
            ValueError: a body is not base64 (none is held then).
        """
        self.clear()
        held: dict[str, Body] = {}
        try:
            while blobs:
                token, blob = blobs.popitem()
                held[token] = Body(blob["data"], blob.get("type") or "application/octet-stream")
                del blob  # its text: gone with the entry
        except BaseException:
            for body in held.values():
                body.close()
            raise
        self.blobs = held

    def clear(self) -> None:
        """Serve no body any more (a download in flight finishes)."""
        blobs, self.blobs = self.blobs, {}
        for body in blobs.values():
            body.close()

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
