"""The layers import downwards only: foundation -> spec -> generators, validators, exporter -> cli.

Parsed with ``ast``, nothing imported: ``foundation`` imports none of obstack's packages (not even
inside a function), and the module-level imports between the layers' packages form no cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("foundation", "stack", "alerts", "dashboards", "exporters", "compose")
# stack/ holds the spec (the floor above foundation), the validators, the writer and the roof (CLI,
# pipeline, deploy); each is a node of its own.
STACK_PARTS = ("spec", "validate", "writer")


def _module(path: Path) -> str:
    """The import name of a source file: every package is ``obstack.<its folder>``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(["obstack", *(parts[:-1] if parts[-1] == "__init__" else parts)])


def _imports(path: Path, module_level_only: bool) -> Iterator[str]:
    """The absolute names of the modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module(path).split(".") if path.name == "__init__.py" else _module(path).split(".")[:-1]
    for node in tree.body if module_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            yield ".".join([*base, *([node.module] if node.module else [])])


def _ours(module: str) -> list[str] | None:
    """``obstack.alerts.x`` -> ["alerts", "x"]; None for another distribution's module."""
    parts = module.split(".")
    return parts[1:] if parts[0] == "obstack" and len(parts) > 1 and parts[1] in OURS else None


def _layer(module: str) -> str | None:
    parts = _ours(module)
    if parts is None:
        return None
    if parts[0] == "stack" and len(parts) > 1 and parts[1] in STACK_PARTS:
        return f"stack.{parts[1]}"
    return parts[0]


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_foundation_imports_none_of_our_packages() -> None:
    names = [(path.relative_to(ROOT).as_posix(), name) for path in _sources("foundation")
             for name in _imports(path, module_level_only=False)]
    assert any(name.startswith("obstack.foundation.") for _, name in names)  # the parse sees our imports
    found = [(path, name) for path, name in names if (_ours(name) or ["foundation"])[0] != "foundation"]
    assert found == []


def test_the_layers_import_each_other_without_a_cycle() -> None:
    edges: dict[str, set[str]] = {}
    for package in OURS:
        for path in _sources(package):
            source = _layer(_module(path))
            for name in _imports(path, module_level_only=True):
                target = _layer(name)
                if source is not None and target is not None and target != source:
                    edges.setdefault(source, set()).add(target)
    assert not edges.get("foundation")
    assert {"stack.spec", "alerts", "dashboards", "compose", "stack"} <= set(edges)  # the graph was seen
    cycle = _find_cycle(edges)
    assert cycle is None, f"import cycle between layers: {' -> '.join(cycle or [])}"


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        for target in sorted(edges.get(node, ())):
            if (cycle := visit(target, [*path, node])) is not None:
                return cycle
        done.add(node)
        return None

    return next((c for node in sorted(edges) if (c := visit(node, [])) is not None), None)
