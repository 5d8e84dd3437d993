"""Dashboard lint: the rules of Grafana's dashboard-linter that apply to obstack, the metric contract, and
checks of what Grafana will show (plugin version, a healthy 0 in green, table cells, units per axis,
counts that follow the zoom, shares of a metric that is 0 by default).

Works on dashboard JSON (the current model), independent of how it was made. Each rule is one
function with a stable id and a one-line doc in ``LINT_RULES`` (a ``foundation.lint.LintRules``);
findings start with ``[rule-id]`` and carry the dashboard's uid and the panel's title, which
exclusions match on.
PromQL is parsed by promql-parser after Grafana's variables are replaced by placeholders
(``$__rate_interval`` by a distinctive duration, so the window rules can recognise it).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import promql_parser as promql

from obstack.alerts.promql_labels import RATE_FUNCTIONS, all_nodes, calls_of, metric_names, range_seconds
from obstack.dashboards.datasources import DATASOURCE_VARIABLE, PROMETHEUS
from obstack.dashboards.normalise import GRAFANA_VERSION
from obstack.dashboards.promql_units import expr_unit
from obstack.foundation.findings import Finding
from obstack.foundation.lint import LintRule, LintRules
from obstack.foundation.series_catalog import MetricCatalog, not_in_catalog

VALIDATOR = "dashboard lint"

LINT_RULES = LintRules(VALIDATOR, (
    LintRule("template-datasource",
             "The dashboard has a Prometheus datasource variable named `datasource`, labelled 'Data source'."),
    LintRule("template-job",
             "Metrics carrying `job` are filtered by a multi-select `job` variable (allValue .+) on $datasource."),
    LintRule("template-instance",
             "Metrics carrying `instance` are filtered by a multi-select `instance` variable on $datasource."),
    LintRule("panel-datasource",
             "Metrics panels use the datasource variable; logs and traces panels a provisioned datasource."),
    LintRule("panel-title-description", "Every panel has a title and a description (what question it answers)."),
    LintRule("panel-units", "Every value panel (stat, timeseries, table, gauge, bar gauge) has a valid unit."),
    LintRule("panel-no-targets", "Every panel has at least one query."),
    LintRule("panel-plugin-version",
             "Every panel has a pluginVersion, and none newer than the Grafana the stack runs."),
    LintRule("panel-threshold-zero",
             "Where the base threshold is green (lower is better), every other step lies above 0."),
    LintRule("panel-table-cells",
             "Tables carry no pre-schema-38 custom.displayMode, and cells show thresholds they set."),
    LintRule("panel-mixed-units", "The queries drawn in one unit (the panel's, or an override's) are all in one unit."),
    LintRule("panel-zero-divisor", "A panel does not rest only on dividing by a metric that is 0 by default."),
    LintRule("target-promql", "Every PromQL query parses once Grafana's variables are substituted."),
    LintRule("target-rate-interval", "Every rate() and irate() range is $__rate_interval."),
    LintRule("target-count-window",
             "No count (increase(), delta(), changes(), *_over_time()) runs over a window that follows the zoom."),
    LintRule("target-counter-agg", "Every counter is read through rate(), irate() or increase() over a range."),
    LintRule("metric-contract", "Every metric a query selects is produced by a declared source (the metric catalog)."),
), scopes=("dashboard", "panel"))

PER_SECOND_FUNCTIONS = frozenset({"rate", "irate"})
# Functions whose result grows with the window: over a window that follows the zoom the number changes
# as the user zooms. (Averages, minima and maxima over time do not.)
COUNT_FUNCTIONS = frozenset({"increase", "delta", "changes", "resets", "count_over_time", "sum_over_time"})
VALUE_PANELS = frozenset({"stat", "singlestat", "graph", "timeseries", "table", "gauge", "bargauge"})
PANELS_WITHOUT_QUERIES = frozenset({"row", "text", "news", "dashlist", "alertlist"})
# Grafana unit ids (valueFormats categories) the generated and hand-written dashboards use.
VALID_UNITS = frozenset({
    "none", "string", "short", "percent", "percentunit", "humidity", "dB", "hex0x", "hex", "sci", "locale",
    "bytes", "decbytes", "bits", "decbits", "kbytes", "deckbytes", "mbytes", "decmbytes", "gbytes", "decgbytes",
    "pps", "binBps", "Bps", "binbps", "bps", "KiBs", "KBs", "MiBs", "MBs", "GiBs", "GBs",
    "dateTimeAsIso", "dateTimeAsSystem", "dateTimeFromNow", "hertz", "ns", "µs", "ms", "s", "m", "h", "d",
    "dtdurationms", "dtdurations", "dthms", "dtdhms", "timeticks", "clockms", "clocks",
    "cps", "ops", "reqps", "rps", "wps", "iops", "cpm", "opm", "rpm", "wpm", "bool", "bool_yes_no", "bool_on_off",
})

# Placeholders for Grafana's time variables: distinctive, so a range can be traced back to its variable.
TIME_PLACEHOLDERS: dict[str, str] = {
    "__rate_interval": "1234567s", "__interval": "1234568s", "__range": "1234569s", "__auto": "1234570s",
    "__interval_ms": "1234568000", "__range_ms": "1234569000", "__range_s": "1234569",
}
RATE_INTERVAL_SECONDS = 1234567.0
# $__rate_interval, $__interval and $__auto follow the zoom; $__range is the selected range itself.
ZOOM_WINDOWS = {1234567.0: "$__rate_interval", 1234568.0: "$__interval", 1234570.0: "$__auto"}
# String literals stay as written (a variable inside quotes is a label value); variables outside are replaced.
_TOKEN_RE = re.compile(
    r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'
    r"|\$\{(?P<braced>[\w.]+)(?::[^}]*)?\}|\$(?P<plain>\w+)|\[\[(?P<old>[\w.]+)(?::[^\]]*)?\]\]"
)
_LABEL_VALUES_RE = re.compile(r"^\s*label_values\(\s*(?P<selector>.+),\s*\w+\s*\)\s*$", re.DOTALL)


def substitute_variables(expr: str) -> str:
    """``expr`` with Grafana's variables replaced by placeholders PromQL accepts."""
    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain") or match.group("old")
        if name is None:
            return match.group(0)
        return TIME_PLACEHOLDERS.get(name, f"grafana_variable_{name.replace('.', '_')}")

    return _TOKEN_RE.sub(replace, expr)


@dataclass(frozen=True)
class Query:
    """One PromQL query of a panel or variable, parsed (``expr`` None when it does not parse)."""

    text: str
    expr: promql.Expr | None
    error: str | None
    nodes: tuple[promql.Expr, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Query:
        try:
            expr = promql.parse(substitute_variables(text))
        except ValueError as error:
            return cls(text, None, str(error))
        return cls(text, expr, None, all_nodes(expr))

    def selectors(self) -> list[promql.VectorSelector]:
        return [node for node in self.nodes if isinstance(node, promql.VectorSelector)]

    def calls(self, names: frozenset[str]) -> list[promql.Call]:
        return calls_of(self.nodes, names)


@dataclass(frozen=True)
class LintedDashboard:
    """A dashboard with its panels (rows' nested panels included) and every query parsed."""

    file: str
    data: Mapping[str, Any]
    catalog: MetricCatalog
    datasource_uids: Mapping[str, str]  # provisioned uid -> plugin type
    panels: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def variables(self) -> list[Mapping[str, Any]]:
        templating = self.data.get("templating")
        listed = templating.get("list") if isinstance(templating, Mapping) else None
        return [v for v in listed or [] if isinstance(v, Mapping)]

    def variable(self, name: str) -> Mapping[str, Any] | None:
        return next((v for v in self.variables if v.get("name") == name), None)

    def prometheus_queries(self, panel: Mapping[str, Any]) -> list[Query]:
        return [Query.parse(t["expr"]) for t in _targets(panel) if isinstance(t.get("expr"), str)]

    def all_queries(self) -> Iterator[tuple[Mapping[str, Any], Query]]:
        for panel in self.panels:
            for query in self.prometheus_queries(panel):
                yield panel, query


def _targets(panel: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    targets = panel.get("targets")
    return [t for t in targets if isinstance(t, Mapping)] if isinstance(targets, list) else []


def _flatten(panels: Any) -> Iterator[Mapping[str, Any]]:
    for panel in panels if isinstance(panels, list) else []:
        if isinstance(panel, Mapping):
            yield panel
            yield from _flatten(panel.get("panels"))


def panel_location(panel: Mapping[str, Any]) -> str:
    return f"panel {panel.get('id', '?')} {str(panel.get('title') or '(untitled)')!r}"


Message = tuple[str, str]  # (location, message)


# --------------------------------------------------------------------------- dashboard rules


def _uses_prometheus(board: LintedDashboard) -> bool:
    return any(board.prometheus_queries(panel) for panel in board.panels)


def template_datasource(board: LintedDashboard) -> Iterator[Message]:
    if not _uses_prometheus(board):
        return
    variable = board.variable(DATASOURCE_VARIABLE)
    if variable is None or variable.get("type") != "datasource":
        yield "templating", "no datasource variable named 'datasource' (type datasource)"
        return
    if variable.get("query") != PROMETHEUS.type:
        yield "templating", f"the datasource variable lists {variable.get('query')!r} datasources, not 'prometheus'"
    if variable.get("label") != "Data source":
        yield "templating", f"the datasource variable is labelled {variable.get('label')!r}, not 'Data source'"


def _metrics_carry(board: LintedDashboard, label: str) -> list[str]:
    names = {name for _, query in board.all_queries() for s in query.selectors() for name in metric_names(s)}
    return sorted(name for name in names
                  if (entry := board.catalog.lookup(name)) is not None and label in entry.all_labels)


def _label_variable_rule(label: str) -> Callable[[LintedDashboard], Iterator[Message]]:
    def rule(board: LintedDashboard) -> Iterator[Message]:
        carriers = _metrics_carry(board, label)
        if not carriers:
            return
        variable = board.variable(label)
        if variable is None:
            yield "templating", f"no '{label}' variable, though {', '.join(carriers[:3])} carry the label"
            return
        source = variable.get("datasource")
        uid = source.get("uid") if isinstance(source, Mapping) else source
        problems = []
        if uid not in (f"${DATASOURCE_VARIABLE}", f"${{{DATASOURCE_VARIABLE}}}"):
            problems.append(f"queries {uid!r}, not $datasource")
        if variable.get("type") != "query":
            problems.append(f"is of type {variable.get('type')!r}, not a query")
        if variable.get("label") != label:
            problems.append(f"is labelled {variable.get('label')!r}, not {label!r}")
        if not variable.get("multi"):
            problems.append("is not multi-select")
        if variable.get("allValue") != ".+":
            problems.append(f"has allValue {variable.get('allValue')!r}, not '.+'")
        for problem in problems:
            yield "templating", f"the '{label}' variable {problem}"

    rule.__name__ = f"template_{label}"
    rule.__doc__ = f"A dashboard whose metrics carry `{label}` has a proper `{label}` variable."
    return rule


template_job = _label_variable_rule("job")
template_instance = _label_variable_rule("instance")


# --------------------------------------------------------------------------- panel rules


def panel_datasource(board: LintedDashboard, panel: Mapping[str, Any]) -> Iterator[str]:
    if panel.get("type") == "row":
        return
    source = panel.get("datasource")
    uid, kind = (source.get("uid"), source.get("type")) if isinstance(source, Mapping) else (source, None)
    templated = uid in (f"${DATASOURCE_VARIABLE}", f"${{{DATASOURCE_VARIABLE}}}")
    if board.prometheus_queries(panel) and not templated:
        yield f"queries Prometheus through {uid!r}, not the datasource variable ${{{DATASOURCE_VARIABLE}}}"
    if templated or board.prometheus_queries(panel):
        return
    # Logs and traces panels cannot use the Prometheus variable: they must name a provisioned datasource.
    if uid not in board.datasource_uids:
        yield f"uses datasource {uid!r}, which is not provisioned ({', '.join(sorted(board.datasource_uids))})"
    elif kind != board.datasource_uids[uid]:
        yield f"names datasource {uid!r} as type {kind!r}; it is provisioned as {board.datasource_uids[uid]!r}"


def panel_title_description(board: LintedDashboard, panel: Mapping[str, Any]) -> Iterator[str]:
    if not str(panel.get("title") or "").strip():
        yield "has no title"
    if panel.get("type") != "row" and not str(panel.get("description") or "").strip():
        yield "has no description (say which question the panel answers)"


def panel_units(board: LintedDashboard, panel: Mapping[str, Any]) -> Iterator[str]:
    if panel.get("type") not in VALUE_PANELS:
        return
    config = panel.get("fieldConfig")
    defaults = config.get("defaults") if isinstance(config, Mapping) else None
    unit = defaults.get("unit") if isinstance(defaults, Mapping) else None
    if unit not in VALID_UNITS:
        yield f"has no valid unit ({unit!r})" if unit else "has no unit"


def panel_no_targets(board: LintedDashboard, panel: Mapping[str, Any]) -> Iterator[str]:
    if panel.get("type") not in PANELS_WITHOUT_QUERIES and not _targets(panel):
        yield "has no queries"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.split("-")[0])[:3])


def panel_plugin_version(board: LintedDashboard, panel: Mapping[str, Any]) -> Iterator[str]:
    if panel.get("type") == "row":
        return
    version = panel.get("pluginVersion")
    if not isinstance(version, str) or not _version(version):
        yield (f"has no pluginVersion: Grafana then runs every panel migration since 6.x on it (a percentunit stat "
               f"gets min 0 / max 1); set the Grafana version it is made for ({GRAFANA_VERSION})")
    elif _version(version) > _version(GRAFANA_VERSION):
        yield f"has pluginVersion {version}, newer than the Grafana the stack runs ({GRAFANA_VERSION})"


def _field_config(panel: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
    """A panel's field defaults and overrides (empty when absent or malformed)."""
    config = panel.get("fieldConfig")
    config = config if isinstance(config, Mapping) else {}
    defaults = config.get("defaults")
    overrides = config.get("overrides")
    return (defaults if isinstance(defaults, Mapping) else {},
            [o for o in overrides if isinstance(o, Mapping)] if isinstance(overrides, list) else [])


def _override_values(overrides: list[Mapping[str, Any]], property_id: str) -> Iterator[tuple[int, Any]]:
    """(override index, value) of every override property ``property_id``."""
    for index, override in enumerate(overrides):
        properties = override.get("properties")
        for prop in properties if isinstance(properties, list) else []:
            if isinstance(prop, Mapping) and prop.get("id") == property_id:
                yield index, prop.get("value")


def panel_threshold_zero(board: LintedDashboard, panel: Mapping[str, Any]) -> Iterator[str]:
    defaults, overrides = _field_config(panel)
    configs = [("thresholds", defaults.get("thresholds"))]
    configs += [(f"override {i} thresholds", value) for i, value in _override_values(overrides, "thresholds")]
    for where, thresholds in configs:
        if not isinstance(thresholds, Mapping) or thresholds.get("mode", "absolute") != "absolute":
            continue  # percentage steps are relative to the field's min and max
        steps = [step for step in thresholds.get("steps") or [] if isinstance(step, Mapping)]
        base = next((step for step in steps if step.get("value") is None), None)
        if base is None or "green" not in str(base.get("color", "")).lower():
            continue  # not "lower is better"
        for step in steps:
            value = step.get("value")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
                yield (f"{where}: the {step.get('color')} step at {value} above the green base colours a healthy 0 "
                       f"{step.get('color')} (Grafana colours a value with the last step at or below it); put the "
                       f"step at the first unhealthy value, e.g. 1 for a count")


THRESHOLD_CELL_TYPES = frozenset({"color-background", "color-text", "gauge"})


def panel_table_cells(board: LintedDashboard, panel: Mapping[str, Any]) -> Iterator[str]:
    if panel.get("type") != "table":
        return
    defaults, overrides = _field_config(panel)
    custom = defaults.get("custom") if isinstance(defaults.get("custom"), Mapping) else {}
    legacy = ["custom"] if "displayMode" in custom else []
    legacy += [f"override {i}" for i, _ in _override_values(overrides, "custom.displayMode")]
    for where in legacy:
        yield (f"{where} sets custom.displayMode, the cell style before schemaVersion 38: Grafana converts it only "
               f"when migrating older dashboards, so it is ignored; set custom.cellOptions")
    thresholds = defaults.get("thresholds") if isinstance(defaults.get("thresholds"), Mapping) else {}
    if len([step for step in thresholds.get("steps") or [] if isinstance(step, Mapping)]) < 2:
        return  # a base colour alone colours nothing worth showing
    cells = [custom.get("cellOptions"), *(value for _, value in _override_values(overrides, "custom.cellOptions"))]
    shown = [c.get("type") for c in cells if isinstance(c, Mapping) and c.get("type") in THRESHOLD_CELL_TYPES]
    if not shown:
        yield ("has thresholds but no cell shows them: colour the numeric cells with custom.cellOptions "
               "color-background or color-text (an override with Grafana's numeric matcher keeps label cells plain)")
    color = defaults.get("color")
    if shown and isinstance(color, Mapping) and color.get("mode") not in (None, "thresholds"):
        yield f"colours its cells by {color.get('mode')!r}, not by its thresholds"


def panel_mixed_units(board: LintedDashboard, panel: Mapping[str, Any]) -> Iterator[str]:
    if panel.get("type") not in VALUE_PANELS:
        return
    defaults, overrides = _field_config(panel)
    own_unit = {}  # refId -> the unit an override gives its series
    for override in overrides:
        matcher = override.get("matcher")
        if isinstance(matcher, Mapping) and matcher.get("id") == "byFrameRefID":
            for _, unit in _override_values([override], "unit"):
                own_unit[matcher.get("options")] = unit
    drawn: dict[Any, dict[str, list[str]]] = {}  # the unit shown -> unit of the values -> refIds
    for target in _targets(panel):
        if target.get("hide") or not isinstance(target.get("expr"), str):
            continue
        query = Query.parse(target["expr"])
        unit = expr_unit(query.expr) if query.expr is not None else None
        if unit is not None:
            shown = own_unit.get(target.get("refId"), defaults.get("unit"))
            drawn.setdefault(shown, {}).setdefault(unit, []).append(str(target.get("refId", "?")))
    for shown, units in drawn.items():
        if len(units) > 1:
            listed = "; ".join(f"{', '.join(refs)} in {unit}" for unit, refs in units.items())
            yield (f"draws values of unlike units on one axis (unit {shown!r}): {listed}; split the panel, or give "
                   f"each its own unit with an override (matcher byFrameRefID, property unit)")


def _zero_by_default(node: promql.Expr, catalog: MetricCatalog) -> str | None:
    """Why ``node`` is 0 (or has no series) in a default configuration, if it is: it reads a metric the
    catalog says is 0 by default, and nothing (``or``, a sum with something else) rescues it."""
    if isinstance(node, promql.VectorSelector):
        entries = [catalog.lookup(name) for name in metric_names(node)]
        return next((f"{e.name}: {e.zero_by_default}" for e in entries if e is not None and e.zero_by_default), None)
    if isinstance(node, promql.MatrixSelector):
        return _zero_by_default(node.vector_selector, catalog)
    if isinstance(node, (promql.ParenExpr, promql.UnaryExpr, promql.SubqueryExpr, promql.AggregateExpr)):
        return _zero_by_default(node.expr, catalog)
    if isinstance(node, promql.Call):
        inputs = [a for a in node.args if not isinstance(a, (promql.NumberLiteral, promql.StringLiteral))]
        return _zero_by_default(inputs[0], catalog) if inputs else None
    if isinstance(node, promql.BinaryExpr):
        left, right = _zero_by_default(node.lhs, catalog), _zero_by_default(node.rhs, catalog)
        op = str(node.op)
        if op in ("or", "+", "-"):
            return left if right else None
        return left or right if op == "*" else left
    return None


def panel_zero_divisor(board: LintedDashboard, panel: Mapping[str, Any]) -> Iterator[str]:
    reasons = []
    for target in _targets(panel):
        if target.get("hide") or not isinstance(target.get("expr"), str):
            continue
        query = Query.parse(target["expr"])
        divisors = [n.rhs for n in query.nodes if isinstance(n, promql.BinaryExpr) and str(n.op) == "/"]
        reasons.append(next(filter(None, (_zero_by_default(d, board.catalog) for d in divisors)), None))
    if reasons and all(reasons):
        yield (f"every query divides by a metric that is 0 by default ({reasons[0]}): out of the box the panel is "
               f"empty or infinite; show the value itself too, or fall back to another divisor: (m > 0) or other")


# --------------------------------------------------------------------------- query rules


def target_promql(board: LintedDashboard, query: Query) -> Iterator[str]:
    if query.error is not None:
        yield f"does not parse ({query.error}): {query.text}"


def _range_seconds(call: promql.Call) -> float | None:
    """The range (in seconds, placeholders included) of a range function's first argument."""
    return range_seconds(call.args[0] if call.args else None)


def target_rate_interval(board: LintedDashboard, query: Query) -> Iterator[str]:
    for call in query.calls(PER_SECOND_FUNCTIONS):
        if _range_seconds(call) != RATE_INTERVAL_SECONDS:
            yield f"{call.func.name}() range is not $__rate_interval: {query.text}"


def target_count_window(board: LintedDashboard, query: Query) -> Iterator[str]:
    for call in query.calls(COUNT_FUNCTIONS):
        seconds = _range_seconds(call)
        window = ZOOM_WINDOWS.get(seconds) if seconds is not None else None
        if window is not None:
            yield (f"{call.func.name}() counts over {window}, which follows the zoom, so the number changes as "
                   f"the user zooms: count over $__range (in the selected range), over a fixed window, or show "
                   f"rate() per second: {query.text}")


def target_counter_agg(board: LintedDashboard, query: Query) -> Iterator[str]:
    # Wrapper objects are rebuilt on every access, so compare selectors by text, counting occurrences.
    counters = Counter(str(s) for s in query.selectors()
                       if any(board.catalog.is_counter(name) for name in metric_names(s)))
    rated = Counter(str(call.args[0].vector_selector) for call in query.calls(RATE_FUNCTIONS)
                    if call.args and isinstance(call.args[0], promql.MatrixSelector))
    for text, count in counters.items():
        if count > rated[text]:
            yield f"counter {text} is not read through rate(), irate() or increase()"


def metric_contract(board: LintedDashboard, query: Query) -> Iterator[str]:
    names = dict.fromkeys(name for s in query.selectors() for name in metric_names(s))
    for name in names:
        if name not in board.catalog:
            yield not_in_catalog(name)


def variable_metric_contract(board: LintedDashboard) -> Iterator[Message]:
    """The metric-contract rule over variable queries (``label_values(<selector>, label)``)."""
    for variable in board.variables:
        match = _LABEL_VALUES_RE.match(str(variable.get("query") or "")) if variable.get("type") == "query" else None
        if match:
            for message in metric_contract(board, Query.parse(match.group("selector"))):
                yield f"variable {variable.get('name')!r}", message


DashboardCheck = Callable[[LintedDashboard], Iterable[Message]]
PanelCheck = Callable[[LintedDashboard, Mapping[str, Any]], Iterable[str]]
QueryCheck = Callable[[LintedDashboard, Query], Iterable[str]]

DASHBOARD_CHECKS: dict[str, DashboardCheck] = {
    "template-datasource": template_datasource,
    "template-job": template_job,
    "template-instance": template_instance,
    "metric-contract": variable_metric_contract,
}
PANEL_CHECKS: dict[str, PanelCheck] = {
    "panel-datasource": panel_datasource,
    "panel-title-description": panel_title_description,
    "panel-units": panel_units,
    "panel-no-targets": panel_no_targets,
    "panel-plugin-version": panel_plugin_version,
    "panel-threshold-zero": panel_threshold_zero,
    "panel-table-cells": panel_table_cells,
    "panel-mixed-units": panel_mixed_units,
    "panel-zero-divisor": panel_zero_divisor,
}
QUERY_CHECKS: dict[str, QueryCheck] = {
    "target-promql": target_promql,
    "target-rate-interval": target_rate_interval,
    "target-count-window": target_count_window,
    "target-counter-agg": target_counter_agg,
    "metric-contract": metric_contract,
}


# --------------------------------------------------------------------------- runner


def lint_dashboard(file: str, data: Mapping[str, Any], catalog: MetricCatalog,
                   datasource_uids: Mapping[str, str]) -> list[Finding]:
    """Every rule over one dashboard, in rule order: dashboard rules, then panel by panel."""
    board = LintedDashboard(file, data, catalog, datasource_uids, tuple(_flatten(data.get("panels"))))
    uid = str(data.get("uid", ""))
    found = [LINT_RULES.finding(rule, file, location, message, dashboard=uid)
             for rule, check in DASHBOARD_CHECKS.items() for location, message in check(board)]
    for panel in board.panels:
        where, title = panel_location(panel), str(panel.get("title") or "")
        found += [LINT_RULES.finding(rule, file, where, message, dashboard=uid, panel=title)
                  for rule, check in PANEL_CHECKS.items() for message in check(board, panel)]
        for query in board.prometheus_queries(panel):
            found += [LINT_RULES.finding(rule, file, where, message, dashboard=uid, panel=title)
                      for rule, check in QUERY_CHECKS.items() for message in check(board, query)]
    return found
