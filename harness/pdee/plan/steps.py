"""A workflow: its steps' code and the ``pd.inputs`` they get, read and checked.

Everything a user can get wrong here becomes a one-line ``UsageError`` before any
container starts; a step that does not compile, a ``StepSyntaxError`` (exit 1) with its
file and line, once, rather than the same error in every execution. Only a host Python
as recent as the platform's judges the syntax, though: an older one would refuse what
3.12 accepts (``type X = ...``, nested f-string quotes), so there the EE reports it, as
the step's error in each execution.
"""

from __future__ import annotations

import ast
import stat
import sys
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

from ..errors import StepSyntaxError, UsageError
from ..provision.image import PLATFORM_PYTHON
from ..runtime.actions import emulated
from .reading import (
    MAX_INPUTS_BYTES,
    MAX_STEP_BYTES,
    parse_json,
    probe,
    read_bytes,
    read_text,
    shown_path,
)
from .sizes import plural
from .synced import WORKFLOW_FILE, SyncedWorkflow, find_workflows, is_workflow, read_workflow

StrPath = str | PathLike[str]
# A host Python at least as recent as the platform's judges the steps' syntax.
SYNTAX_CHECKED = sys.version_info >= tuple(int(n) for n in PLATFORM_PYTHON.split("."))
# The --inputs key under which each step's own pd.inputs are, by its name.
STEP_INPUTS_KEY = "$steps"


@dataclass(frozen=True)
class StandIn:
    """A step pdee does not run (another language, a registry action): what it is, and
    the return value later steps see (``given``: the user gave it; else null)."""

    what: str
    return_value: Any = None
    given: bool = False


@dataclass(frozen=True)
class Step:
    """One step: its name in ``pd.steps`` (a file's stem, or a synced step's
    namespace), its code, and what it gets: ``inputs`` (its own ``pd.inputs``) and
    ``stores`` (data store props: the prop's name and the store's key; None: every
    store of the run, under its own name)."""

    name: str
    path: Path
    code: str
    inputs: dict[str, Any] = field(default_factory=dict)
    stores: dict[str, str] | None = None
    unset: dict[str, str] = field(default_factory=dict)  # props pdee cannot give: why
    stand_in: StandIn | None = None
    action: str | None = None  # a registry action pdee emulates (its uses), not code
    # Props that hold {{ }} path expressions, evaluated in the EE just before the step.
    expressions: dict[str, Any] = field(default_factory=dict)

    @property
    def runs(self) -> bool:
        return self.stand_in is None


def _has_handler(tree: ast.Module) -> bool:
    return any(_defines_handler(node) for node in tree.body)


def _defines_handler(node: ast.stmt) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name == "handler"
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == "handler" for t in node.targets)
    if isinstance(node, ast.ImportFrom):
        return any((alias.asname or alias.name) == "handler" for alias in node.names)
    return False


def syntax_message(shown: str, exc: SyntaxError) -> str:
    """``exc`` in one line: the file and line, what is wrong, and the line's code."""
    where = f"{shown}:{exc.lineno}" if exc.lineno else shown
    code = (exc.text or "").strip()
    quoted = f": {code[:80]}{'…' if len(code) > 80 else ''}" if code else ""
    return f"step {where} does not compile: SyntaxError: {exc.msg}{quoted}"


def load_step(path: Path) -> Step:
    """Read and check one step file.

    Raises:
        UsageError: the file is missing, is not a Python file, or has no ``handler``.
        StepSyntaxError: it does not compile (with a host Python as recent as the
            platform's).
    """
    status = probe(path, "step file")
    shown = shown_path(path)
    if status is None:
        raise UsageError(f"step file {shown} does not exist; check the path")
    if not stat.S_ISREG(status.st_mode):
        raise UsageError(f"step {shown} is not a file; give a .py file with def handler(pd)")
    if path.suffix != ".py":
        raise UsageError(f"step {shown} is not a Python file; give a .py file with def handler(pd)")
    data = read_bytes(path, "step file", MAX_STEP_BYTES)
    try:
        code = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"step {shown} is not UTF-8 Python source; save it as UTF-8") from exc
    if "\0" in code:
        raise UsageError(f"step {shown} is not Python source (it holds NUL bytes)")
    try:
        tree = ast.parse(code, filename=str(path))
        compile(tree, str(path), "exec", dont_inherit=True)  # e.g. `return` outside a def
    except SyntaxError as exc:
        if SYNTAX_CHECKED:
            raise StepSyntaxError(syntax_message(shown, exc)) from None
        tree = None  # the EE reports it, as the step's error
    if tree is not None and not _has_handler(tree):
        raise UsageError(f'step {shown} has no handler; define def handler(pd: "pipedream"): ...')
    return Step(name=path.stem, path=path, code=code)


def synced_steps(workflow: SyncedWorkflow) -> list[Step]:
    """The steps of a synced workflow, named by namespace; stand-ins for the steps pdee
    does not run.

    Raises:
        UsageError: a Python step's file is not a step, or no step is Python code or a
            built-in action pdee emulates.
    """
    if not any(step.executes for step in workflow.steps):
        disabled = " enabled" if any(s.path is not None for s in workflow.steps) else ""
        raise UsageError(
            f"{workflow.folder / WORKFLOW_FILE}: none of its{disabled} steps is Python code or "
            f"a built-in action pdee emulates, which is what pdee runs"
        )
    steps = []
    for synced in workflow.steps:
        if synced.disabled:  # not run, and not in pd.steps: the plan's notes say so
            continue
        if synced.path is None and emulated(synced.uses):  # runtime/actions.py runs it
            path = workflow.folder / WORKFLOW_FILE
            steps.append(
                Step(
                    synced.namespace,
                    path,
                    "",
                    inputs=synced.inputs,
                    stores=synced.stores,
                    unset=synced.unset,
                    action=synced.uses,
                    expressions=synced.expressions,
                )
            )
            continue
        if synced.path is None:
            path = workflow.folder / WORKFLOW_FILE
            steps.append(Step(synced.namespace, path, "", stand_in=StandIn(synced.what)))
            continue
        step = load_step(synced.path)
        steps.append(
            replace(
                step,
                name=synced.namespace,
                inputs=synced.inputs,
                stores=synced.stores,
                unset=synced.unset,
                expressions=synced.expressions,
            )
        )
    return steps


def _is_dir(path: Path) -> bool:
    status = probe(path, "step or workflow folder")
    return status is not None and stat.S_ISDIR(status.st_mode)


def load_sources(paths: list[Path]) -> tuple[list[Step], SyncedWorkflow | None]:
    """The steps of step files, or of one workflow folder (and the workflow).

    Raises:
        UsageError: a folder with other sources, a folder that is no workflow, or a bad
            step or workflow file.
    """
    folders = [path for path in paths if _is_dir(path)]
    if not folders:
        return load_steps(paths), None
    folder = folders[0]
    if len(paths) > 1:
        raise UsageError(f"{folder} is a folder: give one workflow folder alone, or step files")
    if not is_workflow(folder):
        found = find_workflows(folder)
        if found:
            raise UsageError(
                f"{folder} is a project of {plural(len(found), 'workflow')}; give one workflow "
                f"folder (e.g. {found[0]}), or check them all with pdee check {folder}"
            )
        raise UsageError(
            f"{folder} holds no {WORKFLOW_FILE}; give step files, or a workflow folder "
            f"synced by the platform's GitHub Sync"
        )
    workflow = read_workflow(folder)
    return synced_steps(workflow), workflow


def load_steps(paths: list[Path]) -> list[Step]:
    """Read the workflow's steps in order; their names must be distinct.

    Raises:
        UsageError: no steps, a bad step file, or two steps with one name.
    """
    if not paths:
        raise UsageError("no step given; run pdee run STEP.py [STEP.py ...]")
    steps = [load_step(path) for path in paths]
    seen: dict[str, Path] = {}
    for step in steps:
        if step.name == "trigger":
            raise UsageError(f"step {step.path}: 'trigger' is the trigger's name; rename the file")
        if step.name in seen:
            raise UsageError(
                f"steps {seen[step.name]} and {step.path} are both named {step.name!r} "
                f"in pd.steps; rename one"
            )
        seen[step.name] = step.path
    return steps


def read_json_file(path: Path, what: str, limit: int = MAX_INPUTS_BYTES) -> Any:
    """The JSON in ``path``, a regular file of at most ``limit`` bytes.

    Raises:
        UsageError: the file cannot be read, is too large, or is not JSON Python can hold.
    """
    return parse_json(read_text(path, what, limit), f"{what} {shown_path(path)}")


def load_inputs(path: Path | None) -> dict[str, Any]:
    """``pd.inputs`` for every step, from a JSON object in ``path`` (empty if None).

    Raises:
        UsageError: the file is unreadable or not a JSON object.
    """
    if path is None:
        return {}
    inputs = read_json_file(path, "inputs file")
    if not isinstance(inputs, dict):
        raise UsageError(f'inputs file {path} must hold a JSON object, like {{"url": "..."}}')
    return inputs
