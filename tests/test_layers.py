"""The package's layers only point down (design section 8), checked by walking every import.

Every ``import`` and ``from ... import`` of every module of ``dsnbench`` counts, the ones inside
functions too (a lazy import is still a dependency). The rule:

- bottom: the package root, ``types``, ``errors``, ``registry``, ``results``, ``documents`` (and
  the ``config`` shim), ``testing``; they may import each other;
- beside each other and independent: ``metrics``, ``data``, ``models``, ``complexity``;
- above them and independent of each other: ``run`` and ``train``;
- readers of the results schema: ``analysis``, ``compare``, ``history`` (they may import each
  other);
- top: ``cli``, ``commands``, and the shims ``config`` and ``evaluate`` (old module paths that
  re-export the run package's names for callers outside issue 19's reach).

A module may import a module of a lower layer, or of its own group; never one of a higher layer
(an arrow that points up), never one of another group of its own layer where the layer's groups
are independent, and never another module's private (underscore) name. No two modules may import
each other, directly or through others (a circle).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dsnbench"

#: layer of each group (a group: a top-level module or subpackage of dsnbench)
LAYERS: dict[str, int] = {
    "dsnbench": 0, "types": 0, "errors": 0, "registry": 0, "results": 0, "documents": 0, "testing": 0,
    "metrics": 1, "data": 1, "models": 1, "complexity": 1,
    "run": 2, "train": 2,
    "analysis": 3, "compare": 3, "history": 3,
    "cli": 4, "commands": 4, "__main__": 4,
    # backwards-compatible shims of the old top-level run modules: they import from run, so they
    # sit above it; only callers that have not moved yet import them
    "config": 4, "evaluate": 4,
}
#: layers whose groups must not import each other
INDEPENDENT = {1, 2}
#: arrows the rule forbids that are known and waiting for a change outside issue 19's reach:
#: (importing module, imported module) -> why
PENDING: dict[tuple[str, str], str] = {}


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def all_modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, package): p for p in sorted(package.rglob("*.py"))}


def group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def imports(module: str, path: Path, modules: dict[str, Path]) -> tuple[list[tuple[str, str | None, int]], set[str]]:
    """(imported module, imported name or None, line) for every dsnbench import of ``module``
    (``from pkg import name`` where ``pkg.name`` is a module counts as importing that module),
    and the local names bound to dsnbench modules."""
    is_package = path.name == "__init__.py"
    out: list[tuple[str, str | None, int]] = []
    aliases: set[str] = set()

    def resolve(name: str) -> str:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "dsnbench":
                    out.append((resolve(a.name), None, node.lineno))
                    aliases.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "dsnbench":
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in modules:
                    out.append((sub, None, node.lineno))
                    aliases.add(a.asname or a.name)
                else:
                    out.append((resolve(target), a.name, node.lineno))
    return out, aliases


def graph(package: Path = PACKAGE) -> tuple[dict[str, set[str]], list[str]]:
    """The import graph, and every use of another module's private name as a readable line
    (``from m import _x``, or ``m._x`` on a module bound by an import)."""
    modules = all_modules(package)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    private = []
    for m, p in modules.items():
        found, aliases = imports(m, p, modules)
        for target, name, line in found:
            if target != m:
                edges[m].add(target)
                if name and _private(name):
                    private.append(f"{m}:{line} imports {target}.{name}")
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                    and _private(node.attr):
                private.append(f"{m}:{node.lineno} uses {node.value.id}.{node.attr}")
    return edges, sorted(private)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def bad_arrows(edges: dict[str, set[str]]) -> list[str]:
    out = []
    for a, targets in edges.items():
        for b in sorted(targets):
            ga, gb = group(a), group(b)
            if ga == gb or (a, b) in PENDING:
                continue
            la, lb = LAYERS[ga], LAYERS[gb]
            if lb > la:
                out.append(f"{a} -> {b}: points up (layer {la} imports layer {lb})")
            elif lb == la and la in INDEPENDENT:
                out.append(f"{a} -> {b}: {ga} and {gb} are independent (layer {la})")
    return out


def test_every_module_has_a_layer():
    missing = sorted({group(m) for m in all_modules()} - set(LAYERS))
    assert not missing, f"groups without a layer in tests/test_layers.py: {missing}"


def test_no_arrow_points_up_or_sideways():
    edges, _ = graph()
    assert bad_arrows(edges) == []


def test_no_import_circle():
    edges, _ = graph()
    assert cycles(edges) == []


def test_no_module_imports_another_modules_private_name():
    _, private = graph()
    assert private == []


def test_pending_arrows_are_still_there():
    """A pending exception that is no longer needed is removed from PENDING."""
    edges, _ = graph()
    assert [k for k in PENDING if k[1] not in edges.get(k[0], set())] == []


def test_the_walk_sees_lazy_imports_and_private_names(tmp_path):
    """The checker itself: a lazy upward import, a circle and a private name are all caught."""
    pkg = tmp_path / "dsnbench"
    (pkg / "metrics").mkdir(parents=True)
    (pkg / "run").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "metrics" / "__init__.py").write_text("")
    (pkg / "metrics" / "a.py").write_text("def f():\n    from ..run import b\n")
    (pkg / "run" / "__init__.py").write_text("")
    (pkg / "run" / "b.py").write_text("from ..metrics.a import _hidden\nfrom ..metrics import a\nx = a._y\n")
    edges, private = graph(pkg)
    assert "dsnbench.run.b" in edges["dsnbench.metrics.a"]
    assert bad_arrows(edges) == ["dsnbench.metrics.a -> dsnbench.run.b: points up (layer 1 imports layer 2)"]
    assert cycles(edges) == [["dsnbench.metrics.a", "dsnbench.run.b"]]
    assert private == ["dsnbench.run.b:1 imports dsnbench.metrics.a._hidden", "dsnbench.run.b:3 uses a._y"]


@pytest.mark.parametrize("group_name", ["metrics", "data", "models", "complexity"])
def test_foundations_import_only_the_bottom(group_name):
    edges, _ = graph()
    for a, targets in edges.items():
        if group(a) == group_name:
            assert all(LAYERS[group(b)] == 0 or group(b) == group_name for b in targets), (a, targets)
