"""The suite on a daemon it shares (a developer's open `pdee serve`, other CI jobs): the
EEs of another pdee run, live or abandoned, outlive the session's runs and its `gc`s.

The other run's EEs are stand-ins the test makes itself (from the EE image, running
`sleep`): labelled as another pdee run's, without the session's label, and removed by
the test in a `finally`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import docker
import pytest
from docker.models.containers import Container

from pdee.backends import LABEL_RUN
from pdee.backends.ownership import Owner, abandoned

pytestmark = pytest.mark.usefixtures("no_new_containers")

SLOW = "import time\n\ndef handler(pd):\n    time.sleep(1)\n    return 'done'\n"


def another_runs_ee(client: docker.DockerClient, run_id: str, owner: Owner) -> Container:
    """A container labelled as an EE of pdee run ``run_id`` made by ``owner``."""
    return client.containers.run(
        "pdee-ee:latest",
        ["sleep", "600"],
        entrypoint=[],
        name=f"pdee-{run_id}-ee-1",
        labels={LABEL_RUN: run_id, **owner.labels(time.time())},
        network_mode="none",
        init=True,
        detach=True,
    )


def gone_owner() -> Owner:
    """The owner of an abandoned EE: a process on this host that has ended."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    return Owner(socket.gethostname(), ended.pid, "1")


def run_and_see_its_ee(step, containers, others: list[Container]) -> tuple[str, str]:
    """Run ``pdee run`` as a user does, see that its EE carries the session's label (a
    subprocess inherits ``PDEE_LABELS``), let it finish; its stdout and stderr."""
    command = [sys.executable, "-m", "pdee", "run", step, "--events", "2", "--mode", "warm",
               "--network", "none", "-q"]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as run:
        try:
            deadline = time.monotonic() + 60
            while not (mine := containers()):
                assert run.poll() is None, run.communicate()[1]  # it ended before its EE came
                assert time.monotonic() < deadline, "the run's EE never appeared"
                time.sleep(0.05)
            assert len(mine) == 1
            assert mine[0]["Labels"][LABEL_RUN] not in {o.labels[LABEL_RUN] for o in others}
            stdout, stderr = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
    assert run.returncode == 0, stderr
    return stdout, stderr


def test_another_runs_ees_outlive_the_sessions_run_and_gc(
    docker_client, containers, session_label, pdee, write_step
):
    tag = uuid.uuid4().hex[:8]
    others: list[Container] = []
    try:
        others.append(another_runs_ee(docker_client, f"other-{tag}", Owner.this_process()))
        others.append(another_runs_ee(docker_client, f"other-gone-{tag}", gone_owner()))
        live, left = others
        # An unfiltered `pdee gc` would remove the abandoned one: the label is what spares it.
        assert not abandoned(live.labels, time.time(), socket.gethostname())
        assert abandoned(left.labels, time.time(), socket.gethostname())
        assert containers() == []  # the session does not see them

        stdout, stderr = run_and_see_its_ee(write_step("slow", SLOW), containers, others)
        assert "2 executions: 2 ok" in stdout, stderr

        swept = pdee("gc", "--label", session_label)
        assert swept.exit_code == 0, swept.stderr
        assert swept.stdout.strip() == "removed 0 EE containers"
        everything = pdee("gc", "--all", "--label", session_label)
        assert everything.exit_code == 0, everything.stderr
        assert everything.stdout.strip() == "removed 0 EE containers"

        for other in others:
            other.reload()
            assert other.status == "running", other.name
    finally:
        for other in others:
            other.remove(force=True, v=True)
