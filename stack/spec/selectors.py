"""Counter selectors of event SLOs (``errors``, ``good``, ``total``): one metric and its label
matchers, written as PromQL and parsed with promql-parser.

Only a plain instant vector selector is taken (``orders_failed_total{queue="orders"}``): obstack
takes the rate over each SLO window itself, sums by service and scopes the selector to the
service's job. The matchers are kept as parsed (the values unescaped) and rendered back through
``promql_string``, so a value means in the rules what it meant in the spec.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from typing import Annotated

import promql_parser
from pydantic import AfterValidator

from .base import promql_string, re2_problem

# (label, operator, value): the operator as PromQL writes it (=, !=, =~, !~), the value unescaped.
Matcher = tuple[str, str, str]

_OPERATORS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}
# Labels obstack sets on a service's series (the scrape's job and instance, the target's service and
# team): it scopes every selector to the service's job itself, and a test input varies the instance.
SCOPE_LABELS = ("job", "instance", "service", "team")
# What a parsed expression is, when it is not a plain selector: the node type, in words.
_NOT_A_SELECTOR = {
    "MatrixSelector": "a range vector ([...])",
    "SubqueryExpr": "a subquery ([...:...])",
    "Call": "a function call",
    "AggregateExpr": "an aggregation",
    "BinaryExpr": "an expression with an operator",
    "UnaryExpr": "a negated expression",
    "ParenExpr": "an expression in parentheses",
    "NumberLiteral": "a number",
    "StringLiteral": "a string",
}
_HOW = ("write the counter alone, with label matchers if need be, e.g. orders_failed_total{queue=\"orders\"}: "
        "obstack takes its rate over each SLO window and scopes it to the service's job")


@dataclass(frozen=True)
class CounterSelector:
    """A counter and the label matchers that pick the series of an SLO's events."""

    metric: str
    matchers: tuple[Matcher, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels its matchers name, in order."""
        return tuple(dict.fromkeys(label for label, _, _ in self.matchers))

    def render(self, *scope: Matcher) -> str:
        """PromQL selecting the counter's series: the ``scope`` matchers (the service's job), then its own."""
        inner = ", ".join(f"{label}{op}{promql_string(value)}" for label, op, value in (*scope, *self.matchers))
        return f"{self.metric}{{{inner}}}"

    def selects(self, metric: str, labels: dict[str, str]) -> bool:
        """Whether a series of ``metric`` with ``labels`` is one of the selector's (scope aside)."""
        return metric == self.metric and all(passes(labels.get(label, ""), op, value)
                                             for label, op, value in self.matchers)


def passes(value: str, op: str, wanted: str) -> bool:
    """A label value against one matcher (an absent label reads as the empty string; regexes are
    anchored at both ends, as in Prometheus)."""
    if op in ("=", "!="):
        return (value == wanted) == (op == "=")
    return (re.fullmatch(wanted, value) is not None) == (op == "=~")


@functools.lru_cache(maxsize=1024)
def parse_counter_selector(text: str) -> CounterSelector:
    """The selector ``text`` stands for; ValueError (one sentence: what, and how to fix it) for
    anything but a plain instant vector selector of a named metric."""
    try:
        node = promql_parser.parse(text)
    except ValueError as error:
        raise ValueError(f"'{text}' is not PromQL ({error}); {_HOW}") from None
    kind = type(node).__name__
    if kind != "VectorSelector":
        raise ValueError(f"'{text}' is {_NOT_A_SELECTOR.get(kind, 'not a selector')}, not a counter selector; {_HOW}")
    if node.offset is not None or node.at is not None:
        modifier = "offset" if node.offset is not None else "@"
        raise ValueError(f"'{text}' has an {modifier} modifier: SLO windows end now; remove it")
    if node.matchers.or_matchers:
        raise ValueError(f"'{text}' joins matchers with 'or' (Prometheus 3 only); write one SLO per alternative "
                         "or one regex matcher, e.g. queue=~\"a|b\"")
    matchers = tuple((m.name, _OPERATORS[str(m.op)], m.value) for m in node.matchers.matchers)
    if not node.name or any(label == "__name__" for label, _, _ in matchers):
        raise ValueError(f"'{text}' must name its metric before the braces (no __name__ matcher), "
                         "e.g. orders_failed_total{queue=\"orders\"}")
    for label, op, value in matchers:
        if label in SCOPE_LABELS:
            raise ValueError(f"'{text}' matches on '{label}', which obstack sets itself ({', '.join(SCOPE_LABELS)}: "
                             "the selector is scoped to the service's job); remove that matcher")
        problem = None
        if op in ("=~", "!~"):
            # A POSIX class: Python's regexes, which the generated tests' inputs are checked with, read it otherwise.
            problem = (f"'{value}' uses a POSIX class ([[:alpha:]]); write the class out, e.g. [a-zA-Z]"
                       if re.search(r"\[:\^?[a-z]+:\]", value) else re2_problem(value))
        if problem is not None:
            raise ValueError(f"the regex of {label}{op} in '{text}': {problem}")
    return CounterSelector(node.name, matchers)


def _counter_selector(value: str) -> str:
    parse_counter_selector(value)
    return value


CounterSelectorText = Annotated[str, AfterValidator(_counter_selector)]
