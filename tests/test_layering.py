"""The layering of ../shared/DESIGN.md, read from the code: imports point down (data_pipeline -> models -> sweeps |
reports), only the composition roots join sweeps and reports, and no module imports itself through a circle.

Every import counts, at the top of a module or inside a function (a deferred import is still a dependency).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

PACKAGES = ("data_pipeline", "models", "sweeps", "reports")
# What each package must never import.
FORBIDDEN = {
    "data_pipeline": {"models", "sweeps", "reports"},
    "models": {"sweeps", "reports"},
    "sweeps": {"reports"},
    "reports": {"sweeps"},
}
# The composition roots: they wire a sweep to its report (the CLI, and the Python API it wraps with its result).
ROOTS = {"sweeps.run_all", "sweeps.api", "sweeps.result"}
# Inside sweeps/: the user's entry points (the roots and the overrides) sit above the engine (sweeps/engine/), which
# sits above the config schema it reads (sweeps/config.py and the `models` section's rules).
ENTRY_POINTS = {*ROOTS, "sweeps.overrides"}
ENGINE = "sweeps.engine"
SCHEMA = {"sweeps.config", "sweeps.model_sections", "sweeps.spec"}
# Known exceptions, each with the reason it still stands; the list only shrinks.
KNOWN: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    # subpackages too (models/forecasters/): a layer is its whole folder
    return {_module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an imported name lives in (`pkg.mod.attr` -> `pkg.mod`), or None if not ours."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import sub` imports the submodule when there is one, else a name of pkg/__init__
                names = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                target = _resolve(name, modules)
                if target is not None and target != mod:
                    graph[mod].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan): every import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    assert cycles(import_graph()) == []


def test_imports_point_down_the_layers():
    wrong = []
    for mod, targets in import_graph().items():
        if mod in ROOTS:
            continue
        for target in targets:
            if target.split(".")[0] in FORBIDDEN[mod.split(".")[0]] and (mod, target) not in KNOWN:
                wrong.append(f"{mod} imports {target}")
    assert wrong == []


def _in_engine(mod: str) -> bool:
    return mod == ENGINE or mod.startswith(f"{ENGINE}.")


def test_the_engine_sits_between_the_entry_points_and_the_config_schema():
    wrong = []
    for mod, targets in import_graph().items():
        for target in targets:
            if _in_engine(mod) and target in ENTRY_POINTS:
                wrong.append(f"{mod} (engine) imports {target} (an entry point)")
            if mod in SCHEMA and (_in_engine(target) or target in ENTRY_POINTS):
                wrong.append(f"{mod} (config schema) imports {target}")
    assert wrong == []
    # what is left at sweeps/ top level is exactly the entry points, the schema and the package's face
    top = {m for m in import_graph() if m.startswith("sweeps.") and m.count(".") == 1 and not _in_engine(m)}
    assert top == ENTRY_POINTS | SCHEMA


def test_the_checks_see_a_circle_and_a_wrong_way_import():
    """The graph and the cycle finder catch what they are for (so the two tests above can fail)."""
    graph = import_graph()
    assert "data_pipeline.types" in graph["data_pipeline.windows"]  # a plain import is seen
    assert "reports.build" in graph["sweeps.api"]  # the Python API (which the CLI wraps) composes
    assert "sweeps.engine.driver" in graph["sweeps.api"] and "sweeps.config" in graph["sweeps.engine.driver"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    for pair in KNOWN:  # each known exception still exists (else it must leave the list)
        assert pair[1] in graph[pair[0]], pair


# Issue #27's rule for the next maintainer: a module grows past ~300 lines only with a reason at its top.
LONG = 300


def test_long_modules_say_why_at_their_top():
    unexplained = []
    for path in sorted(REPO.glob("**/*.py")):
        if path.relative_to(REPO).parts[0] not in (*PACKAGES, "benchmarks"):
            continue
        text = path.read_text()
        lines = text.count("\n")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if lines > LONG and not re.search(r"Over \d+ lines: \S", doc):
            unexplained.append(f"{path.relative_to(REPO)} ({lines} lines)")
    assert unexplained == [], f"over {LONG} lines without an 'Over {LONG} lines: <why>' line in the docstring: " \
                              f"{unexplained}"
