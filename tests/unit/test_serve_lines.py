"""The lines ``pdee serve`` prints for the later parts of executions: a failed part's
retry, a paused execution's next part."""

from __future__ import annotations

from dataclasses import replace

from pdee.cli.serve import later_line
from pdee.lifecycle.scheduler import Start
from pdee.results.records import Execution, Status

FIRST = Execution(
    index=3, ee="ee-1", start=Start.COLD, status=Status.ERROR, arrived_at_s=0.0, at_s=0.0,
    duration_ms=12.0,
)  # fmt: skip


def test_a_requests_own_part_has_no_line_of_its_own():
    assert later_line(FIRST) is None


def test_a_retry_says_its_attempt_once():
    retry = replace(FIRST, index=5, part=2, first_index=3, attempt=2, start=Start.WARM)
    assert later_line(retry) == "#5 attempt 2 of #3 warm ee-1 error 12.0 ms"


def test_a_paused_executions_next_part_says_its_part():
    later = replace(FIRST, index=5, part=2, first_index=3, status=Status.OK)
    assert later_line(later) == "#5 part 2 of #3 cold ee-1 ok 12.0 ms"
