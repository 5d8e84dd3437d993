"""The unit of a PromQL expression's values, read from Prometheus' metric naming conventions.

Enough to tell whether two queries of one panel can share an axis: seconds and a count cannot.
A metric's base unit is its suffix (``_seconds``, ``_bytes``, ``_ratio``; anything else counts
something), after ``_total``/``_sum``; ``_count`` and ``_bucket`` series count observations.
A recording rule (``level:metric:operations``) takes its metric's unit, a ratio when an operation
says so, per second after ``rate``. Functions and operators carry units through: ``rate`` divides
by seconds, a quotient of like units is a ratio, a number literal scales without changing it.
"""

from __future__ import annotations

import re

import promql_parser as promql

from obstack.alerts.promql_labels import metric_names

SECONDS, BYTES, RATIO, COUNT = "seconds", "bytes", "ratio", "count"  # count: any plain number of things
_SUFFIX_UNITS = (("_seconds", SECONDS), ("_bytes", BYTES), ("_ratio", RATIO))
_COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})
_PER_SECOND = frozenset({"rate", "irate", "deriv"})
_COUNTING = frozenset({"count_over_time", "changes", "resets", "absent", "absent_over_time", "present_over_time"})
_TIMESTAMPS = frozenset({"time", "timestamp"})
_QUANTILE_OPERATION = re.compile(r"^(p\d+|quantile)")

Unit = str | None  # None: a bare number, which scales a value without changing its unit


def metric_unit(name: str) -> str:
    """The unit of a metric's (or recording rule's) values, by its name."""
    if name.count(":") == 2:
        _, metric, operations = name.split(":")
        if operations.startswith("ratio") or metric.endswith("_ratio"):
            return RATIO
        base = metric_unit(metric)
        if operations.startswith(("rate", "irate")) and not _QUANTILE_OPERATION.match(operations):
            return per_second(base)
        return base
    if name.endswith(("_count", "_bucket")):
        return COUNT
    stem = re.sub(r"_(total|sum)$", "", name)
    return next((unit for suffix, unit in _SUFFIX_UNITS if stem.endswith(suffix)), COUNT)


def per_second(unit: Unit) -> Unit:
    return None if unit is None else f"{unit}/s"


def _quantile_unit(expr: promql.Expr) -> Unit:
    """histogram_quantile's result is in the unit of the buckets' bounds (the histogram's name)."""
    nodes: list[promql.Expr] = []
    promql.walk(expr, pre_visit=nodes.append)
    for node in nodes:
        if isinstance(node, promql.VectorSelector):
            for name in metric_names(node):
                if name.endswith("_bucket"):
                    return metric_unit(name.removesuffix("_bucket"))
    return COUNT


def _call_unit(call: promql.Call) -> Unit:
    name, args = call.func.name, list(call.args)
    if name in _TIMESTAMPS:
        return SECONDS
    if name in _COUNTING:
        return COUNT
    if name == "histogram_quantile" and len(args) == 2:
        return _quantile_unit(args[1])
    if name == "vector":
        return None
    expressions = [a for a in args if not isinstance(a, (promql.NumberLiteral, promql.StringLiteral))]
    inner = expr_unit(expressions[0]) if expressions else None
    return per_second(inner) if name in _PER_SECOND else inner


def _binary_unit(expr: promql.BinaryExpr) -> Unit:
    op = str(expr.op)
    left, right = expr_unit(expr.lhs), expr_unit(expr.rhs)
    if op in _COMPARISONS:
        if expr.modifier is not None and expr.modifier.return_bool:
            return COUNT  # 0 or 1
        return left if left is not None else right  # a filter keeps the compared values
    if op in ("and", "unless"):
        return left
    if left is None or right is None:
        return right if left is None else left
    if op == "/":
        return RATIO if left == right else f"{left}/{right}"
    if op == "*":
        return f"{left}*{right}"
    return left if left == right else f"{left}|{right}"  # +, -, or: unlike units mix


def expr_unit(expr: promql.Expr) -> Unit:
    """The unit of ``expr``'s values (None for a bare number)."""
    if isinstance(expr, promql.VectorSelector):
        names = metric_names(expr)
        return metric_unit(names[0]) if names else COUNT
    if isinstance(expr, promql.MatrixSelector):
        return expr_unit(expr.vector_selector)
    if isinstance(expr, (promql.ParenExpr, promql.UnaryExpr, promql.SubqueryExpr)):
        return expr_unit(expr.expr)
    if isinstance(expr, promql.AggregateExpr):
        return COUNT if str(expr.op) in ("count", "count_values", "group") else expr_unit(expr.expr)
    if isinstance(expr, promql.Call):
        return _call_unit(expr)
    if isinstance(expr, promql.BinaryExpr):
        return _binary_unit(expr)
    return None  # number and string literals
