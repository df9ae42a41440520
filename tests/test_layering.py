"""The package rules, checked on every run: an `ast` walk over every module's imports.

- `pipeline/` is pure: it imports nothing of storage, workers or web;
- `storage/` imports nothing of workers or web;
- `web/` takes from workers only the application context and config;
- no import cycle between modules, counting imports inside functions (they run too).

Imports under `if TYPE_CHECKING:` are left out: they are never executed, and a
module may name the type of the context it is handed without depending on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "storage", "workers", "web")
WEB_MAY_USE = ("workers.app", "workers.config")
MAX_TOP_LEVEL_WORKERS = 12


def modules() -> dict[str, Path]:
    """Returns {dotted module name: file} for every module of the four packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        name = getattr(test, "id", None) or getattr(test, "attr", None)
        if isinstance(node, ast.If) and name == "TYPE_CHECKING":
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def imported_names(name: str, path: Path) -> set[str]:
    """Returns every dotted name a module imports at run time (top level and in functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def dependency_graph() -> dict[str, set[str]]:
    """Returns {module: the project modules it imports}."""
    known = modules()

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    graph = {}
    for name, path in known.items():
        targets = {resolve(n) for n in imported_names(name, path)}
        graph[name] = {t for t in targets if t and t != name}
    return graph


def forbidden(source: str, target: str) -> bool:
    top, other = source.split(".")[0], target.split(".")[0]
    if top == "pipeline":
        return other != "pipeline"
    if top == "storage":
        return other in ("workers", "web")
    if top == "web" and other == "workers":
        return not any(target == m or target.startswith(m + ".") for m in WEB_MAY_USE)
    return False


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Returns the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_package_imports_across_its_layer():
    graph = dependency_graph()
    bad = [f"{s} -> {t}" for s in sorted(graph) for t in sorted(graph[s]) if forbidden(s, t)]
    assert bad == []


def test_no_module_imports_itself_through_others():
    assert cycles(dependency_graph()) == []


def test_workers_keeps_at_most_a_dozen_modules_at_its_top():
    top = [p.name for p in (ROOT / "workers").glob("*.py") if p.name != "__init__.py"]
    assert len(top) <= MAX_TOP_LEVEL_WORKERS, sorted(top)


def test_the_checks_see_a_forbidden_import_and_a_cycle():
    """The walk itself works: it finds what it is meant to forbid."""
    assert forbidden("pipeline.parse", "storage.models")
    assert forbidden("storage.triage", "workers.app")
    assert forbidden("web.pages", "workers.ingest")
    assert not forbidden("web.app", "workers.config.web")
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = dependency_graph()
    assert "storage.models" in graph["workers.ingest"]  # imports at the top are seen
    assert "workers.ingest" in graph["workers.jobs.runners"]  # and those inside functions
    assert "workers.app" not in graph["workers.ingest"]  # but not those for type checking
