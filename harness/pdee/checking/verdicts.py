"""``pdee check``'s verdicts: is a step safe to deploy? Pure: they read only the records
of two runs (``pdee.checking.scenarios`` makes the runs).

Two runs under the platform's caps give every verdict:

- a **warm** run: one EE, a cold first execution, then ``warm`` executions on the same
  EE, all with the same event, so that each execution meets what the earlier ones left;
- a **chaos** run: the platform's realistic lifecycle with concurrency 2 and frequent
  random destruction, so that no EE sees every event.

Verdicts (``judge``, pure: it reads only the runs' records):

1. ``cold``: the first execution, on a fresh EE with an empty /tmp.
2. ``warm``: the executions on the warm EE.
3. ``growth``: what each warm execution leaves in /tmp and holds in memory; a steady
   increase is a leak, failed when it fills the cap within ``horizon`` executions.
4. ``headroom``: the peaks of /tmp and memory against the cap and the limit, the
   slowest execution against the timeout (warning above 80%).
5. ``state``: the same event gives another result on a warm EE than on a cold one.
6. ``cleanup``: files an execution leaves in /tmp (a warning).
7. ``chaos``: the realistic run's executions.
8. ``retry`` (with ``--auto-retry`` only; ``pdee.checking.retries``): what each retry did
   again, or met in /tmp, of what its failed attempt did.

With auto-retry, an execution is judged by its last attempt (``final_attempt``): a failed
part a retry followed is not a failure of its own.

A step that fails cold is told so first; the verdicts that need it to pass are then
skipped (and ``pdee check`` ends its runs at that failure).
"""

from __future__ import annotations

import enum
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..lifecycle.scheduler import Start
from ..plan.sizes import format_size, plural
from ..results import report
from ..results.records import Execution, RunResult, Status

# Executions an EE may serve: a busy workflow keeps its EE warm for as long as events
# come (the platform destroys an idle one after about 10 minutes, or at random), and
# 10,000 executions is one EE's life at an event every 5 s for 14 hours.
DEFAULT_HORIZON = 10_000
WARN_SHARE = 0.8
# Growth smaller than this per execution is not told from the allocator's noise.
MEMORY_NOISE_BYTES = 256 * 1024
TMP_NOISE_BYTES = 4096  # one page


class Outcome(str, enum.Enum):
    """A verdict's outcome; only ``fail`` makes a step unsafe."""

    PASS = "pass"
    WARN = "warn"  # safe, but worth a look
    FAIL = "fail"
    SKIPPED = "skipped"  # moot: the step already fails cold


# What to do about a verdict that warns or fails, one text per scenario (docs/check.md's
# table and docs/auto-retry.md's say when each does); ``Verdict.advice`` gives it.
ADVICE = {
    "cold": "The step fails on a fresh EE with an empty /tmp, as it would after every "
    "deploy: fix the error shown (its traceback is in the execution's details).",
    "warm": "The step fails on an EE that ran it before: it depends on what an earlier "
    "execution left (a file in /tmp, os.mkdir without exist_ok, a file appended to, a "
    "global that grows), or it deleted the platform's files in /tmp/__pdg__. Make each "
    "execution start from what it finds, or clean up after it.",
    "growth": "/tmp or memory grows with every execution on a warm EE and fills its cap: "
    "delete the files a step writes when it is done (tempfile.TemporaryDirectory) and do "
    "not accumulate in module globals.",
    "headroom": "An execution came close to a cap: /tmp (2GB on the platform, it cannot be "
    "raised), the memory limit or the timeout. Stream instead of buffering, or raise the "
    "workflow's memory or timeout in its settings.",
    "state": "The same event gave another result warm than cold: the step depends on what "
    "an earlier execution left (a module global, a file in /tmp). Keep what must last in "
    "a data store.",
    "cleanup": "Files are left in /tmp: the next execution on a warm EE finds them and they "
    "count against the cap. Write them with tempfile, or delete them when done.",
    "chaos": "Executions failed while EEs came and went at random: the step assumes that "
    "one EE sees every event.",
    "retry": "A retry runs the failed step again from its start, and what the failed "
    "attempt did is not undone: clean up /tmp at the start of the step (remove what an "
    "earlier attempt left, or write into a fresh tempfile.TemporaryDirectory), make writes "
    "idempotent (a key the event decides, not a new uuid or a count; the whole value set "
    "at once), and send an email last, once the step's work is done (or record in a data "
    "store that it went).",
}


@dataclass(frozen=True)
class Verdict:
    """One scenario's verdict: what was seen and what it means on the platform."""

    scenario: str
    outcome: Outcome
    summary: str  # one line a reviewer understands
    execution: Execution | None = None  # the execution that shows it, if one does
    run: str | None = None  # which run that execution is in ("warm", "chaos")
    data: dict[str, Any] = field(default_factory=dict)  # the figures behind it

    @property
    def advice(self) -> str | None:
        """What to do about it, when it warns or fails (``ADVICE``); else None."""
        if self.outcome not in (Outcome.WARN, Outcome.FAIL):
            return None
        return ADVICE.get(self.scenario)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "outcome": self.outcome.value,
            "summary": self.summary,
            "advice": self.advice,
            "run": self.run,
            "execution": self.execution.index if self.execution else None,
            **self.data,
        }


@dataclass
class CheckResult:
    """The verdicts of ``pdee check`` and the runs behind them."""

    verdicts: list[Verdict]
    runs: dict[str, RunResult]  # "warm" and, unless the step failed cold, "chaos"
    duration_s: float

    @property
    def safe(self) -> bool:
        """No verdict failed."""
        return all(v.outcome is not Outcome.FAIL for v in self.verdicts)

    def verdict(self, scenario: str) -> Verdict:
        """The verdict of ``scenario`` (``cold``, ``warm``, ``growth``, ...).

        Raises:
            KeyError: no such scenario.
        """
        for verdict in self.verdicts:
            if verdict.scenario == scenario:
                return verdict
        raise KeyError(scenario)

    def __repr__(self) -> str:
        outcomes = ", ".join(f"{v.scenario} {v.outcome.value}" for v in self.verdicts)
        return f"<CheckResult {'safe' if self.safe else 'NOT safe'}: {outcomes}>"

    def to_json(self) -> dict[str, Any]:
        return {
            "safe": self.safe,
            "duration_s": round(self.duration_s, 3),
            "verdicts": [verdict.to_json() for verdict in self.verdicts],
            "reports": {name: report.build(run) for name, run in self.runs.items()},
        }


def final_attempt(run: RunResult, execution: Execution) -> Execution:
    """The last of ``execution``'s retries (itself, if it was not retried)."""
    seen = {execution.index}
    while execution.retried and execution.retry is not None:
        following = execution.retry.retried_as
        if following is None or following in seen:
            break
        try:
            execution = run.executions.by_index(following)
        except KeyError:  # the run ended before it
            break
        seen.add(following)
    return execution


def _error_text(execution: Execution) -> str:
    error = execution.error
    if error is None:
        return execution.status.value
    where = f" in step {error.step!r}" if error.step else ""
    return f"{error.type}{where}: {error.message}"


def _cold(warm_run: RunResult) -> Verdict:
    first = final_attempt(warm_run, warm_run.executions[0])  # with auto-retry, its last try
    if first.passed:
        retried = f" (on attempt {first.attempt}, retried)" if first.attempt > 1 else ""
        return Verdict("cold", Outcome.PASS, f"the first execution on a fresh EE passed{retried}")
    return Verdict(
        "cold",
        Outcome.FAIL,
        f"fails on a fresh EE with an empty /tmp, as after every deploy: {_error_text(first)}",
        first,
        "warm",
    )


def _warm(warm_run: RunResult) -> Verdict:
    warm = [e for e in warm_run.executions if e.start is Start.WARM]
    failed = [e for e in warm if e.failed]  # a part a retry followed: the retry judges
    broke = next(
        (e for e in warm_run.executions if e.tmp and not e.tmp.platform_files_intact), None
    )
    if broke is not None and not failed:
        return Verdict(
            "warm",
            Outcome.FAIL,
            f"execution {broke.index} deleted the platform's own files in /tmp/__pdg__ (the "
            f"steps' code and packages): on the platform, the next step process that starts "
            f"in that EE cannot load its code, and every later execution there fails; "
            f"delete only your own files in /tmp",
            broke,
            "warm",
        )
    if not failed:
        return Verdict("warm", Outcome.PASS, f"{len(warm)} warm executions on one EE passed")
    first = failed[0]
    return Verdict(
        "warm",
        Outcome.FAIL,
        f"fails only warm, at execution {first.index} of one EE ({len(failed)} of {len(warm)} "
        f"warm failed): {_error_text(first)}; on the platform it fails whenever an EE is "
        f"reused, with what earlier executions left",
        first,
        "warm",
    )


@dataclass(frozen=True)
class Growth:
    """A steady increase per execution, and the executions left until ``room`` is gone."""

    per_execution: float
    room: int

    @property
    def executions_left(self) -> int:
        return int(max(self.room, 0) // self.per_execution)


def growth_of(values: Sequence[int], top: int, noise: int) -> Growth | None:
    """The steady growth of ``values`` (one per execution) towards ``top``, if it grows.

    Steady: every execution adds something, and on average more than ``noise``.
    """
    if len(values) < 2:
        return None
    deltas = [b - a for a, b in itertools.pairwise(values)]
    mean = sum(deltas) / len(deltas)
    if min(deltas) <= 0 or mean < noise:
        return None
    return Growth(mean, top - values[-1])


def _growth(warm_run: RunResult, horizon: int) -> Verdict:
    settings = warm_run.settings
    # The warm ones: a warm EE's own leftovers, not the cold start's first imports.
    runs = [e for e in warm_run.executions if e.start is Start.WARM and e.passed]
    tmp_left = [e.tmp.used_bytes for e in runs if e.tmp]
    memory_held = [e.memory.peak_bytes for e in runs if e.memory]
    if min(len(tmp_left), len(memory_held)) < 2:
        return Verdict("growth", Outcome.SKIPPED, "too few warm executions passed to see a trend")
    seen: list[str] = []
    outcomes: list[Outcome] = []
    data: dict[str, Any] = {}
    for key, cap, grown in (
        ("tmp", "the /tmp cap", growth_of(tmp_left, settings.tmp_size_bytes, TMP_NOISE_BYTES)),
        (
            "memory",
            "the memory limit",
            growth_of(memory_held, settings.memory_bytes, MEMORY_NOISE_BYTES),
        ),
    ):
        if grown is None:
            continue
        left = grown.executions_left
        outcomes.append(Outcome.FAIL if left <= horizon else Outcome.WARN)
        when = "at the next execution" if left == 0 else f"in {plural(left, 'more execution')}"
        what = "/tmp" if key == "tmp" else "memory"
        seen.append(
            f"{what} grows {format_size(round(grown.per_execution))} an execution of one warm "
            f"EE: {cap} is reached {when}"
        )
        data[f"{key}_growth_bytes_per_execution"] = round(grown.per_execution)
        data[f"{key}_executions_until_full"] = left
    if not seen:
        return Verdict(
            "growth",
            Outcome.PASS,
            f"no steady growth over {len(runs)} warm executions (/tmp left at "
            f"{format_size(tmp_left[-1])}, memory peak {format_size(memory_held[-1])})",
        )
    worst = Outcome.FAIL if Outcome.FAIL in outcomes else Outcome.WARN
    within = f" (within the horizon of {horizon})" if worst is Outcome.FAIL else ""
    return Verdict("growth", worst, "; ".join(seen) + within, runs[-1], "warm", data)


def _headroom(runs: dict[str, RunResult]) -> Verdict:
    executions = [(name, e) for name, run in runs.items() for e in run.executions]
    settings = next(iter(runs.values())).settings
    findings: list[tuple[Outcome, str, tuple[str, Execution]]] = []

    def judge(used: float, cap: float, what: str, item: tuple[str, Execution], hit: bool) -> None:
        share = used / cap if cap else 0.0
        if hit or share >= 1.0:
            findings.append((Outcome.FAIL, f"{what} at the limit ({share:.0%})", item))
        elif share > WARN_SHARE:
            findings.append((Outcome.WARN, f"{what} at {share:.0%} of the limit", item))

    by_tmp = max(executions, key=lambda item: item[1].tmp.peak_used_bytes if item[1].tmp else 0)
    by_memory = max(executions, key=lambda item: item[1].memory.peak_bytes if item[1].memory else 0)
    by_time = max(executions, key=lambda item: item[1].duration_ms)
    tmp_peak = by_tmp[1].tmp.peak_used_bytes if by_tmp[1].tmp else 0
    memory_peak = by_memory[1].memory.peak_bytes if by_memory[1].memory else 0
    judge(tmp_peak, settings.tmp_size_bytes, f"/tmp peak {format_size(tmp_peak)}", by_tmp, False)
    oom = next((item for item in executions if item[1].status is Status.OOM), None)
    judge(
        memory_peak,
        settings.memory_bytes,
        f"memory peak {format_size(memory_peak)}",
        oom or by_memory,
        oom is not None,
    )
    timed_out = next((item for item in executions if item[1].status is Status.TIMEOUT), None)
    judge(
        by_time[1].duration_ms / 1000,
        settings.timeout_s,
        f"slowest execution {by_time[1].duration_ms / 1000:.2f} s",
        timed_out or by_time,
        timed_out is not None,
    )
    data = {
        "tmp_peak_bytes": tmp_peak,
        "memory_peak_bytes": memory_peak,
        "slowest_ms": by_time[1].duration_ms,
    }
    figures = (
        f"/tmp peak {format_size(tmp_peak)} of {format_size(settings.tmp_size_bytes)}, memory "
        f"peak {format_size(memory_peak)} of {format_size(settings.memory_bytes)}, slowest "
        f"{by_time[1].duration_ms / 1000:.2f} s of {settings.timeout_s:g} s"
    )
    if not findings:
        return Verdict("headroom", Outcome.PASS, figures, data=data)
    findings.sort(key=lambda finding: finding[0] is not Outcome.FAIL)
    worst, _, (run, execution) = findings[0]
    summary = "; ".join(text for _, text, _ in findings) + f" ({figures})"
    return Verdict("headroom", worst, summary, execution, run, data)


FLOW_URLS = {"resume_url", "cancel_url"}


def _comparable(value: Any) -> Any:
    """``value``, with the URLs pd.flow.delay, suspend and rerun return (each execution's
    own, by design) left out of the comparison."""
    return "<flow URLs>" if isinstance(value, dict) and set(value) == FLOW_URLS else value


def _differences(cold: Execution, warm: Execution) -> list[str]:
    found = []
    for name, step in cold.steps.items():
        other = warm.steps.get(name)
        if other is None:
            continue
        if _comparable(step.return_value) != _comparable(other.return_value):
            cold_text, warm_text = contrast(step.return_value, other.return_value)
            found.append(
                f"step {name!r} returned {cold_text} cold and {warm_text} warm (execution "
                f"{warm.index})"
            )
        if step.exports != other.exports:
            cold_text, warm_text = contrast(step.exports, other.exports)
            found.append(
                f"step {name!r} exported {cold_text} cold and {warm_text} warm (execution "
                f"{warm.index})"
            )
    return found


def contrast(cold: Any, warm: Any, limit: int = 80) -> tuple[str, str]:
    """Two values as compact JSON, each cut to about ``limit`` characters around where
    they first differ (a cut at the start would show the same text twice), with ``…``
    where text is left out."""
    texts = [json.dumps(v, separators=(",", ":"), ensure_ascii=False) for v in (cold, warm)]
    if all(len(text) <= limit for text in texts):
        return texts[0], texts[1]
    pairs = enumerate(zip(*texts, strict=False))
    same = next((i for i, (a, b) in pairs if a != b), min(map(len, texts)))
    start = max(0, same - limit // 4)
    start = min(start, max(0, min(len(text) for text in texts) - limit // 2))
    cut = [
        ("…" if start else "")
        + text[start : start + limit]
        + ("…" if start + limit < len(text) else "")
        for text in texts
    ]
    return cut[0], cut[1]


def _state(warm_run: RunResult) -> Verdict:
    cold, *later = warm_run.executions
    cold = final_attempt(warm_run, cold)
    warm = [e for e in later if e.part == 1]  # parts after a pause start elsewhere
    for execution in warm:
        if execution.passed:
            found = _differences(cold, execution)
            if found and any(use.writes for use in cold.stores.values()):
                return Verdict(
                    "state",
                    Outcome.PASS,
                    f"the same event gives another result on a warm EE ({found[0]}), after "
                    f"the cold execution wrote to a data store, which outlives every EE as on "
                    f"the platform: a difference the store explains is not the EE's",
                )
            if found:
                return Verdict(
                    "state",
                    Outcome.WARN,
                    f"the same event gives another result on a warm EE: {found[0]}; the step "
                    f"depends on what an earlier execution left (a global, a file in /tmp), "
                    f"which a new EE does not have: keep what must last in a data store "
                    f"(--data-store)",
                    execution,
                    "warm",
                )
    return Verdict("state", Outcome.PASS, "the same event gives the same result cold and warm")


def _cleanup(warm_run: RunResult) -> Verdict:
    """Files a step leaves in /tmp after an execution (a warning: on the platform the
    next execution in that EE may find them, or may not)."""
    first = warm_run.executions[0]
    left = first.tmp.some_files if first.tmp else []
    if not left:
        return Verdict("cleanup", Outcome.PASS, "an execution leaves no file in /tmp")
    assert first.tmp is not None
    more = f" and {first.tmp.files - len(left)} more" if first.tmp.files > len(left) else ""
    return Verdict(
        "cleanup",
        Outcome.WARN,
        f"an execution leaves {plural(first.tmp.files, 'file')} in /tmp: {', '.join(left)}{more}; "
        f"the next execution in that EE may find them (or not, on a new EE), and they take "
        f"room from the 2GB: write temporary files with tempfile (a TemporaryDirectory) or "
        f"delete them when done",
        first,
        "warm",
    )


def _chaos(chaos_run: RunResult) -> Verdict:
    summary = chaos_run.summary
    failed = [e for e in chaos_run.executions if e.failed]
    seen = (
        f"{plural(summary.executions, 'execution')} on {plural(summary.ees_started, 'EE')} "
        f"({summary.ees_destroyed_at_random} destroyed at random, concurrency "
        f"{chaos_run.settings.concurrency})"
    )
    if not failed:
        return Verdict("chaos", Outcome.PASS, f"{seen} passed")
    first = failed[0]
    if first.status is Status.DROPPED:  # it never ran: the controls, not the step
        return Verdict(
            "chaos",
            Outcome.FAIL,
            f"{len(failed)} of {seen} failed, first execution {first.index} (dropped): "
            f"{_error_text(first)}; at this pace the workflow's throttle or queue loses "
            f"events (see docs/arrivals.md)",
            first,
            "chaos",
        )
    resumed = ""
    if first.first_index is not None:
        resumed = (
            f"; it is part {first.part} of execution {first.first_index}, resumed after a "
            f"pause (pd.flow.delay, suspend or rerun) on a {first.start.value} EE: what the "
            f"earlier part left in /tmp or in memory need not be there"
        )
    return Verdict(
        "chaos",
        Outcome.FAIL,
        f"{len(failed)} of {seen} failed, first execution {first.index} "
        f"({first.start.value} on {first.ee}): {_error_text(first)}{resumed}; the step must "
        f"not assume that one EE sees every event",
        first,
        "chaos",
    )


def judge(warm_run: RunResult, chaos_run: RunResult | None, horizon: int) -> list[Verdict]:
    """Every scenario's verdict, from the runs' records (no EE is touched).

    Args:
        warm_run: the warm run (its first execution is the cold one).
        chaos_run: the realistic run; None when the step failed cold.
        horizon: executions within which a growing /tmp or memory must not fill up.
    """
    cold = _cold(warm_run)
    if cold.outcome is Outcome.FAIL or chaos_run is None:
        moot = "moot: the step already fails cold (pdee check stopped there)"
        return [cold] + [
            Verdict(name, Outcome.SKIPPED, moot)
            for name in ("warm", "growth", "headroom", "state", "cleanup", "chaos")
        ]
    return [
        cold,
        _warm(warm_run),
        _growth(warm_run, horizon),
        _headroom({"warm": warm_run, "chaos": chaos_run}),
        _state(warm_run),
        _cleanup(warm_run),
        _chaos(chaos_run),
    ]
