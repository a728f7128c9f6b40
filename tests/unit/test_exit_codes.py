"""The documented exit-code table (docs/exit-codes.md) is what pdee does, path by path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fake_backend import FakeBackend

import pdee
from pdee import errors
from pdee.cli import commands as cli
from pdee.outputs import report

EXIT_CODES_PAGE = Path(__file__).parents[2] / "docs" / "exit-codes.md"


def documented_codes() -> dict[str, str]:
    section = EXIT_CODES_PAGE.read_text().split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([\d, ]+) \| (.+) \|$", section, re.MULTILINE)
    return {code.strip(): meaning for code, meaning in rows}


def test_every_error_class_has_its_row():
    codes = documented_codes()
    assert set(codes) == {"0", "1", "2", "3", "4", "5", "6", "130, 143"}
    assert errors.UsageError.exit_code == 2 and "bad invocation" in codes["2"]
    assert errors.BackendUnavailable.exit_code == 3 and "no Docker daemon" in codes["3"]
    assert errors.ImageError.exit_code == 4 and "image" in codes["4"]
    assert errors.EEError.exit_code == errors.EEGone.exit_code == 5
    assert "could not start" in codes["5"]
    assert errors.PackageError.exit_code == 6 and "packages" in codes["6"]
    assert (errors.EXIT_INTERRUPTED, errors.EXIT_TERMINATED) == (130, 143)
    # the CLI's docstring tells the same codes
    for code in ("0", "1", "2", "3", "4", "5", "6", "130", "143"):
        assert re.search(rf"\b{code}\b", cli.__doc__ or ""), code


def test_a_step_failure_and_a_vanished_ee_both_exit_1(tmp_path):
    step = tmp_path / "s.py"
    step.write_text("def handler(pd):\n    return 1\n")
    ok = pdee.run([step], events=2, mode="warm", backend=FakeBackend())
    assert report.exit_code(ok) == 0
    failed = pdee.run([step], event={"status": "error"}, backend=FakeBackend())
    assert report.exit_code(failed) == 1
    vanished = pdee.run([step], events=2, mode="warm", event={"gone": True}, backend=FakeBackend())
    assert vanished.executions[0].error is not None
    assert vanished.executions[0].error.type in ("OutOfMemory", "EEGone")
    assert len(vanished.executions) == 2  # the run went on
    assert report.exit_code(vanished) == 1
    assert "EEGone" in documented_codes()["1"]


def test_an_ee_that_stops_answering_is_its_executions_timeout_and_the_run_goes_on(tmp_path):
    step = tmp_path / "s.py"
    step.write_text("def handler(pd):\n    return 1\n")
    backend = FakeBackend()
    frozen = pdee.run([step], events=2, mode="warm", event={"frozen": True}, backend=backend)
    assert [e.status.value for e in frozen.executions] == ["timeout", "timeout"]
    error = frozen.executions[0].error
    assert error is not None and error.type == "Timeout" and error.step == "step"
    assert frozen.executions[0].steps["step"].logs == "x"
    assert len(backend.ees) == 2 and backend.wait_all_destroyed()  # each lost EE replaced
    assert report.exit_code(frozen) == 1
    assert "stopped answering" in documented_codes()["1"]


def test_a_run_cut_short_exits_with_its_causes_code(tmp_path):
    step = tmp_path / "s.py"
    step.write_text("def handler(pd):\n    return 1\n")
    with pytest.raises(errors.RunAborted) as aborted:
        pdee.run([step], events=3, mode="warm", backend=FakeBackend(fail_during=1))
    assert aborted.value.exit_code == 5 and len(aborted.value.result.executions) == 1
    assert "runtime stopped answering" in documented_codes()["5"]
