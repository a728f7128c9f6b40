"""pdee check's verdicts, judged from runs on the fake backend (no Docker)."""

from __future__ import annotations

import pytest
from fake_backend import FakeBackend
from rich.console import Console

import pdee
from pdee.checking.verdicts import ADVICE, Outcome, growth_of
from pdee.errors import UsageError
from pdee.outputs.terminal import show_check

SAME = {"returns": "same", "exports": {}}


@pytest.fixture
def step(tmp_path):
    path = tmp_path / "step.py"
    path.write_text("def handler(pd):\n    return 1\n")
    return path


def outcomes(result):
    return {v.scenario: v.outcome for v in result.verdicts}


def test_a_clean_step_is_safe(step):
    result = pdee.check([step], event=SAME, backend=FakeBackend(), seed=1)
    assert result.safe, result.verdicts
    assert outcomes(result) == dict.fromkeys(
        ("cold", "warm", "growth", "headroom", "state", "cleanup", "chaos"), Outcome.PASS
    )
    assert len(result.runs["warm"].executions) == 6
    assert result.runs["chaos"].settings.concurrency == 2
    assert result.to_json()["safe"] is True


def test_a_step_that_fails_only_warm(step):
    result = pdee.check([step], event={**SAME, "warm_status": "error"}, backend=FakeBackend())
    assert not result.safe
    warm = result.verdict("warm")
    assert warm.outcome is Outcome.FAIL and warm.execution.index == 1
    assert "fails only warm, at execution 1" in warm.summary
    assert result.verdict("cold").outcome is Outcome.PASS
    # The advice is the verdict's: in its JSON and under the terminal's table.
    assert warm.advice == ADVICE["warm"] and result.verdict("cold").advice is None
    assert result.to_json()["verdicts"][1]["advice"] == ADVICE["warm"]
    console = Console(record=True, width=100)
    show_check(console, result)
    shown = console.export_text()
    assert f"advice (warm): {ADVICE['warm']}" in shown and "advice (cold)" not in shown


def test_a_step_that_deletes_the_platforms_files_is_not_safe(step):
    result = pdee.check([step], event={**SAME, "wipes_pdg": True}, backend=FakeBackend())
    assert not result.safe
    warm = result.verdict("warm")
    assert warm.outcome is Outcome.FAIL and warm.execution.index == 0
    assert "deleted the platform's own files in /tmp/__pdg__" in warm.summary
    assert "every later execution there fails" in warm.summary


def test_files_left_in_tmp_are_a_cleanup_warning_not_a_failure(step):
    result = pdee.check(
        [step], event={**SAME, "leaves": ["/tmp/report.csv"]}, backend=FakeBackend()
    )
    assert result.safe
    cleanup = result.verdict("cleanup")
    assert cleanup.outcome is Outcome.WARN
    assert "leaves 1 file in /tmp: /tmp/report.csv" in cleanup.summary
    assert "tempfile" in cleanup.summary


def test_a_step_that_fails_cold_is_told_first_and_the_rest_is_moot(step):
    result = pdee.check([step], event={**SAME, "status": "error"}, backend=FakeBackend())
    assert result.verdicts[0].scenario == "cold"
    assert result.verdict("cold").outcome is Outcome.FAIL
    assert "fails on a fresh EE" in result.verdict("cold").summary
    assert {v.outcome for v in result.verdicts[1:]} == {Outcome.SKIPPED}
    assert "chaos" not in result.runs  # not run at all


def test_tmp_growth_fails_with_the_executions_until_full(step):
    result = pdee.check([step], event={**SAME, "tmp": 300 * 2**20}, backend=FakeBackend())
    growth = result.verdict("growth")
    assert growth.outcome is Outcome.FAIL
    assert growth.data["tmp_growth_bytes_per_execution"] == 300 * 2**20
    # 6 executions left 1800MiB + the 4KB it started with: 247MiB left, none more fits
    assert growth.data["tmp_executions_until_full"] == 0
    assert "/tmp grows 300MB an execution of one warm EE" in growth.summary
    assert "the /tmp cap is reached at the next execution" in growth.summary


def test_slow_growth_beyond_the_horizon_only_warns(step):
    event = {**SAME, "memory": 2**20}  # 1MB an execution: 240 more under 256MB
    assert pdee.check([step], event=event, backend=FakeBackend(), horizon=100).safe
    result = pdee.check([step], event=event, backend=FakeBackend(), horizon=100)
    growth = result.verdict("growth")
    assert growth.outcome is Outcome.WARN
    assert 230 < growth.data["memory_executions_until_full"] < 250
    strict = pdee.check([step], event=event, backend=FakeBackend(), horizon=1000)
    assert strict.verdict("growth").outcome is Outcome.FAIL and not strict.safe


def test_a_warm_result_that_differs_is_a_warning(step):
    result = pdee.check([step], event={"exports": {}}, backend=FakeBackend())  # returns its index
    state = result.verdict("state")
    assert state.outcome is Outcome.WARN and result.safe
    assert 'returned {"index":0} cold and {"index":1} warm' in state.summary


def test_headroom_warns_above_80_percent_of_tmp(step):
    event = {**SAME, "tmp": 0}
    backend = FakeBackend()
    result = pdee.check([step], event=event, backend=backend, tmp_size=5000)
    headroom = result.verdict("headroom")  # 4096 of 5000 bytes: 82%
    assert (
        headroom.outcome is Outcome.WARN and "/tmp peak 4KB at 82% of the limit" in headroom.summary
    )


def test_growth_needs_a_steady_increase_above_noise():
    assert growth_of([10, 20, 30], 100, 5).per_execution == 10
    assert growth_of([10, 20, 30], 100, 5).executions_left == 7
    assert growth_of([10, 20, 20, 30], 100, 5) is None  # one execution left nothing
    assert growth_of([10, 11, 12], 100, 5) is None  # noise
    assert growth_of([10], 100, 5) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [({"horizon": 0}, "--horizon 0: give at least 1"), ({"warm": 0}, "--warm 0: give 1 to 1000")],
)
def test_bad_options(step, options, message):
    with pytest.raises(UsageError, match=message):
        pdee.check([step], backend=FakeBackend(), **options)
