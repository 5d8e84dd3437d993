"""Walking a parsed PromQL expression (promql-parser): each node's children by key, every node
with its path from the root, and matcher operators as PromQL writes them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]  # keys from the root: "lhs"/"rhs", "expr", "param", argument index

_MATCH_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def children(node: Any) -> list[tuple[str | int, Any]]:
    """(key, child) for each sub-expression of ``node`` (a range selector has none)."""
    kind = type(node).__name__
    if kind == "BinaryExpr":
        return [("lhs", node.lhs), ("rhs", node.rhs)]
    if kind == "AggregateExpr":
        return ([("param", node.param)] if node.param is not None else []) + [("expr", node.expr)]
    if kind == "Call":
        return list(enumerate(node.args))
    if kind in ("ParenExpr", "UnaryExpr", "SubqueryExpr"):
        return [("expr", node.expr)]
    return []


def walk(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every node of the expression, root first, with its path."""
    yield path, node
    for key, child in children(node):
        yield from walk(child, (*path, key))


def match_op(op: Any) -> str:
    """A label matcher's operator as PromQL writes it (=, !=, =~, !~)."""
    return _MATCH_OPS[str(op)]
