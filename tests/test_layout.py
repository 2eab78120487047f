"""The package's layout holds: imports point one way (README's Layout), no import circle, each
package says what it owns, and no module outgrows a reader (the rule table excepted)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mailidx"
# A module may import from its own layer or a lower one (README's Layout).
LAYERS = {
    "errors": 0,
    "clock": 1,
    "store": 1,
    "parse": 1,
    "executor": 1,
    "ingest": 2,
    "answers": 2,
    "lake": 3,
    "watch": 3,
    "ui": 4,
    "__main__": 5,
}
MAX_LINES = 360
LONG_BY_NATURE = {"mailidx.parse.rules"}  # Postfix's size: one table, grouped by daemon


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def runtime_imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The mailidx modules a module imports when it runs (anywhere in it, lazy imports too;
    not those only a type checker reads)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mailidx"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("mailidx.")}
    return {m for m in out if m in known}


def layer(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: runtime_imports(path, known) - {name} for name, path in known.items()}


def test_every_module_sits_in_a_layer_the_readme_names():
    outside = sorted(m for m in modules() if m != "mailidx" and layer(m) not in LAYERS)
    assert not outside, f"add these to LAYERS and README's Layout: {outside}"


def test_imports_point_down_the_layers_only():
    upward = [
        f"{name} -> {dep}"
        for name, deps in graph().items()
        for dep in deps
        if name != "mailidx" and LAYERS[layer(dep)] > LAYERS[layer(name)]
    ]
    assert not upward, upward


def test_no_module_imports_one_that_imports_it_back():
    edges = graph()
    circles = []

    def walk(node: str, path: list[str], seen: set[str]) -> None:
        for dep in edges[node]:
            if dep == path[0]:
                circles.append(" -> ".join([*path, dep]))
            elif dep not in seen:
                seen.add(dep)
                walk(dep, [*path, dep], seen)

    for start in edges:
        walk(start, [start], {start})
    assert not circles, circles


@pytest.mark.parametrize("package", sorted(p.parent.name for p in PACKAGE.rglob("__init__.py")))
def test_each_package_says_what_it_owns(package):
    init = next(p for p in PACKAGE.rglob("__init__.py") if p.parent.name == package)
    assert ast.get_docstring(ast.parse(init.read_text())), f"{init}: say what the package owns"


def test_no_module_outgrows_a_reader():
    long = {
        name: len(path.read_text().splitlines())
        for name, path in modules().items()
        if name not in LONG_BY_NATURE
    }
    assert {n: c for n, c in long.items() if c > MAX_LINES} == {}
