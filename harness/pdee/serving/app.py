"""The HTTP trigger as a Starlette app (``pdee serve``; ``server`` serves it).

The app has one route, any path and method; it turns each request into the platform's
event (``http_trigger``), submits it to the run (``request_queue.RequestQueue.submit``)
and answers as the platform does: the success page at once, or, with a custom response,
what the workflow's ``pd.respond`` said. Bodies too large for an event, and uploaded
files, travel with the execution as blobs the event's URLs refer to.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Future
from datetime import datetime, timezone
from typing import IO, Any

from starlette.applications import Starlette
from starlette.formparsers import MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..results.records import Execution
from ..runtime.blobs import SCHEME as BLOB_SCHEME
from .http_trigger import (
    BODY_LIMIT_BYTES,
    CORS_HEADERS,
    Answer,
    Refused,
    build_event,
    custom_answer,
    default_answer,
    parse_body,
    wants_upload,
)

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


# pdee's bound on a stored body (the upload path) or a multipart request with files.
UPLOAD_LIMIT_BYTES = 64 * 2**20
TOO_LARGE = (
    "Payload Too Large: the body is over the platform's 512KB; send it with "
    "?pipedream_upload_body=1 (or x-pd-upload-body: 1) to get it as raw_body_url"
)


async def _read_body(request: Request, limit: int, message: str) -> bytes:
    """The body, read no further than one byte past ``limit``.

    Raises:
        Refused: it is over the limit (413, with ``message``).
    """
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, message)
    return bytes(body)


Blobs = dict[str, dict[str, str]]
# Hands one request's event (and its blobs) to the run; the future of its execution.
Submit = Callable[[dict[str, Any], Blobs | None], Future[Execution]]


def _blob(blobs: Blobs, data: bytes, kind: str) -> str:
    """Keep ``data`` for the execution; the URL the event gives for it."""
    token = secrets.token_hex(16)
    blobs[token] = {"data": base64.b64encode(data).decode(), "type": kind}
    return f"{BLOB_SCHEME}{token}"


async def _form(request: Request, data: bytes, blobs: Blobs) -> dict[str, Any]:
    """A multipart body: its fields, each file as a URL the step downloads.

    Raises:
        Refused: its fields (files aside, as on the platform) are over 512KB.
    """

    async def chunks() -> AsyncGenerator[bytes, None]:
        yield data

    parser = MultiPartParser(request.headers, chunks(), max_part_size=UPLOAD_LIMIT_BYTES)
    form = await parser.parse()
    try:
        body: dict[str, Any] = {}
        fields_bytes = 0
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields_bytes += len(value.encode())
                body[name] = value
            else:
                content = await value.read()
                kind = value.content_type or "application/octet-stream"
                url = _blob(blobs, content, kind)
                body[name] = {"url": url, "filename": value.filename, "mimetype": kind}
        if fields_bytes > BODY_LIMIT_BYTES:
            raise Refused(413, TOO_LARGE)
        return body
    finally:
        await form.close()  # the files' spooled copies


async def _event(request: Request) -> tuple[dict[str, Any], Blobs]:
    """The platform's event for ``request``, and the bodies its URLs refer to.

    Raises:
        Refused: it cannot be one (too large, JSON that is not JSON).
    """
    query = request.url.query
    headers = request.headers
    content_type = headers.get("content-type", "")
    blobs: Blobs = {}
    big = f"Payload Too Large: pdee serve keeps bodies up to {UPLOAD_LIMIT_BYTES // 2**20}MB"
    body: Any
    if wants_upload(query, headers):
        data = await _read_body(request, UPLOAD_LIMIT_BYTES, big)
        body = {"raw_body_url": _blob(blobs, data, content_type or "application/octet-stream")}
    elif content_type.startswith("multipart/form-data"):
        body = await _form(request, await _read_body(request, UPLOAD_LIMIT_BYTES, big), blobs)
    else:
        body = parse_body(content_type, await _read_body(request, BODY_LIMIT_BYTES, TOO_LARGE))
    client = request.client.host if request.client else ""
    host = headers.get("host", "")
    event = build_event(
        request.method, request.url.path, query, headers.items(), body, client, host
    )
    return event, blobs


def make_app(submit: Submit, custom_response: bool, record: IO[str] | None = None) -> Starlette:
    """The app: every path and method is the workflow's trigger, whose events go to
    ``submit``. With ``record``, each event is written there as a line of JSON with its
    time in ``ts``, which ``pdee run --schedule`` replays."""

    async def trigger(request: Request) -> Response:
        if request.method == "OPTIONS":
            answer = Answer(200, b"", dict(CORS_HEADERS))
        else:
            try:
                event, blobs = await _event(request)
            except Refused as refused:
                answer = Answer(refused.status, str(refused).encode())
            else:
                if record is not None:
                    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
                    record.write(json.dumps({**event, "ts": stamp.replace("+00:00", "Z")}) + "\n")
                    record.flush()
                done = submit(event, blobs or None)
                if custom_response:
                    execution = await asyncio.wrap_future(done)
                    answer = custom_answer(execution.respond, execution.pause is not None)
                else:
                    answer = default_answer()
        return Response(answer.body, answer.status, answer.headers)

    return Starlette(routes=[Route("/{path:path}", trigger, methods=METHODS)])
