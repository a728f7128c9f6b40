"""``pdee run``'s options (and ``pdee.run``'s arguments) turned into a plan, and every way
to get them wrong: no Docker."""

from __future__ import annotations

import json

import pytest

from pdee.errors import UsageError
from pdee.lifecycle.scheduler import DEFAULT_CHAOS, DEFAULT_IDLE_TIMEOUT_S, Mode
from pdee.plan.events import load_schedule
from pdee.plan.run_plan import build_plan

STEP = "def handler(pd):\n    return 1\n"


@pytest.fixture
def step(write_step):
    return write_step("step", STEP)


def test_defaults_are_the_platforms(step):
    plan = build_plan([step], events=3)
    policy = plan.policy
    assert policy.mode is Mode.REALISTIC and policy.concurrency == 1
    assert (policy.idle_timeout_s, policy.chaos, policy.warm_workers) == (
        DEFAULT_IDLE_TIMEOUT_S,
        DEFAULT_CHAOS,
        0,
    )
    assert list(plan.arrivals) == [0.0, 5.0, 10.0]
    assert plan.arrivals_described == {"kind": "interval", "interval_s": 5.0}
    assert isinstance(policy.seed, int)  # chosen, so that the report can replay it


def test_a_given_seed_fixes_poisson_arrivals(step):
    first = build_plan([step], events=20, rate=6, seed=11)
    assert list(first.arrivals) == list(build_plan([step], events=20, rate=6, seed=11).arrivals)
    assert list(first.arrivals) != list(build_plan([step], events=20, rate=6, seed=12).arrivals)
    assert first.arrivals_described == {"kind": "rate", "per_minute": 6}


def test_schedule_gives_events_and_times(step, tmp_path):
    schedule = tmp_path / "events.jsonl"
    lines = [{"ts": "2026-11-23T10:10:00Z", "n": 2}, {"ts": "2026-11-23T10:00:00Z", "n": 1}]
    schedule.write_text("\n".join(json.dumps(line) for line in lines))
    plan = build_plan([step], schedule=schedule)
    assert list(plan.arrivals) == [0.0, 600.0]
    assert [e["n"] for e in plan.events or []] == [1, 2]
    assert plan.origin is not None and plan.origin.isoformat() == "2026-11-23T10:00:00+00:00"
    assert build_plan([step], schedule=schedule, events=1).executions == 1


def test_schedule_in_seconds_keeps_file_order_for_ties(tmp_path):
    schedule = tmp_path / "s.json"
    schedule.write_text(
        json.dumps([{"ts": 30, "n": "b"}, {"ts": 10, "n": "a"}, {"ts": 30, "n": "c"}])
    )
    loaded = load_schedule(schedule)
    assert [e["n"] for e in loaded.events] == ["a", "b", "c"]
    assert loaded.timestamps == [10.0, 30.0, 30.0] and loaded.origin is None


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([{"n": 1}], "has no ts"),
        ([{"ts": "yesterday"}], "not an ISO 8601 time"),
        ([{"ts": [1]}], "ts must be seconds"),
        ([{"ts": 1}, {"ts": "2026-11-23T10:00:00Z"}], "mix of numeric and ISO"),
    ],
)
def test_bad_schedules(tmp_path, lines, message):
    schedule = tmp_path / "s.jsonl"
    schedule.write_text("\n".join(json.dumps(line) for line in lines))
    with pytest.raises(UsageError, match=message):
        load_schedule(schedule)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interval": 1, "rate": 2}, "use one"),
        ({"interval": -1}, "--interval -1"),
        ({"rate": 0}, "positive number of events per minute"),
        ({"concurrency": 0}, "--concurrency 0: give 1 to 64"),
        ({"concurrency": 65}, "give 1 to 64"),
        ({"warm_workers": -1}, "--warm-workers -1"),
        ({"chaos": 1.5}, "probability from 0 to 1"),
        ({"idle_timeout": 0}, "positive number of seconds"),
        ({"mode": Mode.WARM, "chaos": 0.5}, "--chaos applies to --mode realistic only"),
        ({"mode": Mode.COLD, "idle_timeout": 5}, "--idle-timeout applies to --mode realistic"),
        ({"mode": Mode.COLD, "warm_workers": 1}, "never reuses"),
        ({"events": 0}, "at least 1"),
        ({"tmp_size": "2 parsecs"}, "--tmp-size: '2 parsecs' is not a size"),
        ({"tmp_size": "0MB"}, "--tmp-size: '0MB' is zero"),
        ({"memory": "11GB"}, "over the platform's maximum of 10GB"),
        ({"timeout": 0}, "--timeout 0 is out of range"),
        ({"timeout": 751}, "the platform allows 0 < s <= 750"),
        ({"mode": "lukewarm"}, "--mode lukewarm: give one of realistic, warm, cold"),
        ({"event": "{nope"}, "--event is not JSON: line 1, column 2"),
        ({"event": "[1]"}, "event 1 is not a JSON object"),
        ({"event": "{}", "event_file": "events.json"}, "use one of them"),
        ({"inputs": "missing.json"}, "inputs file missing.json does not exist"),
        # What only a Python caller can get wrong.
        ({"events": "3"}, "--events: '3' is not a number"),
        ({"events": 2.5}, "--events: 2.5 is not a whole number"),
        ({"concurrency": True}, "--concurrency: True is not a number"),
        ({"tmp_size": 0}, "--tmp-size: 0 bytes"),
        ({"memory": 1.5}, "--memory: 1.5 is not a size"),
        ({"inputs": {"when": object()}}, "inputs: not JSON data"),
    ],
)
def test_bad_options_say_what_to_do(step, options, message):
    with pytest.raises(UsageError, match=message):
        build_plan([step], **options)


def test_schedule_excludes_other_sources_of_events_and_times(step, tmp_path):
    schedule = tmp_path / "s.jsonl"
    schedule.write_text('{"ts": 0}\n{"ts": 5}\n')
    with pytest.raises(UsageError, match="drop --event"):
        build_plan([step], schedule=schedule, event='{"a": 1}')
    with pytest.raises(UsageError, match="use one"):
        build_plan([step], schedule=schedule, interval=3)
    with pytest.raises(UsageError, match="holds 2 events"):
        build_plan([step], schedule=schedule, events=3)
    with pytest.raises(UsageError, match="does not exist"):
        build_plan([step], schedule=tmp_path / "missing.jsonl")


def test_python_callers_get_the_same_plan_from_sizes_in_bytes_and_dicts(step):
    by_text = build_plan([str(step)], tmp_size="512MB", memory="1GB", event='{"a": 1}', seed=3)
    by_value = build_plan(
        [step], tmp_size=512 * 2**20, memory=2**30, event={"a": 1}, inputs={"k": [1]}, seed=3
    )
    assert (by_text.tmp_size_bytes, by_text.memory_bytes) == (512 * 2**20, 2**30)
    assert (by_value.tmp_size_bytes, by_value.memory_bytes) == (512 * 2**20, 2**30)
    assert by_text.events == by_value.events == [{"a": 1}]
    assert by_value.inputs == {"k": [1]} and by_text.inputs == {}
    assert list(by_text.arrivals) == list(by_value.arrivals)


def test_steps_must_be_a_list_of_existing_python_files(step, tmp_path):
    with pytest.raises(UsageError, match="give a list of step files"):
        build_plan(str(step))
    with pytest.raises(UsageError, match="no step given"):
        build_plan([])
    with pytest.raises(UsageError, match="does not exist"):
        build_plan([tmp_path / "nope.py"])


def test_the_api_takes_exactly_the_plans_arguments_with_the_same_defaults():
    import inspect

    import pdee

    plan_parameters = inspect.signature(build_plan).parameters
    run_parameters = dict(inspect.signature(pdee.run).parameters)
    own = ("backend", "on_execution", "progress")
    assert {run_parameters.pop(name).default for name in own} == {None}
    assert [(p.name, p.default, p.kind) for p in run_parameters.values()] == [
        (p.name, p.default, p.kind) for p in plan_parameters.values()
    ]
