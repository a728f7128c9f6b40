"""pdee against a remote daemon that shares no files with it: Docker-in-Docker.

The second daemon runs inside a container of its own, on a Docker network the test
creates (never on the host itself), and is reached over TCP with DOCKER_HOST, as
GitLab's `docker:dind` service is. Its image is bootstrapped offline from Debian's
packages (docker.io), like the EE's base. `pdee image build`, `pdee run` and `pdee
check` then work against it: no bind mount, no published port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import docker
import pytest
import requests

from pdee.backends import LABEL_RUN
from pdee.backends.docker import DockerBackend
from pdee.provision.image import bootstrap_base, debian_suite

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_new_containers")]

# Inside the container: its own cgroup hierarchies (a private cgroup namespace, so they
# are the container's own), then a daemon on TCP.
DIND_SCRIPT = """
set -e
mount -o remount,rw /sys
for d in /sys/fs/cgroup/*; do umount "$d"; done
umount /sys/fs/cgroup
mount -t tmpfs cgroup /sys/fs/cgroup
for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
  mkdir -p /sys/fs/cgroup/$c
  mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done
mkdir -p /sys/fs/cgroup/systemd
mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
exec dockerd -H tcp://0.0.0.0:2375 --tls=false --iptables=false --ip6tables=false
"""

FILL = """
import os

def handler(pd):
    with open("/tmp/fill", "ab") as f:
        f.write(b"r" * (20 * 2**20))
    return os.path.getsize("/tmp/fill")
"""


@pytest.fixture(scope="module")
def remote_daemon(
    docker_client: docker.DockerClient, session_labels: dict[str, str]
) -> Iterator[str]:
    """DOCKER_HOST of a Docker daemon running in a container of this test's network."""
    image = "pdee-dind:" + debian_suite()
    try:
        docker_client.images.get(image)
    except docker.errors.ImageNotFound:
        with DockerBackend.connect() as backend:
            bootstrap_base(backend, image, include=("docker.io", "ca-certificates"))
    name = f"pdee-test-dind-{uuid.uuid4().hex[:8]}"
    labels = {"pdee.test": "dind", **session_labels}
    network = docker_client.networks.create(name, labels=labels)
    container = None
    try:
        container = docker_client.containers.run(
            image,
            ["sh", "-c", DIND_SCRIPT],
            name=name,
            detach=True,
            network=name,
            cgroupns="private",
            # every capability but one that this host's daemon lacks (so no --privileged)
            cap_add=["ALL"],
            cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            tmpfs={"/var/lib/docker": "exec", "/run": "exec"},
            labels=labels,
            entrypoint=[],
        )
        container.reload()
        address = container.attrs["NetworkSettings"]["Networks"][name]["IPAddress"]
        host = f"tcp://{address}:2375"
        remote = docker.DockerClient(base_url=host, version="1.41", timeout=10)
        deadline = time.monotonic() + 60
        while True:
            try:
                remote.ping()
                break
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the remote daemon did not answer: {exc}") from exc
                time.sleep(0.5)
        remote.close()
        yield host
    finally:
        if container is not None:
            container.remove(force=True, v=True)
        network.remove()


def pdee_cli(host: str, *args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": host}
    return subprocess.run(
        [sys.executable, "-m", "pdee", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def test_image_build_run_and_check_against_a_remote_daemon(remote_daemon, tmp_path):
    built = pdee_cli(remote_daemon, "image", "build")
    assert built.returncode == 0, built.stderr[-2000:]
    # `pdee image build` builds PDEE_IMAGE when it is set, as the runs use it.
    assert f"image {os.environ.get('PDEE_IMAGE', 'pdee-ee:latest')} built" in built.stdout

    step = tmp_path / "fill.py"
    step.write_text(FILL)
    report = tmp_path / "report.json"
    ran = pdee_cli(
        remote_daemon,
        "run",
        str(step),
        "--events",
        "4",
        "--mode",
        "warm",
        "--network",
        "none",
        "--tmp-size",
        "64MB",
        "--report",
        str(report),
        "-q",
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr  # the 4th write does not fit
    executions = json.loads(report.read_text())["executions"]
    assert [e["status"] for e in executions] == ["ok", "ok", "ok", "error"]
    assert executions[2]["steps"]["fill"]["return_value"] == 60 * 2**20
    assert "No space left on device" in executions[3]["error"]["message"]
    assert {e["ee"] for e in executions} == {"ee-1"}

    checked = pdee_cli(
        remote_daemon, "check", str(step), "--network", "none", "--tmp-size", "512MB"
    )
    assert checked.returncode == 1, checked.stdout + checked.stderr  # it grows 20MB an execution
    assert "/tmp grows 20MB an execution of one warm EE" in checked.stdout

    remote = docker.DockerClient(base_url=remote_daemon, version="1.41")
    try:
        assert remote.api.containers(all=True, filters={"label": LABEL_RUN}) == []
    finally:
        remote.close()
