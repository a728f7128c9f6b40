"""Auto-retry (issue 30), without Docker: the backoff schedule and who is retried (pure),
a failed part's retry as a later part (``Retries.after``), whole runs on the fake backend
through the real ``Runner``, the setting's sources, and ``pdee check``'s retry verdict."""

from __future__ import annotations

import itertools
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend, FakeEE

from pdee.backends import EESpec, OnCall
from pdee.checking.retries import judge_retries, repeated_writes
from pdee.checking.verdicts import ADVICE, Outcome, final_attempt
from pdee.engine.parts import Part
from pdee.engine.retries import Retries
from pdee.engine.runner import Runner
from pdee.errors import UsageError
from pdee.lifecycle.retry import MAX_RETRIES, SPAN_S, backoff_s, schedule, why_not
from pdee.lifecycle.scheduler import Arrivals, Decision, Mode, Policy, Start
from pdee.outputs import junit, report, terminal
from pdee.plan.run_plan import RunPlan, build_plan
from pdee.plan.steps import Step
from pdee.results.records import Execution, RunResult, Settings, Status, StepError, StepResult
from pdee.runtime import protocol

STEPS = ["fetch", "upload", "notify"]
ORIGIN = datetime(2026, 1, 1, tzinfo=timezone.utc)

# -- the schedule and the rules (pure) -------------------------------------------------


def test_eight_delays_each_twice_the_last_add_up_to_ten_hours():
    delays = schedule()
    assert len(delays) == MAX_RETRIES == 8
    assert sum(delays) == SPAN_S == 36_000
    assert delays == [141, 282, 565, 1129, 2259, 4518, 9035, 18071]
    assert all(1.9 < b / a < 2.1 for a, b in itertools.pairwise(delays))


@pytest.mark.parametrize("retry", [0, 9, -1])
def test_there_is_no_ninth_retry(retry):
    with pytest.raises(ValueError, match="1 to 8"):
        backoff_s(retry)


@pytest.mark.parametrize(
    ("status", "step", "attempt", "why"),
    [
        ("error", "fetch", 1, None),
        ("error", "fetch", 8, None),
        ("error", "fetch", 9, "failed after 8 retries: the platform gives up"),
        ("oom", "fetch", 1, "not retried: the platform never retries out of memory"),
        ("timeout", "fetch", 1, "not retried: the platform never retries a timeout"),
        ("error", None, 1, "not retried: no step failed (the platform retries from the failed step)"),
        ("ok", None, 1, "it passed"),
        ("exit", None, 1, "it passed"),
    ],
)  # fmt: skip
def test_who_is_retried(status, step, attempt, why):
    assert why_not(status, step, attempt) == why


# -- a failed part's retry (pure) ------------------------------------------------------


def failed(
    status: Status = Status.ERROR,
    step: str | None = "upload",
    ran=("fetch", "upload"),
    index: int = 0,
    leaves=(),
) -> Execution:
    from pdee.results.records import TmpUsage

    return Execution(
        index=index, ee="ee-1", start=Start.COLD, status=status, arrived_at_s=0.0, at_s=0.0,
        duration_ms=5.0,
        error=StepError("OSError", "connection reset", step, "Traceback ..."),
        steps={
            name: StepResult(return_value=f"{name}-rv", exports={"n": 1}, logs="", duration_ms=1)
            for name in ran
        },
        tmp=TmpUsage(4096, 4096, len(leaves), 2**31, some_files=list(leaves)),
        context_id="C1",
    )  # fmt: skip


def decision(ee: str = "ee-1", start: Start = Start.COLD, index: int = 0) -> Decision:
    return Decision(index=index, ee=ee, start=start, arrived_at_s=0.0, at_s=0.0)


def test_a_failed_step_is_retried_from_itself_with_the_earlier_results_kept():
    retries = Retries(True, STEPS, ORIGIN)
    first = Part(index=0, first_index=0, event={"a": 1}, trace_id="T")
    record, resumption = retries.after(first, failed(), decision(), 10.0, 7)
    assert resumption is not None and resumption.at_s == 10.0 + 141
    part = resumption.part
    assert (part.index, part.first_index, part.number, part.start_step, part.attempt) == (
        7, 0, 2, 1, 2,
    )  # fmt: skip
    assert part.trace_id == "T" and part.event == {"a": 1}
    assert part.prior_steps == {"fetch": {"$return_value": "fetch-rv", "n": 1}}
    assert part.message()["start_step"] == 1
    assert record.retry is not None and record.retried and not record.failed
    assert (record.retry.step, record.retry.attempt, record.retry.retried_as) == ("upload", 1, 7)
    exports = record.steps["upload"].exports
    assert exports["$summary"] == "retried 0 of 8 times; retry 1 at 2026-01-01T00:02:31.000Z"
    attempt = exports["$attempt"]
    assert attempt["resume_ts"] == "2026-01-01T00:02:31.000Z"
    assert attempt["error"] == {
        "name": "OSError",
        "message": "connection reset",
        "stack": "Traceback ...",
    }
    assert attempt["rerun_url"].endswith("/C1/retry/rerun") and attempt["cancel_url"].endswith(
        "/cancel"
    )


def test_each_retry_waits_twice_as_long_and_the_ninth_attempt_is_the_last():
    retries = Retries(True, STEPS, ORIGIN)
    part = Part(index=0, first_index=0)
    at_s, times = 0.0, []
    for _ in range(MAX_RETRIES):
        _, resumption = retries.after(part, failed(), decision(), at_s, part.index + 1)
        assert resumption is not None
        times.append(resumption.at_s - at_s)
        part, at_s = resumption.part, resumption.at_s
    assert times == schedule() and part.attempt == 9
    record, resumption = retries.after(part, failed(), decision(), at_s, 99)
    assert resumption is None
    assert record.retry is not None and record.failed
    assert record.retry.outcome == "failed after 8 retries: the platform gives up"
    assert record.steps["upload"].exports["$summary"].endswith("no more retries")


@pytest.mark.parametrize("status", [Status.OOM, Status.TIMEOUT])
def test_out_of_memory_and_timeouts_are_never_retried(status):
    record, resumption = Retries(True, STEPS, ORIGIN).after(
        Part(0, 0), failed(status), decision(), 1.0, 1
    )
    assert resumption is None and record.failed
    assert record.retry is not None and record.retry.outcome.startswith("not retried")
    assert "$summary" not in record.steps["upload"].exports


def test_without_auto_retry_nothing_is_retried_or_added():
    record, resumption = Retries(False, STEPS, ORIGIN).after(
        Part(0, 0), failed(), decision(), 1.0, 1
    )
    assert resumption is None and record.retry is None and record.failed


def test_a_later_step_failing_in_a_retry_starts_its_own_count():
    retries = Retries(True, STEPS, ORIGIN)
    retry_part = Part(index=5, first_index=0, number=2, start_step=1, attempt=3)
    record, resumption = retries.after(
        retry_part, failed(step="notify", ran=("upload", "notify")), decision(), 0.0, 6
    )
    assert resumption is not None and resumption.part.attempt == 2
    assert resumption.at_s == 141 and resumption.part.start_step == 2
    assert record.attempt == 3 and record.retry is not None and record.retry.attempt == 1


def test_a_retry_warm_on_the_failed_attempts_ee_finds_its_files():
    retries = Retries(True, STEPS, ORIGIN)
    leaves = ["/tmp/partial.csv"]
    _, resumption = retries.after(Part(0, 0), failed(leaves=leaves), decision("ee-1"), 0.0, 1)
    assert resumption is not None
    record, _ = retries.after(
        resumption.part,
        failed(Status.OK, index=1, leaves=leaves),
        decision("ee-1", Start.WARM, 1),
        200.0,
        2,
    )
    assert record.attempt == 2 and record.found_files == leaves


@pytest.mark.parametrize(("ee", "start"), [("ee-2", Start.WARM), ("ee-1", Start.COLD)])
def test_a_retry_elsewhere_or_cold_finds_nothing(ee, start):
    retries = Retries(True, STEPS, ORIGIN)
    leaves = ["/tmp/partial.csv"]
    _, resumption = retries.after(Part(0, 0), failed(leaves=leaves), decision("ee-1"), 0.0, 1)
    assert resumption is not None
    record, _ = retries.after(
        resumption.part, failed(Status.OK, index=1), decision(ee, start, 1), 200.0, 2
    )
    assert record.found_files == []


# -- whole runs on the fake backend ----------------------------------------------------


class Flaky(FakeEE):
    """Fails in step "step" until attempt ``event["ok_on"]``, leaving ``event["leaves"]``."""

    run_id = ""

    def run(self, message: protocol.Run, on_call: OnCall | None) -> protocol.Result:
        reply = super().run(message, on_call)
        event = message["event"]
        # By run too: pdee check's two runs may give their executions the same trace ids.
        key = (self.run_id, message["context"]["trace_id"])
        attempt = self.backend.attempts.get(key, 0) + 1  # type: ignore[attr-defined]
        self.backend.attempts[key] = attempt  # type: ignore[attr-defined]
        self.backend.starts.append(message.get("start_step", 0))  # type: ignore[attr-defined]
        if attempt < event.get("ok_on", 99):
            reply["status"] = event.get("fail_as", "error")
            reply["error"] = {
                "type": "OSError",
                "message": "reset",
                "traceback": None,
                "step": "step",
            }
        return reply


class FlakyBackend(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.attempts: dict[tuple[str, str], int] = {}
        self.starts: list[int] = []

    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> FakeEE:
        ee = Flaky(self, spec, ee_id)
        ee.run_id = run_id
        self.ees.append(ee)
        return ee


def plan(event: dict[str, Any], auto_retry: bool = True, mode: Mode = Mode.REALISTIC) -> RunPlan:
    return RunPlan(
        steps=[Step(name="step", path=Path("step.py"), code="def handler(pd):\n    return 1\n")],
        events=[event],
        arrivals=Arrivals(1, 0, interval_s=0.0),
        inputs={},
        policy=Policy(mode=mode, chaos=0.0),
        tmp_size_bytes=2**30,
        memory_bytes=2**28,
        timeout_s=30.0,
        network="none",
        image="pdee-ee:test",
        origin=ORIGIN,
        auto_retry=auto_retry,
    )


def test_a_run_retries_until_the_step_passes_and_counts_it(tmp_path):
    backend = FlakyBackend()
    event = {"ok_on": 3, "leaves": ["/tmp/partial.csv"]}
    result = Runner(backend, plan(event)).run()
    parts = list(result.executions)
    assert [(e.attempt, e.status.value, e.retried) for e in parts] == [
        (1, "error", True), (2, "error", True), (3, "ok", False),
    ]  # fmt: skip
    # Each retry's delay counts from the end of the attempt before it.
    assert [e.at_s for e in parts] == pytest.approx([0.0, 141.0, 141.0 + 282.0], abs=1.0)
    assert parts[1].at_s >= 141.0 and parts[2].at_s - parts[1].at_s >= 282.0
    assert [e.start.value for e in parts] == ["cold", "warm", "warm"]  # within 600 s idle
    assert parts[1].found_files == ["/tmp/partial.csv"] and parts[0].found_files is None
    assert {e.trace_id for e in parts} == {parts[0].trace_id}
    assert [e.first_index for e in parts] == [None, 0, 0] and parts[2].part == 3
    assert backend.starts == [0, 0, 0]
    summary = result.summary
    assert (summary.ok, summary.failed, summary.retried_parts, summary.retried) == (1, 0, 2, 1)
    assert summary.failed_after_retries == 0
    assert result.passed and report.exit_code(result) == 0
    assert result.settings.auto_retry.to_json() == {
        "on": True,
        "max_retries": 8,
        "backoff_s": schedule(),
    }
    line = terminal.summary_line(result)
    assert "3 executions: 1 ok, 0 failed, 2 retried (1 execution retried, 0 failed after" in line
    report.write_run(tmp_path / "r.json", result)
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["executions"][1]["attempt"] == 2
    assert written["executions"][0]["retry"]["outcome"] == "retried"
    assert written["summary"]["retried"] == 1
    xml = junit.run_xml(result).tostring().decode()  # type: ignore[attr-defined]
    assert 'failures="0"' in xml and "<failure" not in xml
    assert "attempt 1 of step failed: retry → #1" in xml
    assert final_attempt(result, parts[0]).index == parts[2].index


def test_a_step_that_always_fails_is_tried_nine_times_over_ten_hours_then_fails():
    result = Runner(FlakyBackend(), plan({})).run()
    parts = list(result.executions)
    assert len(parts) == 1 + MAX_RETRIES
    assert parts[-1].at_s == pytest.approx(SPAN_S, abs=1.0)
    # The later retries come after the 10-minute idle expiry: cold, with nothing left.
    assert [e.start.value for e in parts][-4:] == ["cold"] * 4
    assert result.summary.failed == 1 and result.summary.failed_after_retries == 1
    assert not result.passed and report.exit_code(result) == 1


def test_an_oom_is_not_retried_in_a_run():
    result = Runner(FlakyBackend(), plan({"fail_as": "oom"})).run()
    (only,) = list(result.executions)
    assert only.status is Status.OOM and only.retry is not None and only.failed
    assert result.summary.retried == 0 and report.exit_code(result) == 1


def test_without_auto_retry_a_run_does_not_retry():
    result = Runner(FlakyBackend(), plan({"ok_on": 2}, auto_retry=False)).run()
    assert len(result.executions) == 1 and result.executions[0].retry is None
    assert result.settings.auto_retry.to_json() == {"on": False}


def test_with_auto_retry_the_writes_a_store_took_are_kept_and_a_forged_call_is_not():
    calls = [
        {"store": "db", "op": "set", "key": "k", "value": {"n": 1}},
        {"store": "db", "op": "get", "key": "k"},  # a read: not kept
        {"store": "db", "op": ["set"], "key": "k"},  # forged: refused, not kept
        {"store": "db", "op": "set", "key": ["k"], "value": 1},
    ]
    run_plan = plan({"ok_on": 1, "calls": calls})
    run_plan = RunPlan(**{**vars(run_plan), "data_stores": {"db": None}})
    result = Runner(FlakyBackend(), run_plan).run()
    (only,) = result.executions
    assert [(w["store"], w["op"], w["key"]) for w in only.store_writes] == [("db", "set", "k")]
    assert len(only.store_writes[0]["digest"]) == 16


# -- where the setting comes from ------------------------------------------------------


def synced(folder: Path, settings: str) -> Path:
    (folder / "step").mkdir(parents=True)
    (folder / "step" / "entry.py").write_text("def handler(pd):\n    return 1\n")
    (folder / "workflow.yaml").write_text(
        "schema: workflow/2022.04\nname: wf\n" + settings + "triggers: []\n"
        "steps:\n- namespace: step\n  runtime: python3.12\n  uses: ./step/entry.py\n"
    )
    return folder


def test_workflow_yaml_turns_it_on_and_the_command_line_wins(tmp_path):
    folder = synced(tmp_path / "wf", "settings:\n  auto_retry: true\n")
    assert build_plan([folder]).auto_retry is True
    assert build_plan([folder], auto_retry=False).auto_retry is False
    plain = synced(tmp_path / "plain", "settings:\n  error_notification: true\n")
    assert build_plan([plain]).auto_retry is False
    assert build_plan([plain], auto_retry=True).auto_retry is True


@pytest.mark.parametrize("value", ["'on'", "1", "[]", "null-ish"])
def test_a_setting_that_is_not_true_or_false_is_one_line(tmp_path, value):
    folder = synced(tmp_path / "wf", f"settings:\n  auto_retry: {value}\n")
    with pytest.raises(UsageError, match=r"settings\.auto_retry must be true or false"):
        build_plan([folder])


def test_the_keyword_must_be_a_bool(tmp_path):
    step = tmp_path / "s.py"
    step.write_text("def handler(pd):\n    return 1\n")
    with pytest.raises(UsageError, match="auto_retry 'yes': give True or False"):
        build_plan([step], auto_retry="yes")  # type: ignore[typeddict-item]


# -- pdee check's retry verdict (pure) -------------------------------------------------


def run_of(*executions: Execution) -> RunResult:
    settings = Settings(
        mode="warm", concurrency=1, idle_timeout_s=600, chaos=0, warm_workers=0, arrivals={},
        seed=1, tmp_size_bytes=2**31, memory_bytes=2**28, container_memory_bytes=2**32,
        timeout_s=30, image="i", image_id="x", base_image=None, network="none", executions=1,
        steps=["fetch", "upload"], pdee_version="0", run_id="r",
    )  # fmt: skip
    return RunResult(run_id="r", settings=settings, executions=list(executions))


def pair(
    first_writes=(), retry_writes=(), first_emails=(), retry_emails=(), found=(), retry_error=None
) -> RunResult:
    """A failed attempt of step upload (#0) and its retry (#1)."""
    from pdee.results.records import Retry

    first = failed(leaves=list(found))
    first = Execution(**{
        **vars(first), "retry": Retry("upload", 1, "retried", 141.0, 1),
        "store_writes": list(first_writes), "emails": list(first_emails),
    })  # fmt: skip
    retry = failed(Status.ERROR if retry_error else Status.OK, index=1, ran=("upload",))
    retry = Execution(**{
        **vars(retry), "attempt": 2, "first_index": 0, "part": 2, "found_files": list(found),
        "store_writes": list(retry_writes), "emails": list(retry_emails),
        "error": StepError("FileExistsError", retry_error, "upload") if retry_error else None,
        "start": Start.WARM,
    })  # fmt: skip
    return run_of(first, retry)


def write(key: str, digest: str, step: str = "upload") -> dict[str, Any]:
    return {"store": "db", "op": "set", "key": key, "step": step, "digest": digest, "ttl": None}


def test_a_retry_that_writes_anew_what_its_failed_attempt_wrote_fails():
    run = pair([write("count", "a")], [write("count", "b")])
    verdict = judge_retries({"warm": run})
    assert verdict.outcome is Outcome.FAIL and verdict.execution is not None
    assert "db['count']" in verdict.summary and "idempotent" in str(verdict.advice)
    assert verdict.execution.index == 1 and verdict.run == "warm"


def test_the_same_write_again_is_idempotent_and_passes():
    run = pair([write("order-1", "a")], [write("order-1", "a")])
    assert judge_retries({"warm": run}).outcome is Outcome.PASS


def test_writes_by_an_earlier_step_are_not_repeated_by_the_retry():
    run = pair([write("k", "a", step="fetch")], [write("k", "b")])
    assert repeated_writes(run.executions[0], run.executions[1], "upload") == []
    assert judge_retries({"warm": run}).outcome is Outcome.PASS


def test_an_email_sent_again_fails():
    mail = {"step": "upload", "subject": "Report", "text": "t", "html": None}
    verdict = judge_retries({"chaos": pair(first_emails=[mail], retry_emails=[mail])})
    assert verdict.outcome is Outcome.FAIL and "'Report' again" in verdict.summary


def test_a_retry_that_errors_on_the_failed_attempts_file_fails_with_advice():
    run = pair(found=["/tmp/out.csv"], retry_error="[Errno 17] File exists: '/tmp/out.csv'")
    verdict = judge_retries({"warm": run})
    assert verdict.outcome is Outcome.FAIL
    assert "failed on /tmp/out.csv" in verdict.summary and "clean up /tmp" in str(verdict.advice)
    assert verdict.advice == ADVICE["retry"] and verdict.to_json()["advice"] == ADVICE["retry"]


def test_a_retry_that_found_the_files_and_did_not_open_them_is_a_warning():
    verdict = judge_retries({"warm": pair(found=["/tmp/out.csv"])})
    assert verdict.outcome is Outcome.WARN and "without opening them" in verdict.summary


def test_a_retry_that_opened_the_failed_attempts_file_fails():
    run = pair(found=["/tmp/out.csv", "/tmp/other"])
    retry = run.executions[1]
    upload = StepResult(None, {}, "", 1.0, tmp_opened=["/tmp/out.csv", "/tmp/mine"])
    run = run_of(run.executions[0], Execution(**{**vars(retry), "steps": {"upload": upload}}))
    verdict = judge_retries({"warm": run})
    assert verdict.outcome is Outcome.FAIL
    assert "opened /tmp/out.csv (to read it or add to it)" in verdict.summary


def test_each_finding_after_the_first_is_counted_in_words():
    one, two = pair(found=["/tmp/a"]), pair(found=["/tmp/b"])
    verdict = judge_retries({"warm": one, "chaos": two})
    assert verdict.summary.endswith(" (1 more finding in the report)")
    assert len(verdict.data["findings"]) == 2


def test_no_retry_no_finding():
    assert judge_retries({"warm": run_of(failed(Status.OK))}).outcome is Outcome.PASS
    clean = judge_retries({"warm": pair()})
    assert clean.outcome is Outcome.PASS and clean.data == {"retries": 1}
    assert clean.advice is None and clean.summary.startswith("1 retry repeated no")


def test_serve_retries_on_the_real_clock_and_a_stop_leaves_the_retry_pending(write_step):
    from http_client import call

    import pdee

    ended: list[Execution] = []
    backend = FlakyBackend()
    step = write_step("step", "def handler(pd):\n    return 1\n")
    with pdee.serve([step], backend=backend, auto_retry=True, on_execution=ended.append) as server:
        assert call(server.url + "/", {"a": 1})[0] == 200
        deadline = time.monotonic() + 5
        while not ended and time.monotonic() < deadline:
            time.sleep(0.02)
    result = server.result
    assert result is not None and result.pending_parts == 1  # 141 real seconds away
    (failed,) = result.executions
    assert failed.retry is not None and failed.retry.outcome == "pending"
    assert failed.retry.resume_at_s is not None and failed.retry.resume_at_s >= 141
    assert failed.failed and report.exit_code(result) == 1


# -- the runtime: files in /tmp a step opens without emptying them ---------------------


def test_the_worker_keeps_the_tmp_files_a_step_opens_without_emptying_them(tmp_path):
    from pdee.runtime.worker import OPENED_KEPT, TmpPeak

    seen = TmpPeak(str(tmp_path))
    seen.hook("open", ("/tmp/off.csv", "r", 0))  # not enabled: between executions
    seen.enabled = True
    for args in [
        ("/tmp/partial.csv", "a", 0),  # appended to
        ("/tmp/partial.csv", "r", 0),  # read again: kept once
        ("/tmp/fresh.csv", "w", 0),  # emptied: the step's own from here
        ("/tmp/new", None, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ("/tmp/__pdg__/dist/code/x/code.py", "r", 0),  # the platform's
        ("/etc/hosts", "r", 0),
        (b"/tmp/bytes.bin", "rb", 0),
        ("/tmp/../tmp/db.sqlite", None, os.O_RDWR),
        (3, "r", 0),  # a descriptor: no path
    ]:
        seen.hook("open", args)
    assert seen.opened == ["/tmp/partial.csv", "/tmp/bytes.bin", "/tmp/db.sqlite"]
    for n in range(OPENED_KEPT * 2):
        seen.hook("open", (f"/tmp/f{n}", "r", 0))
    assert len(seen.opened) == OPENED_KEPT


def test_check_judges_the_cold_execution_by_its_last_attempt(write_step):
    import pdee

    step = write_step("step", "def handler(pd):\n    return 1\n")
    result = pdee.check([step], backend=FlakyBackend(), auto_retry=True, warm=2, event={"ok_on": 2})
    cold = result.verdict("cold")
    assert cold.outcome is Outcome.PASS and "on attempt 2, retried" in cold.summary
    assert result.verdict("chaos").outcome is Outcome.PASS  # the check went on
    assert result.verdict("retry").outcome is Outcome.PASS
    assert result.verdict("retry").data["retries"] >= 3


def test_check_stops_at_a_cold_execution_whose_last_attempt_failed(write_step):
    import pdee

    step = write_step("step", "def handler(pd):\n    return 1\n")
    result = pdee.check([step], backend=FlakyBackend(), auto_retry=True, warm=2, event={})
    assert result.verdict("cold").outcome is Outcome.FAIL
    assert result.verdict("chaos").outcome is Outcome.SKIPPED
    warm_run = result.runs["warm"]
    last = final_attempt(warm_run, warm_run.executions[0])
    assert last.attempt == 9 and last.failed
