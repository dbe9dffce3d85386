"""The house rules of DESIGN.md's layer map, checked on the source: no import circles, and no
import that runs up a layer. A new top-level module or package must be given its layer here,
so that where it sits is a decision, not an accident."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "reliad"

# Higher calls lower, never the other way; the same number means "may call each other".
LAYERS: dict[str, int] = {
    "__main__": 90, "cli": 90,
    "daemon": 80,
    "metrics": 70,
    "report": 60,
    "drills": 50,
    "ledger": 40,
    "jobs": 30,
    "targets": 25,
    "hooks": 22, "keysource": 22, "sources": 22,
    "repository": 20, "catalog": 20, "audit": 20,
    "storage": 15,
    "config": 10,
    "errors": 0, "timeutil": 0, "redact": 0, "statedir": 0, "sqlitecheck": 0, "progress": 0, "logsetup": 0,
    "memory": 0, "reliad": 0,
}


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Every reliad module each module imports, at any depth (imports inside functions count:
    they still make the importer depend on the imported)."""
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names]
                graph[m] |= {n if n in mods else node.module for n in names} & mods.keys()
            elif isinstance(node, ast.Import):
                graph[m] |= {a.name for a in node.names} & mods.keys()
        graph[m].discard(m)
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "reliad"


def test_every_module_has_a_layer() -> None:
    unplaced = sorted({_layer(m) for m in _modules()} - LAYERS.keys())
    assert not unplaced, f"give these a layer in tests/test_layers.py (and DESIGN.md's map): {unplaced}"


def test_no_import_runs_up_a_layer() -> None:
    graph = _imports(_modules())
    upward = sorted(f"{m} imports {t}" for m, ts in graph.items() for t in ts
                    if _layer(m) != _layer(t) and LAYERS.get(_layer(t), 0) > LAYERS.get(_layer(m), 0))
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def test_no_import_circles() -> None:
    graph = _imports(_modules())
    circles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                circles.append(" -> ".join([*path[path.index(t):], t]))
            elif t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not circles, "import circles:\n" + "\n".join(circles)
