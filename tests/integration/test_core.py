"""The core and its edges against the real daemon: the Python API, `pdee gc` that spares
live runs, reports of runs cut short by the backend, `--debug`, and an installed pdee
that builds its own image."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

import pdee
from pdee.backends import LABEL_RUN

pytestmark = pytest.mark.usefixtures("no_new_containers")

COUNTER = """
import os

count = 0

def handler(pd):
    global count
    count += 1
    open(f"/tmp/run-{count}", "w").write("x")
    return {"count": count, "files": sorted(n for n in os.listdir("/tmp") if n.startswith("run-"))}
"""
SLOW = "import time\n\ndef handler(pd):\n    time.sleep(float(pd.steps['trigger']['event'].get('sleep', 1)))\n"


def start_pdee(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pdee", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def ended(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """``process``, ended on the way out should the test fail first (SIGTERM: pdee removes
    its EEs), its pipes closed."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=60)


def wait_for(condition, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_api_runs_a_warm_and_a_cold_sequence(write_step):
    step = write_step("counter", COUNTER)
    common = {"events": 3, "tmp_size": "64MB", "memory": "256MB", "network": "none", "seed": 1}
    warm = pdee.run([step], mode="warm", **common)
    assert [e.status for e in warm.executions] == ["ok", "ok", "ok"]
    assert [e.start for e in warm.executions] == ["cold", "warm", "warm"]
    # The same process and the same /tmp: globals and files remain.
    assert [e.steps["counter"].return_value for e in warm.executions] == [
        {"count": 1, "files": ["run-1"]},
        {"count": 2, "files": ["run-1", "run-2"]},
        {"count": 3, "files": ["run-1", "run-2", "run-3"]},
    ]
    used = [e.tmp.used_bytes for e in warm.executions if e.tmp]
    assert used == sorted(used) and used[0] < used[-1]
    assert warm.settings.tmp_size_bytes == 64 * 2**20 and warm.summary.ees_started == 1

    cold = pdee.run([step], mode="cold", **common)
    assert [e.start for e in cold.executions] == ["cold"] * 3
    assert {e.ee for e in cold.executions} == {"ee-1", "ee-2", "ee-3"}
    assert [e.steps["counter"].return_value for e in cold.executions] == [
        {"count": 1, "files": ["run-1"]}
    ] * 3
    assert cold.passed and cold.summary.ees_started == 3


def test_api_errors_are_the_clis_one_liners(write_step):
    step = write_step("counter", COUNTER)
    with pytest.raises(pdee.UsageError, match="--memory 11GB is over the platform's maximum"):
        pdee.run([step], memory="11GB")
    with pytest.raises(pdee.ImageError, match="pdee image build"):
        pdee.run([step], image="pdee-no-such-image:0")


def test_gc_spares_live_runs_and_removes_those_of_killed_ones(
    containers, session_label, write_step, pdee
):
    step = write_step("slow", SLOW)
    live = start_pdee("run", step, "--events", "60", "--mode", "warm")
    killed = start_pdee("run", step, "--events", "60", "--mode", "warm")
    try:
        wait_for(lambda: len(containers()) == 2)
        runs = {c["Labels"][LABEL_RUN]: c for c in containers()}
        owners = {int(c["Labels"]["pdee.owner.pid"]): run for run, c in runs.items()}
        assert set(owners) == {live.pid, killed.pid}
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=10)
        assert len(containers(f"{LABEL_RUN}={owners[killed.pid]}")) == 1  # left behind

        outcome = pdee("gc", "--label", session_label)  # never another's: the daemon is shared
        assert outcome.exit_code == 0, outcome.stderr
        assert "removed 1 EE container; 1 of live runs left alone" in outcome.stdout
        assert containers(f"{LABEL_RUN}={owners[killed.pid]}") == []
        assert len(containers(f"{LABEL_RUN}={owners[live.pid]}")) == 1
        assert live.poll() is None  # the live run goes on
    finally:
        for process in (live, killed):
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)
    assert live.returncode == 143
    assert containers() == []


def test_gc_all_removes_every_ee(containers, session_label, write_step, pdee):
    live = start_pdee("run", write_step("slow", SLOW), "--events", "60", "--mode", "warm")
    try:
        wait_for(lambda: len(containers()) == 1)
        outcome = pdee("gc", "--all", "--label", session_label)
        assert outcome.exit_code == 0, outcome.stderr
        assert "removed 1 EE container" in outcome.stdout
        assert containers() == []
    finally:
        live.send_signal(signal.SIGTERM)
        live.communicate(timeout=60)


def test_an_ee_removed_from_outside_fails_its_execution_and_the_run_goes_on(
    containers, docker_client, write_step, tmp_path
):
    report = tmp_path / "report.json"
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps({"sleep": s}) for s in (0.1, 20, 0.1, 0.1)))
    step = write_step("slow", SLOW.replace("(pd):\n", "(pd):\n    print('sleeping')\n"))
    run = start_pdee("run", step, "--event-file", events, "--mode", "warm", "--report", report)
    with ended(run):
        wait_for(lambda: len(containers()) == 1)
        time.sleep(3)  # execution 0 ended, execution 1 sleeps for 20 s
        (ours,) = containers()  # this run's EE: the session has no other
        docker_client.api.remove_container(ours["Id"], force=True)
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 1, stderr
    executions = json.loads(report.read_text())["executions"]
    assert [e["status"] for e in executions] == ["ok", "error", "ok", "ok"]
    assert executions[1]["error"]["type"] == "EEGone"
    # the step that was running when its EE vanished is named
    assert executions[1]["error"]["step"] == "slow"
    assert "ended during step 'slow'" in executions[1]["error"]["message"]
    assert executions[1]["steps"]["slow"]["logs"] == "sleeping\n"  # what it printed is kept
    assert [e["ee"] for e in executions] == ["ee-1", "ee-1", "ee-2", "ee-2"]
    assert "Traceback" not in stderr


def test_a_run_the_backend_cuts_short_still_reports_what_ended(
    containers, docker_client, write_step, tmp_path
):
    """The image goes away mid-run: the next EE cannot start, the run stops with exit 5
    and a report of the executions that ended."""
    doomed = f"doomed-{uuid.uuid4().hex[:8]}"  # this test's own tag: the daemon is shared
    image = os.environ.get("PDEE_IMAGE", "pdee-ee:latest")  # the session's, as the CLI's
    docker_client.images.get(image).tag("pdee-ee", doomed)
    report = tmp_path / "report.json"
    step = write_step("slow", SLOW)
    try:
        run = start_pdee(
            "run", step, "--image", f"pdee-ee:{doomed}", "--mode", "cold", "--events", "4",
            "--event", '{"sleep": 2}', "--report", report, "--no-recycle",
        )  # fmt: skip
        with ended(run):
            # ee-1 and the standby EE for execution 1 exist; execution 2's cannot be made.
            wait_for(lambda: len(containers()) == 2)
            docker_client.images.remove(f"pdee-ee:{doomed}")
            stdout, stderr = run.communicate(timeout=60)
    finally:
        if any(f"pdee-ee:{doomed}" in i.tags for i in docker_client.images.list("pdee-ee")):
            docker_client.images.remove(f"pdee-ee:{doomed}")
    assert run.returncode == 5, stderr
    error = stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("Error: the run stopped after 1 execution:")
    assert "could not start" in error[0]
    written = json.loads(report.read_text())
    assert "could not start" in written["aborted"]
    assert [e["index"] for e in written["executions"]] == [0]
    assert written["executions"][0]["status"] == "ok"
    assert "1 execution: 1 ok" in stdout
    assert containers() == []


def test_debug_logs_each_docker_call_and_standby_ees_take_their_report_ids(write_step, tmp_path):
    report = tmp_path / "report.json"
    step = write_step("quick", "def handler(pd):\n    return 1\n")
    for recycle, second in (("--no-recycle", "standby-1"), ("--recycle", "ee-1")):
        run = start_pdee(
            "--debug", "run", step, "--mode", "cold", "--events", "2", "--report", report, recycle
        )
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 0, stderr
        run_id = json.loads(report.read_text())["settings"]["run_id"]
        assert f"create pdee-{run_id}-ee-1: " in stderr and " ms" in stderr
        # A standby EE, or ee-1 made new again, becomes ee-2; its name follows.
        assert f"rename pdee-{run_id}-{second} to pdee-{run_id}-ee-2" in stderr


@pytest.mark.slow
def test_an_installed_pdee_builds_its_image_from_any_directory(docker_client, tmp_path):
    """A wheel of pdee, installed (not editable) in a new venv, builds the image from
    a directory with no source tree in it, and runs a step on it."""
    root = Path(__file__).resolve().parents[2]
    wheels = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, root],
        check=True,
        capture_output=True,
    )
    wheel = next(wheels.glob("pdee-*.whl"))
    with zipfile.ZipFile(wheel) as shipped:  # the recipes under images/, and only those
        recipes = {n: shipped.read(n) for n in shipped.namelist() if "Dockerfile" in n}
    assert recipes == {
        f"pdee/images/{name}/Dockerfile": (root / "images" / name / "Dockerfile").read_bytes()
        for name in ("ee", "packages")
    }
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    install = subprocess.run(
        [venv / "bin" / "pip", "install", "-q", "--disable-pip-version-check",
         wheel],
        capture_output=True, text=True,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    assert "Deprecat" not in install.stderr + install.stdout
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "step.py").write_text("def handler(pd):\n    return 'installed'\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # wheels fetched anew
    tag = f"pdee-ee:from-wheel-{uuid.uuid4().hex[:8]}"  # this test's own: the daemon is shared
    try:
        built = subprocess.run(
            [venv / "bin" / "pdee", "image", "build", "--tag", tag],
            cwd=elsewhere, capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr
        assert built.stdout.startswith(f"image {tag} built: ")
        ran = subprocess.run(
            [venv / "bin" / "pdee", "run", "step.py", "--image", tag, "-q"],
            cwd=elsewhere, capture_output=True, text=True,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        assert "1 execution: 1 ok" in ran.stdout
        version = subprocess.run([venv / "bin" / "pdee", "--version"], capture_output=True)
        assert version.stdout.decode().strip() == f"pdee {pdee.__version__}"
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):  # a failed build made none
            docker_client.images.remove(tag)
