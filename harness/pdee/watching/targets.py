"""What a watch watches and what a change means. Pure: it reads the files it is given,
never waits and never touches a watcher.

``targets`` lists, from a command's steps and options (``pdee.plan.input_files``), the
files whose change is a redeploy: the step files, a workflow folder (every file in it),
``--event-file``, ``--schedule``, ``--inputs``, ``--env-file``, ``--step-result @FILE``
and ``--resume-data @FILE``. Not the ``--data-store`` files: a run writes them itself,
and a store outlives a redeploy on the platform. Not the outputs (``--report``,
``--junit``, ``--record``), which every run rewrites.

The watcher watches folders, not files (an editor that saves by writing a new file and
renaming it over the old one replaces the file a watch on it would follow), each one
without its subfolders (a step beside a home folder must not watch the home folder):
the folder of each file, a workflow folder and its steps' folders. ``relevant`` then
says which of the changes it sees matter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plan.input_files import input_files
from ..plan.steps import SYNTAX_CHECKED, syntax_message
from ..plan.synced import SKIPPED_FOLDERS, WORKFLOW_FILE
from ..provision.image import PLATFORM_PYTHON

# The options whose files a run writes (data stores): a change to them is no redeploy.
WRITTEN_BY_THE_RUN = {"--data-store"}
# Files an editor or a tool writes beside the ones it saves: never a change of the workflow.
NOISE_SUFFIXES = (".swp", ".swx", ".swo", "~", ".tmp", ".pdee-tmp", ".pyc", ".pyo")
NOISE_PREFIXES = (".#", "#")


def _real(path: Path) -> Path:
    """``path`` absolute with every symlink resolved (what the watcher reports)."""
    return Path(os.path.realpath(path))


@dataclass(frozen=True)
class Targets:
    """What a watch watches: ``folders`` (each without its subfolders) for changes to
    ``files``, or to any file under one of the ``trees`` (workflow folders), but none of
    ``ignored`` (the outputs)."""

    files: frozenset[Path]
    trees: frozenset[Path]
    folders: frozenset[Path]
    ignored: frozenset[Path] = frozenset()

    def relevant(self, path: str | Path) -> bool:
        """Whether a change to ``path`` (as the watcher reports it) is a redeploy."""
        real = _real(Path(path))
        if real in self.ignored or _noise(real.name):
            return False
        if real in self.files:
            return True
        return any(
            tree in real.parents and not SKIPPED_FOLDERS & set(real.relative_to(tree).parts)
            for tree in self.trees
        )

    def python_files(self) -> list[Path]:
        """The ``.py`` files among ``files``, sorted: the code a syntax check reads."""
        return sorted(path for path in self.files if path.suffix == ".py")


def _noise(name: str) -> bool:
    return name.endswith(NOISE_SUFFIXES) or name.startswith(NOISE_PREFIXES)


def targets(
    steps: Sequence[Any], options: Mapping[str, Any], outputs: Iterable[Path | None] = ()
) -> Targets:
    """What a watch of a command with ``steps`` and ``options`` watches.

    Args:
        steps: the command's arguments: step files, a workflow folder or a project.
        options: its run options (``RunOptions``' names; the others are ignored).
        outputs: the files it writes (None: not asked for), never a change.

    Returns:
        The targets; listing never fails (a file that does not exist yet is watched for).
    """
    files: set[Path] = set()
    trees: set[Path] = set()
    for found in input_files(steps, options):
        if found.option in WRITTEN_BY_THE_RUN:
            continue
        real = _real(found.path)
        files.add(real)
        if real.name == WORKFLOW_FILE:
            trees.add(real.parent)
    folders = {path.parent for path in files} | trees
    return Targets(
        files=frozenset(files),
        trees=frozenset(trees),
        folders=frozenset(folders),
        ignored=frozenset(_real(path) for path in outputs if path is not None),
    )


def shown(path: Path, cwd: Path | None = None) -> str:
    """``path`` as a user reads it: relative to ``cwd`` (default: the current folder)
    when it is under it, else absolute."""
    base = _real(cwd or Path.cwd())
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def divider(
    number: int,
    changed: Iterable[Path],
    width: int = 72,
    cwd: Path | None = None,
    what: str = "run",
) -> str:
    """The line that starts ``what`` number ``number`` of a watch (0: the first run; a
    ``"reload"`` counts from 1): which files changed."""
    names = sorted(shown(path, cwd) for path in changed)
    count = number if what == "reload" else number + 1
    if number == 0:
        line = f"── first {what} "
    else:
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        files = f": {', '.join(names[:3])}{more} changed" if names else ""
        line = f"── {what} {count}{files} "
    return line + "─" * max(width - len(line), 3)


def syntax_error(files: Iterable[Path], cwd: Path | None = None) -> str | None:
    """The first syntax error in ``files`` (Python source), in the one line ``pdee run``
    gives (``plan.steps.syntax_message``); None if each compiles (or cannot be read: the
    run says why).

    A watch checks with any host Python, so that a saved syntax error is one message
    and no run, and a reload keeps the old code serving. A host older than the
    platform's Python (which ``pdee run`` alone leaves the EE to judge) may refuse
    syntax the platform accepts: the message says which Python judged it.
    """
    for path in files:
        try:
            source = path.read_bytes()
        except OSError:
            continue
        try:
            compile(source, str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            message = syntax_message(shown(path, cwd), exc)
            if not SYNTAX_CHECKED:
                host = ".".join(map(str, sys.version_info[:2]))
                message += f" (judged by this host's Python {host}, older than {PLATFORM_PYTHON})"
            return message
        except ValueError:  # NUL bytes: the plan refuses the step with its own message
            continue
    return None
