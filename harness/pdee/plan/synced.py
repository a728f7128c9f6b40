"""Workflows as the platform's GitHub Sync writes them, read and checked.

A synced project holds one folder per workflow (projects may nest folders), each with a
``workflow.yaml`` and one folder per code step::

    <slug>-<p_id>/
      .workflow.state        # schema: workflow.state/2022.04, id: p_...
      workflow.yaml          # schema: workflow/2022.04: name, triggers, steps in order
      <namespace>/entry.py   # a Python code step (entry.js for Node.js)

The platform publishes no schema; this reads what public synced repositories hold.
Every mistake is a one-line ``UsageError`` naming the file and the step.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .reading import read_text

WORKFLOW_FILE = "workflow.yaml"
STATE_FILE = ".workflow.state"
WORKFLOW_SCHEMA = "workflow/2022.04"
MAX_WORKFLOW_BYTES = 1 << 20
# Folders a project walk never enters: version control and dependencies.
SKIPPED_FOLDERS = {".git", "node_modules", "__pycache__", ".venv", "venv"}
NAMESPACE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
EXPRESSION = re.compile(r"\{\{.*\}\}", re.S)
# A trigger's kind, by the prefix of its id: the platform's default event and timeout
# follow it (30 s for HTTP and email, 60 s for a timer).
TRIGGER_KINDS = {"hi_": "http", "ti_": "timer", "ei_": "email"}


@dataclass(frozen=True)
class SyncedStep:
    """One step of ``workflow.yaml``: Python code pdee runs, or a step it cannot run."""

    namespace: str
    runtime: str
    uses: str
    path: Path | None  # the Python code step's file; None: a step pdee does not run
    inputs: dict[str, Any] = field(default_factory=dict)  # literal props: pd.inputs
    stores: dict[str, str] = field(default_factory=dict)  # data store props: storeId
    unset: dict[str, str] = field(default_factory=dict)  # props pdee cannot give: why

    @property
    def runs(self) -> bool:
        return self.path is not None

    @property
    def what(self) -> str:
        """What the step is, for a note: a registry action, or code in another language."""
        if self.uses.startswith("./"):
            return f"{self.runtime} code {self.uses}"
        return f"{self.runtime} action {self.uses}"


@dataclass(frozen=True)
class SyncedWorkflow:
    """A workflow folder: its name, id, triggers and steps in order."""

    folder: Path
    name: str
    workflow_id: str | None  # p_..., from .workflow.state or the folder's name
    triggers: list[str]
    steps: list[SyncedStep]

    @property
    def trigger(self) -> str:
        """The first trigger's kind: http, timer, email or other (http if none)."""
        if not self.triggers:
            return "http"
        return TRIGGER_KINDS.get(self.triggers[0][:3], "other")

    @property
    def serves_http(self) -> bool:
        return not self.triggers or any(t.startswith("hi_") for t in self.triggers)

    def describe(self) -> dict[str, Any]:
        """The workflow as the report's settings give it."""
        return {
            "name": self.name,
            "id": self.workflow_id,
            "folder": str(self.folder),
            "triggers": self.triggers,
            "trigger": self.trigger,
        }


def is_workflow(path: Path) -> bool:
    return (path / WORKFLOW_FILE).is_file()


def find_workflows(root: Path) -> list[Path]:
    """The workflow folders under ``root`` (itself included), nested ones too, in order."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED_FOLDERS)
        if WORKFLOW_FILE in files:
            found.append(Path(folder))
    return found


def _load_yaml(path: Path, what: str) -> Any:
    import yaml  # PyYAML: imported for a workflow folder only

    text = read_text(path, what, MAX_WORKFLOW_BYTES)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        raise UsageError(f"{path}{where}: {problem}; fix the YAML") from None


def _workflow_id(folder: Path) -> str | None:
    """The p_ id from ``.workflow.state``, else from the folder's name (slug-p_id)."""
    state = folder / STATE_FILE
    if state.is_file():
        try:
            data = _load_yaml(state, "workflow state file")
        except UsageError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            return str(data["id"])
    match = re.search(r"(p_[A-Za-z0-9]+)$", folder.resolve().name)
    return match.group(1) if match else None


def _props(where: str, props: Any) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """A step's props: literal values (pd.inputs), data stores (prop: storeId), and the
    props pdee cannot give (connected accounts, expressions), with why."""
    if props is None:
        return {}, {}, {}
    if not isinstance(props, dict):
        raise UsageError(f"{where}: props must be a mapping of prop names to values")
    declared = {
        str(p.get("name")): p.get("type")
        for p in props.get("__configurableProps") or ()
        if isinstance(p, dict)
    }
    inputs: dict[str, Any] = {}
    stores: dict[str, str] = {}
    unset: dict[str, str] = {}
    for name, value in props.items():
        name = str(name)
        if name.startswith("__"):
            continue
        if declared.get(name) == "data_store" or (isinstance(value, dict) and "storeId" in value):
            store = value.get("storeId") if isinstance(value, dict) else None
            if not isinstance(store, str) or not store:
                raise UsageError(f"{where}: data store prop {name!r} has no storeId")
            stores[name] = store
        elif isinstance(value, dict) and "authProvisionId" in value:
            unset[name] = "a connected account"
        elif isinstance(value, str) and EXPRESSION.search(value):
            unset[name] = f"an expression, {value}"
        else:
            inputs[name] = value
    return inputs, stores, unset


def _step(folder: Path, number: int, data: Any, where: str) -> SyncedStep:
    if not isinstance(data, dict):
        raise UsageError(f"{where}: step {number} is not a mapping with namespace, runtime, uses")
    namespace = data.get("namespace")
    if not isinstance(namespace, str) or not NAMESPACE.match(namespace):
        raise UsageError(f"{where}: step {number} has no valid namespace (its name in pd.steps)")
    here = f"{where}: step {namespace}"
    if namespace == "trigger":
        raise UsageError(f"{here}: 'trigger' is the trigger's name in pd.steps; rename the step")
    runtime, uses = data.get("runtime"), data.get("uses")
    if not isinstance(runtime, str) or not runtime:
        raise UsageError(f"{here} has no runtime (e.g. python3.12)")
    if not isinstance(uses, str) or not uses:
        raise UsageError(f"{here} has no uses (./{namespace}/entry.py or a registry action)")
    path = None
    if uses.startswith(("./", "../", "/")):  # code in the repository; else a registry action
        target = (folder / uses).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise UsageError(f"{here}: uses {uses} is outside the workflow's folder")
        if runtime.startswith("python"):
            if not target.is_file():
                raise UsageError(f"{here}: uses {uses}, which does not exist in {folder}")
            path = folder / uses.removeprefix("./")  # as the user knows it
    inputs, stores, unset = _props(here, data.get("props"))
    return SyncedStep(namespace, runtime, uses, path, inputs, stores, unset)


def read_workflow(folder: Path) -> SyncedWorkflow:
    """The workflow in ``folder``, checked.

    Raises:
        UsageError: no or unreadable ``workflow.yaml``, an unknown schema, a step
            without namespace, runtime or uses, a ``uses`` path outside the folder or
            missing, a duplicate namespace, or no step.
    """
    path = folder / WORKFLOW_FILE
    if not path.is_file():
        raise UsageError(
            f"{folder} holds no {WORKFLOW_FILE}; give a workflow folder synced by the "
            f"platform's GitHub Sync, or step files"
        )
    data = _load_yaml(path, "workflow file")
    if not isinstance(data, dict):
        raise UsageError(f"{path} is not a workflow: expected schema, name, triggers, steps")
    if data.get("schema") != WORKFLOW_SCHEMA:
        raise UsageError(
            f"{path}: schema {data.get('schema')!r} is not {WORKFLOW_SCHEMA}, the one pdee "
            f"reads; re-sync it with the platform or update pdee"
        )
    triggers = []
    for trigger in data.get("triggers") or ():
        if isinstance(trigger, dict) and isinstance(trigger.get("id"), str):
            triggers.append(trigger["id"])
    listed = data.get("steps")
    if not isinstance(listed, list) or not listed:
        raise UsageError(f"{path} lists no steps; add a step to the workflow")
    steps = [_step(folder, number, item, str(path)) for number, item in enumerate(listed, 1)]
    seen: set[str] = set()
    for step in steps:
        if step.namespace in seen:
            raise UsageError(f"{path}: two steps are named {step.namespace!r}; rename one")
        seen.add(step.namespace)
    name = data.get("name")
    return SyncedWorkflow(
        folder=folder,
        name=str(name) if name else folder.resolve().name,
        workflow_id=_workflow_id(folder),
        triggers=triggers,
        steps=steps,
    )


def is_project(path: str | os.PathLike[str]) -> bool:
    """A folder that is not itself a workflow but holds workflows."""
    folder = Path(path)
    return folder.is_dir() and not is_workflow(folder)
