"""The scheduler's decisions, driven by fake EEs (``simulate``) on the virtual clock: no Docker."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import pytest

from pdee.lifecycle.scheduler import (
    Decision,
    Mode,
    Policy,
    Retire,
    Retirement,
    Scheduler,
    Start,
    arrival_times,
    chaos_draw,
    simulate,
)


def every(interval_s: float, count: int) -> list[float]:
    return arrival_times(count, seed=0, interval_s=interval_s)


QUIET = Policy(chaos=0.0)  # realistic, without random destruction


def test_realistic_reuses_the_warm_ee():
    run = simulate(QUIET, every(5, 4))
    assert run.placements == [("ee-1", "cold")] + [("ee-1", "warm")] * 3
    assert run.reasons() == Counter({Retire.END: 1})


def test_idle_longer_than_timeout_expires_the_ee():
    run = simulate(Policy(chaos=0.0, idle_timeout_s=600), every(700, 3), lambda _i: 1.0)
    assert run.placements == [("ee-1", "cold"), ("ee-2", "cold"), ("ee-3", "cold")]
    expired = [r for r in run.retired if r.reason is Retire.IDLE]
    # Expired at the end of its execution plus the idle timeout, not at the next arrival.
    assert [(r.ee, r.at_s) for r in expired] == [("ee-1", 601.0), ("ee-2", 1301.0)]


def test_idle_just_under_timeout_stays_warm():
    run = simulate(Policy(chaos=0.0, idle_timeout_s=600), every(600, 3), lambda _i: 1.0)
    assert [start for _, start in run.placements] == ["cold", "warm", "warm"]


def test_warm_and_cold_modes_ignore_idle_time():
    assert {s for _, s in simulate(Policy(mode=Mode.WARM), every(10_000, 4)).placements[1:]} == {
        "warm"
    }
    cold = simulate(Policy(mode=Mode.COLD), every(1, 3))
    assert cold.placements == [("ee-1", "cold"), ("ee-2", "cold"), ("ee-3", "cold")]
    assert cold.reasons() == Counter({Retire.COLD_MODE: 3})


def test_chaos_one_destroys_every_idle_ee_and_zero_none():
    run = simulate(Policy(chaos=1.0), every(5, 4))
    assert [start for _, start in run.placements] == ["cold"] * 4
    assert run.reasons() == Counter({Retire.CHAOS: 3, Retire.END: 1})
    assert simulate(Policy(chaos=0.0), every(5, 50)).reasons() == Counter({Retire.END: 1})


def test_chaos_never_destroys_a_busy_ee():
    # One long execution: arrivals meanwhile find it busy, so chaos cannot touch it.
    run = simulate(
        Policy(chaos=1.0, concurrency=2), every(1, 4), lambda i: 100.0 if i == 0 else 0.1
    )
    chaos = {r.ee for r in run.retired if r.reason is Retire.CHAOS}
    assert "ee-1" not in chaos and chaos


def test_same_seed_same_decisions_other_seed_other_decisions():
    def placements(seed: int) -> list[tuple[str, str]]:
        return simulate(Policy(chaos=0.3, seed=seed), every(5, 60)).placements

    assert placements(7) == placements(7)
    assert placements(7) != placements(8)


def test_chaos_draws_are_uniform_and_fixed_by_seed_event_and_ee():
    draws = [chaos_draw(1, index, "ee-1") for index in range(20_000)]
    assert all(0 <= d < 1 for d in draws)
    assert abs(sum(d < 0.01 for d in draws) / len(draws) - 0.01) < 0.003
    assert chaos_draw(1, 5, "ee-2") == chaos_draw(1, 5, "ee-2") != chaos_draw(2, 5, "ee-2")


def test_chaos_rate_matches_the_probability():
    run = simulate(Policy(chaos=0.05, seed=3), every(5, 2000))
    destroyed = run.reasons()[Retire.CHAOS]
    assert 60 < destroyed < 140  # one idle EE, 1999 draws at 0.05: about 100


def test_burst_spreads_round_robin_over_concurrency_ees():
    run = simulate(Policy(chaos=0.0, concurrency=3), every(0, 9), lambda _i: 1.0)
    assert [ee for ee, _ in run.placements] == ["ee-1", "ee-2", "ee-3"] * 3
    assert [s for _, s in run.placements] == ["cold"] * 3 + ["warm"] * 6
    assert [d.at_s for d in run.decisions] == [0.0] * 3 + [1.0] * 3 + [2.0] * 3
    assert all(d.arrived_at_s == 0.0 for d in run.decisions)


@pytest.mark.parametrize("eager", [False, True], ids=["ends-reported-late", "ends-reported-early"])
@pytest.mark.parametrize("mode", list(Mode))
def test_never_more_than_concurrency_in_flight_nor_two_in_one_ee(mode, eager):
    rng = random.Random(5)
    arrivals = arrival_times(300, seed=5, rate_per_minute=600)
    durations = [rng.uniform(0.01, 0.5) for _ in arrivals]
    statuses = [rng.choice(["ok"] * 8 + ["oom", "timeout"]) for _ in arrivals]
    policy = Policy(mode=mode, concurrency=3, chaos=0.0 if mode is not Mode.REALISTIC else 0.05)
    run = simulate(policy, arrivals, lambda i: durations[i], lambda i: statuses[i], eager=eager)
    spans = [(d.at_s, run.ends[d.index], d.ee) for d in run.decisions]
    for at_s, _, _ in spans:
        overlapping = [s for s in spans if s[0] <= at_s < s[1]]
        assert len(overlapping) <= 3
        assert len({ee for _, _, ee in overlapping}) == len(overlapping)
    assert all(d.at_s >= d.arrived_at_s for d in run.decisions)


def test_most_recently_used_idle_ee_is_reused():
    # Two EEs from an overlap, then one event at a time: the latest used one serves.
    arrivals = [0.0, 0.5, 10.0, 20.0]
    run = simulate(Policy(chaos=0.0, concurrency=2), arrivals, lambda _i: 1.0)
    assert [ee for ee, _ in run.placements] == ["ee-1", "ee-2", "ee-2", "ee-2"]


def test_warm_workers_start_first_serve_warm_and_never_expire():
    policy = Policy(chaos=0.0, concurrency=2, warm_workers=2, idle_timeout_s=60)
    run = simulate(policy, [0.0, 0.0, 1000.0], lambda _i: 1.0)
    assert run.prestarted == ["ee-1", "ee-2"]
    assert run.placements == [("ee-1", "warm"), ("ee-2", "warm"), ("ee-2", "warm")]
    assert Retire.IDLE not in run.reasons()


def test_a_warm_worker_destroyed_at_random_is_replaced():
    # Chaos strikes before every arrival, the first included; a new warm worker
    # replaces each one at once, so every event still finds a started (empty) EE.
    run = simulate(Policy(chaos=1.0, warm_workers=1), every(5, 3))
    assert run.prestarted == ["ee-1", "ee-2", "ee-3", "ee-4"]
    assert run.placements == [("ee-2", "warm"), ("ee-3", "warm"), ("ee-4", "warm")]
    assert run.reasons()[Retire.CHAOS] == 3


def fails_first(status: str) -> Callable[[int], str]:
    return lambda index: status if index == 0 else "ok"


@pytest.mark.parametrize("status", ["oom", "timeout"])
def test_realistic_retires_an_ee_whose_execution_ran_out_of_memory_or_time(status):
    run = simulate(QUIET, every(5, 2), status=fails_first(status))
    assert run.placements == [("ee-1", "cold"), ("ee-2", "cold")]
    assert run.retired[0] == Retirement("ee-1", 0.1, Retire(status))


def test_warm_mode_keeps_the_ee_after_a_timeout_and_an_error_never_retires():
    assert simulate(Policy(mode=Mode.WARM), every(5, 2), status=fails_first("timeout")).placements[
        1
    ] == ("ee-1", "warm")
    assert simulate(QUIET, every(5, 2), status=fails_first("error")).placements[1] == (
        "ee-1",
        "warm",
    )


def test_a_gone_container_retires_its_ee_in_every_mode():
    scheduler = Scheduler(Policy(mode=Mode.WARM))
    decision = scheduler.arrive(0, 0.0).decision
    assert decision is not None
    assert scheduler.finish(decision.ee, 1.0, "oom", gone=True) == [
        Retirement("ee-1", 1.0, Retire.OOM)
    ]
    decision = scheduler.arrive(1, 2.0).decision
    assert decision == Decision(1, 2.0, 2.0, "ee-2", Start.COLD)
    assert scheduler.finish("ee-2", 3.0, "error", gone=True)[0].reason is Retire.BROKEN


@pytest.mark.parametrize("eager", [False, True])
def test_cold_mode_burst_waits_then_starts_a_new_ee(eager):
    # Reported early or late, a retired EE's slot stays taken until its virtual end.
    run = simulate(Policy(mode=Mode.COLD, concurrency=2), every(0, 4), lambda _i: 1.0, eager=eager)
    assert run.placements == [(f"ee-{n}", "cold") for n in range(1, 5)]
    assert [d.at_s for d in run.decisions] == [0.0, 0.0, 1.0, 1.0]


def test_same_decisions_whether_ends_are_reported_early_or_late():
    arrivals = arrival_times(200, seed=2, rate_per_minute=120)
    for policy in (
        Policy(concurrency=3, chaos=0.05, seed=2),
        Policy(mode=Mode.COLD, concurrency=2),
    ):
        late = simulate(policy, arrivals, lambda i: 0.2 + (i % 5) * 0.3)
        early = simulate(policy, arrivals, lambda i: 0.2 + (i % 5) * 0.3, eager=True)
        assert late.decisions == early.decisions


def test_protocol_misuse_is_refused():
    scheduler = Scheduler(Policy(chaos=0.0))
    scheduler.arrive(0, 0.0)
    arrival = scheduler.arrive(1, 0.0)
    assert arrival.wait_for == "ee-1"
    with pytest.raises(ValueError, match="not been reported"):
        scheduler.resume(1, 0.0, "ee-1")
    scheduler.finish("ee-1", 1.0)
    with pytest.raises(ValueError, match="no execution in flight"):
        scheduler.finish("ee-1", 2.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"chaos": 1.5}, "probability"),
        ({"idle_timeout_s": 0}, "idle_timeout_s"),
        ({"warm_workers": -1}, "negative"),
        ({"warm_workers": 1, "mode": Mode.COLD}, "never reuses"),
    ],
)
def test_policy_rejects_nonsense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Policy(**kwargs)


def test_arrival_times():
    assert arrival_times(3, seed=0, interval_s=2.5) == [0.0, 2.5, 5.0]
    assert arrival_times(3, seed=0, interval_s=0) == [0.0, 0.0, 0.0]
    assert arrival_times(2, seed=0, timestamps=[100.0, 130.0, 400.0]) == [0.0, 30.0]
    poisson = arrival_times(5000, seed=4, rate_per_minute=30)
    assert poisson == arrival_times(5000, seed=4, rate_per_minute=30)
    assert poisson != arrival_times(5000, seed=5, rate_per_minute=30)
    mean_gap = poisson[-1] / (len(poisson) - 1)
    assert 1.9 < mean_gap < 2.1  # 30 a minute: one every 2 s on average
    with pytest.raises(ValueError, match="exactly one"):
        arrival_times(3, seed=0, interval_s=1, rate_per_minute=1)
