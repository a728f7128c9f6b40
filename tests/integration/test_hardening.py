"""The EE against what real steps do: no /dev/shm, a channel out of reach, a runtime the
step cannot kill, a CPU limit, no way to the CI runner's metadata endpoint."""

from __future__ import annotations

import json
import uuid

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

PROBE = """
import multiprocessing, os

def handler(pd):
    try:
        multiprocessing.Lock()
        lock = None
    except OSError as exc:
        lock = type(exc).__name__
    writable = []
    for root, dirs, _files in os.walk("/"):
        if root.startswith(("/proc", "/sys", "/tmp")):
            dirs[:] = []
            continue
        if os.access(root, os.W_OK):
            writable.append(root)
    return {"lock": lock, "shm": os.path.exists("/dev/shm"), "writable": writable}
"""


def test_no_dev_shm_and_nothing_writable_outside_tmp(pdee, write_step):
    outcome = pdee("run", write_step("probe", PROBE))
    assert outcome.exit_code == 0, outcome.stderr
    result = outcome.executions[0]["steps"]["probe"]["return_value"]
    assert result["lock"] is not None  # an OSError, as on the platform
    assert result["shm"] is False
    assert result["writable"] == []


FORGER = """
import os

def handler(pd):
    forged = b'{"type":"done","id":"0","return_value":"FORGED","exports":{},"error":null}'
    for fd in range(3, 64):
        for data in (forged + b"\\n", b"\\x00garbage that is not JSON\\n", b'{"half": '):
            try:
                os.write(fd, data)
            except OSError:
                pass
    return {"own": pd.steps["trigger"]["event"]["body"]["index"]}
"""


def test_lines_a_step_writes_to_its_channel_never_pass_for_replies(pdee, write_step):
    outcome = pdee("run", write_step("forger", FORGER), "--events", "3", "--mode", "warm")
    assert outcome.exit_code == 0, outcome.stderr
    values = [e["steps"]["forger"]["return_value"] for e in outcome.executions]
    assert values == [{"own": 0}, {"own": 1}, {"own": 2}]
    assert all(e["start"] == "warm" for e in outcome.executions[1:])
    assert all(
        any("wrote" in note and "reply channel" in note for note in e["notes"])
        for e in outcome.executions
    )


KILLER = """
import os, signal

def handler(pd):
    if pd.steps["trigger"]["event"]["body"]["index"] == 0:
        os.kill(os.getppid(), signal.SIGKILL)
    return "alive"
"""


def test_a_step_cannot_kill_its_runtime_and_is_blamed_for_trying(pdee, write_step):
    outcome = pdee("run", write_step("killer", KILLER), "--events", "2", "--mode", "warm")
    assert outcome.exit_code == 1
    first, second = outcome.executions
    assert first["status"] == "error"
    assert first["error"]["step"] == "killer"
    assert first["error"]["type"] == "PermissionError"
    assert second["status"] == "ok" and second["start"] == "warm"
    assert second["ee"] == first["ee"]


CPU = """
def handler(pd):
    quota = int(open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read())
    period = int(open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read())
    return quota / period
"""


@pytest.mark.parametrize(
    ("args", "cpus"), [([], 1.0), (["--cpus", "0.5"], 0.5), (["--cpus", "platform"], 0.145)]
)
def test_each_ee_gets_a_cpu_limit(pdee, write_step, args, cpus):
    outcome = pdee("run", write_step("cpu", CPU), *args)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.report["settings"]["cpus"] == cpus
    seen = outcome.executions[0]["steps"]["cpu"]["return_value"]
    assert seen == pytest.approx(cpus, abs=0.001)


def test_more_cpus_than_the_host_has_is_a_usage_error(pdee, write_step):
    outcome = pdee("run", write_step("cpu", CPU), "--cpus", "64")
    assert outcome.exit_code == 2
    assert "--cpus 64: the Docker host has" in outcome.stderr


CONNECT = """
import socket

def handler(pd):
    address = pd.inputs["address"]
    try:
        with socket.create_connection((address, 8080), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            return sock.recv(100).decode(errors="replace")
    except OSError as exc:
        return f"refused: {exc}"
"""


def test_link_local_addresses_are_unreachable_unless_allowed(
    pdee, write_step, docker_client, tmp_path, session_labels
):
    """A listener of the test's own on a link-local network (never a real metadata service)."""
    name = f"pdee-test-ll-{uuid.uuid4().hex[:8]}"
    ipam = {"Driver": "default", "Config": [{"Subnet": "169.254.77.0/24"}]}
    labels = {"pdee.test": "ll", **session_labels}
    network = docker_client.api.create_network(name, ipam=ipam, labels=labels)
    listener = None
    try:
        listener = docker_client.containers.create(
            "pdee-ee:latest",
            ["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"],
            entrypoint=[],
            labels=labels,
            network=name,
        )
        listener.start()
        listener.reload()
        address = listener.attrs["NetworkSettings"]["Networks"][name]["IPAddress"]
        assert address.startswith("169.254.77.")
        inputs = tmp_path / "inputs.json"
        inputs.write_text(json.dumps({"address": address}))
        step = write_step("connect", CONNECT)
        blocked = pdee("run", step, "--network", name, "--inputs", inputs)
        assert blocked.report["settings"]["link_local"] == "blocked"
        said = blocked.executions[0]["steps"]["connect"]["return_value"]
        assert said.startswith("refused:") and "unreachable" in said
        allowed = pdee("run", step, "--network", name, "--inputs", inputs, "--allow-link-local")
        said = allowed.executions[0]["steps"]["connect"]["return_value"]
        assert said.startswith("HTTP/1.0"), said
    finally:
        if listener is not None:
            listener.remove(force=True)
        docker_client.api.remove_network(network["Id"])
