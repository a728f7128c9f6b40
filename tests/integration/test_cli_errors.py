"""Bad input: a one-line error, a documented exit code, no container left."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("no_new_containers")

OK_STEP = "def handler(pd):\n    return 1\n"


def one_line_error(outcome) -> str:
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("Error: ") or "Usage" in outcome.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--tmp-size", "lots"], "--tmp-size: 'lots' is not a size"),
        (["--memory", "0MB"], "--memory: '0MB' is zero"),
        (["--memory", "20GB"], "over the platform's maximum"),
        (["--timeout", "1000"], "--timeout 1000 is out of range"),
        (["--event", "{nope"], "--event is not JSON: line 1, column 2"),
        (["--event", "[1, 2]"], "event 1 is not a JSON object"),
        (["--event-file", "missing.jsonl"], "event file missing.jsonl does not exist"),
        (["--inputs", "missing.json"], "inputs file missing.json does not exist"),
        (["--network", "no-such-net-pdee"], "network 'no-such-net-pdee' does not exist"),
        (["--event", "{}", "--event-file", "x.json"], "--event and --event-file both"),
    ],
)
def test_bad_options_exit_2(pdee, write_step, args, expected):
    outcome = pdee("run", write_step("ok", OK_STEP), *args)
    assert outcome.exit_code == 2, outcome.stdout + outcome.stderr
    assert expected in one_line_error(outcome)
    assert outcome.report is None


def test_bad_step_files_exit_2(pdee, write_step, tmp_path):
    not_python = tmp_path / "events.json"
    not_python.write_text("{}")
    no_handler = write_step("nohandler", "def main(pd):\n    pass\n")
    cases = [
        (tmp_path / "missing.py", "does not exist"),
        (not_python, "is not a Python file"),
        (no_handler, "has no handler"),
        (tmp_path, "holds no workflow.yaml; give step files, or a workflow folder"),
    ]
    for path, expected in cases:
        outcome = pdee("run", path)
        assert outcome.exit_code == 2, (path, outcome.stderr)
        assert expected in one_line_error(outcome)


def test_inputs_must_be_an_object(pdee, write_step, tmp_path):
    inputs = tmp_path / "inputs.json"
    inputs.write_text("[1]")
    outcome = pdee("run", write_step("ok", OK_STEP), "--inputs", inputs)
    assert outcome.exit_code == 2
    assert "must hold a JSON object" in one_line_error(outcome)


def test_duplicate_step_names_exit_2(pdee, write_step, tmp_path):
    first = write_step("same", OK_STEP)
    (tmp_path / "other").mkdir()
    second = tmp_path / "other" / "same.py"
    second.write_text(OK_STEP)
    outcome = pdee("run", first, second)
    assert outcome.exit_code == 2
    assert "both named 'same'" in one_line_error(outcome)


def test_missing_image_exit_4(pdee, write_step):
    outcome = pdee("run", write_step("ok", OK_STEP), "--image", "pdee-no-such-image:0")
    assert outcome.exit_code == 4
    assert one_line_error(outcome) == (  # the command that builds this tag, not the default
        "Error: image pdee-no-such-image:0 not found; build it with "
        "`pdee image build --tag pdee-no-such-image:0`"
    )


def test_unwritable_report_exit_2(pdee, write_step, tmp_path):
    outcome = pdee("run", write_step("ok", OK_STEP), "--report", tmp_path / "nodir" / "r.json")
    assert outcome.exit_code == 2
    assert "does not exist" in one_line_error(outcome)


def test_no_docker_daemon_exit_3(pdee, write_step, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    outcome = pdee("run", write_step("ok", OK_STEP))
    assert outcome.exit_code == 3
    assert "no Docker daemon answers" in one_line_error(outcome)
