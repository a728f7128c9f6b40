"""``pdee serve``'s command line: what it hands ``pdee.serve`` (the one place serving
and its reloads are put together), and the lines it prints for the later parts of
executions: a failed part's retry, a paused execution's next part."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from fake_backend import FakeBackend
from typer.testing import CliRunner

from pdee import api, interrupts
from pdee.cli import commands
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


def test_the_command_serves_through_pdee_serve_with_its_reports_left_unwatched(
    write_step, tmp_path, monkeypatch
):
    given: list[dict[str, Any]] = []
    real = api.serve

    @contextmanager
    def serve(steps: Any, **keywords: Any) -> Iterator[api.Serving]:
        given.append(keywords)
        with real(steps, backend=FakeBackend(), **keywords) as serving:
            serving.wait = lambda: None  # type: ignore[method-assign]  # no signal to wait for
            yield serving

    monkeypatch.setattr(api, "serve", serve)
    step = write_step("hook", "def handler(pd):\n    return 1\n")
    report = tmp_path / "report.json"
    argv = ["serve", str(step), "--port", "0", "--reload", "--report", str(report)]
    # The command routes signals through pdee's handler and settles: undone after it.
    for name in ("_in_command", "_ignoring"):
        monkeypatch.setattr(interrupts, name, getattr(interrupts, name))
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = CliRunner().invoke(commands.app, argv)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert "serving hook.py" in result.output.replace(str(tmp_path) + "/", ""), result.output
    assert report.exists()
    (keywords,) = given
    assert keywords["reload"] is True and keywords["on_reload"] is not None
    assert report in keywords["outputs"] and keywords["record"] is None
