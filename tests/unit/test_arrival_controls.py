"""``--throttle``, ``--queue-size``, ``--cron`` and ``--timezone`` checked into a plan
(with ``workflow.yaml``'s settings and timer schedule as defaults), and carried out by
the runner on a fake backend: arrivals held for a window, dropped from a full queue.
No Docker."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend
from typer.testing import CliRunner

import pdee
from pdee.checking.scenarios import plans
from pdee.cli import commands
from pdee.engine.runner import Runner
from pdee.lifecycle.admission import Throttle
from pdee.outputs.junit import run_xml
from pdee.outputs.terminal import summary_line
from pdee.plan.controls import Controls
from pdee.plan.run_plan import build_plan
from pdee.results.records import Execution, RunResult
from pdee.serving.request_queue import RequestQueue

STEP = 'def handler(pd: "pipedream"):\n    return 1\n'


def workflow(folder: Path, trigger: str = "hi_x", settings: str = "", timer: str = "") -> Path:
    """A synced workflow with one Python step, its first trigger ``trigger``."""
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "entry.py").write_text(STEP)
    (folder / "workflow.yaml").write_text(
        f"schema: workflow/2022.04\nname: W\n{settings}triggers:\n- id: {trigger}\n{timer}"
        "steps:\n- namespace: a\n  runtime: python3.12\n  uses: ./a/entry.py\n"
    )
    return folder


@pytest.fixture
def step(write_step):
    return write_step("step", STEP)


def test_a_throttle_is_checked_and_reported_as_given(step):
    plan = build_plan([step], throttle="2/60")
    assert plan.controls.throttle == Throttle(2, 60.0) and plan.controls.throttle_from == "given"
    assert plan.controls.describe().to_json()["throttle"] == {"limit": 2, "interval_s": 60.0}


@pytest.mark.parametrize(
    ("throttle", "message"),
    [
        ("fast", r"^--throttle fast: write it as N/SECONDS, like 2/60 \(2 executions a minute\)$"),
        ("20000/60", r"^--throttle 20000/60: a throttle's limit is 0 to 10,000 executions$"),
        ("2/0", r"^--throttle 2/0: a throttle's interval is 1 second to 10,000 hours$"),
    ],
)
def test_a_bad_throttle_is_one_line_saying_what_to_give(step, throttle, message):
    with pytest.raises(pdee.UsageError, match=message):
        build_plan([step], throttle=throttle)


def test_an_http_trigger_keeps_no_queue_as_the_platform_says_and_the_plan_notes_it(step):
    plan = build_plan([step], queue_size=1)
    assert plan.controls.queue_size is None and plan.controls.admission() is None
    (note,) = plan.notes
    assert note.startswith("the platform keeps no event queue for a native http trigger")
    assert "PipedreamHQ/pipedream#12861" in note


def test_an_event_sources_workflow_queues_100_events_unless_told(tmp_path):
    folder = workflow(tmp_path / "w", trigger="dc_abc1234")
    assert build_plan([folder]).controls.queue_size == 100
    assert build_plan([folder]).controls.queue_from == "default"
    assert build_plan([folder], queue_size=3).controls.queue_size == 3
    with pytest.raises(pdee.UsageError, match=r"^--queue-size 0: give 1 to 10,000 events"):
        build_plan([folder], queue_size=0)


def test_workflow_yaml_settings_are_defaults_under_the_command_line(tmp_path):
    settings = "settings:\n  throttle: 5/60\n  queue_size: 7\n"
    folder = workflow(tmp_path / "w", trigger="dc_abc1234", settings=settings)
    controls = build_plan([folder]).controls
    assert (controls.throttle, controls.throttle_from) == (Throttle(5, 60.0), "workflow.yaml")
    assert (controls.queue_size, controls.queue_from) == (7, "workflow.yaml")
    controls = build_plan([folder], throttle="1/1", queue_size=2).controls
    assert (str(controls.throttle), controls.queue_size) == ("1/1s", 2)


def test_a_bad_throttle_in_workflow_yaml_names_the_file(tmp_path):
    folder = workflow(tmp_path / "w", settings="settings:\n  throttle: lots\n")
    with pytest.raises(pdee.UsageError, match=r"w/workflow.yaml: settings.throttle lots: write"):
        build_plan([folder])


def test_cron_gives_step_files_a_timers_arrivals_event_and_timeout(step):
    plan = build_plan([step], cron="*/15 * * * *", events=4)
    assert list(plan.arrivals) == [0.0, 900.0, 1800.0, 2700.0]
    assert plan.trigger == "timer" and plan.timeout_s == 60.0
    assert plan.origin is not None and plan.origin.minute % 15 == 0 and plan.origin.second == 0
    assert plan.arrivals_described == {"kind": "cron", "cron": "*/15 * * * *", "timezone": "UTC"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": "*/15 * * * *", "interval": 5}, "--interval, --rate, --schedule and --cron"),
        ({"timezone": "Europe/Paris"}, "--timezone is the --cron schedule's time zone"),
        ({"cron": "every day"}, "--cron every day: not a cron expression"),
        ({"cron": "0 9 * * *", "timezone": "Nowhere/Town"}, "no time zone is named"),
        ({"cron": "0 9 * * *", "trigger": "http"}, "--cron schedules a timer trigger, not"),
    ],
)
def test_cron_mistakes_are_usage_errors(step, options, message):
    with pytest.raises(pdee.UsageError, match=message):
        build_plan([step], **options)


def test_cron_on_a_workflow_whose_trigger_is_http_is_refused(tmp_path):
    with pytest.raises(pdee.UsageError, match=r"workflow W's trigger is http \(hi_x"):
        build_plan([workflow(tmp_path / "w")], cron="* * * * *")


def test_a_synced_timers_schedule_is_the_default_and_the_command_line_wins(tmp_path):
    timer = '  cron: "0 9 * * *"\n  timezone: Europe/Paris\n'
    folder = workflow(tmp_path / "w", trigger="ti_abc1234", timer=timer)
    plan = build_plan([folder], events=2)
    assert plan.cron is not None and plan.cron.timezone == "Europe/Paris"
    assert list(plan.arrivals) == [0.0, 86400.0]
    assert build_plan([folder], interval=5, events=2).cron is None  # the option wins
    assert build_plan([folder], cron="0 * * * *").cron.timezone == "UTC"


def test_the_cli_refuses_a_bad_throttle_with_exit_2(step):
    result = CliRunner().invoke(commands.app, ["run", str(step), "--throttle", "2 per minute"])
    assert result.exit_code == 2, result.output
    assert "--throttle 2 per minute: write it as N/SECONDS" in result.output


# -- the runner, on a fake backend --


def run(step: Path, controls: Controls, sleeps: list[float], **options: Any) -> RunResult:
    plan = build_plan(
        [step], event_file=None, event=None, events=len(sleeps), interval=0, seed=1, **options
    )
    events = [{"sleep": s} for s in sleeps]
    plan = replace(plan, controls=controls, events=events)
    return Runner(FakeBackend(), plan).run()


def test_a_full_queue_drops_the_rest_of_a_burst_counted_everywhere(step):
    result = run(step, Controls(queue_size=1), [0.05, 0.05, 0.05])
    assert [e.status for e in result.executions] == ["ok", "dropped", "dropped"]
    dropped: Execution = result.executions[1]
    assert dropped.error is not None and dropped.error.type == "Event Queue Full"
    assert dropped.to_json()["ee"] is None and dropped.to_json()["start"] is None
    summary = result.summary
    assert (summary.dropped, summary.failed, summary.cold, summary.warm) == (2, 2, 1, 0)
    assert "1 ok, 2 failed, 2 dropped" in summary_line(result)
    cases = [case for suite in run_xml(result) for case in suite]
    assert [case.name for case in cases][1:] == ["execution 1 (dropped)", "execution 2 (dropped)"]
    assert not result.passed


def test_a_throttle_holds_a_burst_for_the_next_windows_on_the_virtual_clock(step):
    result = run(step, Controls(throttle=Throttle(2, 60.0)), [0.01] * 5, concurrency=2)
    starts = [round(e.at_s) for e in result.executions]
    assert starts == [0, 0, 60, 60, 120]
    assert [e.arrived_at_s for e in result.executions] == [0.0] * 5
    assert result.passed


def test_a_throttle_of_0_runs_nothing(step):
    result = run(step, Controls(throttle=Throttle(0, 60.0), queue_size=2), [0.01] * 3)
    errors = [e.error.type for e in result.executions if e.error]
    assert errors == ["Workflow Paused", "Workflow Paused", "Event Queue Full"]
    assert result.ees == {}


def test_on_the_real_clock_a_throttle_holds_a_request_until_its_window_opens(step):
    plan = replace(build_plan([step], seed=1), controls=Controls(throttle=Throttle(1, 1.0)))
    queue = RequestQueue()
    runner = Runner(FakeBackend(), plan, queue.finished, source=queue)
    thread = threading.Thread(target=runner.run, name="serve")
    thread.start()
    assert queue.ready.wait(5)
    first, second = queue.submit({"sleep": 0.01}), queue.submit({"sleep": 0.01})
    first_run, second_run = first.result(5), second.result(5)
    queue.stop()
    thread.join(5)
    assert first_run.status == second_run.status == "ok"
    # One a second: the second request, which came at once, started a second later.
    assert second_run.at_s - first_run.at_s >= 1.0 > second_run.arrived_at_s - first_run.at_s


def test_check_takes_a_cron_schedule_for_its_runs(step):
    warm_plan, chaos_plan = plans([step], cron="*/15 * * * *")
    assert chaos_plan.arrivals_described["kind"] == "cron"
    assert list(chaos_plan.arrivals)[:2] == [0.0, 900.0]
    assert warm_plan.trigger == chaos_plan.trigger == "timer"


def test_a_check_whose_queue_drops_events_fails_its_chaos_verdict_saying_why(tmp_path):
    folder = workflow(tmp_path / "w", trigger="dc_abc1234")
    result = pdee.check(
        [folder], backend=FakeBackend(), event={"sleep": 0.01}, queue_size=1, throttle="1/10"
    )
    chaos = result.verdict("chaos")
    assert chaos.outcome.value == "fail"
    assert "(dropped): Event Queue Full" in chaos.summary and "docs/arrivals.md" in chaos.summary
    # The warm verdict judges the warm executions that ran; the drops are the chaos run's.
    assert result.verdict("warm").outcome.value == "pass"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": "0 0 31 4 *"}, "--cron 0 0 31 4 \\*: the schedule names no instant"),
        ({"cron": "*/10 * * * * *"}, "five fields"),
        ({"cron": "0 9 * * *", "timezone": ""}, "--timezone '': give a time zone's IANA name"),
    ],
)
def test_a_cron_that_never_fires_or_is_not_five_fields_is_one_line_exit_2(step, options, message):
    with pytest.raises(pdee.UsageError, match=message):
        build_plan([step], **options)
    args = ["run", str(step)] + [f"--{k}={v}" for k, v in options.items()]
    got = CliRunner().invoke(commands.app, args)
    assert got.exit_code == 2, got.output
    assert isinstance(got.exception, SystemExit)  # no traceback: the one line, exit 2
