"""``pdee check``'s ``retry`` verdict: is a step safe to retry? Pure: it reads only the
records of the runs (with ``--auto-retry``, each failed part's retry is a later part of
the same execution: ``pdee.engine.retries``).

A retry runs the failed step again, from its start, "from that failed step" (the
platform's settings page). What the failed attempt did before it raised is not undone:

- a data store write stays written, and the retry writes again: a counter counts twice,
  a record keyed by a new id is stored twice (a write of the same value to the same key
  is harmless: it is idempotent, and passes);
- an email sent (``pd.send.email``) was sent: the retry sends it again;
- a file it wrote in /tmp stays there, half-written, in that EE: a retry that lands warm
  on it finds it (``Execution.found_files``) and may trip over it (``FileExistsError``,
  a truncated archive), or read it as if it were whole.

The verdict fails when a retry repeated a side effect, errored on a file the failed
attempt left, or opened one through Python without emptying it (read, appended to:
``StepResult.tmp_opened``); it warns when a retry found such files and did not open them
through Python (a subprocess or C code reading them is not seen).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["final_attempt", "judge_retries"]

from ..plan.sizes import plural
from ..results.records import Execution, RunResult
from .verdicts import Outcome, Verdict, final_attempt


def retried_pairs(run: RunResult) -> Iterator[tuple[Execution, Execution]]:
    """Each failed part that was retried, with its retry."""
    for brief in run.executions.briefs():
        if not brief.retried:
            continue
        failed = run.executions.by_index(brief.index)
        assert failed.retry is not None and failed.retry.retried_as is not None
        try:
            yield failed, run.executions.by_index(failed.retry.retried_as)
        except KeyError:  # pending when the run ended
            continue


def _of_step(items: list[dict[str, Any]], step: str) -> list[dict[str, Any]]:
    """The writes or emails the step made (a write whose step pdee did not learn counts)."""
    return [item for item in items if item.get("step") in (step, None)]


def _write_key(write: dict[str, Any]) -> tuple[Any, ...]:
    return (write.get("store"), write.get("op"), write.get("key"), write.get("digest"))


def repeated_writes(failed: Execution, retry: Execution, step: str) -> list[dict[str, Any]]:
    """The retry's writes in ``step`` that repeat, with another value or key, what the
    failed attempt's ``step`` already wrote (none if the failed attempt wrote nothing)."""
    before = _of_step(failed.store_writes, step)
    if not before:
        return []
    same = {_write_key(write) for write in before}
    return [w for w in _of_step(retry.store_writes, step) if _write_key(w) not in same]


def repeated_emails(failed: Execution, retry: Execution, step: str) -> list[dict[str, Any]]:
    """The emails ``step`` sent again in the retry, after the failed attempt sent one."""
    if not _of_step(failed.emails, step):
        return []
    return _of_step(retry.emails, step)


def tripped_on(retry: Execution) -> str | None:
    """The failed attempt's file the retry's error names, if it failed on one."""
    error = retry.error
    if retry.passed or error is None or not retry.found_files:
        return None
    text = f"{error.message}\n{error.traceback or ''}"
    return next((path for path in retry.found_files if path in text), None)


def opened_leftovers(retry: Execution, step: str) -> list[str]:
    """The failed attempt's files the retry's ``step`` opened through Python without
    emptying them: read, appended to or updated as if they were its own."""
    result = retry.steps.get(step)
    opened = result.tmp_opened if result is not None else []
    return [path for path in retry.found_files or [] if path in opened]


def _finding(run: str, failed: Execution, retry: Execution) -> tuple[Outcome, str] | None:
    assert failed.retry is not None
    step = failed.retry.step
    at = (
        f"execution {retry.first_index if retry.first_index is not None else failed.index}'s "
        f"retry #{retry.index} (attempt {retry.attempt} of step {step!r}, "
        f"{retry.start.value} on {retry.ee}, {run} run)"
    )
    writes = repeated_writes(failed, retry, step)
    if writes:
        keys = ", ".join(sorted({f"{w.get('store')}[{w.get('key')!r}]" for w in writes}))
        return Outcome.FAIL, (
            f"{at} wrote to the data store again ({keys}) after the failed attempt had "
            f"written before it raised: a failed attempt's writes are not undone, so the "
            f"write is made twice"
        )
    emails = repeated_emails(failed, retry, step)
    if emails:
        return Outcome.FAIL, (
            f"{at} sent the email {emails[0].get('subject')!r} again after the failed "
            f"attempt had sent it: the owner gets it twice"
        )
    path = tripped_on(retry)
    if path is not None:
        return Outcome.FAIL, (
            f"{at} failed on {path}, which the failed attempt left half-written in that EE's /tmp"
        )
    used = opened_leftovers(retry, step)
    if used:
        return Outcome.FAIL, (
            f"{at} opened {', '.join(used)} (to read it or add to it), which the failed "
            f"attempt left in that EE's /tmp: it builds on a half-done file as if it were "
            f"its own, and on a cold EE the file is not there"
        )
    if retry.found_files:
        shown = ", ".join(retry.found_files[:5])
        ended = "passed" if retry.passed else f"ended {retry.status.value}"
        return Outcome.WARN, (
            f"{at} found the failed attempt's files in /tmp ({shown}) and {ended}, without "
            f"opening them through Python (a subprocess or C code reading them is not "
            f"seen); on a cold EE they are gone"
        )
    return None


def judge_retries(runs: dict[str, RunResult]) -> Verdict:
    """The ``retry`` verdict over the runs of a check made with auto-retry."""
    findings: list[tuple[Outcome, str, Execution, str]] = []
    retried = 0
    for name, run in runs.items():
        for failed, retry in retried_pairs(run):
            retried += 1
            found = _finding(name, failed, retry)
            if found is not None:
                findings.append((*found, retry, name))
    if not retried:
        return Verdict(
            "retry",
            Outcome.PASS,
            "no execution failed, so none was retried (auto-retry is on: a failure would be "
            "retried from its step)",
        )
    data: dict[str, Any] = {"retries": retried}
    if not findings:
        return Verdict(
            "retry",
            Outcome.PASS,
            f"{plural(retried, 'retry', 'retries')} repeated no data store write "
            f"or email, and met no file a failed attempt left in /tmp",
            data=data,
        )
    findings.sort(key=lambda finding: finding[0] is not Outcome.FAIL)
    outcome, summary, execution, run_name = findings[0]
    more = ""
    if len(findings) > 1:
        more = f" ({plural(len(findings) - 1, 'more finding')} in the report)"
    data["findings"] = [
        {"outcome": found.value, "summary": text, "run": name, "execution": at.index}
        for found, text, at, name in findings
    ]
    return Verdict("retry", outcome, summary + more, execution, run_name, data)
