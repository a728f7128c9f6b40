"""What follows a paused part (pd.flow.delay, suspend, rerun): pure, no Docker."""

from __future__ import annotations

from pdee.engine.parts import Part, follow
from pdee.lifecycle.scheduler import Start
from pdee.results.records import Execution, Pause, Status, StepResult

STEPS = ["write", "wait", "upload"]


def paused(kind: str, step: str, ms: float, context=None, ran=("write", "wait")) -> Execution:
    return Execution(
        index=0, ee="ee-1", start=Start.COLD, status=Status.OK, arrived_at_s=0.0, at_s=0.0,
        duration_ms=5.0,
        steps={
            name: StepResult(return_value=f"{name}-rv", exports={"n": 1}, logs="", duration_ms=1)
            for name in ran
        },
        pause=Pause(kind, step, ms, "https://r", "https://c", context),
    )  # fmt: skip


def test_a_delay_resumes_at_the_next_step_with_the_earlier_results():
    first = Part(index=0, first_index=0, event={"a": 1}, trace_id="T")
    record, resumption = follow(first, paused("delay", "wait", 1_200_000), STEPS, 10.0, 7, None)
    assert resumption is not None and resumption.at_s == 1210.0
    part = resumption.part
    assert (part.index, part.first_index, part.number, part.start_step) == (7, 0, 2, 2)
    assert part.trace_id == "T" and part.event == {"a": 1} and part.run is None
    assert part.prior_steps["wait"] == {"$return_value": "wait-rv", "n": 1}
    assert record.pause is not None and record.pause.outcome == "resumed"
    assert record.pause.resumed_as == 7 and record.pause.resume_at_s == 1210.0
    assert part.message() == {"start_step": 2, "prior_steps": part.prior_steps, "run": None}


def test_a_rerun_runs_the_same_step_with_runs_and_context():
    first = Part(index=0, first_index=0, trace_id="T")
    _, resumption = follow(first, paused("rerun", "wait", 1000, {"k": 1}), STEPS, 1.0, 5, None)
    assert resumption is not None
    part = resumption.part
    assert part.start_step == 1 and part.run == {"runs": 2, "context": {"k": 1}}
    assert "wait" not in part.prior_steps and "write" in part.prior_steps
    # the rerun reruns again: runs counts on
    again = paused("rerun", "wait", 1000, {"k": 2}, ran=("wait",))
    _, second = follow(part, again, STEPS, 3.0, 6, None)
    assert second is not None and second.part.run == {"runs": 3, "context": {"k": 2}}
    assert second.part.number == 3


def test_a_suspend_is_cancelled_unless_resumed_in_time():
    first = Part(index=0, first_index=0)
    day = 24 * 3600 * 1000
    record, resumption = follow(first, paused("suspend", "wait", day), STEPS, 0.0, 3, None)
    assert resumption is None and record.pause is not None
    assert record.pause.outcome == "cancelled" and record.pause.resume_at_s == 86400.0
    late, none = follow(first, paused("suspend", "wait", 1000), STEPS, 0.0, 3, 3600)
    assert none is None and late.pause is not None and late.pause.outcome == "cancelled"
    _, resumed = follow(first, paused("suspend", "wait", day), STEPS, 0.0, 3, 3600, {"ok": True})
    assert resumed is not None and resumed.at_s == 3600.0
    assert resumed.part.prior_steps["wait"]["$resume_data"] == {"ok": True}


def test_a_delay_in_the_last_step_leaves_nothing_to_resume():
    record, resumption = follow(
        Part(0, 0), paused("delay", "upload", 1000, ran=STEPS), STEPS, 0.0, 3, None
    )
    assert resumption is None and record.pause is not None
    assert record.pause.outcome == "nothing after it"


def test_an_execution_that_did_not_pause_has_no_next_part():
    plain = paused("delay", "wait", 1000)
    plain = Execution(**{**plain.__dict__, "pause": None})
    assert follow(Part(0, 0), plain, STEPS, 0.0, 3, None) == (plain, None)
