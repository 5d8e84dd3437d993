"""Rule lint: checks Prometheus rule files for mistakes promtool accepts but that break alerting.

Works on parsed rule files (``{"groups": [{"name", "rules": [...]}]}``), independent of how
they were written. Each lint rule is one function with a stable id, a one-line doc and a severity
in ``LINT_RULES`` (a ``foundation.lint.LintRules``); every finding's message starts with
``[rule-id]`` and carries the rule file and the rule's name, which exclusions match on. The PromQL itself is
parsed by promql-parser (``promql_parser``); ``output_labels`` reasons about which labels
an expression's result can carry, following the Prometheus engine's rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import promql_parser as promql

from obstack.alerts.dependency_inhibition import DATASTORE_DOWN, SERVICE_DOWN, dependents, reachable
from obstack.alerts.promql_labels import (
    ABSENT_FUNCTIONS,
    RATE_FUNCTIONS,
    all_nodes,
    calls_of,
    metric_names,
    output_labels,
    range_seconds,
    range_selector,
)
from obstack.alerts.rule_model import AlertRule
from obstack.alerts.service_rules import latency_edge
from obstack.alerts.slo_rules import alertable_windows
from obstack.alerts.timing import burn_windows
from obstack.foundation.findings import Finding
from obstack.foundation.lint import LintRule, LintRules
from obstack.foundation.series_catalog import MetricCatalog, not_in_catalog, recording_rule_entries
from obstack.stack.spec.model import Spec
from obstack.stack.spec.values import Duration, Ratio

VALIDATOR = "rule lint"

LINT_RULES = LintRules(VALIDATOR, (
    LintRule("expr-parse", "The expression does not parse as PromQL."),
    LintRule("alert-no-comparison", "An alert expression has no comparison, so it fires for every series it returns."),
    LintRule("rate-on-gauge", "rate(), irate() or increase() over a metric that is not a counter."),
    LintRule("rate-range-too-short", "The range of rate(), irate() or increase() is shorter than 4 scrape intervals."),
    LintRule("missing-label", "An alert has no severity label, so routing cannot place it."),
    LintRule("missing-annotation", "An alert lacks a summary, description or runbook_url annotation."),
    LintRule("template-label-aggregated-away", "A template uses $labels.X but the expression's result cannot carry X."),
    LintRule("absent-without-for", "An absent() alert has no for:, so one missed scrape or a restart pages."),
    LintRule("unknown-metric", "A selector names a metric the catalog does not know (a typo or an undeclared source)."),
    LintRule("severity-value",
             "The severity label is not one of critical, warning, info (none: the vector(1) heartbeat alone)."),
    LintRule("duplicate-rule", "Two recording rules write the same series, or two alerts are identical.", "warning"),
    LintRule("threshold-coherence",
             "A critical error-rate alert fires above the level where the errors SLO already pages.", "info"),
    LintRule("watchdog-unwired",
             "The always-firing Watchdog has no receiver: nothing notices when alerting itself dies.", "info"),
    LintRule("cause-after-symptom",
             "A down alert holds as long as a symptom it silences: the symptom can page first.", "warning"),
    LintRule("latency-threshold-off-bucket",
             "A p95 threshold between two histogram buckets: the alert compares at the next bucket up.", "warning"),
), scopes=("file", "name"))  # name: the alert or recorded series; for a spec check, the service or datastore

COMPARISON_OPERATORS = frozenset({"==", "!=", ">", "<", ">=", "<="})
SEVERITY_VALUES = ("critical", "warning", "info")
# The always-firing heartbeat (Watchdog) alone carries this severity: it is no problem to rank.
HEARTBEAT_SEVERITY = "none"
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
# rate() needs at least two samples in its window and should survive one failed scrape.
MIN_RANGE_SCRAPES = 4

# Go-template spellings of "label X of the alert's series".
_TEMPLATE_LABEL_RES = (
    re.compile(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)"),
    re.compile(r"\.Labels\.([A-Za-z_][A-Za-z0-9_]*)"),
    re.compile(r"index\s+(?:\$labels|\.Labels)\s+\"([A-Za-z_][A-Za-z0-9_]*)\""),
)


@dataclass(frozen=True)
class LintedRule:
    """One rule of one group, with its parsed expression (None when it does not parse)."""

    file: str
    group: str
    index: int
    rule: Mapping[str, Any]
    expr: promql.Expr | None
    parse_error: str | None
    catalog: MetricCatalog
    scrape_interval_seconds: float
    nodes: tuple[promql.Expr, ...] = field(default=())

    @property
    def is_alert(self) -> bool:
        return "alert" in self.rule

    @property
    def name(self) -> str:
        name = self.rule.get("alert", self.rule.get("record"))
        return str(name) if name is not None else f"rules[{self.index}]"

    @property
    def location(self) -> str:
        return f"{self.group}/{self.name}"

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.rule.get(key)
        return value if isinstance(value, Mapping) else {}

    def calls(self, names: frozenset[str]) -> list[promql.Call]:
        return calls_of(self.nodes, names)


# --------------------------------------------------------------------------- lint rules
# Each takes one rule and yields messages; the runner adds the id, severity and location.


def is_heartbeat(rule: LintedRule) -> bool:
    """``vector(<number>)``: an alert that fires always, on purpose (a dead-man's switch)."""
    expr = rule.expr
    return (isinstance(expr, promql.Call) and expr.func.name == "vector" and len(expr.args) == 1
            and isinstance(expr.args[0], promql.NumberLiteral))


def alert_no_comparison(rule: LintedRule) -> Iterator[str]:
    """An alert fires for every series its expression returns: without a filter it always fires."""
    if not rule.is_alert or rule.expr is None or rule.calls(ABSENT_FUNCTIONS) or is_heartbeat(rule):
        return
    # A `bool` comparison returns 0 or 1 for every series instead of filtering: not a condition.
    if not any(_is_filtering_comparison(node) for node in rule.nodes):
        yield "the expression has no comparison (==, !=, >, <, >=, <=), so the alert fires for every series it returns"


def _is_filtering_comparison(node: promql.Expr) -> bool:
    if not isinstance(node, promql.BinaryExpr) or str(node.op) not in COMPARISON_OPERATORS:
        return False
    return node.modifier is None or not node.modifier.return_bool


def rate_on_gauge(rule: LintedRule) -> Iterator[str]:
    for call in rule.calls(RATE_FUNCTIONS):
        selector = range_selector(call.args[0]) if call.args else None
        for name in metric_names(selector) if selector is not None else ():
            if not rule.catalog.is_counter(name):
                yield f"{call.func.name}() over {name}, which is not a counter: {_kind_of(rule.catalog, name)}"


def _kind_of(catalog: MetricCatalog, name: str) -> str:
    entry = catalog.lookup(name)
    if entry is None:
        return "unknown to the catalog and not named like one (_total, _count, _sum, _bucket)"
    if entry.type == "recording":
        return f"a recording rule ({entry.source}); rate the raw counter instead"
    return f"a {entry.type} ({entry.source}); use delta() or deriv() for gauges"


def rate_range_too_short(rule: LintedRule) -> Iterator[str]:
    minimum = MIN_RANGE_SCRAPES * rule.scrape_interval_seconds
    for call in rule.calls(RATE_FUNCTIONS):
        window = range_seconds(call.args[0]) if call.args else None
        if window is not None and window < minimum:
            yield (
                f"{call.func.name}() over {_duration(window)} is shorter than {MIN_RANGE_SCRAPES} scrape intervals "
                f"({MIN_RANGE_SCRAPES} x {_duration(rule.scrape_interval_seconds)} = {_duration(minimum)}): "
                "too few samples to survive a missed scrape"
            )


def _duration(seconds: float) -> str:
    return str(Duration.of_seconds(seconds))


def missing_label(rule: LintedRule) -> Iterator[str]:
    if rule.is_alert and "severity" not in rule.mapping("labels"):
        yield "no severity label; Alertmanager routes on it"


def missing_annotation(rule: LintedRule) -> Iterator[str]:
    if not rule.is_alert:
        return
    annotations = rule.mapping("annotations")
    missing = [key for key in REQUIRED_ANNOTATIONS if not str(annotations.get(key) or "").strip()]
    if missing:
        yield f"missing annotation(s): {', '.join(missing)}"


def template_label_aggregated_away(rule: LintedRule) -> Iterator[str]:
    if not rule.is_alert or rule.expr is None:
        return
    result = output_labels(rule.expr)
    for section in ("labels", "annotations"):
        for key, text in rule.mapping(section).items():
            for label in _template_labels(str(text)):
                if not result.may_have(label):
                    yield (
                        f"{section}.{key} uses $labels.{label}, but the expression's result cannot carry "
                        f"'{label}' ({result.describe()}); it renders empty"
                    )


def _template_labels(text: str) -> list[str]:
    found = [match for pattern in _TEMPLATE_LABEL_RES for match in pattern.findall(text)]
    return list(dict.fromkeys(found))


def absent_without_for(rule: LintedRule) -> Iterator[str]:
    if not rule.is_alert or not rule.calls(ABSENT_FUNCTIONS):
        return
    if _for_seconds(rule.rule.get("for")) == 0:
        yield "absent() alert without for:; a single missed scrape or a Prometheus restart pages"


def _for_seconds(value: Any) -> float | None:
    """Seconds of a rule's for:; 0 when absent, None when unreadable (promtool reports that)."""
    if value is None or str(value) == "0":  # Prometheus reads a bare 0 as a duration
        return 0
    try:
        return Duration.parse(str(value)).seconds
    except ValueError:
        return None


def unknown_metric(rule: LintedRule) -> Iterator[str]:
    selectors = [node for node in rule.nodes if isinstance(node, promql.VectorSelector)]
    names = dict.fromkeys(name for selector in selectors for name in metric_names(selector))
    for name in (name for name in names if name not in rule.catalog):
        yield not_in_catalog(name)


def severity_value(rule: LintedRule) -> Iterator[str]:
    labels = rule.mapping("labels")
    if not rule.is_alert or "severity" not in labels or labels["severity"] in SEVERITY_VALUES:
        return
    if labels["severity"] == HEARTBEAT_SEVERITY and is_heartbeat(rule):
        return
    yield (f"severity {labels['severity']!r} is not one of {', '.join(SEVERITY_VALUES)} "
           f"({HEARTBEAT_SEVERITY!r} is for an always-firing vector(1) heartbeat alone)")


RuleCheck = Callable[[LintedRule], Iterable[str]]

RULE_CHECKS: dict[str, RuleCheck] = {
    "alert-no-comparison": alert_no_comparison,
    "rate-on-gauge": rate_on_gauge,
    "rate-range-too-short": rate_range_too_short,
    "missing-label": missing_label,
    "missing-annotation": missing_annotation,
    "template-label-aggregated-away": template_label_aggregated_away,
    "absent-without-for": absent_without_for,
    "unknown-metric": unknown_metric,
    "severity-value": severity_value,
}


def duplicate_rules(rules: Iterable[LintedRule]) -> Iterator[Finding]:
    """Same record name and labels write the same series; identical alerts notify twice."""
    first_seen: dict[tuple[Any, ...], LintedRule] = {}
    for rule in rules:
        key = _duplicate_key(rule)
        if key is None:
            continue
        if key in first_seen:
            first = first_seen[key]
            what = "alert (name, expression and labels)" if rule.is_alert else "recorded series (name and labels)"
            yield _finding("duplicate-rule", rule, f"same {what} as {first.file}:{first.location} (rules[{first.index}])")
        else:
            first_seen[key] = rule


def _duplicate_key(rule: LintedRule) -> tuple[Any, ...] | None:
    labels = frozenset((str(k), str(v)) for k, v in rule.mapping("labels").items())
    if rule.is_alert:
        # Compare the parsed form so spacing differences do not hide a copy.
        expr = str(rule.expr) if rule.expr is not None else str(rule.rule.get("expr", "")).strip()
        return ("alert", rule.name, expr, labels)
    if "record" in rule.rule:
        return ("record", rule.name, labels)
    return None


# --------------------------------------------------------------------------- runner


def lint_rule_files(
    files: Mapping[str, Mapping[str, Any]], catalog: MetricCatalog, scrape_interval_seconds: float
) -> list[Finding]:
    """Every lint finding for ``files`` (relative path -> parsed rule file), in file and rule order."""
    # Series recorded in these files are known to the rules that read them.
    catalog = catalog.with_entries(recording_rule_entries(files))
    rules = list(_linted_rules(files, catalog, scrape_interval_seconds))
    findings: list[Finding] = []
    for rule in rules:
        if rule.parse_error is not None:
            findings.append(_finding("expr-parse", rule, rule.parse_error))
        for rule_id, check in RULE_CHECKS.items():
            findings.extend(_finding(rule_id, rule, message) for message in check(rule))
    findings.extend(duplicate_rules(rules))
    return findings


def _linted_rules(
    files: Mapping[str, Mapping[str, Any]], catalog: MetricCatalog, scrape_interval_seconds: float
) -> Iterator[LintedRule]:
    for file, content in files.items():
        groups = content.get("groups") if isinstance(content, Mapping) else None
        for group in groups if isinstance(groups, list) else []:
            if not isinstance(group, Mapping):
                continue
            rules = group.get("rules")
            for index, rule in enumerate(rules if isinstance(rules, list) else []):
                if isinstance(rule, Mapping):
                    expr, error = _parse(rule.get("expr"))
                    yield LintedRule(
                        file, str(group.get("name", "")), index, rule, expr, error,
                        catalog, scrape_interval_seconds, all_nodes(expr),
                    )


def _parse(text: Any) -> tuple[promql.Expr | None, str | None]:
    if not isinstance(text, str) or not text.strip():
        return None, "no expr"
    try:
        return promql.parse(text), None
    except ValueError as error:
        return None, f"does not parse: {error}"


def _finding(rule_id: str, rule: LintedRule, message: str) -> Finding:
    return LINT_RULES.finding(rule_id, rule.file, rule.location, message, file=rule.file, name=rule.name)


# --------------------------------------------------------------------------- spec coherence


def threshold_coherence(spec: Spec, spec_name: str = "stack.yaml") -> list[Finding]:
    """Info: a service's HighErrorRate threshold above the error ratio its errors SLO already pages at."""
    findings = []
    for index, service in enumerate(spec.services):
        critical = service.thresholds.error_rate.critical
        slo = next((s for s in service.slos if s.kind == "errors"), None)
        if critical is None or slo is None:
            continue
        # The fastest page among the pairs that can fire for this SLO (14.4x over 1h and 5m for 30d).
        pages = [window for window in alertable_windows(slo, burn_windows()) if window.severity == "critical"]
        if not pages:
            continue
        fastest = max(pages, key=lambda window: window.budget_consumed / window.long.milliseconds)
        burn_rate = fastest.burn_rate(slo.window)
        pages_at = Ratio(burn_rate * (1 - slo.objective.value))
        if critical.value > pages_at.value:
            findings.append(
                LINT_RULES.finding(
                    "threshold-coherence", spec_name,
                    f"services[{index}].thresholds.error_rate.critical",
                    f"{service.name}: HighErrorRate fires at {critical.percent} but the "
                    f"{slo.name} SLO ({slo.objective.percent}) already pages at {pages_at.percent} "
                    f"({burn_rate.normalize():f}x burn over {fastest.long} and {fastest.short}); "
                    "the owner decides whether both are wanted",
                    file=spec_name, name=service.name,
                )
            )
    return findings


def latency_bucket_rounding(spec: Spec, spec_name: str = "stack.yaml") -> list[Finding]:
    """Warning: a p95 threshold between two bucket bounds of the service's histogram; the alert
    compares at the next bound up (only a p95 above a bound is certain)."""
    findings = []
    for index, service in enumerate(spec.services):
        metrics = service.request_metrics
        for level in ("critical", "warning"):
            threshold = getattr(service.thresholds.latency_p95, level)
            edge = latency_edge(service, level)
            if threshold is None or edge is None or edge == threshold:
                continue
            below = max((b for b in metrics.buckets if b < threshold.seconds), default=0.0)
            findings.append(LINT_RULES.finding(
                "latency-threshold-off-bucket", spec_name,
                f"services[{index}].thresholds.latency_p95.{level}",
                f"{service.name}: p95 {threshold} lies between the bucket bounds "
                f"{below:g}s and {edge.seconds:g}s of {metrics.histogram}, where histogram_quantile interpolates "
                f"(latencies under {threshold} can read above it); the alert compares at {edge}, the next bound up. "
                f"Add {threshold.seconds:g} to request_metrics.buckets (and to the app's histogram) to alert at "
                f"{threshold}", file=spec_name, name=service.name))
    return findings


def watchdog_wiring(spec: Spec, spec_name: str = "stack.yaml") -> list[Finding]:
    """Info: the Watchdog heartbeat is sent nowhere (notifications.watchdog.receiver is null)."""
    if spec.notifications.watchdog.receiver is not None:
        return []
    return [LINT_RULES.finding("watchdog-unwired", spec_name, "notifications.watchdog.receiver",
                    "the Watchdog alert fires but goes to no receiver: wire it to an external "
                    "dead-man's switch (a webhook receiver of its own), or a dead Prometheus or Alertmanager "
                    "pages nobody", file=spec_name, name="Watchdog")]


def cause_timing(spec: Spec, rules: Sequence[AlertRule], spec_name: str = "stack.yaml") -> list[Finding]:
    """Warning: a datastore's or service's ``down_for`` not below the shortest hold of a symptom it
    silences. Alertmanager notifies an alert whose hold has passed at once, so the symptom would
    reach it before its cause and page."""
    # (subject label, value) -> the symptom with the shortest hold about it: linear in the rules.
    quickest: dict[tuple[str, str], AlertRule] = {}
    for rule in (r for r in rules if r.symptom):
        for instance in rule.instances:
            key = (rule.subject, instance.labels.get(rule.subject, ""))
            if key not in quickest or rule.for_ < quickest[key].for_:
                quickest[key] = rule
    reached = reachable(spec)
    causes = [(f"datastores[{i}]", d.name, DATASTORE_DOWN[d.kind], d.thresholds.down_for,
               dependents(spec, d.name, reached), False) for i, d in enumerate(spec.datastores)]
    causes += [(f"services[{i}]", s.name, SERVICE_DOWN, s.thresholds.down_for, dependents(spec, s.name, reached), True)
               for i, s in enumerate(spec.services)]
    findings = []
    for where, name, alert, down_for, affected, own in causes:
        subjects = [("service", s) for s in {*affected.services, *([name] if own else [])}]
        silenced = [quickest[key] for key in [*subjects, *(("queue", q) for q in affected.queues)] if key in quickest]
        shortest = min(silenced, key=lambda r: r.for_, default=None)
        if shortest is not None and down_for >= shortest.for_:
            findings.append(LINT_RULES.finding(
                "cause-after-symptom", spec_name, f"{where}.thresholds.down_for",
                f"{name}: {alert} holds {down_for}, not less than {shortest.name} "
                f"({shortest.for_}) that it silences: the symptom reaches Alertmanager first and pages; "
                f"set down_for below {shortest.for_}", file=spec_name, name=name))
    return findings
