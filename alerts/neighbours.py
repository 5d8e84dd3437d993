"""Neighbour series: what else a real Prometheus holds beside the subject under test.

A rule for one service sees, in production, the same metrics from other jobs and other
subjects: a second scrape job carrying the same service label, another datastore's probe,
a queue the rule does not cover. A rule that lost a filter (``job="api"``, ``datastore="main"``,
``queue=~"a|b"``) reads them too, yet a test fed only the subject's own series cannot tell.

The generated tests therefore add, to each case, copies of the subject's input series with
one filtered label moved just outside its filter, at a contrasting level: a firing input beside
a quiet case, a quiet input beside a firing one. The rule as generated never selects them
(every selector of that metric, in the alert and in every recording it reads, filters on the
label), so they cannot change what it does; a rule without the filter reads them and changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import promql_parser as promql

from alerts.model import InputSeries
from alerts.promql_labels import metric_names, range_selector
from alerts.scenarios import selector

NEIGHBOUR_SUFFIX = "-neighbour"
# (label, matcher op, value) with op "=" or "=~"
Filter = tuple[str, str, str]
_OPS = {"MatchOp.Equal": "=", "MatchOp.Re": "=~"}


def _selectors(node: promql.Expr) -> Iterable[promql.VectorSelector]:
    if isinstance(node, promql.VectorSelector):
        yield node
        return
    inner = range_selector(node)
    if inner is not None:
        yield inner
        return
    if isinstance(node, promql.BinaryExpr):
        children: list[promql.Expr] = [node.lhs, node.rhs]
    elif isinstance(node, promql.AggregateExpr):
        children = [node.expr] + ([node.param] if node.param is not None else [])
    elif isinstance(node, promql.Call):
        children = list(node.args)
    elif isinstance(node, (promql.ParenExpr, promql.UnaryExpr, promql.SubqueryExpr)):
        children = [node.expr]
    else:
        children = []
    for child in children:
        yield from _selectors(child)


# A recording as the filters see it: its expression and the labels it sets statically.
Recording = tuple[str, Mapping[str, str]]


def metric_filters(expr: str, records: Mapping[str, list[Recording]]) -> dict[str, list[set[Filter]]]:
    """metric -> the filters of each selector of it, in ``expr`` and in the expressions of the
    recordings it reads (``records``: record name -> (expression, static labels) of each rule
    recording it), transitively. A recording whose static labels the selector excludes
    (``service:errors{service="api"}`` is not web's) is not followed."""
    found: dict[str, list[set[Filter]]] = {}
    pending, seen = [expr], set()
    while pending:
        text = pending.pop()
        if text in seen:
            continue
        seen.add(text)
        for vector in _selectors(promql.parse(text)):
            filters = {(m.name, _OPS[str(m.op)], m.value) for m in vector.matchers.matchers
                       if str(m.op) in _OPS and m.name != "__name__"}
            for name in metric_names(vector):
                found.setdefault(name, []).append(filters)
                pending += [source for source, labels in records.get(name, [])
                            if all(_matches(op, pattern, labels[label])
                                   for label, op, pattern in filters if label in labels)]
    return found


def _parsed(series: str) -> tuple[str, dict[str, str]] | None:
    node = promql.parse(series)
    if not isinstance(node, promql.VectorSelector) or not node.name:
        return None
    return node.name, {m.name: m.value for m in node.matchers.matchers}


def _matches(op: str, pattern: str, value: str) -> bool:
    return value == pattern if op == "=" else re.fullmatch(pattern, value) is not None


def neighbours(series: Iterable[InputSeries], rules: list[Mapping[str, list[set[Filter]]]]) -> list[InputSeries]:
    """For each input series and each filtered label it carries, a copy with that label's value
    just outside the filters (``api`` -> ``api-neighbour``), where no selector of the series'
    metric selects it: every selector in every rule (``rules``: the metric_filters of each rule
    the test checks) filters the label and rejects the new value."""
    copies: dict[str, InputSeries] = {}
    for entry in series:
        parsed = _parsed(entry.series)
        if parsed is None:
            continue
        metric, labels = parsed
        selectors = [filters for rule in rules for filters in rule.get(metric, [])]
        for label in sorted({name for filters in selectors for name, _, _ in filters}):
            if label not in labels:
                continue
            moved = labels[label] + NEIGHBOUR_SUFFIX
            if all(any(name == label and not _matches(op, pattern, moved) for name, op, pattern in filters)
                   for filters in selectors):
                text = selector(metric, {**labels, label: moved})
                copies.setdefault(text, InputSeries(text, entry.values))
    return list(copies.values())
