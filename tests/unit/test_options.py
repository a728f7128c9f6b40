"""The run options are declared once, and every public function holds to the declaration."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from fake_backend import FakeBackend

import pdee
from pdee.cli import commands
from pdee.plan.options import (
    CHECK_OPTION_NAMES,
    DEFAULTS,
    OPTION_NAMES,
    CheckKeywords,
    RunKeywords,
    RunOptions,
    declared,
)
from pdee.plan.run_plan import build_plan


def test_the_typed_keywords_are_the_declared_options_with_the_same_types():
    fields = {f.name: f.type for f in dataclasses.fields(RunOptions)}
    assert RunKeywords.__annotations__.keys() == fields.keys() == OPTION_NAMES
    for name, kind in RunKeywords.__annotations__.items():
        written = kind.__forward_arg__ if hasattr(kind, "__forward_arg__") else kind
        assert written == fields[name], name
    assert set(CheckKeywords.__annotations__) == CHECK_OPTION_NAMES < OPTION_NAMES


def test_every_option_has_help_and_a_panel():
    for name in OPTION_NAMES:
        option = declared(name)
        assert option.help.endswith(".") and len(option.help) > 20, name
        assert option.panel, name


@pytest.mark.parametrize(
    ("command", "exclusive"),
    [
        ("run", set()),
        ("serve", {"events", "event_file", "event", "schedule", "interval", "rate",
                   "resume_after", "resume_data", "trigger", "cron", "timezone"}),
        ("check", OPTION_NAMES - CHECK_OPTION_NAMES),
    ],
)  # fmt: skip
def test_the_cli_takes_each_option_with_its_declared_default(command, exclusive):
    function = {c.callback.__name__: c.callback for c in commands.app.registered_commands}[command]
    parameters = inspect.signature(function).parameters
    assert {name for name in parameters if name in OPTION_NAMES} == OPTION_NAMES - exclusive
    for name in OPTION_NAMES - exclusive:
        default = parameters[name].default
        assert default == getattr(DEFAULTS, name), name


def test_help_shows_every_flag_whole_at_80_columns_in_panels():
    from typer.testing import CliRunner

    for command in commands.app.registered_commands:
        name = command.callback.__name__
        if name not in ("run", "check", "serve"):
            continue
        shown = CliRunner().invoke(commands.app, [name, "--help"], terminal_width=80).stdout
        assert {"Events", "Limits", "Output"} <= set(shown.replace("─", " ").split())
        assert all(len(line) <= 80 for line in shown.splitlines()), name
        for option in set(inspect.signature(command.callback).parameters) & OPTION_NAMES:
            flags = declared(option).flags
            flag = flags[0].split("/")[0] if flags else "--" + option.replace("_", "-")
            assert f" {flag} " in shown, (name, flag)


@pytest.fixture
def step(tmp_path):
    path = tmp_path / "step.py"
    path.write_text("def handler(pd):\n    return 1\n")
    return path


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (lambda step: build_plan([step], memroy="1GB"), "build_plan"),
        (lambda step: pdee.run([step], memroy="1GB", backend=FakeBackend()), "run"),
        (lambda step: pdee.check([step], memroy="1GB", backend=FakeBackend()), "check"),
        (lambda step: pdee.check_project(step.parent, memroy="1GB"), "check_project"),
        (lambda step: pdee.serve([step], memroy="1GB", backend=FakeBackend()).__enter__(), "serve"),
    ],
)
def test_a_misspelled_keyword_is_a_usage_error_naming_the_option(step, call, where):
    with pytest.raises(
        pdee.UsageError,
        match=rf"{where}\(\) got an unknown keyword 'memroy': did you mean memory\?",
    ):
        call(step)


def test_check_refuses_a_run_option_it_does_not_take(step):
    with pytest.raises(pdee.UsageError, match=r"check\(\) got an unknown keyword 'events'"):
        pdee.check([step], events=3, backend=FakeBackend())
    with pytest.raises(pdee.UsageError, match="did you mean backend"):
        pdee.check([step], backnd=FakeBackend())
