"""The HTTP trigger as a Starlette app (``pdee serve``; ``server`` serves it).

The app has one route, any path and method; it turns each request into the platform's
event (``http_trigger``), submits it to the run (``request_queue.RequestQueue.submit``)
and answers as the platform does: the success page at once, or, with a custom response,
what the workflow's ``pd.respond`` said. Bodies too large for an event, and uploaded
files, travel with the execution as blobs the event's URLs refer to.

Whatever a request holds, the app answers it in one line (``400`` a body it cannot
read, ``413`` one too large, ``503`` while pdee holds too many bodies already or is
stopping) and logs no traceback: the server goes on. A client that goes away
mid-request is let go quietly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Future
from datetime import datetime, timezone
from email.utils import formatdate
from typing import IO, Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from ..engine.flow_urls import PREFIX, Action, FlowAnswer, FlowUrls
from ..plan.sizes import format_size
from ..results.records import Execution
from ..runtime.blobs import SCHEME as BLOB_SCHEME
from .flow_requests import flow_answer, parse_path, resume_data
from .http_trigger import (
    BODY_LIMIT_BYTES,
    CORS_HEADERS,
    Answer,
    HttpEvent,
    Refused,
    build_event,
    custom_answer,
    default_answer,
    parse_body,
    plain_answer,
    wants_upload,
)

log = logging.getLogger("pdee")

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


# pdee's bound on a stored body (the upload path) or a multipart request with files.
UPLOAD_LIMIT_BYTES = 64 * 2**20
# pdee's bound on the request bodies it holds at once, those of requests queued for an
# EE and those of executions running: at least this, and more with more EEs
# (``held_limit``). A request past it gets 503 with Retry-After, before its body is read
# when it says its length.
HELD_BODIES_BYTES = 256 * 2**20
RETRY_AFTER_S = 2
# How long a refused request's body is read and dropped before the refusal goes out:
# while it keeps coming (a pause of this long ends it), and this long in all.
LINGER_GAP_S = 2.0
LINGER_S = 30.0
TOO_LARGE = (
    "Payload Too Large: the body is over the platform's 512KB; send it with "
    "?pipedream_upload_body=1 (or x-pd-upload-body: 1) to get it as raw_body_url"
)


def held_limit(concurrency: int) -> int:
    """The bytes of request bodies pdee holds at once for ``concurrency`` EEs: enough for
    one largest upload in each EE and one waiting, and never under ``HELD_BODIES_BYTES``."""
    return max(HELD_BODIES_BYTES, (concurrency + 1) * UPLOAD_LIMIT_BYTES)


class HeldBodies:
    """The bytes of request bodies held, for requests queued or running, against a limit.

    The app takes bytes for a request as its body comes (``Hold.take``); they are given
    back when the request's execution ends, or when it is answered without one. Any
    thread may give back (the run's thread, as an execution ends).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<HeldBodies {format_size(self.held)} of {format_size(self.limit)}>"

    def hold(self) -> Hold:
        """A new request's share, empty."""
        return Hold(self)


class Hold:
    """One request's bytes in ``HeldBodies``."""

    def __init__(self, bodies: HeldBodies) -> None:
        self.bodies = bodies
        self.bytes = 0

    def take(self, n: int) -> None:
        """Hold ``n`` more bytes for this request.

        Raises:
            Refused: that would put the bodies held over the limit (``503``).
        """
        bodies = self.bodies
        with bodies.lock:
            if bodies.held + n > bodies.limit:
                raise Refused(
                    503,
                    f"Service Unavailable: pdee serve holds {format_size(bodies.held)} of "
                    f"request bodies waiting for or in executions, and keeps at most "
                    f"{format_size(bodies.limit)}; retry in {RETRY_AFTER_S} s",
                )
            bodies.held += n
            self.bytes += n

    def release(self, *_done: object) -> None:
        """Give every byte back (safe to call twice; a future's done callback)."""
        with self.bodies.lock:
            self.bodies.held -= self.bytes
            self.bytes = 0


async def _read_body(request: Request, limit: int, message: str, hold: Hold) -> bytearray:
    """The body, read no further than one byte past ``limit``, each byte held in
    ``hold``; refused before any is kept when its ``content-length`` says it is too
    large. A refused body's rest is read and dropped (``_drain``).

    Raises:
        Refused: it is over the limit (413, with ``message``), or over what pdee holds
            (503).
        ClientDisconnect: the client went away before its end.
    """
    stream = request.stream()
    try:
        length = request.headers.get("content-length", "")
        told = 0
        if length.isdigit():
            if int(length) > limit:
                raise Refused(413, message)
            hold.take(int(length))
            told = int(length)
        body = bytearray()
        async for chunk in stream:
            body += chunk
            if len(body) > limit:
                raise Refused(413, message)
            if len(body) > told:
                hold.take(len(body) - told)
                told = len(body)
        return body
    except Refused as refused:
        if request.headers.get("expect", "").lower() != "100-continue":
            await _drain(stream)
        refused.close = True  # what it still sends is no next request
        raise


async def _drain(stream: AsyncGenerator[bytes, None]) -> None:
    """Read and drop what the client still sends before a refusal, as long as it keeps
    coming (``LINGER_GAP_S`` between pieces, ``LINGER_S`` in all): closing a connection
    with bytes unread resets it, and a client still sending would lose the answer (a
    careful server's lingering close, as nginx's). A client that waits for ``100
    Continue`` is not asked for its body at all."""
    until = asyncio.get_running_loop().time() + LINGER_S
    try:
        while (left := until - asyncio.get_running_loop().time()) > 0:
            await asyncio.wait_for(stream.__anext__(), min(LINGER_GAP_S, left))
    except (StopAsyncIteration, asyncio.TimeoutError, ClientDisconnect):
        pass


# Told of each call to a flow URL: its method, path and answer (one line).
OnFlow = Callable[[str, str, FlowAnswer], None]
FLOW_TOO_LARGE = "Payload Too Large: the body is over the platform's 512KB"
NOT_FLOW = FlowAnswer(404, f"Not Found: not a flow URL ({PREFIX}/<token>/resume or /cancel)")

Blobs = dict[str, dict[str, str]]
# Hands one request's event (and its blobs, and its full event) to the run; the future
# of its execution.
Submit = Callable[[dict[str, Any], Blobs | None, dict[str, Any] | None], Future[Execution]]


def _blob(blobs: Blobs, data: bytes | bytearray, kind: str) -> str:
    """Keep ``data`` for the execution (a ``bytearray`` is emptied once encoded: one
    copy of a body at a time); the URL the event gives for it."""
    token = secrets.token_hex(16)
    encoded = base64.b64encode(data)
    if isinstance(data, bytearray):
        data.clear()
    blobs[token] = {"data": encoded.decode("ascii"), "type": kind}
    return f"{BLOB_SCHEME}{token}"


async def _form(headers: Headers, data: bytearray, blobs: Blobs) -> dict[str, Any]:
    """A multipart body: its fields, each file as a URL the step downloads.

    Raises:
        Refused: it is not multipart pdee can read (400), or its fields (files aside, as
            on the platform) are over 512KB (413).
    """

    async def chunks() -> AsyncGenerator[bytes, None]:
        yield bytes(data)

    parser = MultiPartParser(headers, chunks(), max_part_size=UPLOAD_LIMIT_BYTES)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise Refused(
            400, f"Bad Request: the multipart body cannot be read: {exc.message}"
        ) from None
    try:
        body: dict[str, Any] = {}
        fields_bytes = 0
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields_bytes += len(value.encode(errors="replace"))
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


async def _event(
    request: Request, hold: Hold, kind: HttpEvent = HttpEvent.FULL
) -> tuple[dict[str, Any], dict[str, Any], Blobs]:
    """The platform's event of ``kind`` for ``request``, the full one (what the CLI's
    request line shows), and the bodies their URLs refer to.

    Raises:
        Refused: it cannot be one (too large, JSON that is not JSON, pdee full).
        ClientDisconnect: the client went away before its body's end.
    """
    query = request.url.query
    headers = request.headers
    content_type = headers.get("content-type", "")
    blobs: Blobs = {}
    big = f"Payload Too Large: pdee serve keeps bodies up to {UPLOAD_LIMIT_BYTES // 2**20}MB"
    body: Any
    raw: str | None = None  # the body's text, when it is kept inline
    if wants_upload(query, headers):
        data = await _read_body(request, UPLOAD_LIMIT_BYTES, big, hold)
        body = {"raw_body_url": _blob(blobs, data, content_type or "application/octet-stream")}
    elif content_type.lower().startswith("multipart/form-data"):
        data = await _read_body(request, UPLOAD_LIMIT_BYTES, big, hold)
        body = await _form(headers, data, blobs)
    else:
        data = await _read_body(request, BODY_LIMIT_BYTES, TOO_LARGE, hold)
        body = parse_body(content_type, bytes(data))
        raw = data.decode("utf-8", errors="replace")
    del data  # what the event keeps is in it: the read copy may go
    client = request.client.host if request.client else ""
    host = headers.get("host", "")
    line = (request.method, request.url.path, query, headers.items(), body, client, host, raw)
    full = build_event(*line)
    event = full if kind is HttpEvent.FULL else build_event(*line, kind=kind)
    return event, full, blobs


def response_of(answer: Answer) -> Response:
    """The Starlette response that sends ``answer`` (a header may repeat), dated."""
    response = Response(answer.body, answer.status)
    response.raw_headers += [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
    ]
    if answer.header("date") is None:
        response.raw_headers.append((b"date", formatdate(usegmt=True).encode()))
    return response


def make_app(
    submit: Submit,
    custom_response: bool,
    record: IO[str] | None = None,
    held_bytes: int = HELD_BODIES_BYTES,
    http_event: HttpEvent = HttpEvent.FULL,
    flow: FlowUrls | None = None,
    on_flow: OnFlow | None = None,
) -> Starlette:
    """The app: every path and method is the workflow's trigger, whose events (of kind
    ``http_event``) go to ``submit``. With ``record``, each event is written there as a
    line of JSON with its time in ``ts``, which ``pdee run --schedule`` replays.
    ``held_bytes`` bounds the request bodies held at once (``HeldBodies``). With
    ``flow``, the paths under ``engine.flow_urls.PREFIX`` are the flow URLs of paused
    executions instead, each call told to ``on_flow``."""
    bodies = HeldBodies(held_bytes)

    async def flow_call(request: Request) -> FlowAnswer | Answer:
        """A call to a flow URL: resume (with the data sent) or cancel, once."""
        if request.method == "OPTIONS":
            return Answer(200, b"", list(CORS_HEADERS.items()))
        parsed = parse_path(request.url.path)
        hold = bodies.hold()
        try:
            body = await _read_body(request, BODY_LIMIT_BYTES, FLOW_TOO_LARGE, hold)
        finally:
            hold.release()
        if parsed is None or flow is None:
            return NOT_FLOW
        token, action = parsed
        data = None
        if action is Action.RESUME:
            kind = request.headers.get("content-type", "")
            data = resume_data(kind, bytes(body), request.url.query)
        return await asyncio.wrap_future(flow.call(token, action, data))

    async def flow_route(request: Request) -> Response:
        where = (request.method, request.url.path)
        extra: list[tuple[str, str]] = []
        try:
            outcome = await flow_call(request)
        except Refused as refused:
            outcome = FlowAnswer(refused.status, str(refused))
            if refused.close:  # what it still sends is no next request
                extra.append(("connection", "close"))
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is there to read it
        if isinstance(outcome, Answer):
            return response_of(outcome)
        if on_flow is not None:
            try:
                on_flow(*where, outcome)
            except Exception as exc:  # the caller's: serving goes on
                log.warning("pdee serve's on_flow failed: %r", exc)
        reply = flow_answer(outcome)
        return response_of(Answer(reply.status, reply.body, [*reply.headers, *extra]))

    async def answer(request: Request) -> Answer:
        if request.method == "OPTIONS":
            return Answer(200, b"", list(CORS_HEADERS.items()))
        hold = bodies.hold()
        try:
            event, full, blobs = await _event(request, hold, http_event)
            done = submit(event, blobs or None, full)
            if record is not None:
                stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
                record.write(json.dumps({**event, "ts": stamp.replace("+00:00", "Z")}) + "\n")
                record.flush()
        except BaseException:
            hold.release()
            raise
        done.add_done_callback(hold.release)  # the bodies go with the execution
        if not custom_response:
            return default_answer()
        try:
            execution = await asyncio.wrap_future(done)
        except Exception as exc:  # the run ended before this request's execution did
            return plain_answer(503, f"Service Unavailable: {exc}")
        return custom_answer(execution.respond, execution.pause is not None)

    async def trigger(request: Request) -> Response:
        try:
            reply = await answer(request)
        except Refused as refused:  # a line for it, as for each request that ran
            path = request.url.path
            log.warning(
                "%s %s %d · refused, no execution: %s",
                request.method, path if path.isprintable() else repr(path), refused.status,
                " ".join(str(refused).split())[:200],
            )  # fmt: skip
            extra = [("retry-after", str(RETRY_AFTER_S))] if refused.status == 503 else []
            if refused.close:
                extra.append(("connection", "close"))
            reply = plain_answer(refused.status, str(refused), extra)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is there to read it
        except Exception as exc:  # pdee's own fault: one line, and the server goes on
            reason = type(exc).__name__ + (f": {str(exc).splitlines()[0]}" if str(exc) else "")
            where = f"{request.method} {request.url.path}"
            log.warning("pdee serve could not answer %s: %s", where, reason)
            reply = plain_answer(500, f"Internal Server Error: pdee could not answer: {reason}")
        return response_of(reply)

    flow_routes = [
        Route(PREFIX, flow_route, methods=METHODS),
        Route(PREFIX + "/{rest:path}", flow_route, methods=METHODS),
    ]
    trigger_route = Route("/{path:path}", trigger, methods=METHODS)
    return Starlette(routes=[*(flow_routes if flow is not None else []), trigger_route])
