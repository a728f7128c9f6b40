"""The files a command reads, by the option that names each one.

``pdee run s.py --report s.py`` would replace the step's code with its report. Before
the CLI claims an output file, it lists here every file the command will read (the
step files; a workflow folder's ``workflow.yaml``, state file and steps' code; those of
every workflow of a project; ``--event-file``, ``--schedule``, ``--inputs``,
``--env-file``, each ``--data-store NAME=PATH`` with the files SQLite keeps beside it,
``--step-result NAME=@FILE``, ``--resume-data @FILE``), and refuses an output that is
one of them (``pdee.outputs.files.refuse_clashes``).

Listing never fails: a value that is no file name, or a workflow that cannot be read,
names what it can; the plan builder says what is wrong with the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .synced import STATE_FILE, WORKFLOW_FILE, find_workflows, is_workflow, read_workflow

# The files SQLite keeps beside a database in WAL mode (and in rollback mode), by what
# each one is: overwriting one loses the store's last writes or corrupts it.
SQLITE_SIDE_FILES = {
    "-wal": "write-ahead log",
    "-shm": "shared-memory index",
    "-journal": "rollback journal",
}


@dataclass(frozen=True)
class InputFile:
    """A file a command reads: the option that names it (``STEPS`` for the command's
    arguments), its path as given, and how a refusal names it (``the step file s.py``,
    ``--event-file ev.json``)."""

    option: str
    path: Path
    named: str


def input_files(steps: Sequence[Any], options: Mapping[str, Any]) -> list[InputFile]:
    """Every file the command reads, as its arguments and options name them.

    Args:
        steps: the command's arguments: step files, a workflow folder, or (``check``)
            a project folder.
        options: the command's run options (``RunOptions``' names): ``event_file``,
            ``schedule``, ``inputs``, ``env_file``, ``data_stores``, ``step_results``,
            ``resume_data``; the others are ignored.

    Returns:
        The files in the order given, each once per way it is named.
    """
    found = list(_steps(steps))
    for key, option, what in (
        ("event_file", "--event-file", None),
        ("schedule", "--schedule", None),
        ("inputs", "--inputs", None),
        ("env_file", "--env-file", None),
    ):
        path = _path(options.get(key))
        if path is not None:
            found.append(InputFile(option, path, what or f"{option} {path}"))
    found += _stores(options.get("data_stores"))
    found += _at_files(options.get("step_results"))
    resume = options.get("resume_data")
    if isinstance(resume, str) and resume.startswith("@") and len(resume) > 1:
        path = Path(resume[1:])
        found.append(InputFile("--resume-data", path, f"--resume-data @{path}"))
    return found


def _path(value: Any) -> Path | None:
    """``value`` as a path, if it is a non-empty file name (else None: not a file)."""
    if isinstance(value, (str, PathLike)) and str(value):
        return Path(value)
    return None


def _steps(steps: Sequence[Any]) -> Iterator[InputFile]:
    if isinstance(steps, (str, PathLike)):
        steps = [steps]
    for given in steps:
        path = _path(given)
        if path is None:
            continue
        try:
            folder = path.is_dir()
        except (OSError, ValueError):
            folder = False
        if not folder:
            yield InputFile("STEPS", path, f"the step file {path}")
        elif is_workflow(path):
            yield from _workflow(path)
        else:  # a project (pdee check): every workflow in it
            for workflow in find_workflows(path):
                yield from _workflow(workflow)


def _workflow(folder: Path) -> Iterator[InputFile]:
    """A workflow folder's files: ``workflow.yaml``, its state file, its steps' code."""
    yield InputFile("STEPS", folder / WORKFLOW_FILE, f"the workflow file {folder / WORKFLOW_FILE}")
    state = folder / STATE_FILE
    if state.is_file():
        yield InputFile("STEPS", state, f"the workflow state file {state}")
    try:
        workflow = read_workflow(folder)
    except UsageError:
        return  # the run is refused for it, before any of its steps is read
    for step in workflow.steps:
        if step.path is not None:
            yield InputFile("STEPS", step.path, f"step {step.namespace}'s code {step.path}")


def _stores(stores: Any) -> Iterator[InputFile]:
    """``--data-store NAME=PATH`` files (``NAME`` alone is a store for the run only), and
    the files SQLite keeps beside each."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(stores, Mapping):
        pairs = [(str(name), path) for name, path in stores.items()]
    elif isinstance(stores, Sequence) and not isinstance(stores, str):
        for text in stores:
            name, sep, given = str(text).partition("=")
            if sep:
                pairs.append((name, given))
    for name, value in pairs:
        store = _path(value)
        if store is None:
            continue
        named = f"--data-store {name}={store}"
        yield InputFile("--data-store", store, named)
        for suffix, what in SQLITE_SIDE_FILES.items():
            side = Path(f"{store}{suffix}")
            yield InputFile("--data-store", side, f"the {what} of {named}")


def _at_files(results: Any) -> Iterator[InputFile]:
    """The files of ``--step-result NAME=@FILE`` texts (a mapping holds data, no files)."""
    if isinstance(results, (str, Mapping)) or not isinstance(results, Sequence):
        return
    for text in results:
        name, sep, value = str(text).partition("=")
        if sep and value.startswith("@") and len(value) > 1:
            path = Path(value[1:])
            yield InputFile("--step-result", path, f"--step-result {name}=@{path}")
