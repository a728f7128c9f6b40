"""The runner's threads and virtual clock on a fake backend instead of Docker.

A fake EE "runs" an execution by waiting for the event's ``sleep`` seconds, so the
runner's real concurrency, its waits on the virtual clock, its standby EEs and its
clean-up can be checked quickly and exactly (``fake_backend``). Its arrival sources: the
plan's virtual schedule, and (for the resumptions it merges in) the request queue.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend, FakeEE

import pdee
from pdee.backends import EESpec, OnCall
from pdee.engine.runner import Runner
from pdee.engine.sources import VirtualSchedule
from pdee.errors import RunAborted, UsageError
from pdee.lifecycle.scheduler import Mode, Policy, simulate
from pdee.plan.run_plan import RunPlan
from pdee.plan.steps import Step
from pdee.results.records import Execution, RunResult
from pdee.runtime import protocol
from pdee.serving.request_queue import RequestQueue


def plan(
    arrivals: list[float], events: list[dict[str, Any]], policy: Policy, **overrides: Any
) -> RunPlan:
    values: dict[str, Any] = {
        "steps": [Step(name="step", path=Path("step.py"), code="def handler(pd):\n    return 1\n")],
        "events": events,
        "arrivals": arrivals,
        "inputs": {},
        "policy": policy,
        "tmp_size_bytes": 2**30,
        "memory_bytes": 2**28,
        "timeout_s": 30.0,
        "network": "none",
        "image": "pdee-ee:test",
    }
    values.update(overrides)
    return RunPlan(**values)


def lanes_alive() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("pdee-")]


@pytest.fixture(autouse=True)
def no_lane_left():
    yield
    assert lanes_alive() == []


# Bursts of 5 events, 0.6 or 2.5 virtual seconds apart; steps of 10-40 ms. Every end
# is far from the next arrival, so real timing cannot change a decision.
BURSTS = [start for start in (0.0, 0.6, 3.1, 3.7, 6.2) for _ in range(5)]
SLEEPS = [0.01 + 0.01 * (index % 4) for index in range(len(BURSTS))]


def test_runner_decides_as_the_scheduler_simulates():
    policy = Policy(concurrency=3, idle_timeout_s=2.0, chaos=0.2, seed=4)
    engine = FakeBackend()
    runner = Runner(engine, plan(BURSTS, [{"sleep": s} for s in SLEEPS], policy))
    result = runner.run()
    simulated = simulate(policy, BURSTS, lambda index: SLEEPS[index])
    assert [(e.ee, e.start) for e in result.executions] == simulated.placements
    starts = {e.start for e in result.executions}
    reasons = {ee.retired for ee in result.ees.values()}
    assert starts == {"cold", "warm"} and {"idle", "end"} <= reasons
    assert engine.most_in_flight == 3  # the bursts ran for real, 3 at a time
    assert all(ee.destroyed.is_set() for ee in engine.ees)
    assert engine.swept == [runner.run_id]


def test_virtual_time_of_a_burst_follows_real_durations():
    policy = Policy(concurrency=2, chaos=0.0)
    runner = Runner(FakeBackend(), plan([0.0] * 4, [{"sleep": 0.05}], policy))
    executions = runner.run().executions
    # Round robin over 2 EEs; the second round starts when the first one ends.
    assert [e.ee for e in executions] == ["ee-1", "ee-2", "ee-1", "ee-2"]
    assert [e.arrived_at_s for e in executions] == [0.0] * 4
    assert executions[0].at_s == executions[1].at_s == 0.0
    assert 0.05 <= executions[2].at_s < 0.15 and 0.05 <= executions[3].at_s < 0.15


def test_a_long_gap_costs_no_real_time():
    runner = Runner(FakeBackend(), plan([0.0, 3600.0, 7200.0], [{}], Policy(chaos=0.0)))
    started = time.monotonic()
    executions = runner.run().executions
    assert time.monotonic() - started < 1.0
    assert [e.start for e in executions] == ["cold", "cold", "cold"]  # expired each hour


def test_a_cold_start_counts_on_the_virtual_clock():
    engine = FakeBackend(start_s=0.2)
    runner = Runner(engine, plan([0.0, 0.1], [{"sleep": 0.01}], Policy(chaos=0.0)))
    first, second = runner.run().executions
    assert first.cold_start_ms is not None and first.cold_start_ms >= 200
    # The event at 0.1 s found the EE still starting: it waited for it, warm.
    assert (second.ee, second.start) == ("ee-1", "warm")
    assert second.at_s >= 0.21


def test_cold_mode_takes_standby_ees_started_ahead():
    engine = FakeBackend(start_s=0.05)
    without = plan([0.0, 10.0, 20.0], [{}], Policy(mode=Mode.COLD), recycle=False)
    runner = Runner(engine, without)
    executions = runner.run().executions
    assert [e.ee for e in executions] == ["ee-1", "ee-2", "ee-3"]
    # Each start is measured, whoever made it; no standby outlives the events.
    assert all(e.cold_start_ms is not None and e.cold_start_ms >= 50 for e in executions)
    assert len(engine.ees) == 3 and all(ee.destroyed.is_set() for ee in engine.ees)
    # A standby EE takes the id of the EE it becomes (its name follows, on Docker).
    assert [ee.id for ee in engine.ees] == ["ee-1", "ee-2", "ee-3"]
    assert [ee.names[0] for ee in engine.ees] == ["ee-1", "standby-1", "standby-2"]


def test_cold_mode_recycles_each_ee_for_the_next_cold_start():
    engine = FakeBackend(start_s=0.05)
    result = Runner(engine, plan([0.0, 10.0, 20.0, 30.0], [{}], Policy(mode=Mode.COLD))).run()
    executions = result.executions
    assert [e.start.value for e in executions] == ["cold"] * 4
    assert [result.ees[e.ee].recycled for e in executions] == [False, True, True, True]
    # One container: made new again for each later cold start, at the reset's cost.
    assert len(engine.ees) == 1 and engine.ees[0].destroyed.is_set()
    assert executions[0].cold_start_ms >= 50
    assert all(e.cold_start_ms is not None and e.cold_start_ms < 50 for e in executions[1:])
    assert [ee.names for ee in engine.ees] == [["ee-1", "ee-2", "ee-3", "ee-4"]]


def test_an_ee_that_cannot_be_made_new_is_replaced_by_a_new_one():
    engine = FakeBackend(start_s=0.05)
    engine.dirty = True  # every reset fails: a process outlived SIGKILL, say
    result = Runner(engine, plan([0.0, 10.0, 20.0], [{}], Policy(mode=Mode.COLD))).run()
    assert [e.status.value for e in result.executions] == ["ok"] * 3
    assert not any(ee.recycled for ee in result.ees.values())
    assert len(engine.ees) == 3 and all(ee.destroyed.is_set() for ee in engine.ees)
    # The failed reset and the new start both count in the cold start.
    assert all(e.cold_start_ms is not None and e.cold_start_ms >= 50 for e in result.executions)


def test_expired_and_chaos_ees_are_recycled_never_broken_ones():
    events = [{"status": "timeout"}, {}, {}, {"gone": True}, {}]
    result = Runner(
        FakeBackend(), plan([0.0, 5.0, 700.0, 1400.0, 1405.0], events, Policy(chaos=0.0))
    ).run()
    lives = list(result.ees.values())
    assert [life.retired.value for life in lives] == ["timeout", "idle", "idle", "oom", "end"]
    # ee-2 and ee-3 expired sound: each was made new for the next cold start.
    assert [life.recycled for life in lives] == [False, False, True, True, False]


@pytest.mark.parametrize(
    ("event", "retired"), [({"status": "timeout"}, "timeout"), ({"gone": True}, "oom")]
)
def test_an_ee_lost_to_its_execution_is_replaced(event, retired):
    events = [event, {}]
    result = Runner(FakeBackend(), plan([0.0, 5.0], events, Policy(chaos=0.0))).run()
    first, second = result.executions
    assert first.status == ("oom" if event.get("gone") else "timeout")
    assert result.ees["ee-1"].retired == retired
    assert (second.ee, second.start) == ("ee-2", "cold")


def test_an_ee_that_cannot_start_aborts_the_run_keeping_what_ended():
    engine = FakeBackend(fail_start_of="ee-2")
    runner = Runner(engine, plan([0.0] * 6, [{"sleep": 0.2}], Policy(concurrency=3)))
    with pytest.raises(RunAborted, match="ee-2 could not start") as aborted:
        runner.run()
    assert aborted.value.exit_code == 5
    assert aborted.value.result is runner.result
    assert runner.result.aborted is not None and "ee-2 could not start" in runner.result.aborted
    assert all(ee.destroyed.is_set() for ee in engine.ees)
    assert engine.swept == [runner.run_id]


def test_a_backend_failure_mid_run_keeps_every_finished_execution():
    engine = FakeBackend(fail_during=3)
    runner = Runner(engine, plan([0.0, 1.0, 2.0, 3.0, 4.0], [{}], Policy(chaos=0.0)))
    with pytest.raises(RunAborted, match="did not answer") as aborted:
        runner.run()
    result = aborted.value.result
    assert [e.index for e in result.executions] == [0, 1, 2]
    assert result.summary.executions == 3 and not result.passed
    assert all(ee.destroyed.is_set() for ee in engine.ees)


def test_ctrl_c_in_the_main_thread_destroys_every_ee_mid_execution():
    engine = FakeBackend()

    def interrupt(_execution: Execution) -> None:
        raise KeyboardInterrupt

    events = [{"sleep": 0.01}, {"sleep": 30}, {"sleep": 30}]
    runner = Runner(engine, plan([0.0] * 3, events, Policy(concurrency=3)), interrupt)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    # The two 30 s executions were cut short by their EEs' destruction.
    assert time.monotonic() - started < 5
    assert all(ee.destroyed.is_set() for ee in engine.ees)
    assert runner.result.interrupted and [e.index for e in runner.result.executions] == [0]


@pytest.mark.parametrize(
    ("mode", "options", "ees_started"),
    [
        ("warm", {"interval": 0}, 2),  # a burst, round robin over 2 EEs
        ("cold", {"interval": 1}, 6),
        ("realistic", {"interval": 1, "chaos": 0.3}, None),
    ],
)
def test_the_api_runs_whole_plans_on_any_backend(write_step, mode, options, ees_started):
    backend = FakeBackend()
    step = write_step("step", "def handler(pd):\n    return 1\n")
    result = pdee.run(
        [step], events=6, mode=mode, concurrency=2, seed=5, backend=backend, **options
    )
    assert [e.status for e in result.executions] == ["ok"] * 6
    assert [e.index for e in result.executions] == list(range(6))
    assert result.executions[4].steps["step"].return_value == {"index": 4}
    assert result.passed and result.settings.python == "3.12.7"
    assert result.settings.python_note is None
    if ees_started is not None:
        assert result.summary.ees_started == ees_started
    else:  # chaos destroyed some EEs: later events found fresh ones
        assert result.summary.ees_destroyed_at_random >= 1
        assert result.summary.cold == result.summary.ees_started
    assert all(ee.destroyed.is_set() for ee in backend.ees)
    assert backend.swept == [result.run_id] and not backend.closed  # the caller's to close


def test_an_image_from_another_recipe_is_refused_before_any_ee(write_step):
    backend = FakeBackend(recipe="0123456789abcdef")
    step = write_step("step", "def handler(pd):\n    return 1\n")
    with pytest.raises(pdee.ImageError, match="rebuild it with `pdee image build --tag "):
        pdee.run([step], backend=backend)
    assert backend.ees == []


def test_an_ee_larger_than_the_host_is_refused_before_any_starts():
    engine = FakeBackend(host_memory_bytes=2**30)  # a 1GB host; /tmp alone is 1GB here
    with pytest.raises(
        UsageError, match=r"an EE needs 1.5GB of memory .* over the Docker host's 1GB"
    ):
        Runner(engine, plan([0.0], [{}], Policy(chaos=0.0))).run()
    assert engine.ees == []


# -- the arrival sources, and the resumptions the runner merges in --


def test_the_virtual_schedule_gives_the_plans_arrivals_in_order():
    described = {"kind": "interval", "interval_s": 2.5}
    events = [{"a": 1}, {"b": 2}]
    schedule = VirtualSchedule(
        plan([0.0, 2.5, 2.5, 7.0], events, Policy(), arrivals_described=described)
    )
    assert (schedule.real_clock, schedule.inline) == (False, True)
    assert schedule.describe() == described and schedule.now_s() == math.inf
    taken = []
    while (at_s := schedule.next_at()) is not None:
        left = schedule.left()
        part = schedule.take()
        taken.append((at_s, left, part.index, part.first_index, part.event))
    assert taken == [
        (0.0, 4, 0, 0, {"a": 1}),
        (2.5, 3, 1, 1, {"b": 2}),
        (2.5, 2, 2, 2, {"a": 1}),  # the events cycle
        (7.0, 1, 3, 3, {"b": 2}),
    ]
    assert schedule.left() == 0
    assert schedule.next_index == 4  # a paused execution's next part: after the plan's
    default = VirtualSchedule(plan([0.0], [], Policy()))  # no events given
    assert default.take().event is None  # the trigger's default event


TWO_STEPS = [
    Step(name=name, path=Path(f"{name}.py"), code="def handler(pd):\n    return 1\n")
    for name in ("first", "second")
]


class PausingEE(FakeEE):
    """A fake EE whose workflow calls ``pd.flow.delay(event["delay_ms"])`` at the end of
    step ``first``, in an execution's first part only."""

    def request(
        self, message: protocol.Request, timeout_s: float, on_call: OnCall | None = None
    ) -> protocol.Reply:
        reply = super().request(message, timeout_s, on_call)
        delay_ms = message["event"].get("delay_ms") if message["type"] == protocol.RUN else None
        if delay_ms is not None and not message.get("start_step"):
            reply["pause"] = {"kind": "delay", "step": "first", "ms": delay_ms,
                              "resume_url": "https://r", "cancel_url": "https://c"}  # fmt: skip
        return reply


class PausingBackend(FakeBackend):
    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> FakeEE:
        ee = PausingEE(self, spec, ee_id)
        self.ees.append(ee)
        return ee


def test_resumptions_are_merged_with_the_plans_arrivals_in_time_order():
    # Execution 0 delays 15 s (between the arrivals at 10 and 20); execution 2, 60 s
    # (after the plan's last arrival).
    events = [{"delay_ms": 15_000}, {}, {"delay_ms": 60_000}]
    runner = Runner(
        PausingBackend(), plan([0.0, 10.0, 20.0], events, Policy(chaos=0.0), steps=TWO_STEPS)
    )
    executions = runner.run().executions
    assert [e.index for e in sorted(executions, key=lambda e: e.arrived_at_s)] == [0, 1, 3, 2, 4]
    first, resumed, late = executions[0], executions.by_index(3), executions.by_index(4)
    assert first.pause is not None and first.pause.outcome == "resumed"
    assert first.pause.resumed_as == 3
    assert (resumed.part, resumed.first_index, resumed.trace_id) == (2, 0, first.trace_id)
    assert 15.0 <= resumed.arrived_at_s < 16.0 and 80.0 <= late.arrived_at_s < 81.0
    assert resumed.ee == "ee-1" and resumed.start.value == "warm"
    assert resumed.pause is None  # its own part does not pause again


def serve_in_background(
    runner: Runner, queue: RequestQueue
) -> tuple[threading.Thread, list[RunResult]]:
    """Run ``runner`` (fed by ``queue``) on a thread of its own, as ``pdee serve`` does."""
    results: list[RunResult] = []
    thread = threading.Thread(target=lambda: results.append(runner.run()), name="serve")
    thread.start()
    assert queue.ready.wait(5)
    return thread, results


def test_on_the_real_clock_a_resumption_runs_when_its_time_comes():
    queue = RequestQueue()
    runner = Runner(
        PausingBackend(),
        plan([0.0], [{}], Policy(chaos=0.0), steps=TWO_STEPS),
        queue.finished,
        source=queue,
    )
    thread, results = serve_in_background(runner, queue)
    paused = queue.submit({"delay_ms": 300}).result(5)
    between = queue.submit({}).result(5)  # comes before the resumption's time
    deadline = time.monotonic() + 5
    while len(runner.result.executions) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.stop()
    thread.join(5)
    (result,) = results
    assert paused.pause is not None and paused.pause.resumed_as == 1
    assert between.index == 2  # requests and resumptions count on together
    resumed = result.executions.by_index(1)
    assert (resumed.part, resumed.first_index) == (2, 0)
    # Placed at its time (0.3 s after the first part ended), after the request between.
    assert paused.pause.resume_at_s is not None
    assert resumed.arrived_at_s == pytest.approx(paused.pause.resume_at_s, abs=1e-5)
    assert between.arrived_at_s < resumed.arrived_at_s <= resumed.at_s


def test_on_the_real_clock_a_resumption_not_yet_due_is_not_waited_for_at_the_stop():
    queue = RequestQueue()
    runner = Runner(
        PausingBackend(),
        plan([0.0], [{}], Policy(chaos=0.0), steps=TWO_STEPS),
        queue.finished,
        source=queue,
    )
    thread, results = serve_in_background(runner, queue)
    paused = queue.submit({"delay_ms": 3_600_000}).result(5)
    started = time.monotonic()
    queue.stop()
    thread.join(5)
    assert time.monotonic() - started < 2
    assert paused.pause is not None and paused.pause.outcome == "resumed"
    assert [e.index for e in results[0].executions] == [0]
