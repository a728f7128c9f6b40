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
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pipreqs import pipreqs

from .errors import UsageError
from .workflow import Step

# `# pipedream add-package NAME` or `# pipedream add-package NAME==VERSION`, on a line
# of its own, anywhere in the step.
_COMMENT = re.compile(r"^\s*#\s*pipedream\s+add-package\b(?P<spec>.*)$")
_SPEC = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"(?:\[[A-Za-z0-9._,-]+\])?"
    r"(?:==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*))?$"
)


def canonical(name: str) -> str:
    """A package name as PyPI compares them (PEP 503): ``PyYAML`` is ``pyyaml``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """One package to install, and why."""

    name: str  # as PyPI spells it, e.g. "PyYAML"
    version: str | None  # pinned with add-package, else None: the latest
    steps: tuple[str, ...] = field(default=())  # the steps that need it

    @property
    def spec(self) -> str:
        """What pip is asked for: ``PyYAML==6.0.2`` or ``PyYAML``."""
        return f"{self.name}=={self.version}" if self.version else self.name

    def __str__(self) -> str:
        return self.spec


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


def _stdlib() -> frozenset[str]:
    names = set(getattr(sys, "stdlib_module_names", ()))
    names.update(Path(pipreqs.join("stdlib")).read_text().split())
    return frozenset(names)


STDLIB = _stdlib()


def imported_modules(step: Step) -> set[str]:
    """The top-level modules a step imports that are neither stdlib nor the step itself.

    A step with a syntax error imports nothing here: the EE reports the error, as the
    platform does.
    """
    try:
        ast.parse(step.code)
    except SyntaxError:
        return set()  # checked first: pipreqs would log the failure to the root logger
    with tempfile.TemporaryDirectory(prefix="pdee-step-") as scratch:
        (Path(scratch) / f"{step.name}.py").write_text(step.code, encoding="utf-8")
        found = pipreqs.get_all_imports(scratch, encoding="utf-8", follow_links=False)
    return {name for name in found if name not in STDLIB and name != step.name}


def detected(step: Step) -> list[_Wanted]:
    """The packages a step's imports need, by pipreqs' import-to-package table."""
    wanted = []
    for module in sorted(imported_modules(step)):
        for package in pipreqs.get_pkg_names([module]):
            wanted.append(_Wanted(package, None, step.name, f"import {module}"))
    return wanted


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
