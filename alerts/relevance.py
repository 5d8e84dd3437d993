"""Which rules can matter to a promtool test group: the alerts it checks, the recordings they
read, less every rule that has nothing to read in the group's input.

promtool evaluates every rule of the loaded files at every step of a test group, so a group
that checks one alert pays for all the others. A rule can be left out of a group's run without
changing any alert it checks when

- no alert it checks reads the rule, directly, through recordings, or through ``ALERTS``; or
- the rule outputs nothing at any step: every way to a result needs a series the group's input
  does not hold (``a / b`` needs both sides, ``a or b`` one, ``a unless b`` its left side), and
  no function makes a series out of nothing (``absent()``, ``vector()``).

Pure: rule documents and a test group in, the rule documents to load for it out. The mutation
runner (``stack.validate.mutation``) runs each group against these; its baseline check runs the
unmutated rules the same way, so a wrong leave-out would fail there before any mutant is judged.

``live_rules`` is the narrower cut the `promtool test rules` validator makes: it keeps every rule
that may output a series from the group's input or fail on what it reads there, checked or not,
so that promtool's verdict on the group stays the verdict on the files as written
(``stack.validate.test_cuts``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from functools import cache
from typing import Any

import promql_parser as promql

from obstack.alerts.promql_labels import output_labels
from obstack.alerts.promql_tree import children, match_op, walk
from obstack.stack.spec.selectors import passes

Labels = Mapping[str, str]
Documents = Mapping[str, dict[str, Any]]

# Functions whose result does not need a series in their arguments.
FROM_NOTHING = frozenset({"absent", "absent_over_time", "vector", "time", "pi"})
ALERT_SERIES = frozenset({"ALERTS", "ALERTS_FOR_STATE"})
# Functions and aggregations that take any series they are given (over a metric name) without
# failing: a rule whose only parts that read series are these, plain selectors and operations
# with an empty side cannot fail on its input.
TOTAL_FUNCTIONS = frozenset({
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "count_over_time", "delta", "deriv", "exp", "floor", "histogram_quantile", "idelta", "increase", "irate",
    "last_over_time", "ln", "log10", "log2", "max_over_time", "min_over_time", "predict_linear",
    "present_over_time", "quantile_over_time", "rate", "resets", "round", "scalar", "sort", "sort_desc", "sqrt",
    "stddev_over_time", "stdvar_over_time", "sum_over_time", "timestamp", "vector"})
TOTAL_AGGREGATIONS = frozenset({"avg", "count", "group", "max", "min", "stddev", "stdvar", "sum"})


@cache
def _parse(expr: str) -> Any:
    return promql.parse(expr)


def _matchers(selector: Any) -> list[tuple[str, str, str]]:
    found = [(m.name, match_op(m.op), m.value) for m in selector.matchers.matchers]
    return ([("__name__", "=", selector.name)] if selector.name else []) + found


def _selectors(node: Any) -> Iterable[Any]:
    for _, each in walk(node):
        kind = type(each).__name__
        if kind == "VectorSelector":
            yield each
        elif kind == "MatrixSelector":
            yield each.vector_selector


def _scalar(node: Any) -> bool:
    kind = type(node).__name__
    if kind in ("NumberLiteral", "StringLiteral"):
        return True
    if kind == "Call":
        return str(node.func.return_type) in ("ValueType.Scalar", "ValueType.String")
    if kind in ("ParenExpr", "UnaryExpr"):
        return _scalar(node.expr)
    if kind == "BinaryExpr":
        return _scalar(node.lhs) and _scalar(node.rhs)
    return False


class _Rules:
    """The rules of some rule documents, by the series names they write."""

    def __init__(self, documents: Documents) -> None:
        self.rules = [rule for document in documents.values() for group in document.get("groups", [])
                      for rule in group.get("rules", [])]
        self.records: dict[str, list[dict[str, Any]]] = {}
        for rule in self.rules:
            if "record" in rule:
                self.records.setdefault(rule["record"], []).append(rule)

    def alerts(self, names: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
        """The alert rules whose ALERTS series could pass ``names`` (alertname matchers)."""
        return [rule for rule in self.rules if "alert" in rule
                and all(passes(rule["alert"], op, value) for _, op, value in names)]

    def read_by(self, rule: dict[str, Any]) -> list[dict[str, Any]]:
        """The rules whose output ``rule`` reads."""
        found = []
        for selector in _selectors(_parse(str(rule["expr"]))):
            matchers = _matchers(selector)
            name = selector.name
            if name in ALERT_SERIES:
                found += self.alerts([m for m in matchers if m[0] == "alertname"])
            elif name in self.records:
                found += [rule for rule in self.records[name] if _may_carry(rule.get("labels") or {}, matchers)]
        return found


class GroupInput:
    """The series a test group's input holds (promtool series selectors), and which selectors
    find one of them (remembered: a mutation run asks again for every mutant)."""

    def __init__(self, input_series: Iterable[str]) -> None:
        self.series = [{name: value for name, _, value in _matchers(_parse(text))} for text in input_series]
        self._found: dict[tuple[tuple[str, str, str], ...], bool] = {}

    def selects(self, matchers: list[tuple[str, str, str]]) -> bool:
        key = tuple(matchers)
        if key not in self._found:
            self._found[key] = any(all(passes(series.get(label, ""), op, value) for label, op, value in matchers)
                                   for series in self.series)
        return self._found[key]

    def carries(self, matchers: list[tuple[str, str, str]], label: str) -> bool:
        """Whether a series the matchers find carries ``label``."""
        return any(label in series and all(passes(series.get(name, ""), op, value) for name, op, value in matchers)
                   for series in self.series)


def needed_rules(documents: Documents, alertnames: Iterable[str], inputs: GroupInput | Iterable[str]
                 ) -> dict[str, Any]:
    """``documents`` (rule file name -> parsed rule file) with only the rules a test group of
    ``alertnames`` fed ``inputs`` can be changed by; groups left empty are dropped."""
    rules = _Rules(documents)
    inputs = inputs if isinstance(inputs, GroupInput) else GroupInput(inputs)
    wanted = set(alertnames)
    present = _Presence(rules, inputs)
    kept: set[int] = set()
    pending = [rule for rule in rules.rules if rule.get("alert") in wanted]
    while pending:
        rule = pending.pop()
        if id(rule) not in kept and present.rule(rule):
            kept.add(id(rule))
            pending += rules.read_by(rule)
    return only(documents, kept)


def live_rules(documents: Documents, inputs: GroupInput | Iterable[str]) -> list[dict[str, Any]]:
    """The rules of ``documents`` that may output a series in a test group fed ``inputs``, or
    fail on what they read there (``_Presence.may_fail``). Each of the others outputs nothing at
    any step, so leaving it out changes no series any rule or test reads; and it can fail only
    as it would on no input at all (a bad regex), which a run on no input shows."""
    rules = _Rules(documents)
    present = _Presence(rules, inputs if isinstance(inputs, GroupInput) else GroupInput(inputs))
    return [rule for rule in rules.rules if present.rule(rule) or present.may_fail(rule)]


def only(documents: Documents, rules: Collection[int]) -> dict[str, Any]:
    """``documents`` with only the rules whose ``id`` is in ``rules`` (in their groups, in order);
    groups left empty are dropped."""
    result = {}
    for name, document in documents.items():
        groups = [{**group, "rules": [rule for rule in group["rules"] if id(rule) in rules]}
                  for group in document.get("groups", [])]
        result[name] = {"groups": [group for group in groups if group["rules"]]}
    return result


class _Presence:
    """Whether a rule may output a series, given the series a test group's input holds."""

    def __init__(self, rules: _Rules, inputs: GroupInput) -> None:
        self.rules, self.inputs = rules, inputs
        self.known: dict[int, bool] = {}

    def rule(self, rule: dict[str, Any]) -> bool:
        key = id(rule)
        if key not in self.known:
            self.known[key] = True  # a rule reading itself (through ALERTS) may: assume it does
            self.known[key] = self.node(_parse(str(rule["expr"])))
        return self.known[key]

    def node(self, node: Any) -> bool:
        kind = type(node).__name__
        if kind == "VectorSelector":
            return self.selector(node)
        if kind == "MatrixSelector":
            return self.selector(node.vector_selector)
        if kind == "Call":
            vectors = [arg for arg in node.args if not _scalar(arg)]
            return node.func.name in FROM_NOTHING or not vectors or any(self.node(arg) for arg in vectors)
        if kind == "BinaryExpr":
            if _scalar(node.lhs) or _scalar(node.rhs):
                return _scalar(node.lhs) and _scalar(node.rhs) or self.node(node.rhs if _scalar(node.lhs) else node.lhs)
            op = str(node.op)
            if op == "or":
                return self.node(node.lhs) or self.node(node.rhs)
            if op == "unless":
                return self.node(node.lhs)
            return self.node(node.lhs) and self.node(node.rhs)
        vectors = [child for _, child in children(node) if not _scalar(child)]
        return all(self.node(child) for child in vectors) if vectors else True

    def may_fail(self, rule: dict[str, Any]) -> bool:
        """Whether evaluating the rule may fail on the series it reads: a part of it that may read
        series and is not known to take any: an operation between two vectors that may both
        hold series (duplicate matches fail it; with one side empty promql returns nothing at
        once), a function or an aggregation outside ``TOTAL_FUNCTIONS``/``TOTAL_AGGREGATIONS``
        (invalid label names and regexes fail it; some fail on no input as well), a selector
        without a metric name (a function dropping the name may leave two series of one
        labelset)."""
        return any(self._fails(node) for _, node in walk(_parse(str(rule["expr"]))))

    def _fails(self, node: Any) -> bool:
        kind = type(node).__name__
        if kind == "BinaryExpr":
            if _scalar(node.lhs) or _scalar(node.rhs) or str(node.op) in ("and", "or", "unless"):
                return False
            return self.node(node.lhs) and self.node(node.rhs)
        if kind == "Call":
            return (node.func.name not in TOTAL_FUNCTIONS
                    and any(self.node(arg) for arg in node.args if not _scalar(arg)))
        if kind == "AggregateExpr":
            return str(node.op) not in TOTAL_AGGREGATIONS and self.node(node.expr)
        if kind in ("VectorSelector", "MatrixSelector"):
            selector = node if kind == "VectorSelector" else node.vector_selector
            return not selector.name and self.selector(selector)
        return False


    def selector(self, selector: Any) -> bool:
        matchers = _matchers(selector)
        if selector.name in ALERT_SERIES or self.inputs.selects(matchers):
            return True  # a recorded series' name may also be fed as input (a ruler reading a shard's)
        return any(self.rule(rule) and _may_carry(rule.get("labels") or {}, matchers)
                   for rule in self.rules.records.get(selector.name, ()))


def reads_label(documents: Documents, expr: str, label: str, inputs: Iterable[GroupInput]) -> bool:
    """Whether a series ``expr`` reads may carry ``label``: an input series its selectors find
    carries it, or a recording it reads may keep it (sets it, or passes it on from what it reads).
    ``ALERTS`` may carry any label."""
    rules, inputs = _Rules(documents), list(inputs)

    def reads(text: str, seen: frozenset[str]) -> bool:
        for selector in _selectors(_parse(text)):
            name, matchers = selector.name, _matchers(selector)
            if name in ALERT_SERIES:
                return True
            if name in rules.records:
                if name not in seen and any(
                        label in (rule.get("labels") or {})
                        or output_labels(_parse(str(rule["expr"]))).may_have(label)
                        and reads(str(rule["expr"]), seen | {name}) for rule in rules.records[name]):
                    return True
            elif any(group.carries(matchers, label) for group in inputs):
                return True
        return False
    return reads(expr, frozenset())


def _may_carry(static: Labels, matchers: list[tuple[str, str, str]]) -> bool:
    """A recording with ``static`` labels may write a series the matchers select (labels it does not
    set come from its input: they may)."""
    return all(passes(str(static[label]), op, value) for label, op, value in matchers
               if label in static and label != "__name__")
