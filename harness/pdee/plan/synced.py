"""Workflows as the platform's GitHub Sync writes them, read and checked.

A synced project holds one folder per workflow (projects may nest folders), each with a
``workflow.yaml`` and one folder per code step::

    <slug>-<p_id>/
      .workflow.state        # schema: workflow.state/2022.04, id: p_...
      workflow.yaml          # schema: workflow/2022.04: name, triggers, steps in order
      <namespace>/entry.py   # a Python code step (entry.js for Node.js)

The platform publishes no schema; this reads what public synced repositories hold.
Every mistake is a one-line ``UsageError`` naming the file and the step.

The files are read within bounds, as SnakeYAML and Go's yaml.v3 read untrusted YAML: at
most ``MAX_YAML_DEPTH`` levels of nesting and ``MAX_ALIASES`` aliases (``*name``), and no
more than ``MAX_EXPANDED`` once the aliases are expanded (a "billion laughs" file of 500
bytes is refused while it is composed, before anything is expanded), and every value
must be JSON, as the platform's are: a date, ``!!binary``, ``!!set`` or ``.nan`` is
refused at once, naming the step and the prop, not when a step gets it.
"""

from __future__ import annotations

import datetime
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..runtime.actions import emulated
from ..runtime.expressions import paths_only
from .reading import read_text, shown_path

WORKFLOW_FILE = "workflow.yaml"
STATE_FILE = ".workflow.state"
WORKFLOW_SCHEMA = "workflow/2022.04"
MAX_WORKFLOW_BYTES = 1 << 20
# Bounds on what a workflow file may hold (SnakeYAML's defaults are 50 levels and 50
# aliases to collections). Nesting is bounded well below what PyYAML's composer, which
# recurses (in C, or two Python frames a level), can take.
MAX_YAML_DEPTH = 100
MAX_ALIASES = 100
MAX_EXPANDED = 4 * MAX_WORKFLOW_BYTES  # about the characters of the file, aliases expanded
MAX_INT_BITS = 14_000  # about the 4,300 digits Python turns into text or back
MAX_FIELD_CHARS = 1024  # a step's runtime or uses: a name or a path in the repository
# Folders a project walk never enters: version control and dependencies.
SKIPPED_FOLDERS = {".git", "node_modules", "__pycache__", ".venv", "venv"}
NAMESPACE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
# A trigger's kind, by the prefix of its id: the platform's default event and timeout
# follow it (30 s for HTTP and email, 60 s for a timer).
TRIGGER_KINDS = {"hi_": "http", "ti_": "timer", "ei_": "email"}
# The platform's longest execution timeout (settings.lambda_timeout, in seconds).
MAX_LAMBDA_TIMEOUT_S = 750.0
# The step filter's prop (continue or end on rules): pdee does not evaluate it.
FILTER_PROP = "_filter"


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
    # Props that hold {{ }} path expressions, evaluated in the EE just before the step.
    expressions: dict[str, Any] = field(default_factory=dict)
    disabled: bool = False  # disabled: true: the step is not run, nor seen in pd.steps
    filtered: bool = False  # it has a step filter (_filter), which pdee does not evaluate

    @property
    def runs(self) -> bool:
        """Python code pdee runs (not disabled)."""
        return self.path is not None and not self.disabled

    @property
    def executes(self) -> bool:
        """pdee runs it in the EE: Python code, or a built-in action pdee emulates."""
        return self.runs or (self.path is None and not self.disabled and emulated(self.uses))

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
    steps: list[SyncedStep]  # disabled ones too
    inactive: bool = False  # inactive: true, the platform's "Enable Workflow" toggle off
    lambda_timeout_s: float | None = None  # settings.lambda_timeout: its timeout
    # Execution controls and the timer's schedule, where the file holds them (checked
    # with the command line's options: ``plan.controls``): settings.throttle ("N/SECONDS"),
    # settings.queue_size, and the first trigger's cron and timezone.
    throttle: str | None = None
    queue_size: Any = None
    cron: str | None = None
    timezone: str | None = None
    auto_retry: bool = False  # settings.auto_retry (pdee's name for it: see auto_retry_of)

    @property
    def disabled(self) -> list[str]:
        """The namespaces of the steps that are ``disabled: true``."""
        return [step.namespace for step in self.steps if step.disabled]

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
            "inactive": self.inactive,
            "disabled_steps": self.disabled,
            "lambda_timeout_s": self.lambda_timeout_s,
            "auto_retry": self.auto_retry,
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


def _loader() -> Any:
    """PyYAML's safe loader: libyaml's when PyYAML has it (its parser is some 20 times
    faster than the pure-Python one), else the pure-Python one."""
    import yaml  # PyYAML: imported for a workflow folder only

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_bounds(text: str) -> None:
    """Refuse, from its events alone (nothing composed, nothing expanded), YAML that nests
    past ``MAX_YAML_DEPTH``, holds more than ``MAX_ALIASES`` aliases, an alias inside the
    node it names, or more than ``MAX_EXPANDED`` once its aliases are expanded.

    Raises:
        yaml.YAMLError: the problem, with its place in the file.
    """
    import yaml  # PyYAML: imported for a workflow folder only
    from yaml.composer import ComposerError
    from yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        DocumentStartEvent,
        ScalarEvent,
    )

    open_nodes: list[list[int]] = [[0, 0]]  # each node not yet ended: its size and height
    open_anchors: list[str | None] = [None]
    measured: dict[str, tuple[int, int] | None] = {}  # by anchor; None: not ended yet
    aliases = 0
    event: Any
    for event in yaml.parse(text, Loader=_loader()):
        problem, size, height = None, 0, 0
        if isinstance(event, DocumentStartEvent):
            measured.clear()  # anchors are the document's own
        elif isinstance(event, AliasEvent):
            aliases += 1
            named = measured.get(str(event.anchor), (0, 0))  # undefined: PyYAML says so
            if aliases > MAX_ALIASES:
                problem = f"more than {MAX_ALIASES} aliases (*name)"
            elif named is None:
                problem = f"alias *{event.anchor} is inside the node it names: it would hold itself"
            else:
                size, height = named
        elif isinstance(event, ScalarEvent):
            size = len(event.value) + 1
            if event.anchor is not None:
                measured[event.anchor] = (size, 0)
        elif isinstance(event, CollectionStartEvent):
            if len(open_nodes) > MAX_YAML_DEPTH:
                problem = f"it nests deeper than {MAX_YAML_DEPTH} levels"
            open_nodes.append([0, 0])
            open_anchors.append(event.anchor)
            if event.anchor is not None:
                measured[event.anchor] = None
        elif isinstance(event, CollectionEndEvent):
            size, height = open_nodes.pop()
            size, height = size + 1, height + 1
            anchor = open_anchors.pop()
            if anchor is not None:
                measured[anchor] = (size, height)
        if problem is None and (size or height):
            holder = open_nodes[-1]
            holder[0] += size
            holder[1] = max(holder[1], height)
            if len(open_nodes) - 1 + height > MAX_YAML_DEPTH:
                problem = f"an alias nests it deeper than {MAX_YAML_DEPTH} levels"
            elif holder[0] > MAX_EXPANDED:
                problem = f"its aliases (*name) expand it past {MAX_EXPANDED:,} characters"
        if problem is not None:
            raise ComposerError(None, None, problem, event.start_mark)


def _load_yaml(path: Path, what: str) -> Any:
    import yaml  # PyYAML: imported for a workflow folder only

    text = read_text(path, what, MAX_WORKFLOW_BYTES)
    try:
        _check_bounds(text)
        data = yaml.load(text, Loader=_loader())  # a safe loader, within bounds checked
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context:
            at = f" at line {context_mark.line + 1}" if context_mark is not None else ""
            problem = (  # "while parsing a flow sequence", or "found duplicate anchor 'a'..."
                f"{problem} ({context}{at})"
                if context.startswith("while")
                else f"{context}{at}, {problem}"
            )
        raise UsageError(f"{path}{where}: {_one_line(problem)}; fix the YAML") from None
    except RecursionError:  # bounded above; only when the caller's stack is all but full
        raise UsageError(f"{path}: it nests too deep; fix the YAML") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a value its tag cannot make
        raise UsageError(f"{path}: {_one_line(str(exc))}; fix the YAML") from None
    found = _not_json(data)
    if found is not None:
        keys, problem = found
        raise UsageError(f"{path}: {_where(data, keys)} {problem}")
    return data


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _not_json(data: Any) -> tuple[list[str | int], str] | None:
    """The first value in ``data`` (in the file's order) that is not JSON: where it is
    (the keys and indexes to it), and what it is; None if all is JSON."""
    # Each entry: a value, and its place as (the place of its holder, its key).
    stack: list[tuple[Any, Any]] = [(data, None)]
    while stack:
        value, place = stack.pop()
        problem = None
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    problem = f"has a key {_shown(key)}, which is not text; quote it"
                    break
            else:
                stack.extend((item, (place, key)) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((item, (place, i)) for i, item in reversed(list(enumerate(value))))
        else:
            problem = _not_json_scalar(value)
        if problem is not None:
            keys: list[str | int] = []
            while place is not None:
                place, key = place
                keys.append(key)
            return keys[::-1], problem
    return None


def _not_json_scalar(value: Any) -> str | None:
    if value is None or isinstance(value, (str, bool)):
        return None
    if isinstance(value, int):
        return None if value.bit_length() <= MAX_INT_BITS else "is a number too long for JSON"
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        said = ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
        return f"is {said}, which JSON does not have; give a number or null"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return (
            f"is a date ({value.isoformat()}), which JSON does not have; quote it "
            f"('{value.isoformat()}') to keep it text"
        )
    if isinstance(value, bytes):
        return "is binary data (!!binary), which JSON does not have; give it as text"
    if isinstance(value, (set, frozenset)):
        return "is a set (!!set), which JSON does not have; give a list"
    if isinstance(value, tuple):
        return "holds ordered pairs (!!omap or !!pairs), which JSON does not have; give a mapping"
    return f"is a {type(value).__name__}, which JSON does not have"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(data: Any, keys: list[str | int]) -> str:
    """A place in a workflow file, in its terms: ``step fetch: prop 'body' at .a[2]``."""
    head, rest = "", keys
    if len(keys) >= 2 and keys[0] == "steps" and isinstance(keys[1], int):
        step = data["steps"][keys[1]]
        namespace = step.get("namespace") if isinstance(step, dict) else None
        named = isinstance(namespace, str) and NAMESPACE.match(namespace)
        head, rest = f"step {namespace if named else keys[1] + 1}", keys[2:]
        if len(rest) >= 2 and rest[0] == "props" and isinstance(rest[1], str):
            head, rest = f"{head}: prop {_shown(rest[1])}", rest[2:]
    path = "".join(
        f"[{key}]"
        if isinstance(key, int)
        else (f".{key}" if re.fullmatch(r"[\w$-]{1,40}", key) else f"[{_shown(key)}]")
        for key in rest
    )
    if len(path) > 100:
        path = path[:97] + "..."
    if not head:
        return path.removeprefix(".") or "the file"
    return f"{head} at {path}" if path else head


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


@dataclass
class _Props:
    """A step's props, sorted by what pdee does with them."""

    inputs: dict[str, Any] = field(default_factory=dict)  # literal values: pd.inputs
    stores: dict[str, str] = field(default_factory=dict)  # data stores: prop -> storeId
    unset: dict[str, str] = field(default_factory=dict)  # what pdee cannot give: why
    expressions: dict[str, Any] = field(default_factory=dict)  # path expressions
    filtered: bool = False  # a _filter prop


def _props(where: str, props: Any) -> _Props:
    """A step's props: literal values (pd.inputs), data stores (prop: storeId), path
    expressions (evaluated in the EE), and the props pdee cannot give (connected
    accounts, other expressions), with why."""
    found = _Props()
    if props is None:
        return found
    if not isinstance(props, dict):
        raise UsageError(f"{where}: props must be a mapping of prop names to values")
    configurable = props.get("__configurableProps") or []
    if not isinstance(configurable, list):
        raise UsageError(f"{where}: __configurableProps must be a list of props")
    declared = {str(p.get("name")): p.get("type") for p in configurable if isinstance(p, dict)}
    for name, value in props.items():
        name = str(name)
        if name.startswith("__"):
            continue
        if name == FILTER_PROP:
            found.filtered = True
            continue
        if declared.get(name) == "data_store" or (isinstance(value, dict) and "storeId" in value):
            store = value.get("storeId") if isinstance(value, dict) else None
            if not isinstance(store, str) or not store:
                raise UsageError(f"{where}: data store prop {name!r} has no storeId")
            found.stores[name] = store
            continue
        if isinstance(value, dict) and "authProvisionId" in value:
            found.unset[name] = "a connected account"
            continue
        if isinstance(value, dict) and isinstance(value.get("__lv"), dict):
            value = value["__lv"].get("value")  # a value picked from the prop's options
        held, others = paths_only(value)
        if others:
            shown = _shown("{{" + others[0] + "}}")
            found.unset[name] = f"the expression {shown} (JavaScript, not a path over steps)"
        elif held:
            found.expressions[name] = value
        else:
            found.inputs[name] = value
    return found


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
    for name, text in (("runtime", runtime), ("uses", uses)):
        if len(text) > MAX_FIELD_CHARS or not text.isprintable():
            raise UsageError(
                f"{here}: {name} {_shown(text)} is not one line of at most "
                f"{MAX_FIELD_CHARS} printable characters; fix it"
            )
    path = None
    if uses.startswith(("./", "../", "/")):  # code in the repository; else a registry action
        try:
            target = (folder / uses).resolve()
            inside = target.is_relative_to(folder.resolve())
            found = inside and runtime.startswith("python") and target.is_file()
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(
                f"{here}: uses {shown_path(uses)} is not a path pdee can read ({reason})"
            ) from None
        if not inside:
            raise UsageError(f"{here}: uses {shown_path(uses)} is outside the workflow's folder")
        if runtime.startswith("python"):
            if not found:
                raise UsageError(
                    f"{here}: uses {shown_path(uses)}, which does not exist in {shown_path(folder)}"
                )
            path = folder / uses.removeprefix("./")  # as the user knows it
    disabled = data.get("disabled", False)
    if not isinstance(disabled, bool):
        raise UsageError(f"{here}: disabled must be true or false, not {_shown(disabled)}")
    props = _props(here, data.get("props"))
    return SyncedStep(
        namespace,
        runtime,
        uses,
        path,
        props.inputs,
        props.stores,
        props.unset,
        props.expressions,
        disabled,
        props.filtered or FILTER_PROP in data,
    )


def _settings(path: Path, data: dict[str, Any]) -> tuple[bool, float | None]:
    """The workflow's ``inactive`` flag and ``settings.lambda_timeout`` (seconds).

    Raises:
        UsageError: either is not what the platform writes.
    """
    inactive = data.get("inactive", False)
    if not isinstance(inactive, bool):
        raise UsageError(f"{path}: inactive must be true or false, not {_shown(inactive)}")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise UsageError(f"{path}: settings must be a mapping, like lambda_timeout: 60")
    timeout = settings.get("lambda_timeout")
    if timeout is None:
        return inactive, None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout <= MAX_LAMBDA_TIMEOUT_S
    ):
        raise UsageError(
            f"{path}: settings.lambda_timeout {_shown(timeout)} is not a timeout the platform "
            f"allows (seconds, 0 < s <= {MAX_LAMBDA_TIMEOUT_S:g}); fix it"
        )
    return inactive, float(timeout)


def auto_retry_of(path: Path, data: dict[str, Any]) -> bool:
    """The workflow's auto-retry setting: ``settings.auto_retry`` (true or false).

    The platform's GitHub Sync docs say a branch's changes include "workflow settings like
    concurrency, VPC assignment and auto-retries", but no public synced file seen holds
    the setting, so its key is pdee's guess (docs/auto-retry.md); --auto-retry wins.

    Raises:
        UsageError: it is not true or false.
    """
    settings = data.get("settings") or {}
    value = settings.get("auto_retry", False) if isinstance(settings, dict) else False
    if not isinstance(value, bool):
        raise UsageError(f"{path}: settings.auto_retry must be true or false, not {_shown(value)}")
    return value


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
    listed_triggers = data.get("triggers") or []
    if not isinstance(listed_triggers, list):
        raise UsageError(f"{path}: triggers must be a list of triggers, each with an id")
    triggers = []
    for trigger in listed_triggers:
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
    if isinstance(name, (dict, list)):
        raise UsageError(f"{path}: name must be text, the workflow's name")
    inactive, timeout = _settings(path, data)
    controls = _controls(path, data, listed_triggers)
    return SyncedWorkflow(
        folder=folder,
        name=str(name) if name else folder.resolve().name,
        workflow_id=_workflow_id(folder),
        triggers=triggers,
        steps=steps,
        inactive=inactive,
        lambda_timeout_s=timeout,
        **controls,
        auto_retry=auto_retry_of(path, data),
    )


def _controls(path: Path, data: dict[str, Any], triggers: list[Any]) -> dict[str, Any]:
    """``settings.throttle`` and ``settings.queue_size``, and the first trigger's cron
    schedule (``cron`` and ``timezone`` on the trigger, or in its ``timer``, the SDK's
    timer value ``{cron: ...}``): as the file gives them, checked where they are used.

    Raises:
        UsageError: a throttle, cron or time zone that is not text.
    """
    settings = data.get("settings") or {}
    found: dict[str, Any] = {"queue_size": settings.get("queue_size")}
    first: dict[str, Any] = triggers[0] if triggers and isinstance(triggers[0], dict) else {}
    timer: dict[str, Any] = first["timer"] if isinstance(first.get("timer"), dict) else first
    for key, value in (
        ("throttle", settings.get("throttle")),
        ("cron", timer.get("cron")),
        ("timezone", timer.get("timezone")),
    ):
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{path}: {key} {_shown(value)} must be text; fix it")
        found[key] = value
    return found


def is_project(path: str | os.PathLike[str]) -> bool:
    """A folder that is not itself a workflow but holds workflows."""
    folder = Path(path)
    return folder.is_dir() and not is_workflow(folder)
