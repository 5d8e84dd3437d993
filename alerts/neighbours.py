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
from dataclasses import dataclass, field
from functools import lru_cache

import promql_parser as promql

from obstack.alerts.promql_labels import metric_names, range_selector
from obstack.alerts.rule_model import InputSeries
from obstack.alerts.scenarios import selector

NEIGHBOUR_SUFFIX = "-neighbour"
# (label, matcher op, value) with op "=" or "=~"
Filter = tuple[str, str, str]
_OPS = {"MatchOp.Equal": "=", "MatchOp.Re": "=~"}


def _selectors(root: promql.Expr) -> Iterable[promql.VectorSelector]:
    """Every vector selector of ``root``, left to right (iteratively: an alert with an ``or`` term
    per job nests a thousand deep at a thousand services)."""
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, promql.VectorSelector):
            yield node
            continue
        inner = range_selector(node)
        if inner is not None:
            yield inner
            continue
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
        pending += reversed(children)


# A recording as the filters see it: its expression and the labels it sets statically.
Recording = tuple[str, Mapping[str, str]]


class Recordings:
    """The recording rules by record name, and which of them a selector can read (memoized: at
    a hundred services every alert rule of a name reads one service's recordings of many names)."""

    def __init__(self, records: Mapping[str, list[Recording]]) -> None:
        self._records = records
        self._read: dict[tuple[str, frozenset[Filter]], list[str]] = {}
        # (name, label) -> value -> positions of the recordings setting it, and under None those
        # not setting the label: a selector naming one service looks at that service's alone.
        self._by_label: dict[tuple[str, str], dict[str | None, list[int]]] = {}

    def read_by(self, name: str, filters: frozenset[Filter]) -> list[str]:
        """The expressions of the recordings of ``name`` whose static labels ``filters`` allow."""
        key = (name, filters)
        if key not in self._read:
            recordings = self._records.get(name, [])
            self._read[key] = [recordings[i][0] for i in self._candidates(name, filters)
                               if all(_matches(op, pattern, recordings[i][1][label])
                                      for label, op, pattern in filters if label in recordings[i][1])]
        return self._read[key]

    def _candidates(self, name: str, filters: frozenset[Filter]) -> list[int]:
        """Positions of the recordings an equality filter does not rule out by its value alone."""
        recordings = self._records.get(name, [])
        equal = min(((label, pattern) for label, op, pattern in filters if op == "="), default=None)
        if equal is None or len(recordings) < 16:
            return list(range(len(recordings)))
        label, value = equal
        index = self._by_label.get((name, label))
        if index is None:
            index = self._by_label[(name, label)] = {}
            for position, (_, labels) in enumerate(recordings):
                index.setdefault(labels.get(label), []).append(position)
        return sorted(index.get(value, []) + index.get(None, []))


def metric_filters(expr: str, records: Recordings) -> dict[str, list[set[Filter]]]:
    """metric -> the filters of each selector of it, in ``expr`` and in the expressions of the
    recordings it reads, transitively. A recording whose static labels the selector excludes
    (``service:errors{service="api"}`` is not web's) is not followed."""
    found: dict[str, list[set[Filter]]] = {}
    pending, seen = [expr], set()
    while pending:
        text = pending.pop()
        if text in seen:
            continue
        seen.add(text)
        for names, frozen in _selector_filters(text):
            for name in names:
                found.setdefault(name, []).append(set(frozen))
                pending += records.read_by(name, frozen)
    return found


@lru_cache(maxsize=1 << 16)  # every rule and recording text of a thousand services, each parsed once
def _selector_filters(text: str) -> tuple[tuple[tuple[str, ...], frozenset[Filter]], ...]:
    """(metric names, filters) of each selector in ``text`` (parsed once: recordings are read by many rules)."""
    return tuple((tuple(metric_names(vector)),
                  frozenset((m.name, _OPS[str(m.op)], m.value) for m in vector.matchers.matchers
                            if str(m.op) in _OPS and m.name != "__name__"))
                 for vector in _selectors(promql.parse(text)))


@lru_cache(maxsize=65536)
def _parsed(series: str) -> tuple[str, dict[str, str]] | None:
    node = promql.parse(series)
    if not isinstance(node, promql.VectorSelector) or not node.name:
        return None
    return node.name, {m.name: m.value for m in node.matchers.matchers}


def selected(series: str, filters: Mapping[str, list[set[Filter]]]) -> bool:
    """Whether a selector in ``filters`` (``metric_filters``) may select the input ``series``: a
    selector of its metric whose filters its labels pass (a filter is = or =~; a selector's
    other matchers can only select less). A series that is no plain selector may be."""
    parsed = _parsed(series)
    if parsed is None:
        return True
    metric, labels = parsed
    return any(all(_matches(op, pattern, labels.get(name, "")) for name, op, pattern in each)
               for each in filters.get(metric, ()))


def _matches(op: str, pattern: str, value: str) -> bool:
    return value == pattern if op == "=" else re.fullmatch(pattern, value) is not None


@dataclass
class Neighbourhood:
    """The selectors an alert's rules apply to each metric (each a set of filters), for telling
    fast whether a moved label value escapes all of them: built once per alert name, each
    (metric, label, value) judged once."""

    selectors: dict[str, list[frozenset[Filter]]]
    _hidden: dict[tuple[str, str, str], bool] = field(default_factory=dict)
    _labels: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, rules: Iterable[Mapping[str, list[set[Filter]]]]) -> Neighbourhood:
        """From the metric_filters of each rule the test checks."""
        merged: dict[str, set[frozenset[Filter]]] = {}
        for rule in rules:
            for metric, sets in rule.items():
                merged.setdefault(metric, set()).update(frozenset(filters) for filters in sets)
        return cls({metric: sorted(sets, key=sorted) for metric, sets in merged.items()})

    def labels(self, metric: str) -> list[str]:
        if metric not in self._labels:
            self._labels[metric] = sorted({name for filters in self.selectors.get(metric, ()) for name, _, _ in filters})
        return self._labels[metric]

    def hides(self, metric: str, label: str, value: str) -> bool:
        """No selector of ``metric`` selects ``label="value"``: each filters the label and rejects it."""
        key = (metric, label, value)
        if key not in self._hidden:
            self._hidden[key] = all(any(name == label and not _matches(op, pattern, value)
                                        for name, op, pattern in filters)
                                    for filters in self.selectors.get(metric, ()))
        return self._hidden[key]


def neighbours(series: Iterable[InputSeries], hood: Neighbourhood) -> list[InputSeries]:
    """For each input series and each filtered label it carries, a copy with that label's value
    just outside the filters (``api`` -> ``api-neighbour``), where no selector of the series'
    metric selects it (``hood``: the selectors of every rule the test checks)."""
    copies: dict[str, InputSeries] = {}
    for entry in series:
        parsed = _parsed(entry.series)
        if parsed is None:
            continue
        metric, labels = parsed
        for label in hood.labels(metric):
            if label not in labels:
                continue
            moved = labels[label] + NEIGHBOUR_SUFFIX
            if hood.hides(metric, label, moved):
                text = selector(metric, {**labels, label: moved})
                copies.setdefault(text, InputSeries(text, entry.values))
    return list(copies.values())
