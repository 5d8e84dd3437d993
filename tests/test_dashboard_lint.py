"""The dashboard lint: every rule reports a deliberately broken dashboard and nothing else;
exclusions need a reason; the validator runs over a generated tree."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.rule_files import rule_file_artifacts
from dashboards.datasources import PROMETHEUS
from dashboards.generate import build_dashboards, dashboard_artifacts
from dashboards.lint import (
    DASHBOARD_CHECKS,
    LINT_RULES,
    PANEL_CHECKS,
    QUERY_CHECKS,
    lint_dashboard,
    substitute_variables,
)
from dashboards.lint_exclusions import apply_exclusions, parse_exclusions
from dashboards.provisioning import provisioning_artifacts
from stack.spec.loader import LoadedSpec, load_spec_text
from stack.validate.dashboard_lint import dashboard_lint_validator
from stack.validate.findings import ValidationContext
from tests.dashboards.support import catalog_of, datasource_uids, default_spec

Board = dict[str, Any]


@pytest.fixture(scope="module")
def boards() -> dict[str, Board]:
    return {board["uid"].removeprefix("bookmark-"): board for board in build_dashboards(default_spec())}


def lint(board: Board) -> list[Any]:
    spec = default_spec()
    return lint_dashboard("d.json", board, catalog_of(spec), datasource_uids(spec))


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

# rule id -> (dashboard, how to break it)
BROKEN: dict[str, tuple[str, Callable[[Board], None]]] = {
    "template-datasource": ("postgres", _set(lambda b: variable(b, "datasource"), "label", "Prometheus")),
    "template-job": ("postgres", _drop_variable("job")),
    "template-instance": ("postgres", _set(lambda b: variable(b, "instance"), "multi", False)),
    "panel-datasource": ("postgres", _set(lambda b: panel(b, "Up"), "datasource", dict(PROMETHEUS.ref))),
    "panel-title-description": ("postgres", _set(lambda b: panel(b, "Up"), "description", "")),
    "panel-units": ("postgres", lambda b: panel(b, "Up")["fieldConfig"]["defaults"].pop("unit")),
    "panel-no-targets": ("postgres", _set(lambda b: panel(b, "Up"), "targets", [])),
    "target-promql": ("postgres", _expr("Lock waits", "sum(obstack_postgres_lock_waits{")),
    "target-rate-interval": ("postgres", _expr("Deadlocks", f"sum(increase({DEADLOCKS}[5m]))")),
    "target-counter-agg": ("postgres", _expr("Deadlocks", f"sum({DEADLOCKS})")),
    "metric-contract": ("postgres", _expr("Lock waits", 'obstack_postgres_lock_wait{job=~"$job", instance=~"$instance"}')),
}


def test_every_rule_has_a_broken_example_and_a_doc() -> None:
    assert set(BROKEN) == set(LINT_RULES) == set(DASHBOARD_CHECKS) | set(PANEL_CHECKS) | set(QUERY_CHECKS)
    assert all(doc.endswith(".") for doc in LINT_RULES.values())


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_each_rule_catches_its_broken_dashboard_and_only_it(rule: str, boards: dict[str, Board]) -> None:
    name, breaks = BROKEN[rule]
    board = copy.deepcopy(boards[name])
    assert lint(board) == []
    breaks(board)
    findings = lint(board)
    assert findings and {f.rule for f in findings} == {rule}, findings
    finding = findings[0].finding()
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
    ]}, "x.yaml")
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
    exclusions, problems = parse_exclusions({"exclusions": [entry]}, "x.yaml")
    assert exclusions == [] and len(problems) == 1
    assert complaint in problems[0].message and problems[0].location == "exclusions[0]"


# --------------------------------------------------------------------------- the validator


def _write_tree(out: Path, spec_text: str, name: str) -> ValidationContext:
    loaded = load_spec_text(spec_text, name)
    artifacts = [*dashboard_artifacts(loaded.spec), *provisioning_artifacts(loaded.spec), *rule_file_artifacts(loaded.spec)]
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
