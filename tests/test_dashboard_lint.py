"""The dashboard lint: every rule reports a deliberately broken dashboard and nothing else;
exclusions need a reason; the validator runs over a generated tree."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from obstack.alerts.rule_files import rule_file_artifacts
from obstack.dashboards.dashboard_lint import (
    DASHBOARD_CHECKS,
    LINT_RULES,
    PANEL_CHECKS,
    QUERY_CHECKS,
    lint_dashboard,
    substitute_variables,
)
from obstack.dashboards.datasources import PROMETHEUS
from obstack.dashboards.generate import build_dashboards, dashboard_artifacts
from obstack.dashboards.promql_units import expr_unit
from obstack.dashboards.provisioning import provisioning_artifacts
from obstack.foundation.findings import Finding
from obstack.foundation.lint_exclusions import apply_exclusions, parse_exclusions
from obstack.stack.spec.loader import LoadedSpec, load_spec_text
from obstack.stack.stack_model import build_stack_model
from obstack.stack.validate.dashboard_lint_validator import dashboard_lint_validator
from obstack.stack.validate.validator import ValidationContext
from tests.dashboards.support import catalog_of, datasource_uids, default_spec

Board = dict[str, Any]


@pytest.fixture(scope="module")
def boards() -> dict[str, Board]:
    return {board["uid"].removeprefix("bookmark-"): board for board in build_dashboards(default_spec())}


def lint(board: Board) -> list[Any]:
    spec = default_spec()
    return lint_dashboard("d.json", board, catalog_of(spec), datasource_uids(spec))


def _untagged(finding: Finding) -> str:
    """A finding's message without its "[rule-id] " tag."""
    return finding.message.removeprefix(f"[{finding.rule}] ")


def panel(board: Board, title: str) -> dict[str, Any]:
    return next(p for p in board["panels"] if p.get("title") == title)


def variable(board: Board, name: str) -> dict[str, Any]:
    return next(v for v in board["templating"]["list"] if v["name"] == name)


def _drop_variable(name: str) -> Callable[[Board], None]:
    def mutate(board: Board) -> None:
        board["templating"]["list"] = [v for v in board["templating"]["list"] if v["name"] != name]
    return mutate


def _set(getter: Callable[[Board], dict[str, Any]], key: str, value: Any) -> Callable[[Board], None]:
    def mutate(board: Board) -> None:
        getter(board)[key] = value
    return mutate


def _expr(title: str, expr: str) -> Callable[[Board], None]:
    def mutate(board: Board) -> None:
        panel(board, title)["targets"][0]["expr"] = expr
    return mutate


DEADLOCKS = 'obstack_postgres_deadlocks_total{job=~"$job", instance=~"$instance", datastore="main"}'
LOCK_WAITS = 'obstack_postgres_lock_waits{job=~"$job", instance=~"$instance", datastore="main"}'
REDIS_SCOPE = 'job=~"$job", instance=~"$instance", datastore="cache"'
MEMORY_SHARE = (f'obstack_redis_memory_used_bytes{{{REDIS_SCOPE}}}\n/ '
                f'(obstack_redis_memory_max_bytes{{{REDIS_SCOPE}}} > 0)')


def _defaults(board: Board, title: str) -> dict[str, Any]:
    return panel(board, title)["fieldConfig"]["defaults"]


def _second_target(title: str, expr: str) -> Callable[[Board], None]:
    def mutate(board: Board) -> None:
        targets = panel(board, title)["targets"]
        targets.append({**targets[0], "expr": expr, "refId": "B"})
    return mutate


def _steps_at_zero(board: Board) -> None:
    _defaults(board, "Dead letters gained (15m)")["thresholds"]["steps"][1]["value"] = 0


# rule id -> (dashboard, how to break it)
BROKEN: dict[str, tuple[str, Callable[[Board], None]]] = {
    "panel-plugin-version": ("postgres", lambda b: panel(b, "Up").pop("pluginVersion")),
    "panel-threshold-zero": ("queues", _steps_at_zero),
    "panel-table-cells": ("alerts-slos", _set(lambda b: panel(b, "Error budget remaining per SLO")["fieldConfig"],
                                              "overrides", [])),
    "panel-mixed-units": ("postgres", _second_target("Oldest transaction", LOCK_WAITS)),
    "panel-zero-divisor": ("redis", _expr("Memory used", MEMORY_SHARE)),
    "target-count-window": ("postgres", _expr("Deadlocks", f"sum(increase({DEADLOCKS}[$__rate_interval]))")),
    "template-datasource": ("postgres", _set(lambda b: variable(b, "datasource"), "label", "Prometheus")),
    "template-job": ("postgres", _drop_variable("job")),
    "template-instance": ("postgres", _set(lambda b: variable(b, "instance"), "multi", False)),
    "panel-datasource": ("postgres", _set(lambda b: panel(b, "Up"), "datasource", dict(PROMETHEUS.ref))),
    "panel-title-description": ("postgres", _set(lambda b: panel(b, "Up"), "description", "")),
    "panel-units": ("postgres", lambda b: panel(b, "Up")["fieldConfig"]["defaults"].pop("unit")),
    "panel-no-targets": ("postgres", _set(lambda b: panel(b, "Up"), "targets", [])),
    "target-promql": ("postgres", _expr("Lock waits", "sum(obstack_postgres_lock_waits{")),
    "target-rate-interval": ("postgres", _expr("Deadlocks", f"sum(rate({DEADLOCKS}[5m]))")),
    "target-counter-agg": ("postgres", _expr("Deadlocks", f"sum({DEADLOCKS})")),
    "metric-contract": ("postgres", _expr("Lock waits", 'obstack_postgres_lock_wait{job=~"$job", instance=~"$instance"}')),
}


def test_every_rule_has_a_broken_example_and_a_doc() -> None:
    assert set(BROKEN) == set(LINT_RULES) == set(DASHBOARD_CHECKS) | set(PANEL_CHECKS) | set(QUERY_CHECKS)
    assert all(rule.doc.endswith(".") for rule in LINT_RULES.values())


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_each_rule_catches_its_broken_dashboard_and_only_it(rule: str, boards: dict[str, Board]) -> None:
    name, breaks = BROKEN[rule]
    board = copy.deepcopy(boards[name])
    assert lint(board) == []
    breaks(board)
    findings = lint(board)
    assert findings and {f.rule for f in findings} == {rule}, findings
    finding = findings[0]
    assert finding.validator == "dashboard lint" and finding.severity == "error"
    assert finding.message.startswith(f"[{rule}] ")


def test_panel_datasource_accepts_only_provisioned_datasources_for_logs(boards: dict[str, Board]) -> None:
    board = copy.deepcopy(boards["service-bookmark-api"])
    logs = panel(board, "Recent logs")
    logs["datasource"] = {"type": "elasticsearch", "uid": "somebody-elses"}
    assert {f.rule for f in lint(board)} == {"panel-datasource"}
    logs["datasource"] = {"type": "loki", "uid": "obstack-elasticsearch"}
    assert "provisioned as 'elasticsearch'" in lint(board)[0].message


def test_template_variables_reach_the_metric_contract(boards: dict[str, Board]) -> None:
    board = copy.deepcopy(boards["host"])
    variable(board, "job")["query"] = "label_values(node_memory_Total_bytes, job)"
    findings = lint(board)
    assert {f.rule for f in findings} == {"metric-contract"} and findings[0].location == "variable 'job'"


def _rules_of(board: Board) -> set[str]:
    return {f.rule for f in lint(board)}


def test_a_newer_plugin_version_than_the_stack_runs_is_a_finding(boards: dict[str, Board]) -> None:
    board = copy.deepcopy(boards["postgres"])
    panel(board, "Up")["pluginVersion"] = "99.0.0"
    assert "newer than the Grafana the stack runs" in lint(board)[0].message
    panel(board, "Up")["pluginVersion"] = "10.4.0"  # older: Grafana migrates it, as it should
    assert lint(board) == []


def test_a_zero_step_is_a_finding_only_where_lower_is_better(boards: dict[str, Board]) -> None:
    board = copy.deepcopy(boards["service-bookmark-api"])
    # Budget remaining is higher-is-better (red base): orange from 0 up is right.
    assert [s["value"] for s in _defaults(board, "availability: error budget remaining")["thresholds"]["steps"]] == \
        [None, 0.0, 0.25]
    assert lint(board) == []
    budget = _defaults(board, "availability: error budget remaining")
    budget["thresholds"]["steps"][0]["color"] = "dark-green"
    assert _rules_of(board) == {"panel-threshold-zero"}
    budget["thresholds"]["mode"] = "percentage"  # relative to min and max: 0% is not the value 0
    assert lint(board) == []
    panel(board, "Restarts (30m)")["fieldConfig"]["overrides"] = [
        {"matcher": {"id": "numeric"}, "properties": [{"id": "thresholds", "value": {
            "mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": -1}]}}]}]
    findings = lint(board)
    assert [(f.rule, _untagged(f).split(":")[0]) for f in findings] == [("panel-threshold-zero", "override 0 thresholds")]


def test_tables_must_not_carry_the_pre_schema_38_display_mode(boards: dict[str, Board]) -> None:
    board = copy.deepcopy(boards["alerts-slos"])
    _defaults(board, "Firing alerts")["custom"]["displayMode"] = "color-background"
    panel(board, "Error budget remaining per SLO")["fieldConfig"]["overrides"][0]["properties"].append(
        {"id": "custom.displayMode", "value": "color-background"})
    findings = lint(board)
    assert [(f.rule, f.location, _untagged(f).split(" sets ")[0]) for f in findings] == [
        ("panel-table-cells", "panel 7 'Firing alerts'", "custom"),
        ("panel-table-cells", "panel 9 'Error budget remaining per SLO'", "override 0"),
    ]


def test_table_cells_may_show_thresholds_as_text_but_not_in_another_colour_mode(boards: dict[str, Board]) -> None:
    board = copy.deepcopy(boards["alerts-slos"])
    budget = panel(board, "Error budget remaining per SLO")
    budget["fieldConfig"]["overrides"] = []
    budget["fieldConfig"]["defaults"]["custom"]["cellOptions"] = {"type": "color-text"}
    assert lint(board) == []
    budget["fieldConfig"]["defaults"]["color"] = {"mode": "palette-classic"}
    assert "not by its thresholds" in lint(board)[0].message


def test_each_unit_may_have_its_own_axis(boards: dict[str, Board]) -> None:
    board = copy.deepcopy(boards["postgres"])
    _second_target("Oldest transaction", LOCK_WAITS)(board)
    assert "A in seconds; B in count" in lint(board)[0].message
    panel(board, "Oldest transaction")["fieldConfig"]["overrides"] = [
        {"matcher": {"id": "byFrameRefID", "options": "B"}, "properties": [{"id": "unit", "value": "short"}]}]
    assert lint(board) == []
    panel(board, "Oldest transaction")["targets"][1]["hide"] = True
    assert lint(board) == []


def test_a_share_of_a_zero_by_default_metric_needs_a_fallback_or_company(boards: dict[str, Board]) -> None:
    board = copy.deepcopy(boards["redis"])
    _expr("Memory used", MEMORY_SHARE)(board)
    assert "obstack_redis_memory_max_bytes: Redis' maxmemory is 0" in lint(board)[0].message
    # Without the > 0 guard it is infinite rather than empty: the same finding.
    _expr("Memory used", MEMORY_SHARE.replace(" > 0)", ")"))(board)
    assert _rules_of(board) == {"panel-zero-divisor"}
    # A fallback divisor when maxmemory is 0 makes a value out of the box.
    fallback = MEMORY_SHARE.replace("(obstack_redis_memory_max_bytes", "((obstack_redis_memory_max_bytes").replace(
        " > 0)", ' > 0) or on () node_memory_MemTotal_bytes{job=~"$job", instance=~"$instance"})')
    _expr("Memory used", fallback)(board)
    assert _rules_of(board) == set()
    # So does a second query (in the same unit) that does not divide by it.
    _expr("Memory used", MEMORY_SHARE)(board)
    _second_target("Memory used", MEMORY_SHARE.split("\n")[0] + ' / on () node_memory_MemTotal_bytes{job=~"$job"}')(board)
    assert _rules_of(board) == set()


@pytest.mark.parametrize("expr, flagged", [
    (f"sum(increase({DEADLOCKS}[$__rate_interval]))", True),
    (f"sum(increase({DEADLOCKS}[$__interval]))", True),
    (f"changes({LOCK_WAITS}[$__rate_interval])", True),
    (f"sum_over_time({LOCK_WAITS}[$__auto])", True),
    (f"sum(increase({DEADLOCKS}[$__range]))", False),
    (f"sum(increase({DEADLOCKS}[15m]))", False),
    (f"max_over_time({LOCK_WAITS}[$__rate_interval])", False),
])
def test_counts_must_not_follow_the_zoom(expr: str, flagged: bool, boards: dict[str, Board]) -> None:
    board = copy.deepcopy(boards["postgres"])
    _expr("Deadlocks", expr)(board)
    assert _rules_of(board) == ({"target-count-window"} if flagged else set())


@pytest.mark.parametrize("expr, unit", [
    ("obstack_postgres_oldest_transaction_seconds", "seconds"),
    ("obstack_postgres_lock_waits", "count"),
    ("sum by (route) (rate(http_request_duration_seconds_count[5m]))", "count/s"),
    ("histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", "seconds"),
    ("rate(node_cpu_seconds_total[5m])", "seconds/s"),
    ("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "ratio"),
    ("time() - node_boot_time_seconds", "seconds"),
    ("service:http_requests:rate5m", "count/s"),
    ("service:http_request_duration_seconds:p95_rate5m", "seconds"),
    ("slo:sli_error:ratio_rate1h", "ratio"),
    ("process_resident_memory_bytes / 524288000", "bytes"),
    ('count(ALERTS{alertstate="firing"}) or vector(0)', "count"),
    ("(obstack_redis_memory_max_bytes > 0)", "bytes"),
    ("up == bool 1", "count"),
    ("obstack_redis_memory_used_bytes / obstack_redis_connected_clients", "bytes/count"),
    ("obstack_postgres_oldest_transaction_seconds + obstack_postgres_lock_waits", "seconds|count"),
    ("42", None),
])
def test_the_unit_of_a_query_follows_the_naming_conventions(expr: str, unit: str | None) -> None:
    assert expr_unit(promql_parser.parse(expr)) == unit


def test_variables_are_substituted_outside_strings_only() -> None:
    text = 'rate(x{job=~"$job"}[$__rate_interval]) / $scalar and y offset ${shift}'
    assert substitute_variables(text) == \
        'rate(x{job=~"$job"}[1234567s]) / grafana_variable_scalar and y offset grafana_variable_shift'


# --------------------------------------------------------------------------- exclusions


def _findings_of(board: Board) -> list[Any]:
    return lint(board)


def test_an_exclusion_with_a_reason_silences_its_rule_on_its_panels_only(boards: dict[str, Board]) -> None:
    board = copy.deepcopy(boards["postgres"])
    BROKEN["target-rate-interval"][1](board)
    BROKEN["panel-title-description"][1](board)
    found = _findings_of(board)
    exclusions, problems = parse_exclusions({"exclusions": [
        {"rule": "target-rate-interval", "dashboard": "bookmark-*", "panel": "Dead*", "reason": "a fixed window"},
    ]}, "x.yaml", LINT_RULES)
    assert problems == []
    left = apply_exclusions(found, exclusions)
    assert [f.message.split("]")[0] for f in left] == ["[panel-title-description"]


@pytest.mark.parametrize("entry, complaint", [
    ({"rule": "target-rate-interval"}, "needs a reason"),
    ({"rule": "target-rate-interval", "reason": "  "}, "needs a reason"),
    ({"rule": "no-such-rule", "reason": "r"}, "unknown rule"),
    ({"rule": "panel-units", "reason": "r", "panels": "x"}, "unknown key"),
])
def test_an_exclusion_without_a_reason_is_itself_a_finding(entry: dict[str, Any], complaint: str) -> None:
    exclusions, problems = parse_exclusions({"exclusions": [entry]}, "x.yaml", LINT_RULES)
    assert exclusions == [] and len(problems) == 1
    assert complaint in problems[0].message and problems[0].location == "exclusions[0]"


# --------------------------------------------------------------------------- the validator


def _write_tree(out: Path, spec_text: str, name: str) -> ValidationContext:
    loaded = load_spec_text(spec_text, name)
    model = build_stack_model(loaded.spec)
    artifacts = [*dashboard_artifacts(model), *provisioning_artifacts(model), *rule_file_artifacts(model)]
    for artifact in artifacts:
        target = out / artifact.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(artifact.content, encoding="utf-8")
    return ValidationContext(out, LoadedSpec(loaded.spec, name, spec_text), artifacts)


SPEC = "project: lint\nservices:\n  - {name: api, targets: ['api:1']}\n"


def test_the_validator_passes_a_generated_tree(tmp_path: Path) -> None:
    result = dashboard_lint_validator(_write_tree(tmp_path / "out", SPEC, str(tmp_path / "stack.yaml")))
    assert not result.failed, [str(f) for f in result.findings]
    assert result.summary.startswith("3 dashboards")


def test_the_validator_reports_edits_and_reasonless_exclusions(tmp_path: Path) -> None:
    spec_text = SPEC + "grafana: {lint_exclusions: lint.yaml}\n"
    (tmp_path / "lint.yaml").write_text(yaml.safe_dump({"exclusions": [{"rule": "panel-units"}]}))
    context = _write_tree(tmp_path / "out", spec_text, str(tmp_path / "stack.yaml"))
    path = next((context.out / "grafana/dashboards").rglob("lint-service-api.json"))
    board = json.loads(path.read_text())
    board["panels"][1]["fieldConfig"]["defaults"]["unit"] = "furlongs"
    path.write_text(json.dumps(board))
    result = dashboard_lint_validator(context)
    assert result.failed
    messages = sorted(f.message.split("]")[0] for f in result.findings)
    assert messages == ["[exclusions", "[panel-units"]
    assert next(f for f in result.findings if f.message.startswith("[panel-units]")).file == \
        "grafana/dashboards/obstack/lint-service-api.json"


def test_the_validator_reports_a_missing_tree(tmp_path: Path) -> None:
    loaded = load_spec_text(SPEC, "s.yaml")
    result = dashboard_lint_validator(ValidationContext(tmp_path, loaded, []))
    assert result.failed and any("no dashboards" in f.message for f in result.findings)
