"""The runner's threads and virtual clock, with fake EEs instead of containers: no Docker.

A fake EE "runs" an execution by waiting for the event's ``sleep`` seconds, so the
runner's real concurrency, its waits on the virtual clock, its standby EEs and its
clean-up can be checked quickly and exactly.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pdee.driver import EEGone, ImageInfo
from pdee.errors import EEError
from pdee.runner import Runner, RunPlan
from pdee.runtime import fingerprint
from pdee.scheduler import Mode, Policy, simulate
from pdee.workflow import Step


class FakeEE:
    """Starts at once; runs an execution by waiting ``event["sleep"]`` seconds."""

    def __init__(self, engine: FakeEngine, ee_id: str) -> None:
        self.engine = engine
        self.id = ee_id
        self.started = False
        self.destroyed = threading.Event()
        self.running = 0

    def start(self) -> dict[str, Any]:
        if self.engine.fail_start_of == self.id:
            raise EEError(f"EE {self.id} could not start: no such image")
        time.sleep(self.engine.start_s)
        self.started = True
        return {"type": "hello", "python": "3.12.7"}

    def request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.started and not self.destroyed.is_set()
        if message["type"] == "load":
            return {"type": "loaded"}
        event = message["event"]
        self.running += 1
        with self.engine.lock:
            self.engine.in_flight += 1
            self.engine.most_in_flight = max(self.engine.most_in_flight, self.engine.in_flight)
        try:
            assert self.running == 1, f"two executions at once in {self.id}"
            if self.destroyed.wait(event.get("sleep", 0.0)):
                raise EEError(f"EE {self.id} was destroyed")
            if event.get("gone"):
                raise EEGone(f"EE {self.id} ended", oom_killed=True, container_exit_code=137)
            return {
                "status": event.get("status", "ok"),
                "duration_ms": event.get("sleep", 0.0) * 1000,
                "steps": {},
                "tmp": {"used_bytes": 0, "files": 0},
                "memory": {"peak_bytes": 0},
            }
        finally:
            self.running -= 1
            with self.engine.lock:
                self.engine.in_flight -= 1

    def destroy(self) -> None:
        self.destroyed.set()


class FakeEngine:
    """What the runner asks of Docker, answered in memory."""

    def __init__(self, start_s: float = 0.0, fail_start_of: str | None = None) -> None:
        self.start_s = start_s
        self.fail_start_of = fail_start_of
        self.ees: list[FakeEE] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.swept: list[str] = []

    def image(self, tag: str) -> ImageInfo:
        return ImageInfo(tag, "abc123", fingerprint(), "python:3.12-slim")

    def check_network(self, name: str) -> None:
        pass

    def ee(self, _spec: Any, _run_id: str, ee_id: str) -> FakeEE:
        ee = FakeEE(self, ee_id)
        self.ees.append(ee)
        return ee

    def remove_containers(self, run_id: str) -> int:
        self.swept.append(run_id)
        return 0


def plan(
    arrivals: list[float], events: list[dict[str, Any]], policy: Policy, **overrides: Any
) -> RunPlan:
    values: dict[str, Any] = {
        "steps": [Step(name="step", path=None, code="def handler(pd):\n    return 1\n")],
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
    engine = FakeEngine()
    runner = Runner(engine, plan(BURSTS, [{"sleep": s} for s in SLEEPS], policy))
    result = runner.run()
    simulated = simulate(policy, BURSTS, lambda index: SLEEPS[index])
    assert [(e["ee"], e["start"]) for e in result.executions] == simulated.placements
    starts = {e["start"] for e in result.executions}
    reasons = {ee["retired"] for ee in result.ees.values()}
    assert starts == {"cold", "warm"} and {"idle", "end"} <= reasons
    assert engine.most_in_flight == 3  # the bursts ran for real, 3 at a time
    assert all(ee.destroyed.is_set() for ee in engine.ees)
    assert engine.swept == [runner.run_id]


def test_virtual_time_of_a_burst_follows_real_durations():
    policy = Policy(concurrency=2, chaos=0.0)
    runner = Runner(FakeEngine(), plan([0.0] * 4, [{"sleep": 0.05}], policy))
    executions = runner.run().executions
    # Round robin over 2 EEs; the second round starts when the first one ends.
    assert [e["ee"] for e in executions] == ["ee-1", "ee-2", "ee-1", "ee-2"]
    assert [e["arrived_at_s"] for e in executions] == [0.0] * 4
    assert executions[0]["at_s"] == executions[1]["at_s"] == 0.0
    assert 0.05 <= executions[2]["at_s"] < 0.15 and 0.05 <= executions[3]["at_s"] < 0.15


def test_a_long_gap_costs_no_real_time():
    runner = Runner(FakeEngine(), plan([0.0, 3600.0, 7200.0], [{}], Policy(chaos=0.0)))
    started = time.monotonic()
    executions = runner.run().executions
    assert time.monotonic() - started < 1.0
    assert [e["start"] for e in executions] == ["cold", "cold", "cold"]  # expired each hour


def test_a_cold_start_counts_on_the_virtual_clock():
    engine = FakeEngine(start_s=0.2)
    runner = Runner(engine, plan([0.0, 0.1], [{"sleep": 0.01}], Policy(chaos=0.0)))
    first, second = runner.run().executions
    assert first["cold_start_ms"] >= 200
    # The event at 0.1 s found the EE still starting: it waited for it, warm.
    assert (second["ee"], second["start"]) == ("ee-1", "warm")
    assert second["at_s"] >= 0.21


def test_cold_mode_takes_standby_ees_started_ahead():
    engine = FakeEngine(start_s=0.05)
    runner = Runner(engine, plan([0.0, 10.0, 20.0], [{}], Policy(mode=Mode.COLD)))
    executions = runner.run().executions
    assert [e["ee"] for e in executions] == ["ee-1", "ee-2", "ee-3"]
    # Each start is measured, whoever made it; no standby outlives the events.
    assert all(e["cold_start_ms"] >= 50 for e in executions)
    assert len(engine.ees) == 3 and all(ee.destroyed.is_set() for ee in engine.ees)


@pytest.mark.parametrize(
    ("event", "retired"), [({"status": "timeout"}, "timeout"), ({"gone": True}, "oom")]
)
def test_an_ee_lost_to_its_execution_is_replaced(event, retired):
    events = [event, {}]
    result = Runner(FakeEngine(), plan([0.0, 5.0], events, Policy(chaos=0.0))).run()
    first, second = result.executions
    assert first["status"] == ("oom" if event.get("gone") else "timeout")
    assert result.ees["ee-1"]["retired"] == retired
    assert (second["ee"], second["start"]) == ("ee-2", "cold")


def test_an_ee_that_cannot_start_stops_the_run_and_everything_is_cleaned_up():
    engine = FakeEngine(fail_start_of="ee-2")
    runner = Runner(engine, plan([0.0] * 6, [{"sleep": 0.2}], Policy(concurrency=3)))
    with pytest.raises(EEError, match="ee-2 could not start"):
        runner.run()
    assert all(ee.destroyed.is_set() for ee in engine.ees)
    assert engine.swept == [runner.run_id]


def test_ctrl_c_in_the_main_thread_destroys_every_ee_mid_execution():
    engine = FakeEngine()

    def interrupt(_record: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    events = [{"sleep": 0.01}, {"sleep": 30}, {"sleep": 30}]
    runner = Runner(engine, plan([0.0] * 3, events, Policy(concurrency=3)), interrupt)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    # The two 30 s executions were cut short by their EEs' destruction.
    assert time.monotonic() - started < 5
    assert all(ee.destroyed.is_set() for ee in engine.ees)
