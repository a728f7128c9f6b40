"""The HTML report's data and file (``outputs.html``), from runs with no Docker: the page
holds the JSON report's data (lanes, marks, leftovers), escapes what steps give, links
verdicts to executions with advice, and stays small for 10,000 executions. The browser
test is ``test_html_browser``."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

import plotly.offline
import pytest
import typer
from fake_backend import FakeBackend
from html_runs import (
    FAILING,
    HOSTILE,
    TRACEBACK,
    big_run,
    fake_check,
    fake_run,
    retried_run,
    step_file,
)
from typer.testing import CliRunner

import pdee
from pdee.checking.verdicts import ADVICE, Outcome, Verdict
from pdee.cli import options as o
from pdee.cli.commands import app as pdee_app
from pdee.cli.common import typed_command
from pdee.outputs.html import BRIEF_FIELDS, SCHEDULE_FILE, replay_command, write_html
from pdee.outputs.html import _verdict as verdict_data
from pdee.results.report import build

SCRIPT = re.compile(r'<script type="application/json" id="([^"]+)">(.*?)</script>', re.DOTALL)


def parts(path: Path) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """The page's data and each run's executions, as the page's script reads them."""
    found = dict(SCRIPT.findall(path.read_text(encoding="utf-8")))
    page = json.loads(found.pop("pdee-page"))
    runs = [
        [json.loads(line) for line in found[f"pdee-run-{n}"].splitlines() if line]
        for n in range(len(page["runs"]))
    ]
    return page, runs


def briefs(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(BRIEF_FIELDS, brief, strict=True)) for brief in run["briefs"]]


def test_the_page_holds_the_json_report_s_data(tmp_path):
    result = fake_run(tmp_path)
    write_html(tmp_path / "report.html", result)
    page, runs = parts(tmp_path / "report.html")
    report = build(result)
    (run,) = page["runs"]
    assert page["kind"] == "run" and runs[0] == report["executions"]
    assert run["report"] == {k: v for k, v in report.items() if k != "executions"}
    # Lanes: every execution on an EE of the report; marks: cold/warm and failed as run.
    shown = briefs(run)
    lanes = {ee["id"] for ee in report["ees"]}
    assert [b["index"] for b in shown] == list(range(12))
    assert {b["ee"] for b in shown} <= lanes and len(lanes) >= 2
    assert [(b["start"], b["status"]) for b in shown] == [
        (e.start.value, e.status.value) for e in result.executions
    ]
    assert {b["status"] for b in shown if b["start"] == "warm"} == {"error"}
    failed = next(b for b in shown if b["status"] == "error")
    assert failed["error"] == "ValueError in step step: bad row <b>not bold</b>"
    assert failed["tmp_files"] == 2 and failed["memory_peak"] is not None
    # Why each EE ended (chaos destroyed some), and what was left in /tmp.
    assert {ee["retired"] for ee in run["report"]["ees"]} >= {"chaos", "end"}
    assert runs[0][failed["index"]]["tmp"]["some_files"] == ["/tmp/out.csv", HOSTILE]
    assert runs[0][failed["index"]]["error"]["traceback"] == TRACEBACK
    assert run["replay"].startswith("pdee run step.py --events 12 --mode realistic")
    assert run["replay"].endswith("--seed 7")


def test_a_brief_has_each_part_s_attempt_and_retry_and_the_terminal_s_flow(tmp_path):
    result = retried_run()
    write_html(tmp_path / "report.html", result)
    page, _ = parts(tmp_path / "report.html")
    shown = briefs(page["runs"][0])
    assert [(b["attempt"], b["retried"], b["retry"]) for b in shown] == [
        (1, True, "retried"), (2, False, None), (1, False, None), (1, False, None),
        (1, False, "pending"),
    ]  # fmt: skip
    assert [b["flow"] for b in shown] == [e.flow for e in result.executions]
    assert shown[1]["flow"] == "retry 1 of #0 (part 2)"
    assert shown[0]["flow"] == "attempt 1 of step failed: retry → #1"
    dropped = shown[2]
    assert (dropped["status"], dropped["ee"], dropped["start"]) == ("dropped", None, None)
    summary = page["runs"][0]["report"]["summary"]
    assert (summary["dropped"], summary["failed"], summary["retried_parts"]) == (1, 2, 1)


def test_nothing_a_step_gives_can_end_a_script_or_open_markup(tmp_path):
    event = {"status": "error", "returns": HOSTILE, "leaves": [HOSTILE], "error": FAILING["error"]}
    result = fake_run(tmp_path, event=event)
    write_html(tmp_path / "report.html", result)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    # Only the page's own script elements end: 1 plotly, 1 page, 1 run, 1 app.
    assert text.count("</script>") == 4
    assert "<script>window.pwned" not in text and "<!--" not in text.split("<body>")[1]
    assert "\u2028" not in text
    _, runs = parts(tmp_path / "report.html")
    assert runs[0][0]["steps"]["step"]["return_value"] == HOSTILE  # the same text, read back


def test_a_check_page_has_each_verdict_with_advice_and_its_execution(tmp_path):
    checked = fake_check(tmp_path)
    write_html(tmp_path / "check.html", checked)
    page, runs = parts(tmp_path / "check.html")
    assert page["kind"] == "check" and page["safe"] is False
    (check,) = page["checks"]
    verdicts = {v["scenario"]: v for v in check["verdicts"]}
    assert list(verdicts) == ["cold", "warm", "growth", "headroom", "state", "cleanup", "chaos"]
    for verdict in verdicts.values():
        advised = verdict["outcome"] in ("warn", "fail")
        assert verdict["advice"] == (ADVICE[verdict["scenario"]] if advised else None)
        assert verdict["advice"] == checked.verdict(verdict["scenario"]).advice
    warm = verdicts["warm"]
    assert warm["outcome"] == "fail" and warm["advice"]
    assert [r["label"] for r in page["runs"]] == ["warm run", "chaos run"]
    linked = runs[warm["run_number"]][warm["execution"]]
    assert linked["index"] == warm["execution"] and linked["status"] == "error"
    assert all(r["replay"].startswith("pdee check step.py ") for r in page["runs"])


def test_a_failing_retry_verdict_has_its_advice_on_the_page():
    for outcome in (Outcome.FAIL, Outcome.WARN):
        shown = verdict_data(Verdict("retry", outcome, "wrote again"), {})
        assert shown["advice"] == ADVICE["retry"] and "clean up /tmp" in shown["advice"]
    assert verdict_data(Verdict("retry", Outcome.PASS, "fine"), {})["advice"] is None


def test_the_replay_command_sets_the_seed_of_the_run(tmp_path):
    settings = fake_run(tmp_path).settings
    assert replay_command(settings, "run", ["run", "a.py", "--seed", "1"]) == (
        "pdee run a.py --seed 7"
    )
    assert replay_command(settings, "run", ["run", "a.py", "--seed=1", "-v"]) == (
        "pdee run a.py --seed=7 -v"
    )
    assert replay_command(settings, "serve", ["serve", "my hook.py"]) == (
        "pdee serve 'my hook.py' --seed 7"
    )
    made = replay_command(settings, "run")
    assert "--tmp-size 2GB --memory 256MB --timeout 30" in made and "--chaos 0.25" in made


def parsed(replay: str) -> dict[str, Any]:
    """What pdee's own command line makes of a replay command (parsed, not run)."""
    words = shlex.split(replay)
    assert words[0] == "pdee"
    group = typer.main.get_command(pdee_app)
    command = group.commands[words[1]]  # type: ignore[attr-defined]
    return command.make_context(words[1], words[2:]).params


def test_an_api_run_s_replay_command_has_every_option_that_shaped_it(tmp_path):
    options: dict[str, Any] = {
        "events": 3, "trigger": "timer", "cron": "*/15 * * * *", "timezone": "Europe/Paris",
        "throttle": "2/60", "auto_retry": True, "seed": 5,
    }  # fmt: skip
    result = pdee.run([step_file(tmp_path)], backend=FakeBackend(), **options)
    replay = replay_command(result.settings, "run")
    assert "--cron '*/15 * * * *' --timezone Europe/Paris --throttle 2/60 --auto-retry" in replay
    params = parsed(replay)
    assert {name: params[name] for name in options} == options
    # A check's runs: the same options.
    del options["events"]
    checked = pdee.check([step_file(tmp_path)], backend=FakeBackend(), **options)
    for run in checked.runs.values():
        params = parsed(replay_command(run.settings, "check"))
        assert {name: params[name] for name in options} == options


def test_a_served_run_s_replay_command_has_its_throttle_and_auto_retry(tmp_path):
    step = step_file(tmp_path)
    with pdee.serve([step], backend=FakeBackend(), throttle="3/10", auto_retry=True) as server:
        pass
    assert server.result is not None
    params = parsed(replay_command(server.result.settings, "serve"))
    assert (params["throttle"], params["auto_retry"]) == ("3/10", True)


def test_the_replay_command_of_a_workflow_keeps_its_queue_and_a_schedule_names_its_file(
    tmp_path,
):
    folder = tmp_path / "w"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "entry.py").write_text("def handler(pd):\n    return 1\n")
    (folder / "workflow.yaml").write_text(
        "schema: workflow/2022.04\nname: W\ntriggers:\n- id: dc_abc1234\n"
        "steps:\n- namespace: a\n  runtime: python3.12\n  uses: ./a/entry.py\n"
    )
    result = pdee.run([folder], backend=FakeBackend(), events=2, queue_size=3, seed=2)
    params = parsed(replay_command(result.settings, "run"))
    assert params["queue_size"] == 3 and params["auto_retry"] is False
    assert list(params["steps"]) == [str(folder)]
    schedule = tmp_path / "schedule.json"
    schedule.write_text(json.dumps([{"ts": 0, "a": 1}, {"ts": 90, "a": 2}]))
    result = pdee.run([step_file(tmp_path)], backend=FakeBackend(), schedule=schedule)
    params = parsed(replay_command(result.settings, "run"))
    assert params["schedule"] == SCHEDULE_FILE and params["interval"] is None


def test_the_typed_command_is_remade_from_what_click_parsed():
    app = typer.Typer()
    seen: list[list[str]] = []

    @app.command()
    def run(
        ctx: typer.Context,
        steps: o.Steps,
        seed: o.Seed = None,
        mode: o.ModeOption = o.MODE,
        recycle: o.Recycle = o.D.recycle,
        data_stores: o.DataStores = None,
        html_path: o.Html = None,
    ) -> None:
        seen.append(typed_command(ctx))

    args = ["a.py", "b.py", "--mode", "WARM", "--no-recycle", "--data-store", "x=s.db",
            "--data-store", "y", "--html", "r.html"]  # fmt: skip
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 0, outcome.output
    assert seen == [["run", "a.py", "b.py", "--mode", "warm", "--no-recycle",
                     "--data-store", "x=s.db", "--data-store", "y", "--html", "r.html"]]  # fmt: skip


def test_ten_thousand_executions_make_a_small_file_quickly(tmp_path):
    """The bound: the page adds at most 260 bytes to each execution's JSON line (its
    brief) and 200 KB in all (its script and style) to plotly.js; made in under 20 s
    (about 1 s here)."""
    result = big_run(10_000)
    lines = sum(len(line) + 1 for line in result.executions.json_lines())
    begun = time.perf_counter()
    write_html(tmp_path / "big.html", result)
    took = time.perf_counter() - begun
    size = (tmp_path / "big.html").stat().st_size
    added = size - len(plotly.offline.get_plotlyjs()) - lines
    assert added < 10_000 * 260 + 200_000, added
    assert took < 20, took
    page, runs = parts(tmp_path / "big.html")
    assert len(page["runs"][0]["briefs"]) == len(runs[0]) == 10_000
    assert len(page["runs"][0]["report"]["ees"]) == 200


def test_the_api_writes_it_and_refuses_a_folder(tmp_path):
    result = fake_run(tmp_path)
    pdee.write_html(tmp_path / "r.html", result)
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(pdee.UsageError, match="cannot write HTML report"):
        pdee.write_html(tmp_path / "missing" / "r.html", result)


def test_a_project_page_has_each_workflow_s_verdicts_and_runs(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "project", project)
    checked = pdee.check_project(project, backend=FakeBackend(), seed=3)
    write_html(tmp_path / "project.html", checked)
    page, runs = parts(tmp_path / "project.html")
    assert page["kind"] == "project" and page["safe"] is checked.safe
    titles = [check["title"] for check in page["checks"]]
    assert titles == [f"workflow {w.workflow.name}" for w in checked.workflows]
    assert [r["label"] for r in page["runs"]] == [
        f"workflow {w.workflow.name}: {name} run"
        for w in checked.workflows
        if w.result
        for name in w.result.runs
    ]
    assert [len(r) for r in runs] == [len(r["briefs"]) for r in page["runs"]]
