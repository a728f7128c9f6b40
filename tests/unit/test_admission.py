"""Admission control (``lifecycle.admission``): the platform's fixed-window throttle and
event queue, pure, on virtual times; and a property over any arrivals and durations."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdee.lifecycle.admission import (
    FREE_PLAN_QUEUE_SIZE,
    Admission,
    Throttle,
    Verdict,
)


def starts(admission: Admission, arrivals: list[float], durations: list[float], workers: int = 1):
    """Each arrival's fate as the runner meets it: dropped or paused, or the start the
    throttle allows once one of ``workers`` is free (FIFO). Returns (verdicts, starts)."""
    free = [0.0] * workers
    verdicts, began = [], []
    for at_s, duration in zip(arrivals, durations, strict=True):
        verdict = admission.arrive(at_s)
        verdicts.append(verdict)
        if verdict is not Verdict.QUEUED:
            began.append(None)
            continue
        release = admission.release(at_s)
        worker = min(range(workers), key=lambda w: free[w])
        start = admission.start(max(release, free[worker]))
        free[worker] = start + duration
        began.append(start)
    return verdicts, began


@pytest.mark.parametrize(
    ("text", "limit", "interval_s"),
    [("2/60", 2, 60.0), (" 10 / 1m ", 10, 60.0), ("0/5", 0, 5.0), ("10000/2h", 10_000, 7200.0)],
)
def test_a_throttle_is_n_per_seconds_minutes_or_hours(text, limit, interval_s):
    throttle = Throttle.parse(text)
    assert (throttle.limit, throttle.interval_s) == (limit, interval_s)


@pytest.mark.parametrize("text", ["2", "two/60", "2/0", "10001/60", "-1/60", "2/60x", ""])
def test_a_throttle_out_of_the_platforms_ranges_is_refused(text):
    with pytest.raises(ValueError):
        Throttle.parse(text)


def test_a_burst_is_spread_over_fixed_windows_of_the_limit():
    admission = Admission(Throttle(2, 60.0))
    _, began = starts(admission, [0.0] * 5, [0.1] * 5)
    assert began == [0.0, 0.1, 60.0, 60.1, 120.0]


def test_a_window_opens_at_its_first_start_not_on_the_clock():
    # "the remaining events will be queued until 1 minute from the start of the initial event"
    admission = Admission(Throttle(1, 60.0))
    _, began = starts(admission, [10.0, 20.0, 30.0], [1.0] * 3)
    assert began == [10.0, 70.0, 130.0]


def test_once_a_window_closed_the_next_start_opens_one_at_once():
    admission = Admission(Throttle(1, 60.0))
    _, began = starts(admission, [0.0, 100.0, 101.0], [1.0] * 3)
    assert began == [0.0, 100.0, 160.0]


def test_a_long_execution_does_not_wait_for_a_window_it_outlasted():
    # 1 worker, 1 a second: an event longer than the interval lets the next start at once.
    admission = Admission(Throttle(1, 1.0))
    _, began = starts(admission, [0.0, 0.0], [2.5, 0.1])
    assert began == [0.0, 2.5]


def test_no_arrival_starts_before_an_earlier_one_held_for_a_window():
    admission = Admission(Throttle(2, 60.0))
    assert admission.arrive(0.0) is Verdict.QUEUED
    assert admission.start(0.0) == 0.0
    assert admission.arrive(0.0) is Verdict.QUEUED
    assert admission.start(0.0) == 0.0
    assert admission.arrive(1.0) is Verdict.QUEUED
    assert admission.start(admission.release(1.0)) == 60.0
    assert admission.arrive(2.0) is Verdict.QUEUED
    assert admission.release(2.0) == 60.0  # in the window the one before it opened


def test_the_docs_example_a_burst_of_200_at_concurrency_1_runs_100_and_drops_100():
    admission = Admission(queue_size=FREE_PLAN_QUEUE_SIZE)
    verdicts, began = starts(admission, [0.0] * 200, [1.0] * 200)
    assert verdicts == [Verdict.QUEUED] * 100 + [Verdict.DROPPED] * 100
    assert began[:100] == [float(i) for i in range(100)] and began[100:] == [None] * 100


def test_a_queue_of_1_with_a_slow_step_drops_what_arrives_while_one_waits():
    admission = Admission(queue_size=1)
    verdicts, began = starts(admission, [0.0, 1.0, 2.0, 3.0, 4.5], [3.0] * 5)
    # #0 runs at once; #1 waits for it until 3; #2 arrives while #1 waits: dropped; #3
    # arrives as #1 starts (still in the queue at that instant): dropped; #4 waits.
    assert verdicts == [Verdict.QUEUED, Verdict.QUEUED, Verdict.DROPPED, Verdict.DROPPED,
                        Verdict.QUEUED]  # fmt: skip
    assert began == [0.0, 3.0, None, None, 6.0]


def test_a_throttle_of_0_pauses_every_event_which_then_fills_the_queue():
    admission = Admission(Throttle(0, 60.0), queue_size=2)
    assert [admission.arrive(float(t)) for t in range(4)] == [
        Verdict.PAUSED, Verdict.PAUSED, Verdict.DROPPED, Verdict.DROPPED
    ]  # fmt: skip
    assert admission.release(10.0) == math.inf
    with pytest.raises(ValueError, match="pauses"):
        admission.start(10.0)


def test_arrivals_out_of_time_order_are_refused():
    admission = Admission(queue_size=5)
    admission.arrive(5.0)
    with pytest.raises(ValueError, match="after one at 5"):
        admission.arrive(4.0)


@settings(max_examples=300, deadline=None)
@given(
    gaps=st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0, 7.0, 61.0]), min_size=1, max_size=40),
    durations=st.lists(st.floats(0.01, 90.0), min_size=40, max_size=40),
    workers=st.integers(1, 3),
    limit=st.one_of(st.none(), st.integers(0, 4)),
    interval_s=st.sampled_from([1.0, 10.0, 60.0]),
    queue_size=st.one_of(st.none(), st.integers(1, 5)),
)
def test_no_arrival_is_both_run_and_dropped_and_no_window_runs_past_its_limit(
    gaps, durations, workers, limit, interval_s, queue_size
):
    arrivals = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    throttle = None if limit is None else Throttle(limit, interval_s)
    admission = Admission(throttle, queue_size)
    verdicts, began = starts(admission, arrivals, durations[: len(arrivals)], workers)
    ran = {i for i, start in enumerate(began) if start is not None}
    not_run = {i for i, v in enumerate(verdicts) if v is not Verdict.QUEUED}
    assert ran.isdisjoint(not_run) and ran | not_run == set(range(len(arrivals)))
    assert all(began[i] >= arrivals[i] for i in ran)
    if throttle is not None and throttle.paused:
        assert not ran
    if throttle is not None:  # each window opens at a start; at most limit starts in it
        opened, in_window = -math.inf, 0
        for at in sorted(began[i] for i in ran):
            if at >= opened + interval_s:
                opened, in_window = at, 0
            in_window += 1
            assert in_window <= throttle.limit
    if queue_size is not None:  # at each arrival, at most queue_size admitted ones wait
        for i, at in enumerate(arrivals):
            waiting = [j for j in range(i) if j not in not_run and began[j] >= at]
            paused = [j for j in range(i) if verdicts[j] is Verdict.PAUSED]
            assert len(waiting) + len(paused) <= queue_size
    if queue_size is None:
        assert Verdict.DROPPED not in verdicts
