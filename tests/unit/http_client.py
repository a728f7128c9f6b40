"""One HTTP request to a server the tests started on 127.0.0.1, whatever proxy the
environment names: its status, lower-cased headers and body."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(
    url: str,
    body: Any = None,
    method: str | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request (a JSON ``body``, or raw ``data``; POST when either is given)."""
    sent_headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        sent_headers.setdefault("content-type", "application/json")
    request = urllib.request.Request(url, data=data, headers=sent_headers, method=method)
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, lowered(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, lowered(error.headers.items()), error.read()


def lowered(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}
