"""A workflow served over HTTP while a block runs: ``pdee.serve``'s body and its handle.

``serve_plan`` puts the pieces together: a ``RequestQueue`` as the arrival source of
the one ``Runner`` (on a thread of its own, ``pdee-serve``), the Starlette app that
submits each request to the queue, and the uvicorn server that serves the app. The
``Serving`` handle starts them in that order (the run first: the image, stores and
packages must be ready before the server listens) and stops them in the other: the
server stops taking requests, those in flight finish, every EE is removed.

Three threads carry a request: the server's (the request becomes an event and is
queued), the run's (it is placed and, when its execution ends, its future completed),
and the lane that runs its execution in an EE.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from ..backends import Backend
from ..engine.execute import connections_for, docker_backend
from ..engine.runner import OnExecution, Runner
from ..errors import UsageError
from ..interrupts import deferred
from ..plan.run_plan import RunPlan
from ..plan.steps import StrPath
from ..results.records import Execution, RunResult
from .request_queue import OnRequest, RequestQueue

if TYPE_CHECKING:
    from .server import HTTPServer


class Serving:
    """A workflow served over HTTP (``pdee.serve``): ``url`` while it runs, ``result``
    (every request's execution, as ``pdee.run`` gives) once it has stopped."""

    def __init__(self, runner: Runner, requests: RequestQueue, http: HTTPServer) -> None:
        self.runner = runner
        self.requests = requests
        self.http = http
        self.url = ""
        self.result: RunResult | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<Serving {self.url or 'stopped'}>"

    @property
    def plan(self) -> RunPlan:
        """What it serves: the steps, the limits, the lifecycle's policy."""
        return self.runner.plan

    def start(self) -> str:
        """Start the run (image, stores, packages) and then listen; the URL.

        Raises:
            UsageError, ImageError, BackendUnavailable, PackageError: before listening.
        """

        def run() -> None:
            try:
                self.result = self.runner.run()
            except BaseException as exc:  # told to the caller, on its thread
                self._error = exc
            finally:
                self.requests.close()

        self._thread = threading.Thread(target=run, name="pdee-serve", daemon=True)
        self._thread.start()
        while not self.requests.ready.wait(0.05):
            if not self._thread.is_alive():
                assert self._error is not None
                raise self._error
        try:
            self.url = self.http.start()
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> RunResult:
        """Stop listening, finish what is in flight, remove every EE; the result.

        Raises:
            RunAborted: the backend failed while serving (``.result`` holds the rest).
        """
        with deferred():  # a second Ctrl-C waits until every EE is removed
            self.http.stop()
            self.requests.stop()
            if self._thread is not None:
                self._thread.join()
        if self._error is not None:
            raise self._error
        assert self.result is not None
        return self.result


@contextmanager
def serve_plan(
    plan: RunPlan,
    *,
    custom_response: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    backend: Backend | None = None,
    on_execution: OnExecution | None = None,
    on_request: OnRequest | None = None,
    record: StrPath | None = None,
) -> Iterator[Serving]:
    """Serve a checked plan's HTTP trigger on ``host:port`` while the block runs.

    Args: as ``pdee.serve``'s, with the plan in place of the steps and options.

    Raises:
        UsageError: the workflow has no HTTP trigger; the record file, the host or the
            port cannot be had; and what ``pdee.run`` raises.
    """
    from .app import make_app  # only serve needs the server's libraries
    from .server import HTTPServer

    if plan.workflow is not None and not plan.workflow.serves_http:
        raise UsageError(
            f"workflow {plan.workflow.name} has no HTTP trigger (its trigger: "
            f"{', '.join(plan.workflow.triggers)}); pdee serve answers HTTP: use pdee run"
        )
    with ExitStack() as owned:  # closed in turn: the backend, then the record file
        recording = None
        if record is not None:
            try:
                recording = owned.enter_context(open(record, "a", encoding="utf-8"))
            except OSError as exc:
                raise UsageError(f"cannot write record file {record}: {exc.strerror}") from None
        if backend is None:
            backend = owned.enter_context(docker_backend(connections_for(plan) + 4))
        requests = RequestQueue(on_request)

        def ended(execution: Execution) -> None:
            if on_execution is not None:
                on_execution(execution)
            requests.finished(execution)

        runner = Runner(backend, plan, ended, source=requests)
        app = make_app(requests.submit, custom_response, recording)
        serving = Serving(runner, requests, HTTPServer(app, host, port))
        serving.start()
        try:
            yield serving
        finally:
            serving.stop()
