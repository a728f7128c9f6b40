"""``pdee check`` of a whole synced project: every workflow under a folder, each checked
as ``pdee check WORKFLOW/`` checks one.

A data store that several of the project's workflows name (the same ``storeId``) is one
store for the whole project check, as on the platform; one that a single workflow names
is that workflow's alone, empty for each run, unless ``--data-store`` gives it a file.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backends import Backend
from ..errors import UsageError
from ..plan.options import CHECK_OPTION_NAMES, RunOptions
from ..plan.props import given_stores
from ..plan.run_plan import validate_options
from ..plan.steps import StrPath
from ..plan.synced import SyncedWorkflow, find_workflows, is_project, read_workflow
from .scenarios import CHECK_KEYWORDS, DEFAULT_WARM, check, check_horizon, check_warm
from .shards import Shard
from .verdicts import DEFAULT_HORIZON, CheckResult

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..plan.options import CheckKeywords


@dataclass(frozen=True)
class WorkflowCheck:
    """One workflow of the project and its check (None: skipped, with why)."""

    workflow: SyncedWorkflow
    result: CheckResult | None
    skipped: str | None = None


@dataclass(frozen=True)
class ProjectCheck:
    """The checks of a project's workflows, in folder order."""

    root: Path
    workflows: list[WorkflowCheck]
    duration_s: float
    shard: Shard | None = None  # the part of the project this check took (--shard K/N)
    project_workflows: int | None = None  # the project's, in every part (with a shard)

    @property
    def safe(self) -> bool:
        """Every workflow that was checked is safe."""
        return all(w.result.safe for w in self.workflows if w.result is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "safe": self.safe,
            "project": str(self.root),
            "duration_s": round(self.duration_s, 3),
            "shard": None
            if self.shard is None
            else {"k": self.shard.k, "n": self.shard.n, "of_workflows": self.project_workflows},
            "workflows": [
                {
                    **w.workflow.describe(),
                    "skipped": w.skipped,
                    **(w.result.to_json() if w.result is not None else {}),
                }
                for w in self.workflows
            ],
        }


def _shared_stores(
    workflows: list[SyncedWorkflow], scratch: Path, given: Mapping[str, StrPath | None]
) -> dict[str, Path]:
    """A file in ``scratch`` for each storeId that two or more workflows name and the
    user gave no file for."""
    named: dict[str, int] = {}
    for workflow in workflows:
        for key in {key for step in workflow.steps for key in step.stores.values()}:
            named[key] = named.get(key, 0) + 1
    return {
        key: scratch / f"{key}.db" for key, count in named.items() if count > 1 and key not in given
    }


def _for(
    workflow: SyncedWorkflow, stores: Mapping[str, StrPath | None]
) -> dict[str, StrPath | None]:
    """The stores, of those given for the project, that ``workflow`` names (by storeId
    or by prop)."""
    names = {key for step in workflow.steps for key in step.stores.values()}
    names |= {prop for step in workflow.steps for prop in step.stores}
    return {name: path for name, path in stores.items() if name in names}


def check_arguments(
    steps: Sequence[StrPath],
    *,
    warm: int = DEFAULT_WARM,
    horizon: int = DEFAULT_HORIZON,
    shard: Shard | str | None = None,
    **options: Unpack[CheckKeywords],
) -> Shard | None:
    """Check ``pdee check``'s arguments on their own, reading no file but to tell a
    project folder: what no edit of a step or input file can fix (``check --watch``
    checks it before it waits). The shard, parsed.

    Raises:
        UsageError: a bad option, ``warm`` or ``horizon``; a bad shard, or a shard of
            anything but one project folder.
    """
    check_warm(warm)
    check_horizon(horizon)
    validate_options(RunOptions.of(options, "check", CHECK_OPTION_NAMES, CHECK_KEYWORDS))
    if shard is None:
        return None
    part = Shard.of(shard)  # a bad K/N first, whatever the folder
    if not (len(steps) == 1 and is_project(steps[0])):
        raise UsageError(
            f"--shard {part}: it splits a project's workflows; give one project folder (a "
            f"folder of workflow folders), or drop --shard"
        )
    return part


def check_project(
    root: StrPath,
    *,
    warm: int = DEFAULT_WARM,
    horizon: int = DEFAULT_HORIZON,
    backend: Backend | None = None,
    on_run: Callable[[str], None] | None = None,
    on_workflow: Callable[[SyncedWorkflow], None] | None = None,
    include_inactive: bool = False,
    shard: Shard | str | None = None,
    **options: Unpack[CheckKeywords],
) -> ProjectCheck:
    """Check every workflow under ``root``, nested folders included.

    Example::

        result = pdee.check_project(".")
        assert result.safe

    Args:
        root: the project's folder (as the platform's GitHub Sync writes it).
        warm, horizon, backend, on_run: as ``pdee.check``'s, for each workflow.
        on_workflow: told of each workflow as its check starts.
        include_inactive: check the inactive workflows too (``inactive: true``: the
            platform does not run them, so by default they are skipped, with a line).
        shard: check only part K of N of the workflows (``"K/N"`` or a ``Shard``), split
            by workflow id (``pdee.checking.shards``): N CI jobs with 1/N to N/N check
            the whole project, each workflow once.
        options: as ``pdee.check``'s (``CheckKeywords``); ``data_stores`` by prop name or
            ``storeId``, each applying to the workflows that name it, and
            ``step_results`` each to the workflows with that step.

    Raises:
        UsageError: no workflow under ``root``, a bad workflow file, a ``--data-store``
            or ``--step-result`` that no workflow has, a bad shard; and what
            ``pdee.check`` raises.
    """
    RunOptions.of(
        options,
        "check_project",
        CHECK_OPTION_NAMES,
        (*CHECK_KEYWORDS, "on_workflow", "include_inactive", "shard"),
    )
    part = None if shard is None else Shard.of(shard)
    step_results = options.get("step_results")
    data_stores = options.get("data_stores")
    folder = Path(root)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; give a project folder or a workflow folder")
    found = find_workflows(folder)
    if not found:
        raise UsageError(
            f"{folder} holds no workflow (no workflow.yaml in it or under it); give a project "
            f"synced by the platform's GitHub Sync"
        )
    workflows = [read_workflow(path) for path in found]
    given = given_stores(data_stores)
    for name in given:
        if not any(name in _for(w, given) for w in workflows):
            raise UsageError(
                f"--data-store {name}: no workflow of {folder} has that prop or storeId"
            )
    unrun = {step.namespace for w in workflows for step in w.steps if not step.runs}
    for name in _names(step_results):
        if name not in unrun:
            raise UsageError(
                f"--step-result {name}: no workflow of {folder} has a step pdee does not run "
                f"by that name"
            )
    mine = workflows
    if part is not None:  # validated above against the whole project, which every job sees
        mine = [workflows[at] for at in part.pick([_id(w, folder) for w in workflows])]
    started = time.monotonic()
    checks = []
    tell = on_workflow or (lambda _workflow: None)
    with tempfile.TemporaryDirectory(prefix="pdee-project-") as scratch:
        shared = _shared_stores(workflows, Path(scratch), given)
        for workflow in mine:
            if workflow.inactive and not include_inactive:
                why = "it is inactive (inactive: true); check it with --include-inactive"
                checks.append(WorkflowCheck(workflow, None, why))
                continue
            if not any(step.executes for step in workflow.steps):
                what = "enabled " if any(s.path is not None for s in workflow.steps) else ""
                why = f"none of its {what}steps is Python code"
                checks.append(WorkflowCheck(workflow, None, why))
                continue
            tell(workflow)
            own: CheckKeywords = {
                **options,
                "data_stores": {**_for(workflow, shared), **_for(workflow, given)},
                "step_results": _only(step_results, {s.namespace for s in workflow.steps}),
            }
            result = check(
                [workflow.folder], warm=warm, horizon=horizon, backend=backend, on_run=on_run, **own
            )
            checks.append(WorkflowCheck(workflow, result))
    took = time.monotonic() - started
    return ProjectCheck(folder, checks, took, part, len(workflows) if part else None)


def _id(workflow: SyncedWorkflow, root: Path) -> str:
    """What a shard splits by: the workflow's id, or its folder relative to the project
    when it has none."""
    if workflow.workflow_id:
        return workflow.workflow_id
    try:  # the folders were found under root: their paths start with it
        return workflow.folder.relative_to(root).as_posix()
    except ValueError:
        return workflow.folder.as_posix()


def _names(results: Sequence[str] | Mapping[str, Any] | None) -> list[str]:
    """The step names of ``--step-result`` texts or of a mapping."""
    if results is None or isinstance(results, str):
        return []
    return [str(item).partition("=")[0] for item in results]


def _only(
    results: Sequence[str] | Mapping[str, Any] | None, names: set[str]
) -> Sequence[str] | Mapping[str, Any] | None:
    """The step results, of those given for the project, for steps in ``names``."""
    if results is None or isinstance(results, str):
        return results
    if isinstance(results, Mapping):
        return {name: value for name, value in results.items() if name in names}
    return [text for text in results if str(text).partition("=")[0] in names]
