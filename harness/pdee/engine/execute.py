"""Carrying out a checked plan: on a given backend, or on the Docker daemon docker-py
finds, connected for the run and closed after it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..interrupts import Interrupted, Terminated
from .runner import OnExecution, Runner

if TYPE_CHECKING:
    from ..backends import Backend
    from ..plan.run_plan import RunPlan
    from ..results.records import RunResult


def connections_for(plan: RunPlan) -> int:
    """Backend connections a plan needs: one per EE thread, and a few for the main one.

    The EEs in flight, as many standby EEs in cold mode, the warm workers, and 8.
    """
    policy = plan.policy
    return 2 * policy.concurrency + policy.warm_workers + 8


@contextmanager
def docker_backend(connections: int) -> Iterator[Backend]:
    """The Docker daemon at ``DOCKER_HOST`` or the local socket, for the block.

    Raises:
        BackendUnavailable: no daemon answers.
    """
    from ..backends.docker import DockerBackend  # only what needs a daemon loads docker

    with DockerBackend.connect(connections) as backend:
        yield backend


def execute(
    plan: RunPlan,
    backend: Backend | None = None,
    on_execution: OnExecution | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Run a checked plan, on ``backend`` or on the Docker daemon that docker-py finds.

    Args:
        plan: what to run (``build_plan``).
        backend: where EEs run (default: Docker, connected for this run).
        on_execution: called on the calling thread with each execution as it ends.
        progress: told, line by line, what the run does before its first EE (packages).

    Raises:
        BackendUnavailable, ImageError, UsageError: before any EE starts.
        RunAborted: the backend failed mid-run (``.result`` has what ended).
        Interrupted (a ``KeyboardInterrupt``), Terminated: Ctrl-C or SIGTERM, once every
            EE is removed; ``.result`` holds the executions that ended.
    """
    if backend is None:
        with docker_backend(connections_for(plan)) as docker:
            return execute(plan, docker, on_execution, progress)
    runner = Runner(backend, plan, on_execution=on_execution, progress=progress)
    try:
        return runner.run()
    except KeyboardInterrupt:
        raise Interrupted(runner.result) from None
    except Terminated:
        raise Terminated(runner.result) from None
