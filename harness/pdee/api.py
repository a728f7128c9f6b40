"""pdee's Python API: ``pdee.run``, ``pdee.execute`` and ``pdee.serve``, as the CLI runs
them (``pdee.check`` and ``pdee.check_project`` are in ``pdee.checking``).

Every function takes ``pdee run``'s options as keyword arguments, declared once in
``pdee.plan.options.RunOptions`` (types, defaults, meaning) and typed by ``RunKeywords``;
a keyword that is not one is a ``UsageError`` naming the closest option.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import Backend
from .engine.execute import connections_for, execute
from .engine.flow_urls import FlowAnswer
from .engine.runner import OnExecution
from .plan.options import RunOptions
from .plan.run_plan import plan_from
from .plan.steps import StrPath
from .results.records import Execution, RunResult
from .serving.handle import Serving, serve_plan
from .serving.http_trigger import HttpEvent

if TYPE_CHECKING:  # the watch's modules load with a watch or a reload only (start-up time)
    from typing_extensions import Unpack

    from .plan.options import RunKeywords
    from .watching.reload import OnReload
    from .watching.session import Change, OnProblem
    from .watching.targets import Targets

# serve's own keyword arguments, beside the run options.
SERVE_KEYWORDS = ("custom_response", "host", "port", "backend", "on_execution", "on_request",
                  "record", "http_event", "on_flow", "reload", "on_reload",
                  "outputs")  # fmt: skip

__all__ = ["Serving", "connections_for", "execute", "run", "serve", "watch"]


def run(
    steps: Sequence[StrPath],
    *,
    backend: Backend | None = None,
    on_execution: OnExecution | None = None,
    progress: Callable[[str], None] | None = None,
    **options: Unpack[RunKeywords],
) -> RunResult:
    """Run a workflow's steps for a number of events in emulated EEs.

    Example::

        result = pdee.run(["step.py"], events=3, mode="warm", tmp_size="2GB")
        assert [e.status for e in result.executions] == ["ok", "ok", "ok"]

    Args:
        steps: the step files, in workflow order, or one workflow folder synced by the
            platform's GitHub Sync.
        backend: where EEs run (default: the Docker daemon at ``DOCKER_HOST`` or the
            local socket, connected for this run and closed after it).
        on_execution: called on the calling thread with each execution as it ends.
        progress: told, line by line, what the run does before its first EE.
        options: ``pdee run``'s options, with the same defaults (the platform's) and the
            same checks: ``events``, ``mode``, ``memory``, ``tmp_size``... (each one's
            type, default and meaning: ``pdee.plan.options.RunOptions``).

    Returns:
        Every execution (in event order), every EE's life, and the settings.

    Raises:
        UsageError: a bad argument or input file, or a keyword that is no option (the
            CLI's exit code 2).
        BackendUnavailable: no Docker daemon answers (3).
        ImageError: the EE image is missing or stale (4): ``pdee image build``.
        RunAborted: the backend failed mid-run; ``.result`` holds what ended.
        Interrupted, Terminated: Ctrl-C (a ``KeyboardInterrupt``) or SIGTERM, every EE
            removed; ``.result`` holds what ended.
    """
    given = RunOptions.of(options, "run", also=("backend", "on_execution", "progress"))
    return execute(plan_from(steps, given), backend, on_execution, progress)


@contextmanager
def serve(
    steps: Sequence[StrPath],
    *,
    custom_response: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    backend: Backend | None = None,
    on_execution: OnExecution | None = None,
    on_request: Callable[[dict[str, Any], Execution], None] | None = None,
    record: StrPath | None = None,
    http_event: HttpEvent | str = HttpEvent.FULL,
    on_flow: Callable[[str, str, FlowAnswer], None] | None = None,
    reload: bool = False,
    on_reload: OnReload | None = None,
    outputs: Sequence[StrPath | None] = (),
    **options: Unpack[RunKeywords],
) -> Iterator[Serving]:
    """Serve a workflow's HTTP trigger on ``host:port`` while the block runs.

    Example::

        with pdee.serve(["hook.py"], custom_response=True) as server:
            requests.post(server.url + "/orders", json={"sku": "a1"})
        print(server.result.executions[0].steps["hook"].return_value)

    Args:
        steps: the step files, in workflow order, or one workflow folder.
        custom_response: the caller waits for ``pd.respond`` (else the platform's
            default response, at once).
        host, port: where to listen (``port=0``: a free one; ``server.url`` says which).
        on_request: told of each request's full event (whatever ``http_event`` the
            step gets) and its execution, as it ends.
        record: write each request's event here, as JSON Lines with ``ts``, which
            ``pdee run --schedule`` replays.
        reload: redeploy the workflow on every change to its files (the step files, the
            workflow folder, the files the options name), as the platform deploys new
            code: the server goes on listening on its port; executions in flight finish
            on the old code and the next request runs the new; data stores and the
            record go on. A syntax error keeps the old code serving.
        on_reload: told of each reload, on the watch's thread: the ``Change``, and None
            once the new code serves, or why the old code still does.
        outputs: the files the caller writes when serving stops (a report, say), which
            a reload never takes for a change (the record file never is either).
        http_event: the event a request makes (the trigger's event data): ``"full"``
            (the request, with ``bodyRaw``), ``"body"`` (the body alone) or ``"raw"``
            (the full event and ``rawHeaders``, for a signature check).
        on_flow: told of each call to a flow URL (``resume_url``, ``cancel_url`` of a
            paused execution, which the same server answers): its method, path and
            answer (``status``, one line of ``text``); default: a log line on the
            ``pdee`` logger (a warning for a 404).
        options: ``pdee.run``'s (``mode``, ``concurrency``, ``idle_timeout``, ``memory``,
            ``data_stores``...), in real time.

    Raises:
        UsageError: a bad option, host or port, or a keyword that is no option; and what
            ``pdee.run`` raises.
    """
    given = RunOptions.of(options, "serve", also=SERVE_KEYWORDS)
    with serve_plan(
        plan_from(steps, given),
        custom_response=custom_response,
        host=host,
        port=port,
        backend=backend,
        on_execution=on_execution,
        on_request=on_request,
        record=record,
        http_event=http_event,
        on_flow=on_flow,
    ) as serving:
        if not reload:
            yield serving
            return
        from .watching.reload import reloading

        written = [record_path(record), *(record_path(path) for path in outputs)]
        with reloading(serving, steps, options, on_reload, outputs=written):
            yield serving


def watch(
    steps: Sequence[StrPath],
    each: Callable[[Change], None],
    *,
    outputs: Sequence[StrPath] = (),
    on_problem: OnProblem | None = None,
    on_waiting: Callable[[Targets], None] | None = None,
    stop: threading.Event | None = None,
    **options: Unpack[RunKeywords],
) -> None:
    """Call ``each`` now, then again after every change to the step files, the workflow
    folder and the files the options name (event, inputs, env, schedule, step results),
    as the platform runs a workflow after a redeploy; until ``stop`` is set or a signal.

    Example::

        def once(change: pdee.Change) -> None:
            print(change.divider)
            result = pdee.run(["step.py"], events=2)  # new EEs: no old module globals

        pdee.watch(["step.py"], once, events=2)

    Args:
        steps: the step files, in workflow order, or one workflow folder (or, for a
            check, a project).
        each: one run; what it raises as a ``PdeeError`` goes to ``on_problem`` and the
            watch goes on, but for no Docker daemon or no image, which end it.
        outputs: the files the runs write, which never count as a change.
        on_problem: told of a syntax error in a step file (``each`` is not called) or a
            run refused, with one message.
        on_waiting: told, after each run, what the watch waits for a change to.
        stop: ends the watch when set from another thread.
        options: ``pdee.run``'s options: which files they name is what is watched.

    Raises:
        UsageError: a keyword that is no option, or the watcher failed.
        BackendUnavailable, ImageError: from ``each``: no save fixes them.
        KeyboardInterrupt, Terminated: Ctrl-C or SIGTERM, the watcher closed.
    """
    RunOptions.of(options, "watch", also=("outputs", "on_problem", "on_waiting", "stop"))
    from .watching import session

    paths = [Path(path) for path in outputs]
    session.watch(
        steps, options, each, outputs=paths, on_problem=on_problem, on_waiting=on_waiting,
        stop=stop,
    )  # fmt: skip


def record_path(record: StrPath | None) -> Path | None:
    """``serve``'s record file as a path (None: none)."""
    return None if record is None else Path(record)
