"""``--trigger``: step files name their trigger, which gives the default event and timeout
as a synced workflow's trigger does; a synced workflow's own trigger is not overridden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend, FakeEE
from typer.testing import CliRunner

import pdee
from pdee.backends import EESpec, OnCall
from pdee.cli import commands
from pdee.plan.run_plan import build_plan
from pdee.runtime import protocol

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "project"
TIMER_WORKFLOW = EXAMPLE / "reports" / "daily-report-p_Q8mWv2n"  # its trigger: ti_...


@pytest.fixture
def step(write_step):
    return write_step("step", "def handler(pd):\n    return 1\n")


@pytest.mark.parametrize(
    ("trigger", "timeout_s"), [(None, 30.0), ("http", 30.0), ("timer", 60.0), ("email", 30.0)]
)
def test_the_trigger_gives_step_files_the_platforms_default_timeout(step, trigger, timeout_s):
    plan = build_plan([step], trigger=trigger)
    assert plan.trigger == (trigger or "http") and plan.timeout_s == timeout_s


def test_the_command_lines_timeout_wins_over_the_triggers(step):
    assert build_plan([step], trigger="timer", timeout=5).timeout_s == 5.0


def test_an_unknown_trigger_is_a_usage_error_naming_the_choices(step):
    with pytest.raises(pdee.UsageError, match=r"^--trigger cron: give one of http, timer, email$"):
        build_plan([step], trigger="cron")


def test_a_synced_workflows_trigger_is_its_own(step):
    assert build_plan([TIMER_WORKFLOW], trigger="timer").trigger == "timer"
    with pytest.raises(
        pdee.UsageError,
        match=r"--trigger http: workflow .+'s trigger is timer \(ti_\w+ in its workflow.yaml\); "
        r"drop --trigger",
    ):
        build_plan([TIMER_WORKFLOW], trigger="http")


class Seen(FakeBackend):
    """A fake backend that keeps the event and context of each execution."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.contexts: list[dict[str, Any]] = []

    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> FakeEE:
        backend = self

        class Keeping(FakeEE):
            def run(self, message: protocol.Run, on_call: OnCall | None) -> protocol.Result:
                backend.events.append(message["event"])
                backend.contexts.append(message["context"])
                return super().run(message, on_call)

        ee = Keeping(self, spec, ee_id)
        self.ees.append(ee)
        return ee


def test_a_timer_step_gets_the_timers_event_and_an_http_step_the_requests(step):
    timer, http = Seen(), Seen()
    assert pdee.run([step], trigger="timer", events=2, interval=3600, backend=timer).passed
    assert pdee.run([step], events=1, backend=http).passed
    assert [e["interval_seconds"] for e in timer.events] == [3600, 3600]
    assert timer.events[1]["timestamp"] - timer.events[0]["timestamp"] == 3600
    assert "timezone_configured" in timer.events[0] and "method" not in timer.events[0]
    assert {c["emitter_id"][:3] for c in timer.contexts} == {"ti_"}  # a timer's id
    assert http.contexts[0]["emitter_id"].startswith("hi_")
    assert http.events[0]["method"] == "POST"


def test_serve_answers_http_only(step):
    backend = FakeBackend()
    serving = pdee.serve([step], trigger="timer", backend=backend)
    with pytest.raises(pdee.UsageError, match="--trigger timer: pdee serve answers HTTP"):
        serving.__enter__()
    assert backend.ees == []


def test_the_cli_refuses_an_unknown_trigger_in_one_line(step):
    result = CliRunner().invoke(commands.app, ["run", str(step), "--trigger", "cron"])
    assert result.exit_code == 2, result.output
    assert "--trigger cron: give one of http, timer, email" in result.output


@pytest.mark.parametrize("trigger", [None, "timer"])
def test_the_report_says_which_trigger_gave_the_event_and_timeout(step, trigger):
    result = pdee.run([step], trigger=trigger, backend=FakeBackend())
    assert result.settings.to_json()["trigger"] == (trigger or "http")
