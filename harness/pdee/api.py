"""``pdee.run``: run steps in emulated EEs from Python, as ``pdee run`` does."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .backends import Backend
from .engine.runner import OnExecution, Runner
from .errors import UsageError
from .interrupts import deferred
from .lifecycle.scheduler import Mode
from .plan.run_plan import RunPlan, build_plan
from .plan.steps import StrPath
from .provision.image import DEFAULT_TAG
from .results.records import Execution, RunResult

if TYPE_CHECKING:
    from .serving.app import HTTPServer
    from .serving.runner import ServeRunner


def connections_for(plan: RunPlan) -> int:
    """Backend connections a plan needs: one per EE thread, and a few for the main one.

    The EEs in flight, as many standby EEs in cold mode, the warm workers, and 8.
    """
    policy = plan.policy
    return 2 * policy.concurrency + policy.warm_workers + 8


def execute(
    plan: RunPlan, backend: Backend | None = None, on_execution: OnExecution | None = None
) -> RunResult:
    """Run a checked plan, on ``backend`` or on the Docker daemon that docker-py finds.

    Raises:
        BackendUnavailable, ImageError, UsageError: before any EE starts.
        RunAborted: the backend failed mid-run (``.result`` has what ended).
    """
    if backend is not None:
        return Runner(backend, plan, on_execution).run()
    from .backends.docker import DockerBackend

    with DockerBackend.connect(connections_for(plan)) as docker_backend:
        return Runner(docker_backend, plan, on_execution).run()


def run(
    steps: Sequence[StrPath],
    *,
    events: int | None = None,
    event_file: StrPath | None = None,
    event: str | dict[str, Any] | None = None,
    schedule: StrPath | None = None,
    inputs: StrPath | dict[str, Any] | None = None,
    mode: Mode | str = Mode.REALISTIC,
    concurrency: int = 1,
    interval: float | None = None,
    rate: float | None = None,
    idle_timeout: float | None = None,
    chaos: float | None = None,
    warm_workers: int = 0,
    tmp_size: str | int = "2GB",
    memory: str | int = "256MB",
    timeout: float | None = None,
    network: str = "bridge",
    image: str = DEFAULT_TAG,
    seed: int | None = None,
    offline: bool = False,
    env: Sequence[str] | dict[str, str] | None = None,
    env_file: StrPath | None = None,
    cpus: float | str | None = None,
    allow_link_local: bool = False,
    data_stores: Sequence[str] | Mapping[str, StrPath | None] | None = None,
    resume_after: float | None = None,
    resume_data: Any = None,
    step_results: Sequence[str] | Mapping[str, Any] | None = None,
    recycle: bool = True,
    backend: Backend | None = None,
    on_execution: OnExecution | None = None,
) -> RunResult:
    """Run a workflow's steps for a number of events in emulated EEs.

    The keyword arguments are ``pdee run``'s options, with the same defaults (the
    platform's) and the same checks; see ``pdee.plan.build_plan``.

    Example::

        result = pdee.run(["step.py"], events=3, mode="warm", tmp_size="2GB")
        assert [e.status for e in result.executions] == ["ok", "ok", "ok"]

    Args:
        steps: the step files, in workflow order, or one workflow folder synced by the
            platform's GitHub Sync.
        backend: where EEs run (default: the Docker daemon at ``DOCKER_HOST`` or the
            local socket, connected for this run and closed after it).
        on_execution: called on the calling thread with each execution as it ends.

    Returns:
        Every execution (in event order), every EE's life, and the settings.

    Raises:
        UsageError: a bad argument or input file (the CLI's exit code 2).
        BackendUnavailable: no Docker daemon answers (3).
        ImageError: the EE image is missing or stale (4): ``pdee image build``.
        RunAborted: the backend failed mid-run; ``.result`` holds what ended.
    """
    plan = build_plan(
        steps,
        events=events,
        event_file=event_file,
        event=event,
        schedule=schedule,
        inputs=inputs,
        mode=mode,
        concurrency=concurrency,
        interval=interval,
        rate=rate,
        idle_timeout=idle_timeout,
        chaos=chaos,
        warm_workers=warm_workers,
        tmp_size=tmp_size,
        memory=memory,
        timeout=timeout,
        network=network,
        image=image,
        seed=seed,
        offline=offline,
        env=env,
        env_file=env_file,
        cpus=cpus,
        allow_link_local=allow_link_local,
        data_stores=data_stores,
        resume_after=resume_after,
        resume_data=resume_data,
        step_results=step_results,
        recycle=recycle,
    )
    return execute(plan, backend, on_execution)


class Serving:
    """A workflow served over HTTP (``pdee.serve``): ``url`` while it runs, ``result``
    (every request's execution, as ``pdee.run`` gives) once it has stopped."""

    def __init__(self, runner: ServeRunner, http: HTTPServer) -> None:
        self.runner = runner
        self.http = http
        self.url = ""
        self.result: RunResult | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<Serving {self.url or 'stopped'}>"

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

        self._thread = threading.Thread(target=run, name="pdee-serve", daemon=True)
        self._thread.start()
        while not self.runner.ready.wait(0.05):
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
            self.runner.stop()
            if self._thread is not None:
                self._thread.join()
        if self._error is not None:
            raise self._error
        assert self.result is not None
        return self.result


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
    **options: Any,
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
        on_request: told of each request's event and its execution, as it ends.
        record: write each request's event here, as JSON Lines with ``ts``, which
            ``pdee run --schedule`` replays.
        options: ``pdee.run``'s (``mode``, ``concurrency``, ``idle_timeout``, ``memory``,
            ``data_stores``...), in real time.

    Raises:
        UsageError: a bad option, host or port; and what ``pdee.run`` raises.
    """
    from .serving.app import HTTPServer, make_app
    from .serving.runner import ServeRunner  # only serve needs the server's libraries

    plan = build_plan(steps, **options)
    if plan.workflow is not None and not plan.workflow.serves_http:
        raise UsageError(
            f"workflow {plan.workflow.name} has no HTTP trigger (its trigger: "
            f"{', '.join(plan.workflow.triggers)}); pdee serve answers HTTP: use pdee run"
        )
    owned = None
    recording = None
    if record is not None:
        try:
            recording = open(record, "a", encoding="utf-8")  # noqa: SIM115 -- closed below
        except OSError as exc:
            raise UsageError(f"cannot write record file {record}: {exc.strerror}") from None
    if backend is None:
        from .backends.docker import DockerBackend

        owned = backend = DockerBackend.connect(connections_for(plan) + 4)
    try:
        runner = ServeRunner(backend, plan, on_execution, on_request)
        app = make_app(runner, custom_response, recording)
        serving = Serving(runner, HTTPServer(app, host, port))
        serving.start()
        try:
            yield serving
        finally:
            serving.stop()
    finally:
        if owned is not None:
            owned.close()
        if recording is not None:
            recording.close()
