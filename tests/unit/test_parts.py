"""What follows a paused part (pd.flow.delay, suspend, rerun): pure, no Docker; and a
part past the century pdee's virtual clock carries, which is not run (``follow``, then a
whole yearly rerun loop through the runner on the fake backend)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fake_backend import FakeBackend, FakeEE

from pdee.backends import EESpec, OnCall
from pdee.engine.parts import Part, follow, past_the_clock
from pdee.engine.runner import Runner
from pdee.lifecycle.scheduler import Arrivals, Mode, Policy, Start
from pdee.outputs import report
from pdee.plan.events import MAX_SPAN_S
from pdee.plan.run_plan import RunPlan
from pdee.plan.steps import Step
from pdee.results.records import Execution, Pause, Status, StepResult
from pdee.runtime import protocol

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


# --- the century pdee's virtual clock carries ---------------------------------------------

YEAR_MS = 365 * 86400 * 1000  # pd.flow's longest delay


@pytest.mark.parametrize(
    ("kind", "ms", "resume_after_s"),
    [("delay", YEAR_MS, None), ("rerun", YEAR_MS, None), ("suspend", YEAR_MS, 86400.0)],
)
def test_a_part_past_the_century_is_not_run_and_the_record_says_why(kind, ms, resume_after_s):
    end_s = MAX_SPAN_S - 3600.0  # an hour before the clock's end
    record, resumption = follow(
        Part(0, 0), paused(kind, "wait", ms), STEPS, end_s, 3, resume_after_s
    )
    assert resumption is None and record.pause is not None
    assert record.pause.outcome is not None and "\n" not in record.pause.outcome
    assert record.pause.outcome.startswith("not run: it would start 10")
    assert record.pause.outcome.endswith("past the 100 years pdee's virtual clock carries")
    assert record.pause.resumed_as is None and record.pause.resume_at_s is not None
    assert record.pause.resume_at_s > MAX_SPAN_S


def test_a_part_that_lands_on_the_centurys_last_second_runs():
    _, resumption = follow(
        Part(0, 0), paused("delay", "wait", 1000), STEPS, MAX_SPAN_S - 1, 3, None
    )
    assert resumption is not None and resumption.at_s == MAX_SPAN_S


def test_a_time_that_is_no_number_is_never_scheduled():
    record, resumption = follow(Part(0, 0), paused("delay", "wait", math.nan), STEPS, 0.0, 3, None)
    assert resumption is None and record.pause is not None
    assert record.pause.resume_at_s is None  # the report holds no NaN
    assert record.pause.outcome == past_the_clock(math.nan)
    assert "an unknown time" in past_the_clock(math.inf)


class YearlyRerun(FakeEE):
    """A fake EE whose step calls ``pd.flow.rerun`` a year later, every time."""

    def request(
        self, message: protocol.Request, timeout_s: float, on_call: OnCall | None = None
    ) -> protocol.Reply:
        reply = super().request(message, timeout_s, on_call)
        if message["type"] == protocol.RUN:
            reply["pause"] = {"kind": "rerun", "step": "step", "ms": YEAR_MS,
                              "resume_url": "https://r", "cancel_url": "https://c",
                              "context": None}  # fmt: skip
        return reply


class YearlyBackend(FakeBackend):
    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> FakeEE:
        ee = YearlyRerun(self, spec, ee_id)
        self.ees.append(ee)
        return ee


def test_a_yearly_rerun_loop_ends_at_the_century_with_its_report(tmp_path):
    # A schedule may start as late as the year 8999: a century on, times are still dates.
    plan = RunPlan(
        steps=[Step(name="step", path=Path("step.py"), code="def handler(pd):\n    return 1\n")],
        events=[{}],
        arrivals=Arrivals(1, 0, interval_s=0.0),
        inputs={},
        policy=Policy(mode=Mode.WARM),
        tmp_size_bytes=2**30,
        memory_bytes=2**28,
        timeout_s=30.0,
        network="none",
        image="pdee-ee:test",
        origin=datetime(8999, 12, 31, tzinfo=timezone.utc),
    )
    result = Runner(YearlyBackend(), plan).run()
    parts = list(result.executions)
    assert len(parts) == 101  # years 0 to 100
    assert all(e.status.value == "ok" for e in parts)
    last = parts[-1]
    assert last.part == 101 and last.pause is not None
    assert last.pause.outcome == past_the_clock(last.pause.resume_at_s or 0.0)
    assert [e.pause.outcome for e in parts[:-1] if e.pause] == ["resumed"] * 100
    report.write_run(tmp_path / "report.json", result)
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["executions"][-1]["pause"]["outcome"].startswith("not run: it would start")
    assert report.exit_code(result) == 0


def test_the_part_that_follows_keeps_the_execution_and_starts_where_it_is_told():
    first = Part(index=3, first_index=3, event={"a": 1}, trace_id="t", blobs={"k": {}})
    later = first.following(7, 2, {"s": {"$return_value": 1}}, run={"runs": 2}, attempt=3)
    assert later == Part(
        index=7, first_index=3, number=2, event={"a": 1}, trace_id="t", start_step=2,
        prior_steps={"s": {"$return_value": 1}}, run={"runs": 2}, attempt=3, blobs={"k": {}},
    )  # fmt: skip
    assert later.following(9, 2, {}).number == 3 and later.following(9, 2, {}).attempt == 1
