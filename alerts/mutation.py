"""Mutants of generated rules: each a copy of one rule with one plausible mistake in it.

A generated test suite is only as good as the wrong rules it rejects. The operators below make
the mistakes people make in alerting rules: a comparison turned or a threshold moved, a
conjunct (``and`` — a traffic guard, a filter) or an ``or`` / ``unless`` branch dropped, one
aggregation swapped for another, a ``by`` label dropped or one added, a label matcher widened,
narrowed or dropped, a range window halved or doubled, a counter read as a gauge (``rate`` as
``deriv``, ``increase`` as ``delta``: wrong only across a restart), ``for`` or ``keep_firing_for``
removed.
Pure: rule documents in, mutants out; ``stack.validate.mutation`` runs the tests against them.

Expressions are parsed with promql-parser and re-rendered with the one change; every mutant is
parsed again, so none is invalid PromQL, and mutants rendering to the original are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import promql_parser as promql

from obstack.alerts.promql_labels import output_labels
from obstack.alerts.promql_tree import Path, children, match_op, walk
from obstack.stack.spec.values import Duration

COMPARISONS = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "!=", "!=": "=="}
AGGREGATIONS = ("sum", "max", "min", "avg", "count")
SET_OPERATORS = ("and", "or", "unless")
THRESHOLD_FACTORS = (0.8, 2.5)  # inside the quiet case's 90% and beyond the firing case's 2x
WINDOW_FACTORS = (0.5, 2)
# The labels an aggregation most often forgets to drop: the instance (a PM2 worker, a pod), and
# the route of a request metric (the generated request inputs serve two routes).
ADDED_BY_LABELS = ("instance", "route")
# A counter read as a gauge: the function reads the same on a steady counter and goes wrong at a
# reset (a process restart), where the counter drops back.
COUNTER_AS_GAUGE = {"rate": "deriv", "increase": "delta"}


@dataclass(frozen=True)
class Mutant:
    file: str  # rule file name (services.yml)
    group: str
    position: int  # the rule's index in its group
    rule: str  # alert or record name
    operator: str  # what was changed, e.g. "threshold x0.8"
    detail: str  # where: the changed piece of the expression, shortened
    expr: str  # the rule's expression after the change (unchanged for field mutants)
    drop: str | None = None  # a rule field removed instead (for, keep_firing_for)
    # Why the mutant cannot change any alert, when the engine can prove it (not run, counted apart).
    equivalent: str | None = None
    # The change only adds or removes series of an ``or 0 * ...`` branch, all zero (a ratio's 0 for
    # a service that never failed): no alert can tell when every reader compares ``> t >= 0``.
    zeros_only: bool = False

    @property
    def key(self) -> str:
        """Stable identity for reports and the allowlist of equivalent mutants."""
        return f"{self.file}:{self.group}:{self.rule}#{self.position}: {self.operator}: {self.detail}"


def _duration(delta: timedelta) -> str:
    return str(Duration(int(delta.total_seconds() * 1000)))


def _selector_text(node: Any, matchers: list[tuple[str, str, str]] | None = None) -> str:
    """A vector selector, with ``matchers`` (name, op, value) in place of its own when given."""
    if matchers is None:
        matchers = [(m.name, match_op(m.op), m.value) for m in node.matchers.matchers]
    inner = ", ".join(f'{name}{op}"{_escape(value)}"' for name, op, value in matchers)
    text = f"{node.name or ''}{{{inner}}}"
    if node.offset is not None:
        text += f" offset {_duration(node.offset)}"
    return text


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _text(node: Any) -> str:
    """``node`` as PromQL that parses again. The parser prints string literals and label values
    with their backslashes unescaped (a regex matching "fuse." followed by anything comes back
    with a lone backslash before the dot, an unknown escape); a backslash in PromQL text can only
    stand in a string, so each is doubled."""
    return str(node).replace("\\", "\\\\")


def render(node: Any, changes: dict[Path, str], path: Path = ()) -> str:
    """``node`` as PromQL, with the subtree at each path of ``changes`` replaced by its text."""
    if path in changes:
        return changes[path]
    if not any(changed[:len(path)] == path for changed in changes):
        return _text(node)
    kind = type(node).__name__
    sub = lambda key, child: render(child, changes, (*path, key))  # noqa: E731
    if kind == "BinaryExpr":
        modifier = f" {node.modifier}" if node.modifier is not None and str(node.modifier) else ""
        return f"({sub('lhs', node.lhs)}) {node.op}{modifier} ({sub('rhs', node.rhs)})"
    if kind == "AggregateExpr":
        modifier = f" {node.modifier}" if node.modifier is not None and str(node.modifier) else ""
        param = f"{sub('param', node.param)}, " if node.param is not None else ""
        return f"{node.op}{modifier} ({param}{sub('expr', node.expr)})"
    if kind == "Call":
        return f"{node.func.name}({', '.join(sub(i, arg) for i, arg in enumerate(node.args))})"
    if kind == "ParenExpr":
        return f"({sub('expr', node.expr)})"
    if kind == "UnaryExpr":
        return f"-({sub('expr', node.expr)})"
    if kind == "SubqueryExpr":
        step = _duration(node.step) if node.step is not None else ""
        return f"({sub('expr', node.expr)})[{_duration(node.range)}:{step}]"
    raise ValueError(f"cannot render a change inside {kind}")


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float) -> str:
    return repr(round(value, 9)).removesuffix(".0")


def expression_mutants(expr: str) -> Iterator[tuple[str, str, str]]:
    """(operator, detail, mutated expression) for every mutation of ``expr``."""
    for operator, detail, mutated, _, _ in _expression_mutants(expr):
        yield operator, detail, mutated


def _zero_product(node: Any) -> bool:
    """``0 * x`` or ``x * 0`` (in parentheses or not): a vector of zeros."""
    while type(node).__name__ == "ParenExpr":
        node = node.expr
    if type(node).__name__ != "BinaryExpr" or str(node.op) != "*":
        return False
    return any(type(side).__name__ == "NumberLiteral" and side.val == 0 for side in (node.lhs, node.rhs))


def _in_zero_branch(root: Any, path: Path, operator: str) -> bool:
    """The change at ``path`` only touches the zeros an ``or 0 * ...`` adds: it lies in that
    branch, or drops it."""
    nodes = [root]
    for key in path:
        nodes.append(_child(nodes[-1], key))
    for depth, key in enumerate(path):
        parent = nodes[depth]
        if type(parent).__name__ == "BinaryExpr" and str(parent.op) == "or" and key == "rhs" \
                and _zero_product(parent.rhs):
            return True
    node = nodes[-1]
    return operator == "drop the or branch" and _zero_product(node.rhs)


def compared_above_zero(expr: str, name: str) -> bool:
    """Every selector of ``name`` in ``expr`` is the left side of ``> t`` (t >= 0) or ``>= t``
    (t > 0): a series at 0 and no series read the same there."""
    root = promql.parse(expr)
    nodes = dict(walk(root))
    for path, node in nodes.items():
        if type(node).__name__ != "VectorSelector" or node.name != name:
            continue
        inner = path
        while len(inner) > 0 and type(nodes[inner[:-1]]).__name__ == "ParenExpr":
            inner = inner[:-1]
        parent = nodes.get(inner[:-1]) if inner else None
        if parent is None or type(parent).__name__ != "BinaryExpr" or inner[-1] != "lhs":
            return False
        bound = parent.rhs
        if type(bound).__name__ != "NumberLiteral" or (parent.modifier is not None and parent.modifier.return_bool):
            return False
        if not ((str(parent.op) == ">" and bound.val >= 0) or (str(parent.op) == ">=" and bound.val > 0)):
            return False
    return True


def _expression_mutants(expr: str, value_unseen: bool = False) -> Iterator[tuple[str, str, str, str | None, bool]]:
    """As expression_mutants, with the reason a mutant is equivalent when that can be proven, and
    whether it only touches the zeros of an ``or 0 * ...`` branch. ``value_unseen``: the expression
    is an alert's whose texts show no value (only which series it returns matters)."""
    root = promql.parse(expr)
    original = str(root)
    seen: set[str] = set()
    for path, node in walk(root):
        for operator, detail, text, *matcher in _node_mutations(node):
            mutated = render(root, {path: text})
            try:
                canonical = str(promql.parse(mutated))
            except ValueError:
                continue
            if canonical == original or canonical in seen:
                continue
            seen.add(canonical)
            widened = operator in ("drop a matcher", "widen a regex") and matcher
            equivalent = _pinned_by_join(root, path, matcher[0]) if widened else None
            if operator == "swap the aggregation" and value_unseen:
                equivalent = _positive_either_way(root, path, detail)
            yield operator, detail, mutated, equivalent, _in_zero_branch(root, path, operator)


# Aggregations that are above 0 together over values that are never negative (any one above 0).
_POSITIVE_TOGETHER = frozenset({"sum", "max", "avg"})
# Functions whose every value is 0 or more.
_NEVER_NEGATIVE = frozenset({"changes", "resets", "rate", "irate", "increase"})


def _positive_either_way(root: Any, path: Path, detail: str) -> str | None:
    """Why swapping the aggregation at ``path`` (``detail``: "max -> sum") cannot change which
    series pass, if it cannot: both are sum, max or avg, of a function that is never negative, and
    the result is only compared ``> 0``: each is above 0 exactly when one of the values is."""
    before, _, after = detail.partition(" -> ")
    if not {before, after} <= _POSITIVE_TOGETHER:
        return None
    nodes = [root]
    for key in path:
        nodes.append(_child(nodes[-1], key))
    argument = nodes[-1].expr
    while type(argument).__name__ == "ParenExpr":
        argument = argument.expr
    if type(argument).__name__ != "Call" or argument.func.name not in _NEVER_NEGATIVE:
        return None
    depth = len(path)
    while depth > 0 and type(nodes[depth - 1]).__name__ == "ParenExpr":
        depth -= 1
    parent = nodes[depth - 1] if depth else None
    if (parent is None or type(parent).__name__ != "BinaryExpr" or path[depth - 1] != "lhs" or str(parent.op) != ">"
            or type(parent.rhs).__name__ != "NumberLiteral" or parent.rhs.val != 0
            or (parent.modifier is not None and parent.modifier.return_bool)):
        return None
    return (f"{argument.func.name}() is never negative and the {before} is only compared > 0: the {before} and "
            f"the {after} are above 0 exactly when one of the values is, and the alert's texts show no value")


# Binary operators that pass on only the series matching the other side (one-to-one).
_MATCHING_OPERATORS = frozenset({"and", "+", "-", "*", "/", "%", "^", "atan2",
                                 "==", "!=", ">", "<", ">=", "<="})


def _child(node: Any, key: str | int) -> Any:
    return dict(children(node))[key]


def _matches_on(node: Any, label: str) -> bool:
    """Whether the binary operation ``node`` matches its sides on ``label`` (one-to-one)."""
    modifier = node.modifier
    if modifier is None:
        return True
    set_operator = str(node.op) in SET_OPERATORS  # many-to-many by definition
    if not set_operator and str(modifier.card) != "VectorMatchCardinality.OneToOne":
        return False
    matching = modifier.matching
    if matching is None:
        return True
    included = str(matching.type) == "LabelModifierType.Include"
    return (label in matching.labels) == included


def _pins(node: Any, matcher: tuple[str, str, str]) -> bool:
    """Every series ``node`` can return passes ``matcher`` (label, op, value): each selector in it
    carries that very matcher and the label reaches its result."""
    nodes = [n for _, n in walk(node)]
    selectors = [n for n in nodes if type(n).__name__ == "VectorSelector"]
    selectors += [n.vector_selector for n in nodes if type(n).__name__ == "MatrixSelector"]
    if not selectors or any(type(n).__name__ == "Call" and n.func.name in ("label_replace", "label_join")
                            for n in nodes):
        return False
    owned = lambda s: matcher in {(m.name, match_op(m.op), m.value) for m in s.matchers.matchers}  # noqa: E731
    return all(owned(s) for s in selectors) and output_labels(node).may_have(matcher[0])


def _pinned_by_join(root: Any, path: Path, matcher: tuple[str, str, str]) -> str | None:
    """Why widening ``matcher`` on the selector at ``path`` cannot change the result, if it cannot:
    the series it adds carry another value of the label, the label is kept up to a one-to-one
    match on it (``and``, ``unless``'s right side, arithmetic, comparison), and the other side of
    that match holds only series passing the same matcher, so the added series find no partner."""
    label, op, value = matcher
    nodes = [root]
    for key in path:
        nodes.append(_child(nodes[-1], key))
    for depth in range(len(path) - 1, -1, -1):
        child, parent, key = nodes[depth + 1], nodes[depth], path[depth]
        if not output_labels(child).may_have(label):
            return None  # aggregated away: the added series may merge with the subject's
        if type(parent).__name__ == "Call" and parent.func.name in ("label_replace", "label_join"):
            return None
        if type(parent).__name__ != "BinaryExpr":
            continue
        other = parent.rhs if key == "lhs" else parent.lhs
        operator = str(parent.op)
        matching = operator in _MATCHING_OPERATORS or (operator == "unless" and key == "rhs")
        if matching and _matches_on(parent, label) and _pins(other, matcher):
            return (f'the other side of its "{operator}" keeps only {label}{op}"{value}" and matches on {label}: '
                    "the series the mutant adds find no partner")
    return None


def _node_mutations(node: Any) -> Iterator[tuple[Any, ...]]:
    kind = type(node).__name__
    if kind == "BinaryExpr":
        yield from _binary_mutations(node)
    elif kind == "AggregateExpr":
        yield from _aggregation_mutations(node)
    elif kind == "MatrixSelector":
        yield from _window_mutations(node)
        yield from _matcher_mutations(node.vector_selector, f"[{_duration(node.range)}]")
    elif kind == "VectorSelector":
        yield from _matcher_mutations(node, "")
    elif kind == "Call" and node.func.name in COUNTER_AS_GAUGE:
        gauge = COUNTER_AS_GAUGE[node.func.name]
        yield ("read a counter as a gauge", f"{node.func.name}() -> {gauge}()",
               f"{gauge}({', '.join(_text(arg) for arg in node.args)})")


def _binary_mutations(node: Any) -> Iterator[tuple[str, str, str]]:
    op = str(node.op)
    lhs, rhs = _text(node.lhs), _text(node.rhs)
    modifier = f" {node.modifier}" if node.modifier is not None and str(node.modifier) else ""
    if op in SET_OPERATORS:
        yield f"drop the {op} branch", _short(f"{op} {rhs}"), lhs
        if op != "unless":
            yield f"keep only the {op} branch", _short(f"{op} {rhs}"), rhs
        return
    if op in COMPARISONS:
        yield "invert the comparison", _short(f"{op} {rhs}"), f"({lhs}) {COMPARISONS[op]}{modifier} ({rhs})"
        for side, value in (("rhs", node.rhs), ("lhs", node.lhs)):
            if type(value).__name__ == "NumberLiteral" and value.val:
                for factor in THRESHOLD_FACTORS:
                    moved = _number(value.val * factor)
                    text = (f"({lhs}) {op}{modifier} {moved}" if side == "rhs" else f"{moved} {op}{modifier} ({rhs})")
                    yield f"threshold x{factor:g}", _short(f"{op} {value.val:g} -> {moved}"), text


def _aggregation_mutations(node: Any) -> Iterator[tuple[str, str, str]]:
    op = str(node.op)
    modifier = str(node.modifier) if node.modifier is not None else ""
    param = f"{_text(node.param)}, " if node.param is not None else ""
    inner = _text(node.expr)
    if op in AGGREGATIONS:
        for other in AGGREGATIONS:
            if other != op:
                yield "swap the aggregation", f"{op} -> {other}", f"{other} {modifier} ({param}{inner})"
    if node.modifier is not None and str(node.modifier.type) == "AggModifierType.By":
        labels = list(node.modifier.labels)
        for label in labels:
            kept = ", ".join(lab for lab in labels if lab != label)
            yield "drop a by label", f"by ({', '.join(labels)}) -> by ({kept})", f"{op} by ({kept}) ({param}{inner})"
        for added in ADDED_BY_LABELS:
            if added not in labels:
                wider = ", ".join([*labels, added])
                yield "add a by label", f"by (... {added})", f"{op} by ({wider}) ({param}{inner})"


def _window_mutations(node: Any) -> Iterator[tuple[str, str, str]]:
    window = node.range
    for factor in WINDOW_FACTORS:
        changed = _duration(window * factor)
        yield f"window x{factor:g}", f"[{_duration(window)}] -> [{changed}]", _with_range(node, changed)


def _with_range(node: Any, window: str) -> str:
    selector = node.vector_selector
    text = _selector_text(selector)
    if selector.offset is not None:
        base, offset = text.rsplit(" offset ", 1)
        return f"{base}[{window}] offset {offset}"
    return f"{text}[{window}]"


def _matcher_mutations(selector: Any, window: str) -> Iterator[tuple[str, str, str, tuple[str, str, str]]]:
    matchers = [(m.name, match_op(m.op), m.value) for m in selector.matchers.matchers]
    for index, (name, op, value) in enumerate(matchers):
        if name == "__name__":
            continue
        rest = matchers[:index] + matchers[index + 1:]
        changes = [("drop a matcher", f'{name}{op}"{value}" dropped', rest)]
        if op == "=~":
            changes.append(("widen a regex", f'{name}=~"{value}" -> ".+"', [*rest[:index], (name, op, ".+"), *rest[index:]]))
        if op in ("=", "=~"):
            changes.append(("negate a matcher", f'{name}{op}"{value}" -> {"!=" if op == "=" else "!~"}',
                            [*rest[:index], (name, "!=" if op == "=" else "!~", value), *rest[index:]]))
        for operator, detail, changed in changes:
            text = _selector_text(selector, changed)
            if window:
                base, _, offset = text.partition(" offset ")
                text = f"{base}{window}" + (f" offset {offset}" if offset else "")
            yield operator, detail, text, (name, op, value)


def rule_mutants(file: str, document: dict[str, Any]) -> Iterator[Mutant]:
    """Every mutant of every rule of one rule file (a parsed ``groups:`` document)."""
    for group in document.get("groups", []):
        for position, rule in enumerate(group.get("rules", [])):
            name = rule.get("alert") or rule.get("record")
            expr = str(rule["expr"])
            # An alert whose texts show no value is judged by the series it fires for alone.
            value_unseen = "alert" in rule and "$value" not in str(rule.get("annotations") or {})
            for operator, detail, mutated, equivalent, zeros in _expression_mutants(expr, value_unseen):
                yield Mutant(file, group["name"], position, name, operator, detail, mutated, equivalent=equivalent,
                             zeros_only=zeros)
            for field in ("for", "keep_firing_for"):
                if field in rule and Duration.parse(str(rule[field])).milliseconds:
                    yield Mutant(file, group["name"], position, name, f"drop {field}", f"{field}: {rule[field]}",
                                 expr, drop=field)
