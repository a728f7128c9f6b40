"""Issue 17's probe, against the real CLI: odd input, odd outputs, signals at start-up,
a cache shared by concurrent runs. One line, a documented exit code, nothing left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_cli_errors import one_line_error

from pdee.backends import LABEL_RUN

pytestmark = pytest.mark.usefixtures("no_new_containers")

OK_STEP = "def handler(pd):\n    return 1\n"
PDEE = [sys.executable, "-m", "pdee"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--interval", "nan"], "--interval nan: give a finite number"),
        (["--rate", "inf"], "--rate inf: give a finite number"),
        (["--idle-timeout", "nan"], "--idle-timeout nan: give a finite number"),
        (["--interval", "1e12"], "a year"),
        (["--rate", "1e-300"], "one a year"),
        (["--event", "[" * 100_000 + "]" * 100_000], "nests deeper than the 500 levels pdee reads"),
        (["--event", '{"n": ' + "9" * 5000 + "}"], "too long for Python"),
        (["--tmp-size", "1000000000000000000000000000000GB"], "over pdee's bound"),
        (["--report", "/dev/full"], "report /dev/full is not a regular file"),
        (["--junit", "/proc/pdee.xml"], "cannot write JUnit file /proc/pdee.xml"),
    ],
)
def test_the_probes_bad_input_exits_2_in_one_line(pdee, write_step, args, expected):
    outcome = pdee("run", write_step("ok", OK_STEP), *args)
    assert outcome.exit_code == 2, outcome.stdout + outcome.stderr
    assert expected in one_line_error(outcome)


@pytest.mark.parametrize("option", ["--env-file", "--inputs", "--event-file", "--schedule"])
def test_dev_zero_is_refused_without_being_read(write_step, option):
    """Under prlimit: a regression that reads /dev/zero fails there, not on the host."""
    done = subprocess.run(
        ["prlimit", "--as=2000000000", *PDEE, "run", write_step("ok", OK_STEP), option,
         "/dev/zero"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "/dev/zero is a device; give a regular file" in done.stderr


def test_a_fifo_as_event_file_is_refused_at_once(write_step, tmp_path):
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    done = subprocess.run(
        [*PDEE, "run", write_step("ok", OK_STEP), "--event-file", fifo],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "is a FIFO (named pipe); give a regular file" in done.stderr


def test_an_output_refused_after_the_input_leaves_no_file_behind(pdee, write_step, tmp_path):
    report = tmp_path / "out.json"
    outcome = pdee("run", write_step("ok", OK_STEP), "--report", report, "--junit", "/dev/full")
    assert outcome.exit_code == 2
    assert not report.exists()  # claimed, then abandoned when --junit was refused


def test_a_run_that_is_refused_removes_the_report_it_claimed(pdee, write_step, tmp_path):
    report = tmp_path / "out.json"
    outcome = pdee("run", write_step("ok", OK_STEP), "--report", report, "--image", "pdee-no:0")
    assert outcome.exit_code == 4
    assert not report.exists()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("after_s", [0.1, 0.2, 0.3])  # Python itself starts in ~20 ms
def test_a_signal_during_start_up_exits_cleanly(write_step, signum, code, after_s):
    process = subprocess.Popen(
        [*PDEE, "run", write_step("ok", OK_STEP), "--events", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(after_s)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the run ended before the signal")  # a fast machine: nothing to see
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


def test_a_signal_after_the_run_changes_nothing(write_step, tmp_path):
    """A SIGTERM while the report is written: the run's exit code and report stand."""
    report = tmp_path / "r.json"
    process = subprocess.Popen(
        [*PDEE, "run", write_step("ok", OK_STEP), "--events", "2000", "--mode", "warm",
         "--interval", "0", "--network", "none", "-q", "--report", report],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while not (report.exists() and report.stat().st_size > 0):  # the run ended: writing
        assert process.poll() is None, process.communicate()
        time.sleep(0.002)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert len(json.loads(report.read_text())["executions"]) == 2000


CACHED_STEP = "import six\n\ndef handler(pd):\n    return six.__name__\n"


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_runs_on_a_cold_cache_each_succeed_and_build_once(write_step, tmp_path, round_):
    step = write_step("uses_six", CACHED_STEP)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / f"cache-{round_}")}

    def one_run(_index: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*PDEE, "run", step, "--network", "none", "-q"],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip

    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(one_run, range(4)))
    for done in runs:
        assert done.returncode == 0, done.stderr
    said = "".join(done.stderr for done in runs)
    assert said.count("fetching six") == 1, said
    assert said.count("building pdee-packages:") <= 1, said  # none if an earlier round built it


def test_a_damaged_cached_wheel_is_fetched_again(write_step, tmp_path):
    step = write_step("uses_six", CACHED_STEP)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = subprocess.run([*PDEE, "packages", step], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    (wheel,) = Path(tmp_path / "cache" / "pdee" / "packages").glob("*/six-*.whl")
    wheel.write_bytes(wheel.read_bytes()[:100])  # cut short
    offline = subprocess.run(
        [*PDEE, "packages", step, "--offline"], capture_output=True, text=True, env=env
    )
    assert offline.returncode == 6 and f"the cached wheel {wheel.name} is damaged" in offline.stderr
    again = subprocess.run([*PDEE, "packages", step], capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr
    assert "damaged: fetching the set again" in again.stderr


@pytest.fixture
def read_only_dir(tmp_path):
    """An empty directory on a read-only filesystem (a tmpfs mounted ro; needs root)."""
    where = tmp_path / "ro"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", where])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (not root?)")
    yield where
    subprocess.run(["umount", where], check=True)


@pytest.mark.parametrize("command", ["packages", "run"])
def test_a_read_only_cache_is_one_line(write_step, read_only_dir, command):
    env = {**os.environ, "XDG_CACHE_HOME": str(read_only_dir)}
    done = subprocess.run(
        [*PDEE, command, write_step("uses_six", CACHED_STEP)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    *progress, last = done.stderr.strip().splitlines()
    assert last.startswith(f"Error: pdee's cache {read_only_dir}/pdee is not writable")
    assert "XDG_CACHE_HOME" in last
    assert all(not line.startswith("Error") for line in progress)


SLEEPER = "import time\n\ndef handler(pd):\n    time.sleep(float(pd.steps['trigger']['event'].get('s', 0)))\n    return 'awake'\n"


def test_a_paused_ee_is_its_executions_timeout_and_the_run_goes_on(
    write_step, tmp_path, docker_client, session_label
):
    events = tmp_path / "events.jsonl"
    events.write_text('{"s": 30}\n{"s": 0}\n')
    report = tmp_path / "r.json"
    process = subprocess.Popen(
        [*PDEE, "run", write_step("sleeper", SLEEPER), "--event-file", events, "--events", "2",
         "--mode", "warm", "--timeout", "3", "--network", "none", "-q", "--report", report],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    ours = {"label": [LABEL_RUN, session_label]}  # this run's EE: the session has no other
    while not (running := docker_client.containers.list(filters=ours)):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(1.0)  # the step is sleeping
    running[0].pause()
    started = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert time.monotonic() - started < 3 + 2 + 10  # the timeout, the grace, a new EE's run
    first, second = json.loads(report.read_text())["executions"]
    assert first["status"] == "timeout" and first["error"]["step"] == "sleeper"
    assert "did not answer for 2 s more" in first["error"]["message"]
    assert second["status"] == "ok" and second["start"] == "cold" and second["ee"] != first["ee"]


FORK_BOMB = """
import os

def handler(pd):
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""


def test_a_fork_bomb_cannot_hold_the_end_back(pdee, write_step):
    outcome = pdee("run", write_step("bomb", FORK_BOMB), "--timeout", "3", "--memory", "2GB",
                   "--network", "none")  # fmt: skip
    assert outcome.exit_code == 1
    (execution,) = outcome.executions
    # The timeout, unless its thousand processes ran out of memory first: either way, on time.
    assert execution["status"] in ("timeout", "oom")
    assert execution["duration_ms"] < (3 + 2 + 1) * 1000  # the runtime's, or pdee's own end
