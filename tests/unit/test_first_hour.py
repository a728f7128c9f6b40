"""Issue 32's first hour: each rough edge a new user met, typed as they typed it, on the
fake backend or with no daemon at all (the ones that need an EE are in
``tests/integration/test_first_hour_in_ee.py``)."""

from __future__ import annotations

import io
import json
import logging
import socket
from typing import Any

import pytest
import typer
from fake_backend import FakeBackend
from http_client import call
from rich.console import Console
from typer.testing import CliRunner

import pdee
from pdee.api import run as api_run
from pdee.checking.verdicts import Outcome, contrast
from pdee.cli import app
from pdee.cli import common as cli_common
from pdee.errors import StepSyntaxError
from pdee.lifecycle.scheduler import Mode
from pdee.outputs import terminal
from pdee.plan import steps as plan_steps
from pdee.plan.run_plan import build_plan
from pdee.plan.sizes import plural
from pdee.results.reply import missing_input_hint
from pdee.services.data_stores import DataStore

OK = "def handler(pd):\n    return 1\n"


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def shown(result: Any, **options: Any) -> str:
    """What ``pdee run`` prints of ``result`` (plain text, no terminal)."""
    out = io.StringIO()
    terminal.show(Console(file=out, width=terminal.PLAIN_WIDTH, soft_wrap=True), result, **options)
    return out.getvalue()


def error(message: str, step: str = "step") -> dict[str, Any]:
    """The runtime's error record of a step's ``ValueError(message)``."""
    traceback = (
        f'Traceback (most recent call last):\n  File "{step}.py", line 2, in handler\n'
        f"ValueError: {message}\n"
    )
    return {"type": "ValueError", "message": message, "step": step, "traceback": traceback}


# -- Typer's usage errors: one line, as pdee's own, exit 2 --


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "s.py", "--nope"], "Error: no such option: --nope (did you mean --mode?); "
         "see `pdee run --help`"),
        (["run", "s.py", "--memroy", "1GB"], "(did you mean --memory?)"),
        (["run"], "Error: missing argument 'steps'; see `pdee run --help`"),
        (["run", "s.py", "--events", "x"], "Error: invalid value for '--events': 'x' is not a valid"),
        (["run", "s.py", "--mode", "tepid"], "Error: invalid value for '--mode': 'tepid' is not "
         "one of 'realistic', 'warm', 'cold'"),
        (["nope"], "Error: no such command 'nope'; see `pdee --help`"),
        (["image", "build", "--nope"], "see `pdee image build --help`"),
    ],
)  # fmt: skip
def test_typers_usage_errors_are_one_line_with_exit_code_2(args, expected):
    result = CliRunner().invoke(app, args, prog_name="pdee")
    assert result.exit_code == 2, result.output
    assert expected in one_line(result.stderr)
    assert "╭" not in result.stderr and "Usage:" not in result.stderr


def test_no_arguments_still_show_the_help():
    result = CliRunner().invoke(app, [], prog_name="pdee")
    assert "Usage: pdee" in result.output and "Error:" not in result.output


# -- choices in any case, --event N's did-you-mean --


def test_mode_and_trigger_are_taken_in_any_case(tmp_path):
    step = tmp_path / "s.py"
    step.write_text(OK)
    plan = build_plan([step], mode="Warm", trigger="HTTP")
    assert plan.policy.mode is Mode.WARM and plan.trigger == "http"


def test_event_given_a_number_asks_whether_events_was_meant(pdee, write_step):
    outcome = pdee("run", write_step("s", OK), "--event", "20")
    assert outcome.exit_code == 2
    assert one_line(outcome.stderr) == (
        "Error: --event 20: an event is a JSON object ({...}); did you mean --events 20?"
    )
    outcome = pdee("run", write_step("s", OK), "--event", "[20]")  # a list: no guess
    assert "did you mean" not in outcome.stderr and outcome.exit_code == 2


# -- a syntax error before any EE --

TYPO = "def handler(pd):\n    return 1\n\nx = (\n"


def test_a_syntax_error_is_one_line_with_its_file_and_line_before_any_ee(
    pdee, write_step, monkeypatch
):
    monkeypatch.setattr(plan_steps, "SYNTAX_CHECKED", True)  # as on a host with Python 3.12+
    backend = FakeBackend()
    with pytest.raises(
        StepSyntaxError,
        match=r"typo\.py:4 does not compile: SyntaxError: '\(' was never closed: x = \($",
    ):
        api_run([write_step("typo", TYPO)], backend=backend, events=3)
    assert backend.ees == []  # no EE started
    outcome = pdee("run", write_step("typo", TYPO))
    assert outcome.exit_code == 1 and outcome.report is None
    line = one_line(outcome.stderr)
    assert line.startswith("Error: step ") and line.endswith(
        "typo.py:4 does not compile: SyntaxError: '(' was never closed: x = ("
    )
    # What only compiling finds, not parsing.
    outside = write_step("outside", "return 1\n\ndef handler(pd):\n    return 1\n")
    with pytest.raises(
        StepSyntaxError, match=r"outside\.py:1 does not compile: SyntaxError: 'return' outside"
    ):
        plan_steps.load_step(outside)


def test_on_a_host_older_than_the_platforms_python_the_ee_reports_it(write_step, monkeypatch):
    monkeypatch.setattr(plan_steps, "SYNTAX_CHECKED", False)  # 3.12 syntax may not parse here
    assert plan_steps.load_step(write_step("typo", TYPO)).name == "typo"


# -- the daemon down, the image missing --


def test_no_daemon_is_one_line_with_the_reason_and_no_exception_internals(
    pdee, write_step, tmp_path, monkeypatch
):
    path = tmp_path / "docker.sock"
    closed = socket.socket(socket.AF_UNIX)
    closed.bind(str(path))
    closed.close()  # the file is there; nothing listens
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    outcome = pdee("run", write_step("s", OK))
    assert outcome.exit_code == 3
    assert one_line(outcome.stderr) == (
        f"Error: no Docker daemon answers at unix://{path} (connection refused); start "
        f"dockerd or set DOCKER_HOST"
    )
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    outcome = pdee("run", write_step("s", OK))
    assert "(no such file or directory)" in one_line(outcome.stderr)


def test_a_stale_image_names_the_command_that_builds_its_own_tag(write_step):
    backend = FakeBackend(recipe="0123456789abcdef")
    with pytest.raises(pdee.ImageError, match="rebuild it with `pdee image build --tag mine:1`"):
        pdee.run([write_step("s", OK)], backend=backend, image="mine:1")


# -- failures: identical ones grouped, --report named only when given --


def test_identical_failures_are_shown_once_with_their_count(write_step):
    same = {"status": "error", "error": error("bad input")}
    result = pdee.run([write_step("step", OK)], backend=FakeBackend(), events=20, event=same)
    text = shown(result, verbosity=terminal.Verbosity.QUIET)
    assert text.count("Traceback") == 1
    assert "× 20 executions failed with this error: #0-19" in text  # noqa: RUF001
    assert "more failed" not in text and "--report" not in text


def test_more_failures_than_shown_say_where_they_are_or_how_to_get_them(write_step, tmp_path):
    events = [{"status": "error", "error": error(f"bad input {n}")} for n in range(7)]
    result = pdee.run([write_step("step", OK)], backend=FakeBackend(), event=json.dumps(events))
    text = shown(result, verbosity=terminal.Verbosity.QUIET)
    assert text.count("Traceback") == 5
    assert "... and 2 more failed executions (--report FILE writes every one)" in text
    report = tmp_path / "r.json"
    text = shown(result, verbosity=terminal.Verbosity.QUIET, report=report)
    assert f"... and 2 more failed executions (see {report})" in text


# -- Ctrl-C: the executions that ended, and the seed --


def test_an_interrupted_run_shows_its_table_and_seed(write_step, monkeypatch):
    result = pdee.run([write_step("step", OK)], backend=FakeBackend(), events=3, seed=7)
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(cli_common.Consoles, "out", Console(file=out, width=200))
    monkeypatch.setattr(cli_common.Consoles, "err", Console(file=err, width=200))
    with pytest.raises(typer.Exit) as ended:
        cli_common.interrupted(KeyboardInterrupt(), result, None)
    assert ended.value.exit_code == 130
    assert "executions" in out.getvalue() and "replay: --seed 7" in out.getvalue()
    assert one_line(err.getvalue()) == "Interrupted: the run's EE containers were removed."


# -- a missing pd.inputs key --

KEY_ERROR = {
    "type": "KeyError",
    "message": "'data_store'",
    "step": "counter",
    "traceback": 'Traceback (most recent call last):\n  File "counter.py", line 2, in handler\n'
    '    store = pd.inputs["data_store"]\n            ~~~~~~~~~^^^^^^^^^^^^^^\n'
    "KeyError: 'data_store'\n",
}


def test_a_missing_input_gets_a_hint_and_keeps_its_traceback(write_step):
    hint = missing_input_hint(KEY_ERROR)
    assert hint is not None and "`--data-store data_store`" in hint and "--inputs" in hint
    other = {**KEY_ERROR, "traceback": KEY_ERROR["traceback"].replace("pd.inputs", "row")}
    assert missing_input_hint(other) is None  # a KeyError of the step's own dict
    assert missing_input_hint({**KEY_ERROR, "type": "TypeError"}) is None
    assert missing_input_hint({**KEY_ERROR, "message": "0"}) is None
    event = {"status": "error", "error": KEY_ERROR}
    result = pdee.run([write_step("counter", OK)], backend=FakeBackend(), events=2, event=event)
    assert result.executions.notes == {hint}
    text = shown(result)
    assert text.count(hint) == 1 and "KeyError: 'data_store'" in text


# -- pdee check stops once the cold execution failed --


def test_check_stops_at_a_failed_cold_execution_and_says_so(write_step):
    slow_failure = {"status": "error", "sleep": 0.3, "returns": "same", "exports": {}}
    result = pdee.check([write_step("big", OK)], event=slow_failure, backend=FakeBackend())
    assert result.verdict("cold").outcome is Outcome.FAIL
    assert all("pdee check stopped there" in v.summary for v in result.verdicts[1:])
    warm = result.runs["warm"]
    assert len(warm.executions) < 6 and not warm.interrupted  # 1 cold + 5 warm, had it gone on
    assert "chaos" not in result.runs


def test_check_with_a_store_file_stops_at_a_failed_cold_execution_too(write_step, tmp_path):
    slow_failure = {"status": "error", "sleep": 0.3, "returns": "same", "exports": {}}
    result = pdee.check(
        [write_step("big", OK)],
        event=slow_failure,
        backend=FakeBackend(),
        data_stores=[f"data_store={tmp_path / 'store.db'}"],
    )
    assert result.verdict("cold").outcome is Outcome.FAIL
    assert len(result.runs["warm"].executions) < 6 and "chaos" not in result.runs


# -- the state verdict shows where the values differ --


def test_two_long_values_are_shown_where_they_differ():
    cold = {"rows": list(range(100)), "last": "cold"}
    warm = {"rows": list(range(100)), "last": "warm"}
    shown_cold, shown_warm = contrast(cold, warm)
    assert shown_cold.startswith("…") and shown_cold.endswith('"last":"cold"}')
    assert shown_warm.endswith('"last":"warm"}') and len(shown_warm) <= 82
    assert contrast([1], [2]) == ("[1]", "[2]")  # short ones whole
    longer = contrast("a" * 100, "a" * 100 + "b")  # one is the other's start
    assert longer[0] != longer[1] and longer[1].endswith('ab"')


# -- plurals, times, what was left in /tmp, serve's lines --


def test_plural():
    assert [plural(n, "execution") for n in (0, 1, 2)] == [
        "0 executions",
        "1 execution",
        "2 executions",
    ]
    assert plural(3, "more failed execution") == "3 more failed executions"


def test_one_execution_is_one_execution(write_step):
    result = pdee.run([write_step("s", OK)], backend=FakeBackend())
    assert terminal.summary_line(result).startswith("1 execution: 1 ok, 0 failed")
    assert "<RunResult" in repr(result) and "1 execution," in repr(result)


def test_data_store_show_prints_expiry_as_iso_8601(tmp_path):
    path = tmp_path / "s.db"
    with DataStore("s", path) as store:
        store.set("a", 1, 1_800_000_000.0, ttl_s=30)
        store.set("b", 2, 1_800_000_000.0)
    result = CliRunner().invoke(app, ["data-store", "show", str(path)])
    assert result.exit_code == 0, result.output
    assert '"expires_at": "2027-01-15T08:00:30.000Z"' in result.stdout
    assert '"expires_at": null' in result.stdout


def test_the_executions_table_names_what_was_left_in_tmp(write_step):
    left = ["/tmp/a.csv", "/tmp/b.csv", "/tmp/c.csv"]
    events = json.dumps([{"leaves": left}, {}])
    result = pdee.run([write_step("s", OK)], backend=FakeBackend(), event=events)
    text = shown(result)
    assert "left in /tmp" in text
    assert "/tmp/a.csv, /tmp/b.csv +1" in text
    clean = pdee.run([write_step("s", OK)], backend=FakeBackend())
    assert "left in /tmp" not in shown(clean)  # the column only when something was left


def test_serve_says_once_that_pd_respond_had_no_effect(write_step, caplog):
    caplog.set_level(logging.WARNING, logger="pdee")
    backend = FakeBackend()
    with pdee.serve([write_step("hook", OK)], backend=backend, http_event="body") as server:
        for _ in range(3):
            status, _, _ = call(server.url + "/", {"respond": {"status": 201, "body": "x"}})
            assert status == 200  # the default page, at once
    said = [r.getMessage() for r in caplog.records if "pd.respond had no effect" in r.getMessage()]
    assert len(said) == 1 and "--custom-response" in said[0]
    caplog.clear()
    with pdee.serve(
        [write_step("hook", OK)], backend=FakeBackend(), custom_response=True, http_event="body"
    ) as server:
        assert call(server.url + "/", {"respond": {"status": 201, "body": "x"}})[0] == 201
    assert not any("no effect" in r.getMessage() for r in caplog.records)


def test_serve_logs_a_line_for_each_request_it_refuses(write_step, caplog):
    caplog.set_level(logging.WARNING, logger="pdee")
    with pdee.serve([write_step("hook", OK)], backend=FakeBackend()) as server:
        big = call(server.url + "/big", data=b"x" * (512 * 1024 + 1))
        bad = call(server.url + "/bad", data=b"{nope", headers={"content-type": "application/json"})
    assert (big[0], bad[0]) == (413, 400)
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 2
    assert lines[0].startswith("POST /big 413 · refused, no execution: Payload Too Large")
    assert lines[1].startswith("POST /bad 400 · refused, no execution: Bad Request")
