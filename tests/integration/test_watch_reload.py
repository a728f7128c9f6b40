"""``pdee run --watch`` and ``pdee serve --reload`` as a developer runs them: a subprocess
whose step the test edits, against the real daemon.

Each test labels its pdee's containers with a label of its own (``PDEE_LABELS``), so that
what it counts is that pdee's alone. Every wait is bounded (``wait_for``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

T = TypeVar("T")
WAIT_S = 90.0  # the longest any one thing is waited for (a run, a reload, a stop)

COUNTER = """\
COUNT = 0


def handler(pd: "pipedream"):
    global COUNT
    COUNT += 1
    return {"v": 1, "count": COUNT}
"""


def wait_for(what: str, probe: Callable[[], T | None], within_s: float = WAIT_S) -> T:
    """``probe()``'s first value that is not None, looked at every 50 ms."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"waited {within_s:g} s for {what}")


@dataclass
class Pdee:
    """A ``pdee`` subprocess, the label of its containers, and its output files."""

    process: subprocess.Popen[str]
    label: str
    stdout: Path
    stderr: Path

    def out(self) -> tuple[str, str]:
        """What it has printed so far: stdout, stderr."""
        return self.stdout.read_text(), self.stderr.read_text()

    def interrupt(self) -> int:
        """Ctrl-C; its exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(WAIT_S)


@contextmanager
def pdee_process(tmp_path: Path, *args: str) -> Iterator[Pdee]:
    """``pdee ARGS`` running in ``tmp_path``, with a label of its own on its containers;
    its stdout and stderr in files. Killed on the way out if still running."""
    label = f"pdee.test.watch={uuid.uuid4().hex}"
    env = {**os.environ, "PDEE_LABELS": f"{os.environ['PDEE_LABELS']},{label}"}
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "pdee", *args],
            stdout=stdout,
            stderr=stderr,
            env=env,
            text=True,
            cwd=tmp_path,  # the dividers name the files relative to it
        )
    try:
        yield Pdee(process, label, out, err)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT_S)


def report_of(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # not written yet (or being replaced)
        return None


def returned(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["steps"]["counter"]["return_value"] for e in report["executions"]]


def test_run_watch_runs_new_code_in_new_ees_and_goes_on_past_a_syntax_error(tmp_path, containers):
    step = tmp_path / "counter.py"
    step.write_text(COUNTER)
    report = tmp_path / "report.json"
    args = ["run", str(step), "--watch", "--events", "2", "--mode", "warm", "--seed", "7"]
    with pdee_process(tmp_path, *args, "--report", str(report)) as pdee:
        out = pdee.out
        first = wait_for("the first run", lambda: report_of(report))
        assert returned(first) == [{"v": 1, "count": 1}, {"v": 1, "count": 2}]
        wait_for("the watch", lambda: "watching 1 file for" in out()[1] or None)
        assert containers(pdee.label) == []  # each run removed its own EEs

        step.write_text(COUNTER.replace('"v": 1', '"v": 2'))
        second = wait_for("the run of v2", lambda: _with_v(report, 2))
        # New code, new EEs: the step's module globals start again, as after a redeploy.
        assert returned(second) == [{"v": 2, "count": 1}, {"v": 2, "count": 2}]
        assert second["settings"]["run_id"] != first["settings"]["run_id"]
        assert second["settings"]["seed"] == first["settings"]["seed"] == 7
        assert "── run 2: counter.py changed ──" in out()[0]

        step.write_text('def handler(pd):\n    return {"v": (3\n')
        message = wait_for("the syntax error", lambda: _line(out()[1], "SyntaxError"))
        assert "step counter.py:2 does not compile: SyntaxError: '(' was never closed" in message
        assert out()[1].count("Traceback") == 0
        assert _with_v(report, 2) is not None  # no run: the last report stands

        step.write_text(COUNTER.replace('"v": 1', '"v": 3'))
        third = wait_for("the run of v3: the watch went on", lambda: _with_v(report, 3))
        assert returned(third) == [{"v": 3, "count": 1}, {"v": 3, "count": 2}]
        wait_for("the watch again", lambda: out()[1].count("watching 1 file for") >= 4 or None)

        assert pdee.interrupt() == 0, out()
    stdout, stderr = out()
    assert "the watch ended" in stderr and "Traceback" not in stderr
    assert stdout.index("── first run") < stdout.index("── run 2") < stdout.index("── run 3")
    assert containers(pdee.label) == []


def _with_v(report: Path, v: int) -> dict[str, Any] | None:
    found = report_of(report)
    if found is None or not found["executions"]:
        return None
    return found if returned(found)[0]["v"] == v else None


def _line(text: str, needle: str) -> str | None:
    return next((line for line in text.splitlines() if needle in line), None)


HOOK = """\
COUNT = 0


def handler(pd: "pipedream"):
    global COUNT
    COUNT += 1
    store = pd.inputs["kv"]
    hits = store.get("hits", 0) + 1
    store["hits"] = hits
    pd.respond({"status": 200, "body": {"v": 1, "count": COUNT, "hits": hits}})
"""


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=WAIT_S) as response:  # refused: it raises
        assert response.status == 200
        return json.loads(response.read())


def test_serve_reload_answers_through_a_reload_on_the_same_port(tmp_path, containers):
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    report = tmp_path / "report.json"
    args = ["serve", str(hook), "--port", "0", "--custom-response", "--reload"]
    args += ["--data-store", "kv", "--report", str(report)]
    with pdee_process(tmp_path, *args) as pdee:
        out = pdee.out
        url = wait_for("the server", lambda: _line(out()[0], "serving "))
        url = url.split(" on ")[1].split(" ")[0]
        assert [_get(url) for _ in range(2)] == [
            {"v": 1, "count": 1, "hits": 1},
            {"v": 1, "count": 2, "hits": 2},
        ]

        hook.write_text(HOOK.replace('"v": 1', '"v": 2'))
        answers: list[dict[str, Any]] = []  # every request during the reload is answered

        def reloaded() -> dict[str, Any] | None:
            answers.append(_get(url))
            return answers[-1] if answers[-1]["v"] == 2 else None

        new = wait_for("the new code", reloaded)
        old = answers[:-1]
        assert all(a["v"] == 1 for a in old)
        # the new code in a new step process; the data store and its hits go on
        assert new["count"] == 1
        assert [a["hits"] for a in answers] == list(range(3, 3 + len(answers)))
        assert _get(url) == {"v": 2, "count": 2, "hits": new["hits"] + 1}
        assert "── reload 1: hook.py changed ──" in out()[0]

        assert pdee.interrupt() == 0, out()
    served = json.loads(report.read_text())
    assert served["summary"]["executions"] == 3 + len(answers)
    retired = {ee["id"]: ee["retired"] for ee in served["ees"]}
    assert "redeploy" in retired.values()  # the old code's EE went
    assert containers(pdee.label) == []
