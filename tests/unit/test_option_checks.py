"""What no edit of a file can fix is refused before a watch waits (exit 2); the options'
help says what each does on each command, from ``cli/options.py``; the --debug-port
note comes when the run waits for the debugger."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pdee import api
from pdee.checking import project as project_module
from pdee.checking.project import check_arguments
from pdee.checking.shards import Shard
from pdee.cli import commands
from pdee.cli import options as o
from pdee.cli import run as run_module
from pdee.cli.common import Consoles
from pdee.errors import ExitCode, UsageError
from pdee.plan.options import RunOptions
from pdee.plan.run_plan import DEBUG_WAIT, build_plan, validate_options


@pytest.fixture
def step(tmp_path: Path) -> Path:
    path = tmp_path / "step.py"
    path.write_text("def handler(pd):\n    return 1\n")
    return path


@pytest.fixture
def no_watch(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """api.watch, which must not be reached: the calls it got."""
    calls: list[object] = []
    monkeypatch.setattr(api, "watch", lambda *a, **k: calls.append(a))
    return calls


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--debug-port", "5678", "--concurrency", "2"], "drop --concurrency 2"),
        (["run", "--concurrency", "0"], "--concurrency 0"),
        (["run", "--cron", "0 0 31 4 *"], "names no instant"),
        (["run", "--interval", "1", "--rate", "2"], "use one"),
        (["run", "--memory", "20GB"], "10GB"),
        (["run", "--throttle", "x"], "--throttle"),
        (["run", "--event", "{", "--watch"], "--event"),
        (["check", "--warm", "0"], "--warm 0"),
        (["check", "--shard", "1/2"], "splits a project's workflows"),
        (["check", "--memory", "20GB"], "--memory"),
    ],
)
def test_watch_ends_with_exit_2_on_what_no_save_fixes(step, no_watch, args, message):
    command, *options = args
    got = CliRunner().invoke(commands.app, [command, str(step), "--watch", *options])
    assert got.exit_code == ExitCode.USAGE, got.output
    assert message in got.output and "watching" not in got.output
    assert no_watch == []


def test_watch_waits_on_what_a_save_fixes(tmp_path, no_watch):
    broken = tmp_path / "broken.py"
    broken.write_text("def handler(pd:\n")  # a syntax error: the watch shows it and waits
    for command in ("run", "check"):
        CliRunner().invoke(commands.app, [command, str(broken), "--watch"])
    assert len(no_watch) == 2


def test_options_are_checked_without_reading_a_file(tmp_path):
    missing = tmp_path / "nowhere.py"
    with pytest.raises(UsageError, match="--concurrency 65"):
        build_plan([missing], concurrency=65)  # the option, not the missing file
    with pytest.raises(UsageError, match="--timeout 800"):
        validate_options(RunOptions(timeout=800, event_file=str(missing)))
    validate_options(RunOptions(event_file=str(missing), resume_data="@nowhere", resume_after=1))


def test_the_cli_parses_a_shard_once_through_the_api(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "a").mkdir(parents=True)
    parsed: list[str] = []
    real = Shard.parse.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        Shard, "parse", classmethod(lambda cls, t: parsed.append(t) or real(cls, t))
    )
    given: list[object] = []

    def fake_check_project(root, **kwargs):
        given.append(kwargs["shard"])
        raise UsageError("stop here")

    monkeypatch.setattr("pdee.cli.check.check_project", fake_check_project)
    got = CliRunner().invoke(commands.app, ["check", str(root), "--shard", "2/3"])
    assert got.exit_code == ExitCode.USAGE and "stop here" in got.output
    assert parsed == ["2/3"] and given == [Shard(2, 3)]


def test_check_arguments_raise_the_shards_errors(step):
    with pytest.raises(UsageError, match="give K/N"):
        check_arguments([step.parent], shard="3/2")
    with pytest.raises(UsageError, match="splits a project's workflows"):
        check_arguments([step], shard="1/2")
    assert check_arguments([step]) is None
    assert project_module.check_arguments is check_arguments


def _help(command: str) -> str:
    return CliRunner().invoke(commands.app, [command, "--help"], terminal_width=100).stdout


def _text(shown: str) -> str:
    """Help as one line of words, without the panels' borders."""
    return " ".join(shown.replace("│", " ").split())


def _panel(shown: str, title: str) -> str:
    """The lines of help panel ``title``."""
    lines = shown.splitlines()
    start = next(at for at, line in enumerate(lines) if f" {title} " in line and "─" in line)
    end = next(at for at in range(start + 1, len(lines)) if lines[at].startswith("╰"))
    return "\n".join(lines[start:end])


def test_the_development_and_project_panels():
    assert "--watch" in _panel(_help("run"), "Development")
    assert "--debug-port" in _panel(_help("run"), "Development")
    assert "--reload" in _panel(_help("serve"), "Development")
    assert "--watch" in _panel(_help("check"), "Development")
    project = _panel(_help("check"), "Project")
    assert "--shard" in project and "--include-inactive" in project


def test_each_commands_help_says_what_the_option_does_there():
    check = _text(_panel(_help("check"), "Development"))
    assert "schedule" not in check and "check again" in check
    run = _text(_help("run"))
    assert "--concurrency above 1 is refused" in run
    assert "Runs one execution at a time" not in run
    assert "--cron alone runs its schedule's first instant" in run
    assert "app (event source) trigger" in run
    serve = _text(_help("serve"))
    assert "No effect on serve: an HTTP trigger has no queue" in serve


def test_every_option_of_the_commands_is_declared_in_cli_options():
    inline = {"ctx", "json_path", "quiet"}  # the context; one command's own output options
    for command in commands.app.registered_commands:
        name = command.callback.__name__
        if name not in ("run", "check", "serve"):
            continue
        parameters = inspect.signature(command.callback).parameters
        names = ("reload", "queue_size") if name == "serve" else set(parameters) - inline
        for option in names:
            annotation = str(parameters[option].annotation)
            assert annotation.startswith("o.") and hasattr(o, annotation[2:]), (name, option)


def test_the_attach_note_comes_when_the_run_waits_for_the_debugger(step, capsys):
    Consoles.renew()  # on the captured stderr
    plan = build_plan([step], debug_port=5678)
    lines: list[str] = []
    told = run_module.phases(plan, lines.append)
    told("checking the image")
    assert "launch.json" not in capsys.readouterr().err
    told(f"{DEBUG_WAIT} 127.0.0.1:5678")
    assert '"port": 5678' in capsys.readouterr().err
    assert lines == ["checking the image", f"{DEBUG_WAIT} 127.0.0.1:5678"]
    tell = lines.append
    assert run_module.phases(build_plan([step]), tell) is tell


def test_a_refused_image_prints_no_attach_note(step, monkeypatch):
    from fake_backend import FakeBackend

    real = api.execute
    monkeypatch.setattr(
        api, "execute", lambda plan, _b, *rest: real(plan, FakeBackend(recipe="old"), *rest)
    )
    got = CliRunner().invoke(commands.app, ["run", str(step), "--debug-port", "65535"])
    assert "recipe old" in got.output and got.exit_code != 0
    assert "launch.json" not in got.output and "attach a debugger" not in got.output


@pytest.mark.parametrize(("count", "said"), [(1, "watching 1 file for"), (2, "watching 2 files")])
def test_the_watch_counts_its_files_in_words(step, monkeypatch, capsys, count, said):
    import typer

    from pdee.cli.watching import watch_runs
    from pdee.watching.targets import Targets

    files = frozenset(Path(f"/x/{n}.py") for n in range(count))

    def fake_watch(steps, each, *, on_waiting, **kwargs):
        on_waiting(Targets(files, frozenset(), frozenset()))
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "watch", fake_watch)
    Consoles.renew()
    with pytest.raises(typer.Exit):
        watch_runs([step], {}, lambda: None, ())
    assert said in capsys.readouterr().err
