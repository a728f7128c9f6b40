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
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

BODY_LIMIT_BYTES = 512 * 1024
SUCCESS_PAGE = (
    "<p><b>Success!</b></p><p>To customize this response, check out our docs "
    '<a href="https://pipedream.com/docs/workflows/steps/triggers/#customizing-the-http-response">'
    "here</a></p>"
)
NO_RESPOND = "No $.respond called in workflow"
NO_RESPOND_AFTER_DELAY = "$.respond() not called for this invocation"
CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "access-control-allow-headers": "*",
}


class Refused(Exception):
    """A request the trigger answers itself, without an execution (``status``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Answer:
    """What the caller gets: a status, headers and a body."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


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
        try:
            return json.loads(text)
        except ValueError as exc:
            raise Refused(
                400, f"the body is not JSON ({exc}), and its content type says it is"
            ) from None
    if kind == "application/x-www-form-urlencoded":
        return _fields(parse_qsl(text, keep_blank_values=True))
    return text


def build_event(
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: Any,
    client_ip: str,
    host: str,
) -> dict[str, Any]:
    """The trigger's event (``pd.steps["trigger"]["event"]``) for one request."""
    lowered = _fields((name.lower(), value) for name, value in headers)
    return {
        "method": method.upper(),
        "path": path or "/",
        "query": _fields(parse_qsl(query, keep_blank_values=True)),
        "client_ip": client_ip,
        "url": f"http://{host}{path or '/'}" + (f"?{query}" if query else ""),
        "headers": lowered,
        "body": body,
    }


def default_answer() -> Answer:
    """The platform's default response, given at once."""
    return Answer(200, SUCCESS_PAGE.encode(), {"content-type": "text/html; charset=utf-8"})


def custom_answer(respond: dict[str, Any] | None, paused: bool = False) -> Answer:
    """The caller's response when the workflow answers it: what ``pd.respond`` recorded,
    or the platform's 400 when nothing did (``paused``: it paused first, after which
    ``pd.respond`` cannot answer)."""
    if respond is None:
        return Answer(400, (NO_RESPOND_AFTER_DELAY if paused else NO_RESPOND).encode())
    headers = {str(k).lower(): str(v) for k, v in (respond.get("headers") or {}).items()}
    body = respond.get("body")
    if isinstance(body, (bytes, str)):
        data = body.encode() if isinstance(body, str) else body
    else:
        data = json.dumps(body).encode()
        headers.setdefault("content-type", "application/json")
    try:
        status = int(respond.get("status", 200))
    except (TypeError, ValueError):
        status = 500
    return Answer(status if 100 <= status <= 599 else 500, data, headers)
