"""Calls to the flow URLs of ``pdee serve`` (``engine.flow_urls``): the pure pair, a
request's path and body into a call, a call's outcome into the caller's response.

The platform's docs say "any data sent in the HTTP request" to a ``resume_url`` becomes
the suspended step's ``$resume_data`` export, and that such requests "have the same
limits as any HTTP request to Pipedream" (``docs-v2/pages/code/nodejs/rerun.mdx``). So
the body is read as the trigger reads it (``http_trigger.parse_body``: JSON parsed, a
form as an object, anything else as text; over 512KB ``413``, JSON that is not ``400``,
the URL still unused). A request without a body (a link clicked in a browser, ``GET``)
gives its query as an object, or ``null`` with none: pdee's choice, the docs say no
more.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qsl

from ..engine.flow_urls import PREFIX, Action, FlowAnswer
from .http_trigger import Answer, _fields, parse_body


def parse_path(path: str) -> tuple[str, Action] | None:
    """``(token, action)`` of a flow URL's path (``/__pdee__/flow/<token>/resume``), or
    None for any other path under the prefix."""
    rest = path[len(PREFIX) :] if path.startswith(PREFIX + "/") else ""
    parts = rest.strip("/").split("/")
    if len(parts) != 2 or not parts[0]:
        return None
    try:
        return parts[0], Action(parts[1])
    except ValueError:
        return None


def resume_data(content_type: str, body: bytes, query: str) -> Any:
    """What a call to a ``resume_url`` sends: its body, as the trigger parses one, or,
    without a body, its query (an object), or None.

    Raises:
        Refused: a JSON content type whose body is not JSON (``400``).
    """
    if body:
        return parse_body(content_type, body)
    return _fields(parse_qsl(query, keep_blank_values=True)) or None


def flow_answer(answer: FlowAnswer) -> Answer:
    """The response to a call: a short HTML page on success (the caller is often a
    person who clicked a link in an email), else the status and its line as text."""
    if answer.status != 200:
        return Answer(answer.status, answer.text.encode(), [("content-type", TEXT)])
    text = answer.text[:1].upper() + answer.text[1:]
    page = f"<p><b>{html.escape(text, quote=False)}.</b></p>"
    return Answer(200, page.encode(), [("content-type", "text/html; charset=utf-8")])


TEXT = "text/plain; charset=utf-8"

__all__ = ["flow_answer", "parse_path", "resume_data"]
