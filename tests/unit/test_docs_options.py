"""The option tables of docs/running.md, docs/check.md and docs/serve.md name every
option of their command, as the Typer app declares it, and no option it does not take:
a new option cannot be left out of its page again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from pdee.cli.commands import app

DOCS = Path(__file__).parents[2] / "docs"
PAGES = {"run": "running.md", "check": "check.md", "serve": "serve.md"}
# A flag as a table's first cell writes it: `--flag`, `--flag N`, `--flag NAME[=PATH]`.
FLAG = re.compile(r"`(--?[a-z][a-z0-9-]*)[` \[=]")


def flags(command: str) -> set[str]:
    """Every flag of ``pdee COMMAND``, its ``--no-`` forms and short ones included."""
    group = typer.main.get_command(app)  # a click group (Typer's own copy of click)
    params = group.commands[command].params  # type: ignore[attr-defined]
    return {
        flag
        for param in params
        if param.param_type_name == "option" and not getattr(param, "hidden", False)
        for flag in (*param.opts, *param.secondary_opts)
    }


def options_section(page: str) -> str:
    """The page's ``## Options`` section, up to the next ``## `` heading."""
    text = (DOCS / page).read_text()
    assert "\n## Options\n" in text, f"docs/{page} has no ## Options section"
    start = text.index("\n## Options\n")
    end = text.find("\n## ", start + 1)
    return text[start : None if end == -1 else end]


def tabled(section: str) -> set[str]:
    """The flags named in the first cell of the section's table rows."""
    cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("|")]
    return {flag for cell in cells for flag in FLAG.findall(cell)}


@pytest.mark.parametrize("command", sorted(PAGES))
def test_every_option_is_in_its_pages_option_tables(command):
    missing = flags(command) - tabled(options_section(PAGES[command]))
    assert not missing, f"docs/{PAGES[command]} lacks {sorted(missing)} of pdee {command}"


@pytest.mark.parametrize("command", sorted(PAGES))
def test_the_option_tables_name_no_option_the_command_lacks(command):
    unknown = tabled(options_section(PAGES[command])) - flags(command)
    assert not unknown, f"docs/{PAGES[command]} names {sorted(unknown)}: not pdee {command}'s"


def test_the_check_catches_a_missing_row():
    section = options_section("running.md")
    without = "\n".join(line for line in section.splitlines() if not line.startswith("| `--cron "))
    assert flags("run") - tabled(without) == {"--cron"}
    assert {"--recycle", "--no-recycle", "-q", "--data-store"} <= tabled(section)
