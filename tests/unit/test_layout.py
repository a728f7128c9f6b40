"""The package's shape: no import circle, a self-contained runtime, recipes in images/."""

from __future__ import annotations

import ast
from pathlib import Path

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

    assert set(pdee.__all__) == set(pdee._WHERE)
    for name in pdee.__all__:
        assert getattr(pdee, name) is not None
    code = "import sys, pdee.entry; print(sorted(m for m in sys.modules if m.startswith('pdee')))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == str(["pdee", "pdee.entry", "pdee.errors", "pdee.interrupts"])
