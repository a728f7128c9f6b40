"""--watch and serve --reload without a daemon or a watcher: what is watched, what a
change means, the divider, the syntax check, the watch loop over a fake watcher, and
the scheduler's redeploy."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from pdee.errors import BackendUnavailable, ImageError, PdeeError, UsageError
from pdee.lifecycle.scheduler import Mode, Policy, Retire, Retirement, Scheduler
from pdee.provision.image import PLATFORM_PYTHON
from pdee.watching import session
from pdee.watching import targets as targets_module
from pdee.watching.session import Change
from pdee.watching.targets import Targets, divider, syntax_error, targets

STEP = 'def handler(pd: "pipedream"):\n    return 1\n'


def _step(folder: Path, name: str = "step.py", code: str = STEP) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code)
    return path


def test_the_steps_and_the_files_given_are_watched_but_not_the_stores_nor_the_outputs(tmp_path):
    step = _step(tmp_path / "code")
    event = tmp_path / "events" / "event.json"
    env = tmp_path / ".env"
    store = tmp_path / "store.db"
    report = tmp_path / "code" / "report.json"
    options = {"event_file": event, "env_file": env, "data_stores": [f"orders={store}"]}

    watched = targets([step], options, outputs=[report, None])

    assert watched.files == {step, event, env}
    assert watched.folders == {step.parent, event.parent, tmp_path}
    assert watched.relevant(step) and watched.relevant(str(event)) and watched.relevant(env)
    assert not watched.relevant(store)  # the run writes it: no redeploy
    assert not watched.relevant(f"{store}-wal")
    assert not watched.relevant(report)  # each run rewrites it
    assert not watched.relevant(step.parent / ".report.json.a1b2c3d4.pdee-tmp")
    assert not watched.relevant(step.parent / "notes.txt")  # beside the step, not given
    assert not watched.relevant(step.parent / ".step.py.swp")


def test_a_step_reached_through_a_symlink_is_watched_where_it_is(tmp_path):
    real = _step(tmp_path / "real")
    link = tmp_path / "link.py"
    link.symlink_to(real)

    watched = targets([link], {})

    assert watched.files == {real}
    assert watched.folders == {real.parent}  # where an editor saves it
    assert watched.relevant(real) and watched.relevant(link)


def test_a_workflow_folder_is_watched_whole_but_for_tools_folders(tmp_path):
    folder = tmp_path / "hook-p_abc"
    (folder / "workflow.yaml").parent.mkdir()
    (folder / "workflow.yaml").write_text(
        "schema: workflow/2022.04\nname: hook\nsteps:\n"
        "- namespace: code\n  runtime: python3.12\n  uses: ./code/entry.py\n"
    )
    entry = _step(folder / "code", "entry.py")
    report = folder / "report.json"

    watched = targets([folder], {}, outputs=[report])

    assert watched.trees == {folder}
    assert watched.folders == {folder, entry.parent}
    assert watched.python_files() == [entry]
    assert watched.relevant(folder / "workflow.yaml") and watched.relevant(entry)
    assert watched.relevant(folder / "code" / "helper.py")  # any file of the workflow
    assert not watched.relevant(folder / "code" / "__pycache__" / "entry.cpython-312.pyc")
    assert not watched.relevant(folder / ".git" / "index")
    assert not watched.relevant(report)
    assert not watched.relevant(tmp_path / "other.py")


def test_the_divider_names_the_run_and_what_changed(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "sub" / "b.py"

    assert divider(0, [], cwd=tmp_path).startswith("── first run ──")
    assert divider(1, [a], cwd=tmp_path).startswith("── run 2: a.py changed ──")
    assert divider(2, [b, a], cwd=tmp_path).startswith("── run 3: a.py, sub/b.py changed ──")
    many = [tmp_path / f"{n}.py" for n in range(5)]
    assert "0.py, 1.py, 2.py and 2 more changed" in divider(3, many, cwd=tmp_path)
    assert divider(1, [a], cwd=tmp_path, what="reload").startswith("── reload 1: a.py changed")
    assert str(a) in divider(1, [a], cwd=tmp_path / "elsewhere")  # not under it: absolute
    assert len(divider(1, [a], width=72, cwd=tmp_path)) == 72


def test_a_syntax_error_is_one_line_naming_the_file_the_line_and_the_code(tmp_path, monkeypatch):
    good = _step(tmp_path, "good.py")
    bad = _step(tmp_path, "bad.py", "def handler(pd):\n    return (1,\n")

    assert syntax_error([good], cwd=tmp_path) is None
    assert syntax_error([tmp_path / "gone.py"], cwd=tmp_path) is None  # the run says why
    message = syntax_error([good, bad], cwd=tmp_path)
    expected = "step bad.py:2 does not compile: SyntaxError: '(' was never closed: return (1,"
    assert message is not None and message.startswith(expected)
    outside = syntax_error([_step(tmp_path, "out.py", "return 1\n")], cwd=tmp_path)
    assert outside is not None and "'return' outside function" in outside  # compile's, not ast's

    # A host Python older than the platform's says it judged: the platform might not agree.
    monkeypatch.setattr(targets_module, "SYNTAX_CHECKED", False)
    host = ".".join(map(str, sys.version_info[:2]))
    assert syntax_error([bad], cwd=tmp_path) == (
        f"{expected} (judged by this host's Python {host}, older than {PLATFORM_PYTHON})"
    )
    monkeypatch.setattr(targets_module, "SYNTAX_CHECKED", True)
    assert syntax_error([bad], cwd=tmp_path) == expected


class FakeWatcher:
    """The watcher's batches, given by the test; None (the stop) once they run out."""

    batches: ClassVar[list[set[Path]]] = []
    made: ClassVar[list[FakeWatcher]] = []

    def __init__(self, watched: Targets) -> None:
        self.watched = watched
        self.closed = False
        FakeWatcher.made.append(self)

    def start(self) -> FakeWatcher:
        return self

    def next(self, stop: threading.Event | None = None) -> set[Path] | None:
        return FakeWatcher.batches.pop(0) if FakeWatcher.batches else None

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_watcher(monkeypatch):
    FakeWatcher.made = []
    monkeypatch.setattr(session, "Watcher", FakeWatcher)
    return FakeWatcher


def test_the_loop_runs_again_on_each_change_and_goes_on_past_a_syntax_error_and_a_refusal(
    tmp_path, fake_watcher
):
    step = _step(tmp_path)
    seen: list[tuple[str, Change, str]] = []

    def each(change: Change) -> None:
        seen.append(("run", change, step.read_text()))
        if change.number == 0:  # the first run's edit: a syntax error, saved
            step.write_text("def handler(pd):\n    return (\n")
        elif change.number == 2:
            raise UsageError("event file e.json is not JSON")

    def problem(change: Change, message: str) -> None:
        seen.append(("problem", change, message.splitlines()[0]))
        step.write_text(STEP.replace("1", "2"))

    fake_watcher.batches = [{step}, {step}, {step}]
    session.watch([step], {}, each, on_problem=problem)

    assert [(kind, change.number) for kind, change, _ in seen] == [
        ("run", 0),
        ("problem", 1),  # the syntax error: no run
        ("run", 2),
        ("problem", 2),  # the run refused: one message, and the watch goes on
        ("run", 3),
    ]
    assert seen[1][2].startswith(f"step {step}:2 does not compile: SyntaxError: '(' was never")
    assert seen[3][2] == "event file e.json is not JSON"
    assert seen[2][1].changed == (step,) and "return 2" in seen[2][2]
    assert all(watcher.closed for watcher in fake_watcher.made)


def test_a_signal_or_a_bug_in_a_run_ends_the_loop_with_the_watcher_closed(tmp_path, fake_watcher):
    step = _step(tmp_path)

    def interrupted(_change: Change) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        session.watch([step], {}, interrupted)
    assert fake_watcher.made[-1].closed

    def broken(_change: Change) -> None:
        raise ZeroDivisionError  # pdee's own bug: not swallowed as a problem

    with pytest.raises(ZeroDivisionError):
        session.watch([step], {}, broken)
    assert fake_watcher.made[-1].closed
    assert not issubclass(ZeroDivisionError, PdeeError)


def test_a_step_added_to_the_workflow_is_watched_from_the_next_run(tmp_path, fake_watcher):
    folder = tmp_path / "wf"
    yaml = folder / "workflow.yaml"
    folder.mkdir()
    step = "- namespace: {0}\n  runtime: python3.12\n  uses: ./{0}/entry.py\n"
    yaml.write_text("schema: workflow/2022.04\nname: wf\nsteps:\n" + step.format("one"))
    _step(folder / "one", "entry.py")

    def each(change: Change) -> None:
        if change.number == 0:
            _step(folder / "two", "entry.py")
            yaml.write_text(yaml.read_text() + step.format("two"))

    fake_watcher.batches = [{yaml}]
    session.watch([folder], {}, each)

    first, second = fake_watcher.made
    assert folder / "two" / "entry.py" not in first.watched.files
    assert folder / "two" / "entry.py" in second.watched.files and first.closed


def _busy(scheduler: Scheduler, index: int, at_s: float) -> str:
    decision = scheduler.arrive(index, at_s).decision
    assert decision is not None
    return decision.ee


def test_a_redeploy_retires_idle_ees_now_and_busy_ones_when_their_execution_ends():
    scheduler = Scheduler(Policy(mode=Mode.REALISTIC, chaos=0.0, concurrency=2))
    one = _busy(scheduler, 0, 0.0)
    two = _busy(scheduler, 1, 0.0)
    scheduler.finish(one, 1.0)

    retired, prestarted = scheduler.redeploy(2.0)

    assert retired == [Retirement(one, 2.0, Retire.REDEPLOY)] and prestarted == []
    # the busy one finishes on the old code, then goes; the next event gets a new EE
    assert scheduler.finish(two, 3.0) == [Retirement(two, 3.0, Retire.REDEPLOY)]
    third = scheduler.arrive(2, 4.0).decision
    assert third is not None and third.ee not in (one, two) and third.start.value == "cold"
    assert scheduler.finish(third.ee, 5.0) == []  # the new code's EE is kept warm


def test_a_redeploy_starts_the_warm_workers_anew():
    scheduler = Scheduler(Policy(mode=Mode.WARM, warm_workers=2))
    first = scheduler.begin()
    busy = _busy(scheduler, 0, 0.0)

    retired, prestarted = scheduler.redeploy(1.0)

    idle = [ee for ee in first if ee != busy]
    assert [r.ee for r in retired] == idle
    assert len(prestarted) == 2 and not set(prestarted) & set(first)
    assert scheduler.finish(busy, 2.0) == [Retirement(busy, 2.0, Retire.REDEPLOY)]
    assert scheduler.arrive(1, 3.0).prestarted == []  # two new warm workers already


@pytest.mark.parametrize(
    "error", [ImageError("image nope:1 not found"), BackendUnavailable("no Docker daemon")]
)
def test_what_no_save_fixes_ends_the_watch(tmp_path, fake_watcher, error):
    step = _step(tmp_path)
    fake_watcher.batches = [{step}]
    problems: list[str] = []

    def each(_change: Change) -> None:
        raise error

    with pytest.raises(type(error)):
        session.watch([step], {}, each, on_problem=lambda _c, m: problems.append(m))
    assert problems == [] and fake_watcher.made[-1].closed
