"""The package's shape: folders by layer with no import running upward, no import circle,
a self-contained runtime, recipes in images/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pdee
from pdee.provision import recipe

PACKAGE = Path(pdee.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["pdee", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The pdee modules ``path`` imports at its top level or in functions (not only for
    type checking: those cannot form a circle at run time)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("pdee")}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (
                node.module or ""
                if node.level == 0
                else ".".join(p for p in (base, node.module) if p)
            )
            if not target.startswith("pdee"):
                continue
            for alias in node.names:  # `from . import x` may name a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative).is_dir()


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path) & modules.keys() - {name} for name, path in modules.items()}


def test_the_package_has_no_import_circle():
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circle = [*path[path.index(module) :], module]
            raise AssertionError("import circle: " + " -> ".join(circle))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert "pdee.backends.docker" in graph  # the walk saw the subpackages


# The layers, lowest first, as the data flows: a module may import its own layer's and
# those below it, never one above. docs/architecture.md says each one's job.
LAYERS = [
    {"pdee.errors", "pdee.version", "pdee.interrupts"},  # what every layer may use
    {"pdee.runtime"},  # inside the EE: the standard library only (below)
    {"pdee.lifecycle"},  # pure: the scheduler and the clock
    {"pdee.backends"},  # the EE backend interface and Docker
    {"pdee.provision"},  # the EE image, package sets, the cache
    {"pdee.plan"},  # options and files to a RunPlan
    {"pdee.results"},  # the records of a run, the reply parser, the log, the JSON report
    {"pdee.services"},  # what a step calls on the host: data stores
    {"pdee.engine"},  # one runner fed by an arrival source: lanes, parts, the EE work
    {"pdee.checking"},  # pdee check: pure verdicts and the runs behind them
    {"pdee.serving"},  # pdee serve: the HTTP trigger, the app, the server, the handle
    {"pdee.outputs"},  # the terminal, the report files, JUnit
    {"pdee.watching"},  # --watch and serve --reload: what to watch, the watcher, the loop
    {"pdee", "pdee.api", "pdee.pytest_plugin", "pdee.cli", "pdee.entry", "pdee.__main__"},
]


def _layer(module: str) -> int:
    for depth in (2, 1):
        prefix = ".".join(module.split(".")[:depth])
        for number, layer in enumerate(LAYERS):
            if prefix in layer:
                return number
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_every_module_is_in_a_layer_and_no_import_runs_upward():
    graph = _graph()
    upward = [
        f"{module} ({_layer(module)}) imports {imported} ({_layer(imported)})"
        for module, imports in graph.items()
        for imported in imports
        if _layer(imported) > _layer(module)
    ]
    assert not upward, "\n".join(upward)
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == {"__init__", "__main__", "api", "entry", "errors", "interrupts",
                   "pytest_plugin", "version"}  # fmt: skip
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} == {
        name.split(".")[1] for layer in LAYERS for name in layer if name.count(".") == 1
    } - top


def test_the_runtime_imports_nothing_of_pdee_outside_itself():
    graph = _graph()
    runtime = {name for name in graph if name.startswith("pdee.runtime")}
    assert len(runtime) >= 8
    for name in runtime:
        outside = {m for m in graph[name] if not m.startswith("pdee.runtime")}
        assert not outside, f"{name} imports {outside}"


def test_only_the_docker_backend_imports_docker():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0
        }
        if "docker" in names:
            assert _module_name(path) == "pdee.backends.docker", path


def test_the_recipes_are_read_from_images_and_only_there():
    assert b"FROM" in recipe.recipe_file("ee/Dockerfile")
    assert b"FROM" in recipe.recipe_file("packages/Dockerfile")
    assert recipe.recipe_lines("base/packages.txt")
    checkout = PACKAGE.parent.parent
    if PACKAGE.parent.name == "harness":  # a source tree: one copy, in the top-level images/
        top = checkout / "images" / "ee" / "Dockerfile"
        assert top.read_bytes() == recipe.recipe_file("ee/Dockerfile")
        assert not [p for p in PACKAGE.rglob("*") if p.name.startswith("Dockerfile")]


def test_the_public_names_are_all_there_and_the_entry_point_imports_none_of_them():
    import subprocess
    import sys

    assert set(pdee.__all__) == set(pdee._WHERE) - pdee._INTERNAL
    for name in pdee.__all__:
        assert getattr(pdee, name) is not None
    code = "import sys, pdee.entry; print(sorted(m for m in sys.modules if m.startswith('pdee')))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == str(["pdee", "pdee.entry", "pdee.errors", "pdee.interrupts"])


def test_internal_errors_are_not_exported_but_0_3_code_still_finds_them():
    assert "EEGone" not in pdee.__all__ and "EEUnresponsive" not in pdee.__all__
    assert issubclass(pdee.EEGone, pdee.EEError)


def test_no_two_test_modules_share_a_name():
    """pytest imports test modules by their basename (rootdir mode): a second
    ``test_x.py`` in another folder stops the collection of the whole suite."""
    tests = Path(__file__).parents[1]
    names = [path.name for path in tests.rglob("test_*.py")]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


def test_the_wheel_lists_every_package_folder():
    """An installed pdee has every folder of its code: each one with a module or asset
    is named in pyproject.toml's packages (one missed broke ``pip install`` once)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    declared = set(
        tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"
        ]
    )
    folders = {
        ".".join(("pdee", *folder.relative_to(PACKAGE).parts)).rstrip(".")
        for folder in [PACKAGE, *PACKAGE.rglob("*")]
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.*"))
    }
    assert folders - declared == set()
