"""Which labels a PromQL expression's result can carry, which metrics a selector names, and the
other questions the rule and dashboard lints both ask of a parsed expression (its nodes, its
calls, a range in seconds).

Follows the Prometheus engine: aggregations keep their ``by`` labels, one-to-one matching
with ``on(...)`` keeps only the listed labels, ``and``/``unless`` keep the left side, and
so on. Used by the rule lint to prove a template label cannot be present.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import promql_parser as promql

ABSENT_FUNCTIONS = frozenset({"absent", "absent_over_time"})
RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})


def all_nodes(expr: promql.Expr | None) -> tuple[promql.Expr, ...]:
    """Every node of ``expr``, root first (none when it did not parse)."""
    nodes: list[promql.Expr] = []
    if expr is not None:
        promql.walk(expr, pre_visit=nodes.append)
    return tuple(nodes)


def calls_of(nodes: Iterable[promql.Expr], names: frozenset[str]) -> list[promql.Call]:
    """The calls among ``nodes`` of a function named in ``names``."""
    return [n for n in nodes if isinstance(n, promql.Call) and n.func.name in names]


def range_seconds(node: promql.Expr | None) -> float | None:
    """The range of a range selector or subquery (``x[5m]``, ``x[5m:1m]``) in seconds, else None."""
    if isinstance(node, (promql.MatrixSelector, promql.SubqueryExpr)) and node.range is not None:
        return node.range.total_seconds()
    return None


def metric_names(selector: promql.VectorSelector) -> list[str]:
    """Metric names a selector names exactly: its name, or `__name__="..."` (regexes name none)."""
    if selector.name:
        return [selector.name]
    groups = [selector.matchers.matchers, *selector.matchers.or_matchers]
    return [m.value for group in groups for m in group if m.name == "__name__" and m.op == promql.MatchOp.Equal]


def range_selector(node: promql.Expr) -> promql.VectorSelector | None:
    """The selector a range function reads: `x[5m]`, or a subquery over a bare selector `x[5m:1m]`."""
    if isinstance(node, promql.MatrixSelector):
        return node.vector_selector
    if isinstance(node, promql.SubqueryExpr):
        inner = node.expr
        while isinstance(inner, promql.ParenExpr):
            inner = inner.expr
        return inner if isinstance(inner, promql.VectorSelector) else None
    return None


@dataclass(frozen=True)
class OutputLabels:
    """Which labels an expression's result may carry.

    Closed (``known`` set): at most these. Open (``known`` None): any label a selector may
    carry, except those in ``absent``. A lint only reports labels that surely cannot be there.
    """

    known: frozenset[str] | None = None
    absent: frozenset[str] = frozenset()

    def may_have(self, label: str) -> bool:
        return label in self.known if self.known is not None else label not in self.absent

    def keep_only(self, labels: Iterable[str]) -> OutputLabels:
        return OutputLabels(frozenset(label for label in labels if self.may_have(label)))

    def without(self, labels: Iterable[str]) -> OutputLabels:
        if self.known is not None:
            return OutputLabels(self.known - set(labels))
        return OutputLabels(None, self.absent | set(labels))

    def plus(self, labels: Iterable[str]) -> OutputLabels:
        if self.known is not None:
            return OutputLabels(self.known | set(labels))
        return OutputLabels(None, self.absent - set(labels))

    def union(self, other: OutputLabels) -> OutputLabels:
        if self.known is not None and other.known is not None:
            return OutputLabels(self.known | other.known)
        return OutputLabels(None, frozenset(label for label in self.absent | other.absent
                                            if not (self.may_have(label) or other.may_have(label))))

    def describe(self) -> str:
        if self.known is not None:
            return f"it carries only {', '.join(sorted(self.known))}" if self.known else "it carries no labels"
        return f"it drops {', '.join(sorted(self.absent))}"


ANY_LABELS = OutputLabels()
NO_LABELS = OutputLabels(frozenset())
# Aggregations that select series rather than combine them keep every label.
_SELECTING_AGGREGATIONS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})


def output_labels(node: promql.Expr) -> OutputLabels:
    """The labels ``node``'s result may carry (conservative: when unsure, any)."""
    if isinstance(node, (promql.ParenExpr, promql.UnaryExpr, promql.SubqueryExpr)):
        return output_labels(node.expr)
    if isinstance(node, (promql.NumberLiteral, promql.StringLiteral)):
        return NO_LABELS
    if isinstance(node, promql.AggregateExpr):
        return _aggregate_labels(node)
    if isinstance(node, promql.Call):
        return _call_labels(node)
    if isinstance(node, promql.BinaryExpr):
        return _binary_labels(node)
    return ANY_LABELS  # selectors, and anything newer than this code


def _aggregate_labels(node: promql.AggregateExpr) -> OutputLabels:
    inner = output_labels(node.expr)
    op, modifier = str(node.op), node.modifier
    if op in _SELECTING_AGGREGATIONS:
        return inner
    if modifier is None:
        result = NO_LABELS
    elif modifier.type == promql.AggModifierType.By:
        result = inner.keep_only(modifier.labels)
    else:
        result = inner.without(modifier.labels)
    if op == "count_values" and isinstance(node.param, promql.StringLiteral):
        result = result.plus([node.param.val])
    return result


def _call_labels(node: promql.Call) -> OutputLabels:
    name, args = node.func.name, node.args
    if node.func.return_type == promql.ValueType.Scalar or name == "vector":
        return NO_LABELS
    if name in ABSENT_FUNCTIONS:
        # absent() returns one series labelled with the selector's equality matchers.
        selector = range_selector(args[0]) if isinstance(args[0], promql.MatrixSelector) else args[0]
        if not isinstance(selector, promql.VectorSelector):
            return NO_LABELS
        return OutputLabels(frozenset(m.name for m in selector.matchers.matchers
                                      if m.op == promql.MatchOp.Equal and m.name != "__name__"))
    if name in ("label_replace", "label_join") and isinstance(args[1], promql.StringLiteral):
        return output_labels(args[0]).plus([args[1].val])
    if name == "histogram_quantile":
        return output_labels(args[1]).without(["le"])
    if name == "info":
        return ANY_LABELS  # adds the labels of matching info series
    # Other functions keep the labels of their (first) vector or matrix argument.
    for arg, arg_type in zip(args, node.func.arg_types):
        if arg_type in (promql.ValueType.Vector, promql.ValueType.Matrix):
            return output_labels(arg)
    return NO_LABELS


def _is_scalar(node: promql.Expr) -> bool:
    if isinstance(node, (promql.NumberLiteral, promql.StringLiteral)):
        return True
    if isinstance(node, (promql.ParenExpr, promql.UnaryExpr)):
        return _is_scalar(node.expr)
    if isinstance(node, promql.Call):
        return bool(node.func.return_type == promql.ValueType.Scalar)
    if isinstance(node, promql.BinaryExpr):
        return _is_scalar(node.lhs) and _is_scalar(node.rhs)
    return False


def _binary_labels(node: promql.BinaryExpr) -> OutputLabels:
    """Labels of a binary operation, as the engine's resultMetric builds them."""
    lhs_scalar, rhs_scalar = _is_scalar(node.lhs), _is_scalar(node.rhs)
    if lhs_scalar or rhs_scalar:  # vector-scalar operations keep the vector's labels
        return NO_LABELS if lhs_scalar and rhs_scalar else output_labels(node.lhs if rhs_scalar else node.rhs)
    left, right, op, modifier = output_labels(node.lhs), output_labels(node.rhs), str(node.op), node.modifier
    if op in ("and", "unless"):
        return left  # set operators return left-hand series unchanged
    if op == "or":
        return left.union(right)
    if modifier is None:
        return left
    fill = modifier.fill_values
    if fill is not None and (fill.lhs is not None or fill.rhs is not None):
        return left.union(right)  # unmatched series of either side pass through (Prometheus 3 fill())
    matching, group_labels = modifier.matching, modifier.group_labels or []
    if modifier.card == promql.VectorMatchCardinality.ManyToOne:
        return left.plus(group_labels)  # group_left(x): x copied from the one side when it has it
    if modifier.card == promql.VectorMatchCardinality.OneToMany:
        return right.plus(group_labels)
    if matching is None:
        return left
    if matching.type == promql.LabelModifierType.Include:
        return left.keep_only(matching.labels)  # one-to-one on(...) keeps only the listed labels
    return left.without(matching.labels)  # one-to-one ignoring(...) drops the listed labels
