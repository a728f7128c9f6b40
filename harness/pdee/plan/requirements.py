"""The packages a workflow needs, found as the platform finds them. Pure but for pipreqs'
data files.

The platform detects each step's imports with pipreqs, maps import names to PyPI names
with pipreqs' own table (``yaml`` -> ``PyYAML``, ``bs4`` -> ``beautifulsoup4``, ...),
never installs the standard library, and installs the latest version unless a
``# pipedream add-package NAME==VERSION`` comment pins it. A comment also adds a
package that no import names. One set of packages serves the whole workflow, so two
steps may not pin one package to different versions.

pipreqs 0.4 is used as a library (0.5 pins IPython and nbconvert, far heavier than the
two small packages 0.4 needs).
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..provision.packages import Requirement, canonical
from .steps import Step, load_sources, synced_steps
from .synced import find_workflows, is_project, read_workflow

# `# pipedream add-package NAME` or `# pipedream add-package NAME==VERSION`, on a line
# of its own, anywhere in the step.
_COMMENT = re.compile(r"^\s*#\s*pipedream\s+add-package\b(?P<spec>.*)$")
_SPEC = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"(?:\[[A-Za-z0-9._,-]+\])?"
    r"(?:==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*))?$"
)


@dataclass(frozen=True)
class _Wanted:
    name: str
    version: str | None
    step: str
    where: str  # "import yaml", or "line 3" for a comment


def add_package_comments(step: Step) -> list[_Wanted]:
    """The packages a step's ``# pipedream add-package`` comments add or pin.

    Raises:
        UsageError: a comment is not ``NAME`` or ``NAME==VERSION``.
    """
    wanted = []
    for number, line in enumerate(step.code.splitlines(), start=1):
        comment = _COMMENT.match(line)
        if comment is None:
            continue
        spec = comment.group("spec").strip()
        match = _SPEC.match(spec)
        if match is None:
            raise UsageError(
                f"{step.path}, line {number}: `# pipedream add-package {spec}` names no "
                f"package; write `# pipedream add-package NAME` or `NAME==VERSION`"
            )
        wanted.append(_Wanted(match["name"], match["version"], step.name, f"line {number}"))
    return wanted


def _pipreqs() -> Any:
    """pipreqs, imported when a step imports something outside the standard library
    (it imports requests: a tenth of a second of every run that needs no package)."""
    from pipreqs import pipreqs

    return pipreqs


@functools.cache
def stdlib() -> frozenset[str]:
    """The standard library's module names: Python's own and pipreqs' list."""
    names = set(sys.stdlib_module_names)
    names.update(Path(_pipreqs().join("stdlib")).read_text().split())
    return frozenset(names)


def _top_level_imports(tree: ast.Module) -> set[str]:
    """The top-level names of every absolute import in ``tree``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def imported_modules(step: Step) -> set[str]:
    """The top-level modules a step imports that are neither stdlib nor the step itself.

    A step with a syntax error imports nothing here: the EE reports the error, as the
    platform does.
    """
    try:
        tree = ast.parse(step.code)
    except SyntaxError:
        return set()  # checked first: pipreqs would log the failure to the root logger
    if _top_level_imports(tree) <= set(sys.stdlib_module_names):
        return set()  # nothing pipreqs could find: it need not even be imported
    with tempfile.TemporaryDirectory(prefix="pdee-step-") as scratch:
        (Path(scratch) / f"{step.name}.py").write_text(step.code, encoding="utf-8")
        found = _pipreqs().get_all_imports(scratch, encoding="utf-8", follow_links=False)
    return {name for name in found if name not in stdlib() and name != step.name}


@functools.cache
def _package_names() -> dict[str, str]:
    """pipreqs' import-to-package table (what ``pipreqs.get_pkg_names`` reads at each
    call), read once."""
    lines = Path(_pipreqs().join("mapping")).read_text().split()
    return dict(line.split(":", 1) for line in lines)


def detected(step: Step) -> list[_Wanted]:
    """The packages a step's imports need, by pipreqs' import-to-package table."""
    modules = imported_modules(step)
    table = _package_names() if modules else {}  # no pipreqs for a step that needs none
    return [
        _Wanted(table.get(module, module), None, step.name, f"import {module}")
        for module in sorted(modules)
    ]


def requirements(steps: list[Step]) -> list[Requirement]:
    """One set of packages for the workflow, sorted by name.

    Raises:
        UsageError: a malformed add-package comment, or two steps pinning one package
            to different versions.
    """
    by_name: dict[str, list[_Wanted]] = {}
    for step in steps:
        for want in detected(step) + add_package_comments(step):
            by_name.setdefault(canonical(want.name), []).append(want)
    result = []
    for wants in by_name.values():
        pins = {want.version: want for want in wants if want.version}
        if len(pins) > 1:
            first, second = list(pins.values())[:2]
            raise UsageError(
                f"steps {first.step!r} ({first.where}) and {second.step!r} ({second.where}) "
                f"pin {first.name} to {first.version} and {second.version}; a workflow has "
                f"one set of packages: pin one version in both"
            )
        pinned = next(iter(pins.values()), None)
        name = (pinned or next((w for w in wants if w.where.startswith("line")), wants[0])).name
        steps_needing = tuple(dict.fromkeys(want.step for want in wants))
        result.append(Requirement(name, pinned.version if pinned else None, steps_needing))
    return sorted(result, key=lambda r: canonical(r.name))


def requirements_by_workflow(paths: list[Path]) -> list[tuple[str | None, list[Requirement]]]:
    """The packages of the steps at ``paths``, or of each workflow of a project folder (as
    each is deployed with its own): each workflow's folder (None for step files) and its
    requirements.

    Raises:
        UsageError: a project that holds no workflow, a bad step or workflow file, or what
            ``requirements`` raises.
    """
    if len(paths) == 1 and is_project(paths[0]):
        folders = find_workflows(paths[0])
        if not folders:
            raise UsageError(f"{paths[0]} holds no workflow.yaml; give step files or a project")
        # A workflow whose steps pdee runs none of (all Node.js, or disabled) needs no
        # package, as pdee check skips it.
        workflows = [read_workflow(folder) for folder in folders]
        groups: list[tuple[str | None, list[Step]]] = [
            (str(w.folder), synced_steps(w) if any(s.executes for s in w.steps) else [])
            for w in workflows
        ]
    else:
        groups = [(None, load_sources(paths)[0])]
    return [(label, requirements([s for s in steps if s.runs])) for label, steps in groups]
