"""``pdee serve``'s arrivals: requests as they come, on the real clock.

A ``RequestQueue`` is the arrival source (``engine.sources``) of a run that serves HTTP.
The same plan, scheduler, lanes, backend and records as ``pdee run``; only the arrivals
differ. Each request is submitted (``submit``) from the HTTP server's thread with its
event, and stamped with the real time since the queue began; the runner's thread takes
it and places it at that time, as the scheduler decides (warm, cold, waiting for a free
EE when ``--concurrency`` EEs are busy). When its execution ends, the runner's
``on_execution`` hook hands the record to ``finished``, which completes the request's
future. A paused execution's later part runs when its time comes, in real time.

Once the queue stops (``stop``) or the run ends (``close``), a request is refused at
once (``Refused``, 503), never queued where no runner will take it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..engine.parts import Part
from ..results.records import Execution
from .http_trigger import Refused, answered, custom_answer

log = logging.getLogger("pdee")

STOPPED = "pdee serve is stopping: it takes no more requests"
STOPPED_BEFORE = "pdee serve stopped before this request's execution ended"

# Told of each request's full event (whatever kind the step gets) and its execution's
# record, as the execution ends.
OnRequest = Callable[[dict[str, Any], Execution], None]


@dataclass
class Request:
    """One request's event, and the future its execution's record completes."""

    event: dict[str, Any]
    done: Future[Execution]
    at_s: float  # when it arrived, in seconds since the queue began
    blobs: dict[str, dict[str, str]] | None = None  # the bodies its URLs refer to
    index: int = -1  # given when it is taken
    full: dict[str, Any] | None = None  # the request's full event (None: ``event``)


class RequestQueue:
    """Requests, from the HTTP server's thread to the runner's, on the real clock."""

    real_clock = True
    inline = False  # the runner's thread must take requests while an execution runs

    def __init__(self, on_request: OnRequest | None = None, custom_response: bool = False) -> None:
        self.on_request = on_request or (lambda _event, _execution: None)
        self.custom_response = custom_response  # the caller gets what pd.respond said
        self.arrived: deque[Request] = deque()  # submitted, not yet taken
        self.waiting: dict[int, Request] = {}  # taken, by execution index
        self.stopping = threading.Event()
        self.ready = threading.Event()  # the run is ready: the image, stores and packages
        self.next_index = 0  # requests and resumptions count on together
        self.started_real = time.monotonic()
        self._wake: Callable[[], None] = lambda: None
        self._lock = threading.Lock()  # a request is queued only while the queue is open
        self._why = ""  # what ended the run, when it ended by itself

    def __repr__(self) -> str:
        state = "stopping" if self.stopping.is_set() else "open" if self.ready.is_set() else "new"
        return f"<RequestQueue {state}: {len(self.arrived)} queued, {len(self.waiting)} placed>"

    # -- any thread --

    def submit(
        self,
        event: dict[str, Any],
        blobs: dict[str, dict[str, str]] | None = None,
        full: dict[str, Any] | None = None,
    ) -> Future[Execution]:
        """Queue one request's execution; its record, when it ends. ``blobs`` are the
        bodies the event's ``pdee-blob://`` URLs refer to; ``full`` the request's full
        event, which ``on_request`` is told of, when the step gets another kind.

        Raises:
            Refused: the queue has stopped taking requests (503).
        """
        with self._lock:
            if self.stopping.is_set():
                raise Refused(503, f"Service Unavailable: {STOPPED}{self._why}")
            request = Request(event, Future(), self.now_s(), blobs, full=full)
            self.arrived.append(request)
        self._wake()
        return request.done

    def stop(self) -> None:
        """Take no more requests: those queued and in flight finish, then the run ends
        and every EE is removed."""
        with self._lock:
            self.stopping.set()
        self._wake()

    def now_s(self) -> float:
        return time.monotonic() - self.started_real

    # -- the runner's thread (``engine.sources.ArrivalSource``) --

    def describe(self) -> dict[str, Any]:
        return {"kind": "requests"}  # on the real clock, from the network

    def open(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self.ready.set()

    def next_at(self) -> float | None:
        if self.arrived:
            return self.arrived[0].at_s
        return None if self.stopping.is_set() else math.inf

    def take(self) -> Part:
        request = self.arrived.popleft()
        request.index, self.next_index = self.next_index, self.next_index + 1
        self.waiting[request.index] = request
        return Part(request.index, request.index, event=request.event, blobs=request.blobs)

    def left(self) -> int:
        """Those queued, and, while it listens, one more: how many will come is not
        known, and one EE ready for the next is what a standby is for."""
        return len(self.arrived) + (not self.stopping.is_set())

    def ended(self, execution: Execution) -> Execution:
        """A request's execution whose response cannot be sent (``pd.respond`` with bad
        headers, say) fails with the reason (``http_trigger.answered``); the rest as
        they are."""
        if not self.custom_response or execution.index not in self.waiting:
            return execution
        return answered(execution, custom_answer(execution.respond, execution.pause is not None))

    def finished(self, execution: Execution) -> None:
        """An execution ended (the runner's ``on_execution``): complete its request's
        future, if it is a request's (not a paused execution's later part). What
        ``on_request`` raises is logged: the request is answered all the same."""
        request = self.waiting.pop(execution.index, None)
        if request is None:
            return
        try:
            self.on_request(request.full or request.event, execution)
        except Exception as exc:
            log.warning("pdee serve's on_request failed on execution %d: %r", execution.index, exc)
        finally:
            request.done.set_result(execution)

    def close(self, why: str | None = None) -> None:
        """The run ended (``why``: what ended it, when it was no stop): no request still
        waiting will run, and none is taken."""
        with self._lock:
            self.stopping.set()
            self._why = f" ({why})" if why else ""
            left = [*self.waiting.values(), *self.arrived]
        for request in left:
            if not request.done.done():
                request.done.set_exception(RuntimeError(STOPPED_BEFORE + self._why))
