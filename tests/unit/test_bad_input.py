"""Bad input of every kind ends in pdee's own UsageError, never in another exception, a
hang or an unbounded read: files that are not regular files or are too large, JSON that
Python cannot hold, numbers that are not finite or carry the virtual clock past what a
datetime holds. No Docker."""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import threading
import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdee.errors import UsageError
from pdee.plan.reading import MAX_ENV_FILE_BYTES, MAX_INPUTS_BYTES
from pdee.plan.run_plan import build_plan

STEP = "def handler(pd):\n    return 1\n"
DEEP = "[" * 100_000 + "]" * 100_000
LONG_INT = '{"n": ' + "7" * 5000 + "}"


@pytest.fixture
def step(write_step):
    return write_step("step", STEP)


def _refused(match: str, **options):
    with pytest.raises(UsageError, match=match):
        build_plan(options.pop("steps"), **options)


@pytest.mark.parametrize("option", ["env_file", "inputs", "event_file", "schedule"])
def test_a_device_is_refused_without_reading_it(step, option):
    """In a child limited to 1GB of address space: a regression that reads /dev/zero
    fails there, not on the host."""
    code = (
        "import sys; from pdee.plan.run_plan import build_plan; from pdee.errors import UsageError\n"
        "try:\n"
        f"    build_plan([sys.argv[1]], {option}='/dev/zero')\n"
        "except UsageError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(step)],
        capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "/dev/zero is a device; give a regular file" in done.stdout


@pytest.mark.parametrize("option", ["env_file", "inputs", "event_file", "schedule", "steps"])
def test_a_fifo_is_refused_without_waiting_for_a_writer(step, tmp_path, option):
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def plan() -> None:
        try:
            if option == "steps":
                build_plan([fifo])
            else:
                build_plan([step], **{option: fifo})
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=plan, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "pdee blocked on a FIFO"
    assert isinstance(outcome[0], UsageError), outcome
    assert "FIFO" in str(outcome[0]) or "is not a file" in str(outcome[0])


def test_a_directory_as_an_event_file_is_called_a_directory(step, tmp_path):
    _refused("is a directory", steps=[step], event_file=tmp_path)


@pytest.mark.parametrize(
    ("option", "limit"), [("env_file", MAX_ENV_FILE_BYTES), ("inputs", MAX_INPUTS_BYTES)]
)
def test_a_file_over_its_limit_is_refused(step, tmp_path, option, limit):
    big = tmp_path / "big"
    big.write_bytes(b"#" * (limit + 1))
    _refused("larger than pdee reads", steps=[step], **{option: big})


@pytest.mark.parametrize("text", [DEEP, LONG_INT])
@pytest.mark.parametrize("option", ["event_file", "inputs", "event"])
def test_json_python_cannot_hold_is_a_usage_error(step, tmp_path, option, text):
    if option == "event":
        value = text
    else:
        value = tmp_path / "data.json"
        value.write_text(text)
    _refused("nests deeper|too long for Python", steps=[step], **{option: value})


def test_a_deep_dict_from_the_api_is_a_usage_error(step):
    deep: dict = {}
    for _ in range(100_000):
        deep = {"a": deep}
    _refused("nests too deep", steps=[step], event=deep)
    _refused("nests too deep", steps=[step], inputs=deep)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("option", ["interval", "rate", "idle_timeout", "chaos", "timeout"])
def test_non_finite_numbers_are_refused(step, option, value):
    _refused("finite", steps=[step], **{option: value})


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"interval": 1e12}, "a year"),
        ({"rate": 1e-300}, "one a year"),
        ({"events": 10**9, "interval": 3600.0}, "years of virtual time"),
        ({"idle_timeout": 1e12}, "a year"),
        ({"events": 10**400}, "at most 1,000,000,000,000"),
    ],
)
def test_times_past_the_clocks_range_are_refused(step, options, match):
    _refused(match, steps=[step], **options)


@pytest.mark.parametrize(
    "ts",
    ["NaN", "Infinity", "1e308", "-1e12", '"0001-01-01T00:00:00Z"', '"9999-12-31T00:00:00Z"'],
)
def test_schedule_times_out_of_range_are_refused(step, tmp_path, ts):
    schedule = tmp_path / "schedule.jsonl"
    schedule.write_text('{"ts": 0}\n{"ts": ' + ts + "}\n")
    if ts.startswith('"'):  # ISO times are not mixed with numbers
        schedule.write_text('{"ts": ' + ts + "}\n")
    _refused("out of range|span|which JSON does not have", steps=[step], schedule=schedule)


def test_a_schedule_spanning_centuries_is_refused(step, tmp_path):
    schedule = tmp_path / "schedule.jsonl"
    schedule.write_text('{"ts": "2026-01-01T00:00:00Z"}\n{"ts": "2400-01-01T00:00:00Z"}\n')
    _refused("span", steps=[step], schedule=schedule)


def test_every_time_of_the_longest_allowed_run_is_a_datetime(step):
    plan = build_plan([step], events=101, interval=365 * 86400.0)
    last = max(plan.arrivals)
    assert datetime.now(timezone.utc) + timedelta(seconds=last) < datetime(9999, 1, 1).replace(
        tzinfo=timezone.utc
    )


def test_a_hundred_million_events_plan_at_once_in_little_memory(step):
    def planning_peak(events: int) -> int:
        build_plan([step], events=events, interval=0.0)  # caches warm, as in a real run
        tracemalloc.start()
        try:
            build_plan([step], events=events, interval=0.0)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert planning_peak(100_000_000) < planning_peak(1) + 2**20
    plan = build_plan([step], events=100_000_000, interval=0.0)
    assert plan.executions == 100_000_000
    first = iter(plan.arrivals)
    assert [next(first) for _ in range(3)] == [0.0, 0.0, 0.0]


# -- searching for inputs: whatever a user types, a plan or pdee's UsageError --------

numbers = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=20,
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    events=st.one_of(st.none(), st.integers(min_value=-5, max_value=10**12)),
    interval=numbers,
    rate=numbers,
    idle_timeout=numbers,
    chaos=numbers,
    timeout=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers()),
    concurrency=st.integers(min_value=-5, max_value=10**6),
    tmp_size=st.one_of(st.text(max_size=12), st.integers(min_value=-5, max_value=2**80)),
    memory=st.one_of(st.text(max_size=12), st.integers(min_value=-5, max_value=2**80)),
    cpus=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6)),
    event=st.one_of(st.none(), json_values.map(json.dumps), st.text(max_size=20)),
    trigger=st.one_of(st.none(), st.sampled_from(["http", "timer", "email"]), st.text(max_size=8)),
)
def test_the_plan_builder_returns_a_plan_or_a_usage_error(
    step, events, interval, rate, idle_timeout, chaos, timeout, concurrency, tmp_size, memory,
    cpus, event, trigger,
):  # fmt: skip
    options = {
        "events": events,
        "interval": interval,
        "rate": rate,
        "idle_timeout": idle_timeout,
        "chaos": chaos,
        "timeout": timeout,
        "concurrency": concurrency,
        "tmp_size": tmp_size,
        "memory": memory,
        "cpus": cpus,
        "event": event,
        "trigger": trigger,
    }
    try:
        plan = build_plan([step], **options)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    for value in (plan.timeout_s, plan.policy.idle_timeout_s, plan.policy.chaos, plan.cpus):
        assert math.isfinite(value)
    json.dumps(plan.arrivals_described, allow_nan=False)


@pytest.mark.parametrize("size", ["1000000000000000000000000000000GB", 2**80])
def test_a_tmp_size_past_any_host_is_a_usage_error(step, size):
    _refused("over pdee's bound of 1024GB", steps=[step], tmp_size=size)
