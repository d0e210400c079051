"""The architecture as a test: imports inside labutils point one way, and there are no circles.

    core  <-  data, eval, viz  <-  train  <-  models  <-  chapters  <-  exercises, widgets, tools, (the package)

Every ``import``/``from ... import`` of a labutils module anywhere in a file counts, also inside functions.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "labutils"
RANK = {"core": 0, "data": 1, "eval": 1, "viz": 1, "train": 2, "models": 3, "chapters": 4,
        "exercises": 5, "widgets": 5, "tools": 5, "": 6, "__main__": 6}
MAX_LINES = 400


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> set[str]:
    """labutils modules that ``path`` imports (``from labutils.x import y`` counts y when y is a module)."""
    here = _module_name(path)
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("labutils")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + (path.name == "__init__.py")]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("labutils"):
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.add(sub if _exists(sub) else mod)
    out.discard(here)
    return out


def _exists(module: str) -> bool:
    p = PKG.parent.joinpath(*module.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


FILES = sorted(PKG.rglob("*.py"))
GRAPH = {_module_name(f): _imports(f) for f in FILES}


def test_the_package_has_the_layers():
    assert {_layer(m) for m in GRAPH} >= {"core", "data", "eval", "viz", "train", "models", "chapters",
                                          "exercises", "widgets", "tools"}
    assert len([m for m in GRAPH if m.count(".") == 1 and _layer(m) not in RANK]) == 0, "a module outside the layers"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module):
    up = [m for m in GRAPH[module] if RANK[_layer(m)] > RANK[_layer(module)]]
    assert not up, f"{module} imports from a layer above it: {up}"


def test_no_import_cycles():
    """Depth-first search over module-level and function-level imports; the package's own re-exports excepted."""
    graph = {m: {d for d in deps if d in GRAPH and d != "labutils"} for m, deps in GRAPH.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(m, path):
        state[m] = 1
        for d in sorted(graph[m]):
            # a package importing its own submodules (re-export) is not a circle
            if d.startswith(m + ".") or m.startswith(d + "."):
                continue
            if state.get(d) == 1:
                cycles.append(path[path.index(d):] + [d] if d in path else path + [d])
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, f"import cycles: {cycles[:3]}"


def test_the_checker_sees_an_upward_import(tmp_path):
    """The test can fail: a core module importing train is flagged."""
    bad = PKG / "core" / "_layer_probe.py"
    bad.write_text("from labutils.train import lm\n", encoding="utf-8")
    try:
        deps = _imports(bad)
    finally:
        bad.unlink()
    assert any(RANK[_layer(d)] > RANK["core"] for d in deps)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_module_over_the_size_limit(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(PKG)} has {n} lines (limit {MAX_LINES}): split it by concern"
