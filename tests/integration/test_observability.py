"""What the step did, shown and measured: logs, results, tracebacks, exact peaks, env."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

CHATTY = """
import sys

def handler(pd):
    print("downloading", pd.steps["trigger"]["event"].get("n"))
    print("careful: slow", file=sys.stderr)
    pd.export("rows", [1, 2, 3])
    return {"saved": "/tmp/out.csv", "long": "z" * 150}
"""


def test_one_execution_shows_its_logs_results_and_exports(pdee, write_step):
    outcome = pdee("run", write_step("chatty", CHATTY), "--event", '{"n": 7}')
    assert outcome.exit_code == 0, outcome.stderr
    out = outcome.stdout
    assert "out│ downloading 7" in out
    assert "err│ careful: slow" in out
    assert 'return value: {"saved":"/tmp/out.csv","long":"' + "z" * 150 in out
    assert "export rows: [1,2,3]" in out
    step = outcome.executions[0]["steps"]["chatty"]
    assert step["logs"] == "downloading 7\ncareful: slow\n"
    assert step["stderr_lines"] == [1]


def test_verbose_shows_every_execution_and_quiet_only_failures(pdee, write_step, tmp_path):
    step = write_step("chatty", CHATTY)
    outcome = pdee("run", step, "--events", "3", "--mode", "warm", "-v")
    assert outcome.exit_code == 0
    assert all(f"── execution {i} " in outcome.stdout for i in range(3))
    assert outcome.stdout.count("out│ downloading") == 3
    outcome = pdee("run", step, "--events", "3", "--mode", "warm")
    assert "out│" not in outcome.stdout and "executions" in outcome.stdout

    flaky = write_step(
        "flaky",
        """
        def handler(pd):
            print("about to fail")
            if pd.steps["trigger"]["event"]["body"]["index"] == 1:
                raise RuntimeError("second one breaks")
        """,
    )
    outcome = pdee("run", flaky, "--events", "3", "--mode", "warm", "-q")
    assert outcome.exit_code == 1
    assert "error in step 'flaky': RuntimeError: second one breaks" in outcome.stdout
    assert 'File "' + str(flaky) + '", line 5, in handler' in outcome.stdout
    assert "out│ about to fail" in outcome.stdout
    assert "executions" not in outcome.stdout.splitlines()[0]  # no table under -q
    assert "3 executions: 2 ok, 1 failed" in outcome.stdout


def test_tracebacks_name_the_users_file_and_are_not_wrapped(pdee, tmp_path):
    deep = tmp_path / "a_rather_long_directory_name_for_steps" / "bugs"
    deep.mkdir(parents=True)
    step = deep / "raises_a_key_error_from_deep_inside.py"
    step.write_text(
        "def lookup(d):\n"
        "    return d['missing_key_with_a_long_name_' + 'x' * 60]\n"
        "\n"
        "def handler(pd):\n"
        "    return lookup({})\n"
    )
    outcome = pdee("run", step)
    assert outcome.exit_code == 1
    [execution] = outcome.executions
    error = execution["error"]
    assert error["file"] == str(step) and error["line"] == 2
    assert f'File "{step}", line 5, in handler' in error["traceback"]
    assert "__pdg__" not in error["traceback"]
    # piped output (CI logs) keeps each traceback line whole
    assert f'  File "{step}", line 2, in lookup' in outcome.stdout
    assert "return d['missing_key_with_a_long_name_' + 'x' * 60]" in outcome.stdout


WRITE_AND_DELETE = """
import os

def handler(pd):
    with open("/tmp/scratch", "wb") as f:
        for _ in range(300):
            f.write(b"s" * 2**20)
    os.remove("/tmp/scratch")
    return os.path.exists("/tmp/scratch")
"""


def test_tmp_peak_counts_what_was_written_and_deleted(pdee, write_step):
    outcome = pdee("run", write_step("scratch", WRITE_AND_DELETE))
    assert outcome.exit_code == 0, outcome.stderr
    [execution] = outcome.executions
    assert execution["tmp"]["used_bytes"] < 2**20
    assert execution["tmp"]["peak_used_bytes"] >= 300 * 2**20
    assert outcome.report["summary"]["max_tmp_peak_used_bytes"] >= 300 * 2**20
    assert re.search(r"│ +300\.0MB │", outcome.stdout)  # the table's /tmp column: the peak


HOLD = """
def handler(pd):
    if pd.steps["trigger"]["event"]["hold"]:
        data = b"m" * (600 * 2**20)
        return len(data)
    return 0
"""


@pytest.mark.slow
def test_memory_peak_is_exact_and_per_execution(pdee, write_step, tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"hold": true}\n{"hold": false}\n')
    outcome = pdee(
        "run",
        write_step("hold", HOLD),
        "--event-file",
        events,
        "--events",
        "40",
        "--mode",
        "warm",
        "--memory",
        "1GB",
        "--interval",
        "0",
    )
    assert outcome.exit_code == 0, outcome.stderr
    peaks = [e["memory"]["peak_bytes"] for e in outcome.executions]
    held, idle = peaks[0::2], peaks[1::2]
    assert len(held) == 20 and all(p >= 600 * 2**20 for p in held), held
    assert all(p < 300 * 2**20 for p in idle), idle


OVER_THE_LIMIT = """
import mmap, os, subprocess, sys

def handler(pd):
    kind = pd.steps["trigger"]["event"]["kind"]
    if kind == "shared":
        block = mmap.mmap(-1, 2**30)
        for offset in range(0, 2**30, 4096):
            block[offset] = 1
    elif kind == "detached":
        subprocess.run(
            [sys.executable, "-c", "x = b'c' * (700 * 2**20); import time; time.sleep(5)"],
            start_new_session=True, timeout=20,
        )
    elif kind == "forks":
        data = bytearray(150 * 2**20)
        for offset in range(0, len(data), 4096):
            data[offset] = 1
        children = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                import time
                time.sleep(0.5)
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
    return kind
"""


@pytest.mark.parametrize(
    ("kind", "status"), [("shared", "oom"), ("detached", "oom"), ("forks", "ok")]
)
def test_memory_counts_every_process_and_shared_pages_once(pdee, write_step, kind, status):
    outcome = pdee("run", write_step("over", OVER_THE_LIMIT), "--event", json.dumps({"kind": kind}))
    [execution] = outcome.executions
    assert execution["status"] == status, execution["error"]
    assert outcome.report["settings"]["memory_bytes"] == 256 * 2**20
    if status == "oom":
        assert execution["error"]["type"] == "OutOfMemory"
        assert execution["memory"]["peak_bytes"] > 256 * 2**20
    else:  # 150MB of copy-on-write pages, counted once, not four times
        assert 150 * 2**20 < execution["memory"]["peak_bytes"] < 256 * 2**20


ENV = """
import os

def handler(pd):
    return {name: os.environ.get(name) for name in ("API_KEY", "REGION", "TOKEN")}
"""


def test_env_reaches_the_step_and_values_stay_secret(pdee, write_step, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text('REGION="eu-west-1"\nAPI_KEY=from-the-file\n')
    step = write_step("env", ENV)
    outcome = pdee(
        "run",
        step,
        "--env",
        "API_KEY=s3cret-value",
        "--env",
        "TOKEN=t0ken-value",
        "--env-file",
        env_file,
        "-q",
    )
    assert outcome.exit_code == 0, outcome.stderr
    [execution] = outcome.executions
    values = execution["steps"]["env"]["return_value"]
    assert values == {"API_KEY": "s3cret-value", "REGION": "eu-west-1", "TOKEN": "t0ken-value"}
    assert outcome.report["settings"]["env"] == ["API_KEY", "REGION", "TOKEN"]
    del execution["steps"]  # the step chose to return them; nothing else may hold them
    text = json.dumps(outcome.report) + outcome.stdout + outcome.stderr
    assert "s3cret-value" not in text and "t0ken-value" not in text
    assert "env API_KEY, REGION, TOKEN" in outcome.stdout

    refused = pdee("run", step, "--env", "PIPEDREAM_API=x")
    assert refused.exit_code == 2 and refused.report is None
    assert "PIPEDREAM_API starts with PIPEDREAM_" in refused.stderr


def test_a_return_value_over_the_payload_limit_names_its_step(pdee, write_step):
    first = write_step("first", "def handler(pd):\n    return 'small'\n")
    big = write_step("big", "def handler(pd):\n    return 'p' * (7 * 2**20)\n")
    outcome = pdee("run", first, big)
    assert outcome.exit_code == 1
    [execution] = outcome.executions
    assert execution["error"]["type"] == "FunctionPayloadLimitExceeded"
    assert execution["error"]["step"] == "big"
    assert "after step 'big'" in execution["error"]["message"]
