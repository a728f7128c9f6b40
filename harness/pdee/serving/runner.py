"""``pdee serve``'s core: the run's machinery on the real clock, fed by requests.

The same plan, scheduler, lanes, backend and records as ``pdee run``; only the arrivals
differ. Each request is submitted (``ServeRunner.submit``) from the HTTP server's thread
with its event and a future, and stamped with the real time since the server started;
the runner's own thread places it at that time, as the scheduler decides (warm, cold,
waiting for a free EE when ``--concurrency`` EEs are busy), and completes the future
with the execution's record when it ends. A paused execution's later part runs when its
time comes, in real time.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from ..backends import Backend, ImageInfo
from ..engine.lanes import Finished, News, Wake
from ..engine.parts import Part
from ..engine.runner import OnExecution, Runner
from ..lifecycle.scheduler import Decision
from ..plan.run_plan import RunPlan
from ..results.records import Execution, RunResult, Settings

# Told of each request's event and its execution's record, as the execution ends.
OnRequest = Callable[[dict[str, Any], Execution], None]


@dataclass
class Request:
    """One request's event, and the future its execution's record completes."""

    event: dict[str, Any]
    done: Future[Execution]
    at_s: float  # when it arrived, in seconds since the server started
    blobs: dict[str, dict[str, str]] | None = None  # the bodies its URLs refer to
    index: int = -1  # given when it is placed


class ServeRunner(Runner):
    """A ``Runner`` whose arrivals are requests, on the real clock."""

    runs_inline = False  # its thread must take requests while an execution runs

    def __init__(
        self,
        backend: Backend,
        plan: RunPlan,
        on_execution: OnExecution | None = None,
        on_request: OnRequest | None = None,
    ) -> None:
        super().__init__(backend, plan, on_execution)
        self.on_request = on_request or (lambda _event, _execution: None)
        self.arrived: deque[Request] = deque()  # submitted, not yet placed
        self.waiting: dict[int, Request] = {}  # placed, by execution index
        self.stopping = threading.Event()
        self.ready = threading.Event()  # the image, stores and packages are ready
        self.next_index = 0
        self.started_real = time.monotonic()

    def submit(
        self, event: dict[str, Any], blobs: dict[str, dict[str, str]] | None = None
    ) -> Future[Execution]:
        """Queue one request's execution (from any thread); its record, when it ends.
        ``blobs`` are the bodies the event's ``pdee-blob://`` URLs refer to."""
        request = Request(event, Future(), self._now_s(), blobs)
        self.arrived.append(request)
        self.inbox.put(Wake())
        return request.done

    def stop(self) -> None:
        """Stop taking requests (from any thread): those in flight finish, then the run
        ends and every EE is removed."""
        self.stopping.set()
        self.inbox.put(Wake())

    def _settings(self, image: ImageInfo | None) -> Settings:
        settings = super()._settings(image)
        settings.arrivals = {"kind": "requests"}  # on the real clock, from the network
        return settings

    def _now_s(self) -> float:
        return time.monotonic() - self.started_real

    def _walk_events(self) -> None:
        self.ready.set()
        for ee_id in self.scheduler.begin():
            self._open_lane(ee_id, 0.0, warm_worker=True)
        while True:
            while self.arrived:
                request = self.arrived.popleft()
                request.index, self.next_index = self.next_index, self.next_index + 1
                self.waiting[request.index] = request
                part = Part(request.index, request.index, event=request.event, blobs=request.blobs)
                # When it came, not now: while an earlier request waited for a busy EE,
                # later ones queued behind it and their wait counts from their arrival.
                self._arrive(part, request.at_s)
            while self.resumptions and self.resumptions[0][0] <= self._now_s():
                _, _, resumption = heapq.heappop(self.resumptions)
                self._arrive(resumption.part, self._now_s())
            if self.stopping.is_set() and not self.in_flight and not self.arrived:
                break
            due = self.resumptions[0][0] - self._now_s() if self.resumptions else None
            self._take_news(due)
        self._retire(self.scheduler.end(self.clock_s))

    def _take_news(self, timeout: float | None) -> None:
        """Take in what the lanes said, waiting at most ``timeout`` for the first news,
        and whatever came with it: an execution that ended before a request arrived is
        known before that request is placed."""
        try:
            news = self.inbox.get(timeout=None if timeout is None else max(timeout, 0.0))
        except queue.Empty:  # a resumption is due
            return
        self._take(news)
        self._take_rest()

    def _dispatch(self, decision: Decision, part: Part) -> None:
        # On the real clock nothing starts before now: a request placed after the ones
        # queued before it starts when it is placed, not when its EE became free.
        now_s = self._now_s()
        if decision.at_s < now_s:
            decision = replace(decision, at_s=now_s)
        super()._dispatch(decision, part)

    def _take(self, news: News) -> None:
        super()._take(news)
        if isinstance(news, Finished):
            index = news.execution.index
            request = self.waiting.pop(index, None)
            if request is not None:
                execution = self.result.executions.by_index(index)
                self.on_request(request.event, execution)
                request.done.set_result(execution)

    def run(self) -> RunResult:
        """Serve until ``stop``; the result of every request's execution.

        Raises:
            as ``Runner.run``.
        """
        try:
            return super().run()
        finally:
            for request in [*self.waiting.values(), *self.arrived]:
                if not request.done.done():
                    request.done.set_exception(RuntimeError("pdee stopped before it ran"))
