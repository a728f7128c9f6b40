"""Lanes: one thread per EE, and the news they send to the run's main thread.

A lane owns one EE. It runs the tasks it is given (start the EE, run an execution,
destroy it) one at a time, in order, so an EE never runs two executions at once. A
lane tells the main thread what happened only through the run's inbox (a
``queue.Queue``): the main thread owns every decision and every record.

A task may also run on the main thread itself (``run_here``), when the lane's thread
has none left and the main thread would only wait for it: the same task, the same
news, without two thread hand-offs.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backends import EE
from ..results.records import Execution

if TYPE_CHECKING:
    from ..runtime.protocol import Hello


@dataclass(frozen=True)
class Started:
    """The lane's EE started and loaded the workflow."""

    ee: str
    hello: Hello


@dataclass(frozen=True)
class Running:
    """From ``real_s`` (``time.monotonic``) on, the lane's execution is at ``virtual_s``
    plus the real time since."""

    ee: str
    virtual_s: float
    real_s: float


@dataclass(frozen=True)
class Finished:
    """An execution ended, after ``elapsed_s`` real seconds (its EE's start included)."""

    ee: str
    execution: Execution
    elapsed_s: float
    gone: bool  # the EE's container ended under it


@dataclass(frozen=True)
class Failed:
    """A task failed for a reason outside the step, or the run was told to abort: the
    run cannot go on."""

    ee: str
    error: BaseException


@dataclass(frozen=True)
class Wake:
    """Something outside the lanes has work for the main thread: its arrival source woke
    it (``pdee serve``: a request arrived, or the server is stopping)."""


News = Started | Running | Finished | Failed | Wake


class Lane:
    """One EE and the thread that drives it; tasks run in the order they are given."""

    def __init__(self, ee: EE, inbox: queue.Queue[News]) -> None:
        self.ee = ee
        self.inbox = inbox
        self.tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.start_s: float | None = None  # how long its EE took to start, once it has
        self.packages_bytes = 0  # what the packages its EE copied into /tmp take there
        self.running: tuple[float, float] | None = None  # the main thread's copy of Running
        self.closing = False  # set on the way out: failures no longer matter
        self.recycled = False  # its EE is a used one, being made fresh for a cold start
        # The virtual time its EE (last) starts or is made new: the steps' clock at import.
        self.virtual_s = 0.0
        self.given = 0  # tasks given to its thread (main thread's count)
        self.done = 0  # of those, the ones its thread has ended (its thread's count)
        self.failed = False
        self.thread = threading.Thread(target=self._loop, name=f"pdee-{ee.id}", daemon=True)
        self.thread.start()

    def __repr__(self) -> str:
        return f"<Lane {self.ee.id}>"

    def _loop(self) -> None:
        while (task := self.tasks.get()) is not None:
            ran = self._run(task)
            self.done += 1
            if not ran:
                return

    def _run(self, task: Callable[[], None]) -> bool:
        """Run one task; False if it failed (the main thread decides; this lane takes no
        more)."""
        try:
            task()
        except Exception as exc:
            self.failed = True
            if not self.closing:
                self.inbox.put(Failed(self.ee.id, exc))
            return False
        return True

    def give(self, task: Callable[[], None]) -> None:
        self.given += 1
        self.tasks.put(task)

    @property
    def idle(self) -> bool:
        """Its thread has ended every task given and waits for the next (main thread)."""
        return self.done == self.given and not self.failed and not self.closing

    def run_here(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the calling thread, as the lane's thread would, news and
        failure alike. Only when ``idle``: the task cannot overtake one given before."""
        assert self.idle, "a task given to the lane's thread has not ended"
        self._run(task)

    def close(self) -> None:
        """No more tasks: the thread ends after the ones it has."""
        self.tasks.put(None)

    def post(self, news: News) -> None:
        self.inbox.put(news)

    def mark_running(self, virtual_s: float) -> None:
        """Tell the main thread that the execution is at ``virtual_s`` now."""
        self.post(Running(self.ee.id, virtual_s, time.monotonic()))


def close_all(lanes: Iterable[Lane], join_s: float) -> None:
    """Destroy every lane's EE at once, then give the threads ``join_s`` to end."""
    lanes = list(lanes)
    for lane in lanes:
        lane.closing = True
        lane.close()
    if lanes:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda lane: lane.ee.destroy(), lanes))
    deadline = time.monotonic() + join_s
    for lane in lanes:
        lane.thread.join(max(0.0, deadline - time.monotonic()))
