"""The flow URLs that answer (``pdee serve``): ``resume_url`` and ``cancel_url`` of paused
executions, served by the server that made them. Pure bookkeeping and a hand-over
between threads: no sockets, no Docker.

On the platform, ``pd.flow.delay``, ``suspend`` and ``rerun`` return a ``resume_url``
and a ``cancel_url`` "specific to a single execution of your workflow"; "while the
workflow is paused, you can load these in your browser or send any HTTP request to
them": the ``cancel_url`` cancels the execution, the ``resume_url`` resumes it (a delay
"early"), and "any data sent in the HTTP request" becomes the suspended step's
``$resume_data`` export (``docs-v2/pages/code/python/rerun.mdx`` and ``delay.mdx`` in
PipedreamHQ/pipedream).

In pdee each part of an execution that ``serve`` dispatches gets a fresh, unguessable
token; the step's URLs are ``<server>/__pdee__/flow/<token>/resume`` and ``/cancel``. A
token opens a *door* once its part has paused (``open``); the door leads to the part
that follows. The first call through either URL closes it (each URL is valid once, for
the execution that made it), and so does the later part's start when its time comes
first: an unknown or used token is ``None`` to ``enter``, which the server answers 404.

The server's thread hands calls to the runner's with ``FlowUrls.call`` (a future the
runner completes with its ``FlowAnswer``); the runner takes them (``take``) between
placements, where its records are its own.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# Where the server answers flow URLs: carved out of the HTTP trigger's paths.
PREFIX = "/__pdee__/flow"
STOPPED = "pdee serve is stopping: its flow URLs answer no more"


class Action(str, Enum):
    """What a call to a flow URL asks."""

    RESUME = "resume"  # the paused execution's next part runs now
    CANCEL = "cancel"  # it never runs; the execution ends where it paused


@dataclass(frozen=True)
class FlowAnswer:
    """What a call to a flow URL comes to: the HTTP status and one line saying why."""

    status: int  # 200 done; 404 no paused execution behind the URL; 503 stopping
    text: str


@dataclass
class FlowCall:
    """One call to a flow URL, from the server's thread to the runner's."""

    token: str
    action: Action
    data: Any = None  # what the request sent: a suspend's ``$resume_data``
    done: Future[FlowAnswer] = field(default_factory=Future)


def unknown(action: Action) -> FlowAnswer:
    """The answer to a token no paused execution has (never issued, or used)."""
    return FlowAnswer(
        404,
        f"Not Found: no paused execution has this {action.value} URL (unknown, already "
        f"used, or its execution went on)",
    )


class FlowDoors:
    """Which token leads to which paused execution's next part. Only the runner's thread
    uses it."""

    def __init__(self, new_token: Callable[[], str] = lambda: secrets.token_urlsafe(16)) -> None:
        self._new_token = new_token
        self._issued: dict[int, str] = {}  # a part in flight: its token
        self._doors: dict[str, int] = {}  # an open token: the index of the part it leads to
        self._by_part: dict[int, str] = {}  # and back

    def __repr__(self) -> str:
        return f"<FlowDoors {len(self._issued)} issued, {len(self._doors)} open>"

    def issue(self, index: int) -> str:
        """A new token for part ``index``, which is being dispatched."""
        token = self._issued[index] = self._new_token()
        return token

    def open(self, index: int, leads_to: int | None) -> str | None:
        """Part ``index`` ended: its token opens on part ``leads_to`` (the part that
        follows its pause), or is dropped (no pause, or nothing follows); the token."""
        token = self._issued.pop(index, None)
        if token is not None and leads_to is not None:
            self._doors[token] = leads_to
            self._by_part[leads_to] = token
        return token

    def enter(self, token: str) -> int | None:
        """Use ``token`` (once): the part it leads to, or None when no door has it."""
        leads_to = self._doors.pop(token, None)
        if leads_to is not None:
            del self._by_part[leads_to]
        return leads_to

    def shut(self, leads_to: int) -> None:
        """Part ``leads_to`` comes due by itself (its delay ran out, a suspend timed
        out): the door to it closes."""
        token = self._by_part.pop(leads_to, None)
        if token is not None:
            del self._doors[token]

    def is_open(self, token: str) -> bool:
        return token in self._doors


class FlowUrls:
    """The server's end of the flow URLs: the base URL the server listens on, and calls
    from its thread to the runner's."""

    def __init__(self) -> None:
        self.base = ""  # e.g. http://127.0.0.1:8000, once the server listens
        self._calls: deque[FlowCall] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self._wake: Callable[[], None] = lambda: None

    def __repr__(self) -> str:
        return f"<FlowUrls {self.base or 'not listening'}: {len(self._calls)} calls waiting>"

    def url(self, token: str) -> str:
        """Where a token's URLs answer: ``/resume`` and ``/cancel`` go after it."""
        return f"{self.base}{PREFIX}/{token}"

    def open(self, wake: Callable[[], None]) -> None:
        """The runner takes calls: ``wake`` (any thread) makes it look."""
        self._wake = wake

    def call(self, token: str, action: Action, data: Any = None) -> Future[FlowAnswer]:
        """Hand a call to the runner (any thread); its answer, once the runner took it."""
        flow_call = FlowCall(token, action, data)
        with self._lock:
            if self._closed:
                flow_call.done.set_result(FlowAnswer(503, f"Service Unavailable: {STOPPED}"))
                return flow_call.done
            self._calls.append(flow_call)
        self._wake()
        return flow_call.done

    def take(self) -> list[FlowCall]:
        """The calls waiting (the runner's thread)."""
        with self._lock:
            calls = list(self._calls)
            self._calls.clear()
        return calls

    def close(self) -> None:
        """The run ended: calls waiting and to come are answered 503."""
        with self._lock:
            self._closed = True
            left = list(self._calls)
            self._calls.clear()
        for flow_call in left:
            if not flow_call.done.done():
                flow_call.done.set_result(FlowAnswer(503, f"Service Unavailable: {STOPPED}"))


def loopback(url: str) -> str:
    """The URL a client on this machine calls for a server at ``url``: a server that
    listens on every address (``0.0.0.0``, ``::``) is reached on loopback."""
    return url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")


__all__ = [
    "PREFIX",
    "Action",
    "FlowAnswer",
    "FlowCall",
    "FlowDoors",
    "FlowUrls",
    "loopback",
    "unknown",
]
