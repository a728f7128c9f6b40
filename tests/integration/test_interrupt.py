"""Ctrl-C and SIGTERM in the middle of a run remove every container pdee made."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from pdee.driver import LABEL_RUN

pytestmark = pytest.mark.usefixtures("no_new_containers")


def containers(client) -> list[str]:
    return [c["Id"] for c in client.api.containers(all=True, filters={"label": LABEL_RUN})]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_run_leaves_no_container(docker_client, write_step, signum, code):
    step = write_step("slow", "import time\n\ndef handler(pd):\n    time.sleep(0.3)\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "pdee", "run", str(step), "--events", "200", "--mode", "cold"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not containers(docker_client) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert containers(docker_client), "pdee started no container"
        time.sleep(1.0)  # well into the run: several EEs made and destroyed
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    assert "containers were removed" in stderr
    assert containers(docker_client) == []
