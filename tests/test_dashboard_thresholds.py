"""The dashboards and the alerts agree: every alert threshold is a panel threshold on its subject's
dashboard, and every metric a dashboard queries is one the catalog declares."""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

import promql_parser as promql

from obstack.alerts import scenarios
from obstack.alerts.promql_labels import metric_names
from obstack.alerts.rule_files import rule_files
from obstack.alerts.rule_model import AlertInstance, AlertRule
from obstack.alerts.stack_rules import WATCHDOG
from obstack.dashboards.dashboard_lint import _LABEL_VALUES_RE, lint_dashboard, substitute_variables
from obstack.dashboards.generate import build_dashboards
from obstack.dashboards.panels import alert_steps
from obstack.foundation.series_catalog import MetricCatalog
from obstack.stack.spec import dashboard_identities as ids
from obstack.stack.spec.model import Spec
from obstack.stack.spec.thresholds import DeadLetterLevels, DiskFreeLevels, ErrorRateLevels
from obstack.stack.spec.values import Ratio
from tests.dashboards.support import (
    SPECS,
    catalog_of,
    datasource_uids,
    panels_of,
    spec_params,
)


def _metrics(expr: str) -> set[str]:
    nodes: list[Any] = []
    promql.walk(promql.parse(substitute_variables(expr)), pre_visit=nodes.append)
    return {name for n in nodes if isinstance(n, promql.VectorSelector) for name in metric_names(n)}


def _subject(spec: Spec, instance: AlertInstance) -> tuple[str, str | None]:
    """(dashboard uid, the label value naming the subject in the panel's queries)."""
    labels = instance.labels
    if "queue" in labels:
        return ids.queues_dashboard(spec).uid, labels["queue"]
    if "datastore" in labels:
        return ids.subject_dashboard(spec, "datastore", labels["datastore"]).uid, labels["datastore"]
    if "service" in labels:
        return ids.service_dashboard(spec, labels["service"]).uid, labels["service"]
    if labels.get("job") == spec.host.job:
        return ids.host_dashboard(spec).uid, None
    return ids.alerts_dashboard(spec).uid, None  # the monitoring stack's own alerts


def _expected(rule: AlertRule, instance: AlertInstance) -> float:
    # A 0/1 condition (down, failing; no value worth showing) is drawn as "red below 1" on its up-style panel.
    if rule.value_format == "none" and instance.threshold == scenarios.DOWN:
        return 1.0
    # A count that fires above 0 is drawn from 1, its first firing value: Grafana colours a value at or
    # above a step, so a step at 0 would colour the healthy 0 (dashboards.panels.above_zero).
    if rule.value_format == "number" and instance.threshold == 0:
        return 1.0
    return float(instance.threshold)


def _steps(panel: dict[str, Any]) -> list[float]:
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    return [step["value"] for step in steps if step["value"] is not None]


def _selectable(board: dict[str, Any]) -> set[str]:
    """The services a service dashboard's ``service`` variable offers (none on other dashboards)."""
    variable = next((v for v in board["templating"]["list"] if v["name"] == ids.SERVICE_VARIABLE), None)
    return {option["value"] for option in variable["options"]} if variable else set()


def _carries(panel: dict[str, Any], rule: AlertRule, subject: str | None, value: float,
             selectable: set[str]) -> bool:
    exprs = [t["expr"] for t in panel.get("targets", []) if "expr" in t]
    if not exprs or not _metrics("\n or \n".join(f"({e})" for e in exprs)) & _metrics(rule.expr):
        return False
    selected = subject in selectable and any('service="$service"' in e for e in exprs)
    if subject is not None and not selected and not any(f'"{subject}"' in e for e in exprs):
        return False
    return any(math.isclose(step, value, rel_tol=1e-9, abs_tol=1e-12) for step in _steps(panel))


@spec_params()
def test_every_alert_threshold_is_a_panel_threshold_on_its_subjects_dashboard(spec_name: str) -> None:
    spec = SPECS[spec_name]()
    boards = {board["uid"]: board for board in build_dashboards(spec)}
    checked, missing = 0, []
    for rule in (r for f in rule_files(spec) for r in f.alert_rules if r.name != WATCHDOG):  # no threshold
        for instance in rule.instances:
            uid, subject = _subject(spec, instance)
            value = _expected(rule, instance)
            if not any(_carries(p, rule, subject, value, _selectable(boards[uid])) for p in panels_of(boards[uid])):
                missing.append(f"{rule.name} {dict(instance.labels)} threshold {value} not on {uid}")
            checked += 1
    assert not missing, missing
    assert checked > 20


def _queried_metrics(board: dict[str, Any]) -> set[str]:
    exprs = [t["expr"] for p in panels_of(board) for t in p.get("targets", []) if "expr" in t]
    exprs += [m.group("selector") for v in board["templating"]["list"]
              if (m := _LABEL_VALUES_RE.match(str(v.get("query", ""))))]
    return {name for expr in exprs for name in _metrics(expr)}


@spec_params()
def test_every_queried_metric_is_in_the_catalog(spec_name: str) -> None:
    spec = SPECS[spec_name]()
    catalog = catalog_of(spec)
    queried = set().union(*(_queried_metrics(board) for board in build_dashboards(spec)))
    assert not queried - set(catalog), sorted(queried - set(catalog))
    sources = {catalog.lookup(name).source.split(":")[0] for name in queried}  # type: ignore[union-attr]
    assert {"exporter", "node-exporter", "prometheus", "service", "recording-rule", "synthetic"} <= sources


def _rules(findings: list[Any]) -> set[str]:
    return {f.rule for f in findings}


def test_a_renamed_metric_breaks_the_contract() -> None:
    spec = SPECS["default"]()
    catalog, uids = catalog_of(spec), datasource_uids(spec)
    queues = next(b for b in build_dashboards(spec) if b["uid"] == ids.queues_dashboard(spec).uid)
    renamed = json.loads(json.dumps(queues).replace("obstack_queue_backlog_jobs", "obstack_queue_backlog"))
    findings = lint_dashboard("q.json", renamed, catalog, uids)
    assert _rules(findings) == {"metric-contract"}
    assert all("obstack_queue_backlog " in f.message for f in findings)
    # The same when the source renames it: the catalog no longer declares the dashboard's name.
    shrunk = MetricCatalog({k: v for k, v in catalog.entries.items() if k != "obstack_queue_workers"})
    assert _rules(lint_dashboard("q.json", copy.deepcopy(queues), shrunk, uids)) == {"metric-contract"}


def test_a_renamed_recording_rule_breaks_the_contract() -> None:
    spec = SPECS["default"]()
    uids = datasource_uids(spec)
    service = build_dashboards(spec)[0]
    catalog = catalog_of(spec)
    shrunk = MetricCatalog({k: v for k, v in catalog.entries.items() if not re.match(r"slo:error_budget_remaining", k)})
    findings = lint_dashboard("s.json", service, shrunk, uids)
    assert _rules(findings) == {"metric-contract"} and len(findings) == 3  # one per SLO


def test_a_level_of_zero_that_fires_above_is_drawn_above_zero() -> None:
    # "Any dead letter" (0, fires above): a count, so the first unhealthy value is 1.
    assert [(step.color, step.value) for step in alert_steps(DeadLetterLevels(warning=0))] == \
        [("green", 0.0), ("orange", 1.0)]
    # "Any error" on a ratio: the smallest number above 0 (0 itself stays green).
    steps = alert_steps(ErrorRateLevels(warning=Ratio.of("0%"), critical=Ratio.of("5%")))
    assert [step.value for step in steps] == [0.0, math.nextafter(0.0, math.inf), 0.05]
    # A level that fires below keeps its value (0 free disk is not healthy).
    assert [step.value for step in alert_steps(DiskFreeLevels(critical=Ratio.of("0%")))] == [0.0, 0.0]
