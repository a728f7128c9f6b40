"""The HTTP trigger's two translations, pure: a request into the platform's event, and a
workflow's outcome into the caller's response (``pdee serve``).

The platform's rules (its trigger docs and limits):

- the event has ``method``, ``path``, ``query`` (an object), ``headers`` (an object with
  lower-cased keys), ``body``, ``client_ip`` and ``url``;
- a JSON body is parsed; a form body (``application/x-www-form-urlencoded``) becomes an
  object, one property per field (pdee's choice: the docs say only "a string or object
  representation"); ``multipart/form-data`` becomes one property per field; any other
  body stays a string (bytes that are not UTF-8 are decoded with replacement: send such
  bodies with ``pipedream_upload_body=1`` to get them whole);
- a body over 512KB gets ``413``, unless the request asks for the upload path
  (``?pipedream_upload_body=1`` or ``x-pd-upload-body: 1``): then the body is stored
  and the event's body is ``{"raw_body_url": ...}`` (``app`` keeps it, and the
  runtime serves it inside the EE: ``runtime/blobs.py``);
- by default the caller gets ``200`` and the platform's success page at once; with a
  custom response it waits for ``pd.respond`` (status and body; headers optional) and
  gets ``400`` ``No $.respond called in workflow`` when the workflow never calls it.

The event the workflow gets (``HttpEvent``, the trigger's "event data" setting, which
``workflow.yaml`` does not hold: ``pdee serve --http-event``):

- ``full`` (the default): the request as above, and ``bodyRaw``, the body's text unparsed,
  which every event of the platform's HTTP interface carries (its sources verify
  signatures over it: ``components/http/sources/webhook/webhook.mjs``);
- ``body``: the body alone (the ``http-new-requests`` source's ``emitBodyOnly``), when it
  is an object; any other body as ``{"body": ...}`` (the ``http-new-requests-payload-only``
  source's shape): pdee's choice, so that an event is always an object;
- ``raw``: the full event and ``rawHeaders``, the headers as a flat list of names and
  values in arrival order, a name repeated as often as it came (Node's
  ``IncomingMessage.rawHeaders``; the field's name is pdee's choice: the platform's raw
  form, ``steps.trigger.raw_event``, is undocumented). The names are lower-cased: the
  server (ASGI) gives them so.

pdee's own rules, where the platform's docs are silent (what a careful server does):

- a JSON body nested deeper than ``MAX_DEPTH`` levels (what pdee carries to a step:
  Python's parser goes about 1,000), or holding ``NaN`` or ``Infinity`` (not JSON), is
  a ``400``;
- ``pd.respond``'s response is checked before any byte of it is sent
  (``custom_answer``): a status that is not a final HTTP status (200 to 599), headers
  that are not an object of names to values, a header name that is not an HTTP token,
  a value with a control character (CR and LF included) or a character past Latin-1,
  a body that cannot be encoded: the caller gets a ``500`` whose one line says why,
  and the execution fails with that reason. What the server owns is normalised, each
  with a note: a ``content-length`` that does not match the body is dropped (the
  server computes it), hop-by-hop headers (``connection``, ``transfer-encoding``...)
  are dropped, and a 204 or 304 response loses its body, as Node's server does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl

from ..errors import UsageError
from ..plan.reading import describe_json_error, loads
from ..results.records import Execution, Status, StepError

BODY_LIMIT_BYTES = 512 * 1024
SUCCESS_PAGE = (
    "<p><b>Success!</b></p><p>To customize this response, check out our docs "
    '<a href="https://pipedream.com/docs/workflows/steps/triggers/#customizing-the-http-response">'
    "here</a></p>"
)
NO_RESPOND = "No $.respond called in workflow"
# pdee's note, once per serve, when a workflow calls pd.respond with the default response.
RESPOND_IGNORED = (
    "note: pd.respond had no effect: the caller of #{index} got the default page at once; "
    "--custom-response (the trigger's 'Return a custom response from your workflow' "
    "setting) sends it what the workflow responds"
)
NO_RESPOND_AFTER_DELAY = "$.respond() not called for this invocation"
CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "access-control-allow-headers": "*",
}
# Headers of one connection, not of the response: the server manages them (RFC 9110,
# section 7.6.1), and a proxy in front of the platform drops them.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
     "upgrade"}
)  # fmt: skip
# Statuses whose responses have no body (RFC 9110, sections 15.3.5 and 15.4.5).
NO_BODY_STATUSES = frozenset({204, 304})
_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")  # RFC 9110 section 5.6.2
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # HTAB, SP, VCHAR, obs-text
_SHOWN = 60  # characters of a bad name or value a reason quotes


class Refused(Exception):
    """A request the trigger answers itself, without an execution (``status``);
    ``close``: its body was not read to the end, so the connection closes after."""

    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.close = close


@dataclass(frozen=True)
class Answer:
    """What the caller gets: a status, headers (name and value pairs, a name perhaps
    more than once) and a body. ``problem`` says why pdee made it a 500 (the workflow's
    response could not be sent); ``notes`` what pdee changed of the workflow's response
    so that it could be."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    problem: str | None = None
    notes: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (the last one given), or None."""
        found = [value for key, value in self.headers if key == name.lower()]
        return found[-1] if found else None


def _fields(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Pairs as an object; a name given more than once becomes a list of its values."""
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            earlier = found[name]
            found[name] = [*earlier, value] if isinstance(earlier, list) else [earlier, value]
        else:
            found[name] = value
    return found


def wants_upload(query: str, headers: Mapping[str, str]) -> bool:
    """Whether the request asks for its body to be stored (``raw_body_url``)."""
    asked = dict(parse_qsl(query, keep_blank_values=True)).get("pipedream_upload_body")
    return asked == "1" or headers.get("x-pd-upload-body") == "1"


def parse_json_body(text: str) -> Any:
    """A request's JSON body, within what pdee carries (``plan.reading.loads``): valid
    JSON, no NaN or infinities, nested no deeper than ``MAX_DEPTH``.

    Raises:
        Refused: any of those fails (``400``, the reason in one line).
    """
    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        why = describe_json_error(exc)
    except ValueError as exc:  # JSONLimitError: too deep, a number too long
        why = str(exc).splitlines()[0]
    raise Refused(400, f"Bad Request: the body is not JSON pdee takes ({why})")


def parse_body(content_type: str, body: bytes) -> Any:
    """The event's ``body`` for a body of ``content_type`` (not multipart: its fields
    come from the server's form parser).

    Raises:
        Refused: a JSON content type with a body that is not JSON (``400``).
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    text = body.decode("utf-8", errors="replace")
    if not body:
        return ""
    if kind == "application/json" or kind.endswith("+json"):
        return parse_json_body(text)
    if kind == "application/x-www-form-urlencoded":
        return _fields(parse_qsl(text, keep_blank_values=True))
    return text


class HttpEvent(str, Enum):
    """Which event a request makes: the trigger's event data setting."""

    FULL = "full"  # the request: method, path, query, headers, body, bodyRaw...
    BODY = "body"  # the body alone (an object; any other body as {"body": ...})
    RAW = "raw"  # the full event and rawHeaders, the headers as they arrived


def http_event(value: HttpEvent | str) -> HttpEvent:
    """``value`` as an ``HttpEvent``.

    Raises:
        UsageError: it is none (the message names the choices).
    """
    try:
        return HttpEvent(value.lower() if isinstance(value, str) else value)  # as the CLI
    except ValueError:
        choices = ", ".join(kind.value for kind in HttpEvent)
        raise UsageError(f"--http-event {value}: give one of {choices}") from None


def build_event(
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: Any,
    client_ip: str,
    host: str,
    body_raw: str | None = None,
    kind: HttpEvent = HttpEvent.FULL,
) -> dict[str, Any]:
    """The trigger's event (``pd.steps["trigger"]["event"]``) for one request, of
    ``kind``; ``body_raw`` is the body's text (None: the body was not kept inline, an
    upload or a multipart body, and the event has no ``bodyRaw``)."""
    if kind is HttpEvent.BODY:
        return body if isinstance(body, dict) else {"body": body}
    arrived = list(headers)
    event: dict[str, Any] = {
        "method": method.upper(),
        "path": path or "/",
        "query": _fields(parse_qsl(query, keep_blank_values=True)),
        "client_ip": client_ip,
        "url": f"http://{host}{path or '/'}" + (f"?{query}" if query else ""),
        "headers": _fields((name.lower(), value) for name, value in arrived),
        "body": body,
    }
    if body_raw is not None:
        event["bodyRaw"] = body_raw
    if kind is HttpEvent.RAW:
        event["rawHeaders"] = [part for pair in arrived for part in pair]
    return event


def default_answer() -> Answer:
    """The platform's default response, given at once."""
    return Answer(200, SUCCESS_PAGE.encode(), [("content-type", "text/html; charset=utf-8")])


def plain_answer(status: int, text: str, headers: Iterable[tuple[str, str]] = ()) -> Answer:
    """A response pdee gives itself: ``status`` and one line of text."""
    return Answer(status, text.encode(), [("content-type", "text/plain; charset=utf-8"), *headers])


# The error of an execution whose pd.respond response could not be sent.
INVALID_RESPONSE = "InvalidResponse"


class BadResponse(ValueError):
    """``pd.respond``'s response cannot be sent as it is (the message says why)."""


def _shown(text: str) -> str:
    """``text`` quoted for a reason, cut short if long."""
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def _type(value: Any) -> str:
    """A value's type as JSON names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _status(respond: Mapping[str, Any]) -> int:
    """The response's status: an integer from 200 to 599 (a string of digits, or a
    whole float, as JSON may carry one, counts).

    Raises:
        BadResponse: it is missing or is not one.
    """
    if "status" not in respond:
        raise BadResponse("pd.respond gave no status; give one from 200 to 599")
    given = respond["status"]
    status: int | None = None
    if isinstance(given, int) and not isinstance(given, bool):
        status = given
    elif isinstance(given, float) and given.is_integer():
        status = int(given)
    elif isinstance(given, str) and given.strip().isascii() and given.strip().isdigit():
        status = int(given.strip())
    if status is None:
        raise BadResponse(
            f"pd.respond's status is {_type(given)} ({_shown(str(given))}), not an HTTP "
            f"status; give a number from 200 to 599"
        )
    if not 200 <= status <= 599:
        raise BadResponse(
            f"pd.respond's status {status} is not a final HTTP status; give one from 200 to 599"
        )
    return status


def _header_value(name: str, value: Any) -> str:
    """One header value as it goes on the wire (a number as text, surrounding spaces off).

    Raises:
        BadResponse: it is not text or a number, or holds a character HTTP forbids.
    """
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float) and math.isfinite(value):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, str):
        text = value
    else:
        raise BadResponse(
            f"pd.respond's header {_shown(name)} is {_type(value)}; give text or a number"
        )
    text = text.strip(" \t")
    if _FIELD_VALUE.fullmatch(text) is None:
        bad = next(c for c in text if _FIELD_VALUE.fullmatch(c) is None)
        what = (
            f"a character past Latin-1 ({bad!r})"
            if ord(bad) > 0xFF
            else f"a control character ({bad!r}; CR and LF would split the response)"
        )
        raise BadResponse(f"pd.respond's header {_shown(name)} holds {what}; HTTP cannot carry it")
    return text


def _headers(given: Any) -> list[tuple[str, str]]:
    """``pd.respond``'s headers as lower-cased name and value pairs; a list of values is
    the header given once per value (as for ``set-cookie``).

    Raises:
        BadResponse: they are not an object of HTTP names to values.
    """
    if given is None:
        return []
    if not isinstance(given, Mapping):
        raise BadResponse(
            f"pd.respond's headers are {_type(given)}; give an object of header names to values"
        )
    pairs: list[tuple[str, str]] = []
    for name, value in given.items():
        if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
            raise BadResponse(
                f"pd.respond's header name {_shown(str(name))} is not an HTTP header name "
                f"(letters, digits and !#$%&'*+-.^_`|~ only: no spaces or colons)"
            )
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs += [(name.lower(), _header_value(name, each)) for each in values]
    return pairs


def _body(body: Any) -> tuple[bytes, bool]:
    """The body's bytes, and whether they are JSON pdee made of it (a dict, a list, a
    number...). Text goes as UTF-8.

    Raises:
        BadResponse: text that is not Unicode text (a lone surrogate), or data that
            cannot be JSON.
    """
    if isinstance(body, bytes):
        return body, False
    if isinstance(body, str):
        try:
            return body.encode(), False
        except UnicodeEncodeError as exc:
            raise BadResponse(
                f"pd.respond's body is not text UTF-8 can carry ({exc.reason} at "
                f"character {exc.start})"
            ) from None
    try:
        return json.dumps(body, allow_nan=False).encode(), True
    except RecursionError:
        raise BadResponse("pd.respond's body nests too deep to be sent as JSON") from None
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise BadResponse(f"pd.respond's body cannot be sent as JSON ({exc})") from None


def respond_answer(respond: Any) -> Answer:
    """The response ``pd.respond`` recorded, as the server sends it: checked, with what
    the server owns normalised (``notes`` says what).

    Raises:
        BadResponse: it cannot be sent (the message says why, in one line).
    """
    if not isinstance(respond, Mapping):
        raise BadResponse(f"pd.respond's response is {_type(respond)}; give an object")
    status = _status(respond)
    headers = _headers(respond.get("headers"))
    data, made_json = _body(respond.get("body"))
    notes: list[str] = []
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        if name in HOP_BY_HOP:
            notes.append(f"pd.respond's {name} header was dropped: the server manages it")
        elif name == "content-length":
            if value != str(len(data)):
                notes.append(
                    f"pd.respond's content-length {_shown(value)} was dropped: the body is "
                    f"{len(data)} bytes, and the server says so"
                )
        else:
            kept.append((name, value))
    if status in NO_BODY_STATUSES:
        if data:
            notes.append(f"pd.respond's body was dropped: a {status} response has none")
        data, made_json = b"", False
    if made_json and not any(name == "content-type" for name, _ in kept):
        kept.append(("content-type", "application/json"))
    return Answer(status, data, kept, notes=tuple(notes))


def custom_answer(respond: Any, paused: bool = False) -> Answer:
    """The caller's response when the workflow answers it: what ``pd.respond`` recorded
    (``respond_answer``), the platform's 400 when nothing did (``paused``: it paused
    first, after which ``pd.respond`` cannot answer), or a 500 whose one line says why
    the recorded response cannot be sent (``Answer.problem``). Never raises."""
    if respond is None:
        return plain_answer(400, NO_RESPOND_AFTER_DELAY if paused else NO_RESPOND)
    try:
        return respond_answer(respond)
    except BadResponse as exc:
        reason = str(exc)
        return Answer(
            500,
            f"pdee: the workflow's response could not be sent: {reason}".encode(),
            [("content-type", "text/plain; charset=utf-8")],
            problem=reason,
        )


def answered(execution: Execution, answer: Answer) -> Execution:
    """``execution``'s record once its caller got ``answer``: a response pdee had to
    make a 500 (``Answer.problem``) fails an execution that passed, with the reason
    (``InvalidResponse``; one that failed already keeps its error, the reason a note);
    what pdee changed of the response is noted."""
    notes = list(answer.notes)
    if answer.problem is not None:
        if execution.passed and execution.pause is None:
            error = StepError(INVALID_RESPONSE, answer.problem)
            return replace(
                execution, status=Status.ERROR, error=error, notes=[*execution.notes, *notes]
            )
        notes.append(f"the caller got a 500: {answer.problem}")
    if not notes:
        return execution
    return replace(execution, notes=[*execution.notes, *notes])
