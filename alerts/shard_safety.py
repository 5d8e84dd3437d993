"""Which rules stay correct on a sharded Prometheus, and which need the global view.

Under prometheus-operator's ``shards: N`` each shard scrapes the targets whose ``__address__``
hashes to it, and every shard loads every PrometheusRule. A rule is *per-target* when each of
its output series is computed from the series of one target: then the shard that scrapes that
target computes it exactly as one Prometheus would, and the other shards compute nothing. A
rule that combines series of several targets sees only its shard's part on each shard and
answers wrongly there (a sum too small, an ``absent()`` firing on every shard that does not
scrape the job). Those rules go to a global evaluator (a Mimir/Cortex/Thanos ruler reading all
shards' series), so do rules reading what such a rule records.

A rule is per-target when (checked on the parsed expression, conservatively):

- every aggregation keeps ``instance`` (``sum without (state)``, ``max by (job, instance)``);
- every match between two series-reading sides keeps it (no ``on(...)`` without ``instance``,
  no ``ignoring(instance)``; matching on all labels pairs series of one target);
- it calls neither ``absent()``/``absent_over_time()`` nor ``scalar()`` over series;
- it reads no metric a global rule records, and no ``ALERTS`` of a global alert.

A rule that reads no series at all (``vector(1)``) computes the same on every shard: an alert
of that kind (the Watchdog) stays on the shards, each proving its own path to Alertmanager; a
recording rule goes global, so that its series exists once rather than once per shard.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser as promql

from obstack.alerts.promql_labels import metric_names, output_labels
from obstack.alerts.promql_tree import walk

INSTANCE = "instance"
_ALERT_SERIES = ("ALERTS", "ALERTS_FOR_STATE")
_SELECTING_AGGREGATIONS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})

# A rule file as (file stem, its body {"groups": [...]}), in the rule-file format.
RuleBody = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class GlobalRule:
    """A rule the shards cannot evaluate, and why."""

    file: str  # the rule file's stem
    group: str
    rule: str  # its alert or record name
    reason: str


@dataclass(frozen=True)
class ShardSplit:
    local: list[RuleBody]  # per-target rules: every shard loads them
    global_: list[RuleBody]  # the rest, for the global evaluator
    moved: list[GlobalRule]  # each rule of global_, with the reason


def _reads_series(node: Any) -> bool:
    return any(isinstance(sub, (promql.VectorSelector, promql.MatrixSelector)) for _, sub in walk(node))


def _grouping(node: promql.AggregateExpr) -> str:
    modifier = node.modifier
    if modifier is None:
        return str(node.op)
    word = "by" if modifier.type == promql.AggModifierType.By else "without"
    return f"{node.op} {word} ({', '.join(modifier.labels)})"


def _keeps_instance(node: promql.AggregateExpr) -> bool:
    if str(node.op) in _SELECTING_AGGREGATIONS:  # topk picks among the whole group
        modifier = node.modifier
        if modifier is None:
            return False
        by = modifier.type == promql.AggModifierType.By
        return (INSTANCE in modifier.labels) == by
    return output_labels(node).may_have(INSTANCE)


def _node_reason(node: Any) -> str | None:
    """Why this one node combines series of several targets (None when it does not)."""
    if isinstance(node, promql.Call):
        name = node.func.name
        if name in ("absent", "absent_over_time"):
            return f"{name}() on a shard cannot tell a series missing everywhere from one another shard scrapes"
        if name == "scalar" and _reads_series(node.args[0]):
            return "scalar() collapses the series of several targets"
    if isinstance(node, promql.AggregateExpr) and _reads_series(node.expr) and not _keeps_instance(node):
        return f"{_grouping(node)} aggregates across targets (drops {INSTANCE})"
    if isinstance(node, promql.BinaryExpr) and node.modifier is not None and node.modifier.matching is not None:
        matching = node.modifier.matching
        if _reads_series(node.lhs) and _reads_series(node.rhs):
            labels = list(matching.labels)
            if matching.type == promql.LabelModifierType.Include and INSTANCE not in labels:
                return f"on ({', '.join(labels)}) matches series of different targets"
            if matching.type != promql.LabelModifierType.Include and INSTANCE in labels:
                return f"ignoring ({', '.join(labels)}) matches series of different targets"
    return None


def cross_target_reason(expr: str) -> str | None:
    """Why ``expr`` is not per-target (the first reason found), or None when it is."""
    try:
        root = promql.parse(expr)
    except (ValueError, RuntimeError):
        return "the expression does not parse"
    for _, node in walk(root):
        reason = _node_reason(node)
        if reason:
            return reason
    return None


@dataclass(frozen=True)
class _Reads:
    names: frozenset[str]  # metric names read exactly
    alerts: frozenset[str]  # alertnames whose ALERTS series are read
    unknown: bool  # a selector without an exact name (or ALERTS without an alertname)


def _reads(expr: str) -> _Reads:
    try:
        root = promql.parse(expr)
    except (ValueError, RuntimeError):
        return _Reads(frozenset(), frozenset(), True)
    names: set[str] = set()
    alerts: set[str] = set()
    unknown = False
    for _, node in walk(root):
        selector = node.vector_selector if isinstance(node, promql.MatrixSelector) else node
        if not isinstance(selector, promql.VectorSelector):
            continue
        exact = metric_names(selector)
        if not exact:
            unknown = True
        for name in exact:
            if name in _ALERT_SERIES:
                named = [m.value for m in selector.matchers.matchers
                         if m.name == "alertname" and m.op == promql.MatchOp.Equal]
                alerts.update(named)
                unknown = unknown or not named
            else:
                names.add(name)
    return _Reads(frozenset(names), frozenset(alerts), unknown)


@dataclass(frozen=True)
class _Rule:
    key: tuple[int, int, int]  # file, group, rule index
    name: str
    is_record: bool
    expr: str


def _rules(files: list[RuleBody]) -> Iterator[_Rule]:
    for f, (_, body) in enumerate(files):
        for g, group in enumerate(body.get("groups") or []):
            for r, rule in enumerate(group.get("rules") or []):
                name = str(rule.get("record") or rule.get("alert") or "")
                yield _Rule((f, g, r), name, "record" in rule, str(rule.get("expr", "")))


def _reasons(rules: list[_Rule]) -> dict[tuple[int, int, int], str]:
    """Each rule that must go global, with why; a fixpoint over what global rules record."""
    reasons: dict[tuple[int, int, int], str] = {}
    reads = {}
    for rule in rules:
        reason = cross_target_reason(rule.expr)
        reads[rule.key] = _reads(rule.expr)
        if reason is None and rule.is_record and not reads[rule.key].names and not reads[rule.key].alerts \
                and not reads[rule.key].unknown:
            reason = "reads no series: recorded once by the global evaluator, not once per shard"
        if reason:
            reasons[rule.key] = reason
    changed = True
    while changed:
        changed = False
        records = {rule.name for rule in rules if rule.is_record and rule.key in reasons}
        alerts = {rule.name for rule in rules if not rule.is_record and rule.key in reasons}
        for rule in rules:
            if rule.key in reasons:
                continue
            seen = reads[rule.key]
            hit = sorted(seen.names & records) + [f'ALERTS{{alertname="{a}"}}' for a in sorted(seen.alerts & alerts)]
            if hit:
                reasons[rule.key] = f"reads {hit[0]}, which the global evaluator computes"
            elif seen.unknown and (records or alerts):
                reasons[rule.key] = "reads series it does not name exactly; some are computed by the global evaluator"
            else:
                continue
            changed = True
    return reasons


def _keep(files: list[RuleBody], wanted: set[tuple[int, int, int]]) -> list[RuleBody]:
    """The files with only the wanted rules; groups and files left empty are dropped."""
    kept = []
    for f, (stem, body) in enumerate(files):
        groups = []
        for g, group in enumerate(body.get("groups") or []):
            rules = [rule for r, rule in enumerate(group.get("rules") or []) if (f, g, r) in wanted]
            if rules:
                groups.append({**group, "rules": rules})
        if groups:
            kept.append((stem, {**body, "groups": groups}))
    return kept


def split_rule_files(files: list[RuleBody]) -> ShardSplit:
    """Split rule files into the per-target part (for every shard) and the part needing the global view."""
    rules = list(_rules(files))
    reasons = _reasons(rules)
    moved = [GlobalRule(files[rule.key[0]][0], str(files[rule.key[0]][1]["groups"][rule.key[1]].get("name", "")),
                        rule.name, reasons[rule.key]) for rule in rules if rule.key in reasons]
    local = {rule.key for rule in rules} - set(reasons)
    return ShardSplit(_keep(files, local), _keep(files, set(reasons)), moved)
