"""pdee for CI: `pdee check` verdicts, JUnit reports, the pytest fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

pytestmark = pytest.mark.usefixtures("no_new_containers")

CLEAN = """
import os

def handler(pd):
    with open("/tmp/scratch.txt", "w") as f:
        f.write(str(pd.steps["trigger"]["event"]))
    os.remove("/tmp/scratch.txt")  # clean: it leaves nothing behind
    return "ok"
"""

WARM_ONLY = """
import os

def handler(pd):
    os.mkdir("/tmp/work")  # no exist_ok: the second execution on an EE fails
    return "made"
"""

LEAKS_300MIB = """
import os, uuid

def handler(pd):
    with open(f"/tmp/{uuid.uuid4().hex}", "wb") as f:
        for _ in range(300):
            f.write(b"l" * 2**20)
    return len(os.listdir("/tmp"))
"""


def test_check_passes_a_clean_step(pdee, write_step, tmp_path):
    json_path, junit_path = tmp_path / "check.json", tmp_path / "check.xml"
    outcome = pdee("check", write_step("clean", CLEAN), "--json", json_path, "--junit", junit_path)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert "safe to deploy" in outcome.stdout
    verdicts = json.loads(json_path.read_text())
    assert verdicts["safe"] is True
    assert [v["scenario"] for v in verdicts["verdicts"]] == [
        "cold",
        "warm",
        "growth",
        "headroom",
        "state",
        "cleanup",
        "chaos",
    ]
    assert {v["outcome"] for v in verdicts["verdicts"]} == {"pass"}
    assert verdicts["reports"]["warm"]["summary"]["executions"] == 6
    suite = next(iter(JUnitXml.fromfile(str(junit_path))))
    assert (suite.tests, suite.failures, suite.errors) == (7, 0, 0)


def test_check_fails_a_step_that_fails_only_warm(pdee, write_step):
    outcome = pdee("check", write_step("warm_only", WARM_ONLY))
    assert outcome.exit_code == 1
    lines = outcome.stdout.splitlines()
    warm = next(line for line in lines if line.startswith("│ warm "))
    assert "│ fail " in warm and "fails only warm, at execution 1" in warm
    assert "FileExistsError" in warm
    assert "│ pass " in next(line for line in lines if line.startswith("│ cold "))
    assert "NOT safe to deploy" in outcome.stdout


def test_check_on_a_step_that_fails_cold_says_so_first(pdee, write_step):
    outcome = pdee("check", write_step("broken", "def handler(pd):\n    return 1 / 0\n"))
    assert outcome.exit_code == 1
    table = [line for line in outcome.stdout.splitlines() if line.startswith("│ ")]
    assert table[0].startswith("│ cold ") and "ZeroDivisionError" in table[0]
    assert all("skipped" in line for line in table[1:]), table


@pytest.mark.slow
def test_check_reports_growth_and_the_executions_until_full(pdee, write_step, tmp_path):
    json_path = tmp_path / "check.json"
    outcome = pdee("check", write_step("leaks", LEAKS_300MIB), "--json", json_path)
    assert outcome.exit_code == 1
    growth = next(
        v for v in json.loads(json_path.read_text())["verdicts"] if v["scenario"] == "growth"
    )
    assert growth["outcome"] == "fail"
    assert 300 * 2**20 <= growth["tmp_growth_bytes_per_execution"] < 301 * 2**20
    assert growth["tmp_executions_until_full"] == 0  # 6 x 300MiB: the 7th cannot fit in 2GB
    assert "/tmp grows 300MB an execution of one warm EE" in outcome.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--horizon", "0"], "--horizon 0: give at least 1 execution"),
        (["--junit", "/nonexistent-dir/check.xml"], "directory /nonexistent-dir does not exist"),
    ],
)
def test_check_bad_input_is_one_line(pdee, write_step, args, message):
    outcome = pdee("check", write_step("clean", CLEAN), *args)
    assert outcome.exit_code == 2
    assert outcome.stderr.strip() == f"Error: {outcome.stderr.strip().removeprefix('Error: ')}"
    assert message in outcome.stderr and len(outcome.stderr.strip().splitlines()) == 1


def test_run_junit_has_one_testcase_per_execution(pdee, write_step, tmp_path):
    step = write_step(
        "sometimes",
        """
        def handler(pd):
            index = pd.steps["trigger"]["event"]["body"]["index"]
            print("execution", index)
            if index > 0:
                raise ValueError(f"bad index {index}")
        """,
    )
    junit_path = tmp_path / "run.xml"
    outcome = pdee("run", step, "--events", "3", "--mode", "warm", "--junit", junit_path)
    assert outcome.exit_code == 1
    xml = JUnitXml.fromfile(str(junit_path))
    [suite] = list(xml)
    assert (suite.tests, suite.failures) == (3, 2)
    cases = list(suite)
    assert [case.name for case in cases] == [
        "execution 0 (cold, ee-1)",
        "execution 1 (warm, ee-1)",
        "execution 2 (warm, ee-1)",
    ]
    assert cases[0].is_passed and "execution 0" in cases[0].system_out
    failure = cases[1].result[0]
    assert isinstance(failure, Failure) and failure.type == "ValueError"
    assert failure.message.startswith("bad index 1")
    assert f'File "{step}", line 6, in handler' in failure.text


SAMPLE_TESTS = """
import os
from pathlib import Path

import docker
import pytest

from pdee.backends.ownership import labels_from_env

STEP = "def handler(pd):\\n    return {'ok': True}\\n"

@pytest.fixture
def step(tmp_path):
    path = tmp_path / "upload.py"
    path.write_text(STEP)
    return path

def test_upload_step(pdee, step):
    result = pdee.run([step], events=3, mode="warm", network="none")
    assert all(e.status == "ok" for e in result.executions)
    assert result.executions[2].steps["upload"].return_value == {"ok": True}
    assert pdee.check([step], network="none").safe

def test_a_synced_project(pdee):
    project = Path(os.environ["EXAMPLE_PROJECT"])
    result = pdee.run([project / "events-cache-p_JZCLpgk"], network="none")
    assert result.executions[0].steps["reply"].return_value == 3
    checked = pdee.check_project(project, network="none", warm=2)
    assert checked.safe and [w.workflow.name for w in checked.workflows] == [
        "Events cache", "Daily report"
    ]

def test_a_leak_is_caught(pdee, step):
    result = pdee.run([step], network="none")
    client = docker.from_env()
    labels = {"pdee.run": result.run_id, **labels_from_env()}  # the session's too
    client.containers.create(result.settings.image, labels=labels, entrypoint=["true"])
    client.close()
"""


def test_the_pytest_fixture_runs_checks_and_catches_leaks(tmp_path, docker_client):
    (tmp_path / "test_sample.py").write_text(SAMPLE_TESTS)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_sample.py"]
    example = Path(__file__).resolve().parents[2] / "examples" / "project"
    env = {**os.environ, "EXAMPLE_PROJECT": str(example)}
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=240, env=env
    )
    # the leaking test passes its body and errors at teardown
    assert "3 passed, 1 error" in done.stdout, done.stdout + done.stderr
    assert "ERROR at teardown of test_a_leak_is_caught" in done.stdout
    assert "pdee left 1 container of run" in done.stdout

    missing = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PDEE_IMAGE": "pdee-missing:nope"},
    )
    assert missing.returncode != 0
    assert "3 errors" in missing.stdout, missing.stdout
    assert (
        "the pdee fixture needs its EE image: image pdee-missing:nope not found; build it with "
        "`pdee image build --tag pdee-missing:nope`" in missing.stdout
    )
