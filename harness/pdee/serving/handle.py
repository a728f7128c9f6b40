"""A workflow served over HTTP while a block runs: ``pdee.serve``'s body and its handle.

``serve_plan`` puts the pieces together: a ``RequestQueue`` as the arrival source of
the one ``Runner`` (on a thread of its own, ``pdee-serve``), the Starlette app that
submits each request to the queue, and the uvicorn server that serves the app. The
``Serving`` handle starts them in that order (the run first: the image, stores and
packages must be ready before the server listens) and stops them in the other: the
server stops taking requests, those in flight finish, every EE is removed, and a client
still sending or reading gets a short grace (``server.GRACE_S``) before it is cut. A
second Ctrl-C (or SIGTERM) during the stop cuts the executions in flight at once; every
EE is removed all the same.

Three threads carry a request: the server's (the request becomes an event and is
queued), the run's (it is placed and, when its execution ends, its future completed),
and the lane that runs its execution in an EE.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from ..backends import Backend
from ..engine.execute import connections_for, docker_backend
from ..engine.flow_urls import FlowAnswer, FlowUrls, loopback
from ..engine.runner import OnExecution, Runner
from ..errors import PdeeError, UsageError
from ..interrupts import Terminated, deferred
from ..plan.run_plan import RunPlan
from ..plan.steps import StrPath
from ..results.records import Execution, RunResult
from ..runtime.actions import split_uses
from .http_trigger import RESPOND_IGNORED, HttpEvent
from .http_trigger import http_event as parse_http_event
from .request_queue import OnRequest, RequestQueue

if TYPE_CHECKING:
    from .app import OnFlow
    from .server import HTTPServer

log = logging.getLogger("pdee")
# How long a stop waits for connections that wait for no execution: a client slow to
# send its request or to read its answer is cut after it.
GRACE_S = 3.0
# How long a Ctrl-C before the server listens waits for a run still getting ready.
READYING_S = 5.0
# Once the run has ended: how long a stop gives the last answers to reach their clients,
# when the grace has gone by while executions finished.
FLUSH_S = 1.0


class Serving:
    """A workflow served over HTTP (``pdee.serve``): ``url`` while it runs, ``result``
    (every request's execution, as ``pdee.run`` gives) once it has stopped."""

    def __init__(
        self,
        runner: Runner,
        requests: RequestQueue,
        http: HTTPServer,
        flow_urls: FlowUrls | None = None,
    ) -> None:
        self.runner = runner
        self.requests = requests
        self.http = http
        self.flow_urls = flow_urls or FlowUrls()  # where paused executions' URLs answer
        self.url = ""
        self.result: RunResult | None = None
        self._thread: threading.Thread | None = None
        # Set as the run's thread ends. Waited on, not joined: a signal that interrupts
        # Thread.join can leave the thread taken for ended while it runs (CPython 3.11).
        self._ended = threading.Event()
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<Serving {self.url or 'stopped'}>"

    @property
    def custom_response(self) -> bool:
        """Whether callers wait for the workflow's response (``pd.respond``): as asked,
        or as the workflow answers itself; as it started, whatever a reload brings."""
        return self.requests.custom_response

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
                failed = self._error
                why = str(failed) if isinstance(failed, PdeeError) else None
                self.requests.close(why)
                self.flow_urls.close()
                self._ended.set()

        self.http.check()  # before any EE: a port in use is one line
        self._thread = threading.Thread(target=run, name="pdee-serve", daemon=True)
        self._thread.start()
        try:
            while not self.requests.ready.wait(0.05):
                if self._ended.is_set():
                    assert self._error is not None
                    raise self._error
        except (KeyboardInterrupt, Terminated):
            self._cut_short()
            raise
        try:
            self.url = self.http.start()
            # Before any request: every execution's flow URLs are on this server.
            self.flow_urls.base = loopback(self.url)
        except BaseException:
            self.stop()
            raise
        return self.url

    def wait(self) -> None:
        """Block until the run ends by itself (the backend failed): serving goes on
        until then. A Ctrl-C or SIGTERM interrupts it (on the main thread)."""
        if self._thread is not None:
            self._ended.wait()
            self._thread.join(FLUSH_S)  # it has ended: a moment at most

    def stop(self) -> RunResult:
        """Stop listening, finish what is in flight, remove every EE; the result.

        A Ctrl-C or SIGTERM meanwhile cuts it short: the executions in flight are cut,
        every EE is removed, and the signal is raised (``.result`` holds what ended).

        Raises:
            RunAborted: the backend failed while serving (``.result`` holds the rest).
            KeyboardInterrupt, Terminated: a signal cut the stop short.
        """
        started = time.monotonic()
        try:
            self.http.close()
            self.requests.stop()
            self.wait()  # the queued and running executions finish; every EE goes
            left_s = started + GRACE_S - time.monotonic()
            self.http.finish(max(left_s, FLUSH_S))
        except (KeyboardInterrupt, Terminated):
            self._cut_short()
            raise
        if self._error is not None:
            raise self._error
        assert self.result is not None
        return self.result

    def redeploy(self, plan: RunPlan) -> None:
        """Serve ``plan``'s code from the next request on, as the platform deploys new
        code: the server goes on listening; the executions in flight finish on the old
        code, then their EEs retire; the idle EEs retire now; the data stores, the
        recorded requests and the result go on. Returns once the run has switched.

        Its packages are made ready first (fetched, their image built) while the old
        code serves. ``custom_response`` stays as it started.

        Raises:
            UsageError: ``plan`` has no HTTP trigger, or serving has stopped.
            PackageError, ImageError: its packages cannot be had.
            (Either way the old code goes on serving.)
        """
        check_serves(plan)
        deployment = self.runner.prepare(plan)
        self.runner.redeploy(deployment)
        while not deployment.switched.wait(0.05):
            if self._ended.is_set():
                raise UsageError("pdee serve has stopped: nothing to reload")

    def _cut_short(self) -> None:
        """End everything now: the run aborted (its executions cut, every EE removed),
        then the connections left. A further signal waits until every EE is gone.

        A run still getting ready (fetching packages, say) is given ``READYING_S``: it
        starts no EE once it has seen the abort, and what it fetches is the cache's."""
        with deferred():
            self.requests.stop()
            self.runner.abort()
            if self.requests.ready.is_set():
                self.wait()
            elif self._thread is not None and self._ended.wait(READYING_S):
                self._thread.join(FLUSH_S)
            self.http.finish(FLUSH_S)  # the requests cut are answered 503, then go
        self.result = self.result or self.runner.result
        self._error = None  # the abort's own Terminated: the signal is what is raised


# The built-in action that answers the HTTP trigger: a workflow that holds it returns a
# custom response (the trigger's setting, which synced files do not carry).
RESPONSE_ACTION = "http-return-http-response"


def answers_itself(plan: RunPlan) -> bool:
    """Whether the workflow answers its HTTP trigger with the platform's
    ``http-return-http-response`` action: its callers wait for that response."""
    return any(
        step.action is not None and split_uses(step.action)[0] == RESPONSE_ACTION
        for step in plan.steps
    )


def log_flow(method: str, path: str, answer: FlowAnswer) -> None:
    """The default ``on_flow``: one log line a call, a warning when it found nothing."""
    level = logging.INFO if answer.status == 200 else logging.WARNING
    log.log(level, "pdee serve: %s %s %d · %s", method, path, answer.status, answer.text)


def check_serves(plan: RunPlan) -> None:
    """Raises UsageError unless ``plan`` is a workflow ``pdee serve`` can answer for."""
    if plan.workflow is not None and not plan.workflow.serves_http:
        raise UsageError(
            f"workflow {plan.workflow.name} has no HTTP trigger (its trigger: "
            f"{', '.join(plan.workflow.triggers)}); pdee serve answers HTTP: use pdee run"
        )
    if plan.given_trigger not in (None, "http"):
        raise UsageError(
            f"--trigger {plan.given_trigger}: pdee serve answers HTTP; drop --trigger or use "
            f"pdee run"
        )


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
    http_event: HttpEvent | str = HttpEvent.FULL,
    on_flow: OnFlow | None = None,
) -> Iterator[Serving]:
    """Serve a checked plan's HTTP trigger on ``host:port`` while the block runs, and
    the flow URLs of its paused executions (``engine.flow_urls``) on the same server.

    Args: as ``pdee.serve``'s, with the plan in place of the steps and options.

    Raises:
        UsageError: the workflow has no HTTP trigger; the record file, the host or the
            port cannot be had; and what ``pdee.run`` raises.
    """
    from .app import held_limit, make_app  # only serve needs the server's libraries
    from .server import HTTPServer, check_address

    kind = parse_http_event(http_event)
    custom_response = custom_response or answers_itself(plan)
    check_serves(plan)
    check_address(host, port)  # before the daemon is asked for anything
    with ExitStack() as owned:  # closed in turn: the backend, then the record file
        recording = None
        if record is not None:
            try:
                recording = owned.enter_context(open(record, "a", encoding="utf-8"))
            except OSError as exc:
                raise UsageError(f"cannot write record file {record}: {exc.strerror}") from None
        if backend is None:
            backend = owned.enter_context(docker_backend(connections_for(plan) + 4))
        requests = RequestQueue(on_request, custom_response)
        ignored_respond = threading.Event()  # said once: pd.respond had no effect

        def ended(execution: Execution) -> None:
            ignored = execution.respond is not None and not custom_response
            if ignored and not ignored_respond.is_set():
                ignored_respond.set()
                log.warning(RESPOND_IGNORED.format(index=execution.index))
            try:
                if on_execution is not None:
                    on_execution(execution)
            except Exception as exc:  # the caller's: serving goes on
                log.warning("pdee serve's on_execution failed on #%d: %r", execution.index, exc)
            finally:
                requests.finished(execution)

        flow_urls = FlowUrls()
        runner = Runner(backend, plan, ended, source=requests, flow_urls=flow_urls)
        held = held_limit(plan.policy.concurrency)
        app = make_app(
            requests.submit, custom_response, recording, held, kind, flow_urls, on_flow or log_flow
        )
        serving = Serving(runner, requests, HTTPServer(app, host, port), flow_urls)
        serving.start()
        try:
            yield serving
        finally:
            serving.stop()
