"""Overrides of generated alerts (spec: alerts, alert_labels) reach every artifact built from the
rule model: rule files, promtool tests, Alertmanager routes and inhibit rules, docs/alerts.md."""

from __future__ import annotations

from pathlib import Path

import yaml

from obstack.alerts.alertmanager_config import CONFIG_PATH, alertmanager_artifacts
from obstack.alerts.docs import alerts_doc_artifacts
from obstack.alerts.rule_files import generated_rule_files, rule_file_dict, rule_files
from obstack.alerts.routing import RoutingExpectation
from obstack.stack.spec.loader import load_spec, load_spec_text
from obstack.stack.stack_model import build_stack_model
from obstack.stack.validate.alertmanager_tools import route_findings
from tests.support.rendered import promtool_tests, rendered
from tests.support.servers import require_binary
from tests.test_alert_rules import check_and_test

ORDERS = Path(__file__).parent / "specs" / "orders.yaml"


def orders():
    return load_spec_text(ORDERS.read_text(), str(ORDERS)).spec


def named(spec, name):
    return [r for f in rule_files(spec) for r in f.alert_rules if r.name == name]


def inhibited_names(spec) -> set[str]:
    """Every alert name an inhibit rule's matchers name."""
    names = set()
    for rule in build_stack_model(spec).alertmanager_config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            if matcher.startswith("alertname"):
                names |= set(matcher.split('"')[1].split("|"))
    return names


def test_a_disabled_alert_is_in_no_artifact_and_no_inhibit_rule_names_it() -> None:
    spec = orders()
    assert any(r.name == "ServiceInstancesDown" for f in generated_rule_files(spec) for r in f.alert_rules)
    assert named(spec, "ServiceInstancesDown") == []
    artifacts = promtool_tests(spec) + rendered(spec, alertmanager_artifacts) + rendered(spec, alerts_doc_artifacts)
    texts = [a.content for a in artifacts]
    assert not [t for t in texts if "ServiceInstancesDown" in t]
    # PostgresDown silences the symptoms of orders (depends_on: db); turned off, no rule names it.
    assert "PostgresDown" in inhibited_names(spec)
    text = ORDERS.read_text().replace("  PostgresDown:\n", "  PostgresDown:\n    enabled: false\n", 1)
    quiet = load_spec_text(text, str(ORDERS)).spec
    present = {r.name for f in rule_files(quiet) for r in f.alert_rules}
    assert "PostgresDown" not in present and inhibited_names(quiet) <= present


def test_severity_for_labels_and_annotations_are_what_the_rule_and_its_tests_say() -> None:
    spec = orders()
    (rule,) = named(spec, "HighLatency")
    assert (rule.severity, str(rule.for_)) == ("warning", "10m")
    assert rule.labels == {"severity": "warning", "component": "api", "tier": "backend"}
    assert rule.annotations["summary"] == "orders is slow on {{ $labels.service }}"
    assert rule.annotations["playbook"] == "https://wiki.example.com/orders/latency"
    assert "set in the spec (alerts.HighLatency.for)" in rendered(spec, alerts_doc_artifacts)[0].content
    expected = [alert for a in promtool_tests(spec) for group in yaml.safe_load(a.content)["tests"]
                for case in group["alert_rule_test"] if case["alertname"] == "HighLatency" for alert in case["exp_alerts"]]
    assert expected, "HighLatency has firing cases"
    for alert in expected:
        assert alert["exp_labels"]["severity"] == "warning" and alert["exp_labels"]["component"] == "api"
        assert alert["exp_annotations"]["summary"] == "orders is slow on orders"  # rendered as Prometheus does
    # Every alert carries the spec-wide label, the Watchdog too; the generated labels stay.
    for f in rule_files(spec):
        for r in f.alert_rules:
            assert r.labels["tier"] == "backend", r.name
    assert {r.labels["slo_owner"] for r in named(spec, "ErrorBudgetBurn")} == {"checkout"}


def test_overridden_rules_pass_promtool_check_and_their_generated_tests(tmp_path: Path) -> None:
    # services: HighLatency (severity, for, labels, annotations); datastores: PostgresDown (for, description).
    check_and_test(orders(), tmp_path, only=("services", "datastores"))


def test_a_lowered_severity_routes_as_its_new_severity_through_amtool(tmp_path: Path) -> None:
    require_binary("amtool", "prometheus-alertmanager")
    spec = orders()
    for artifact in rendered(spec, alertmanager_artifacts):
        (tmp_path / artifact.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / artifact.path).write_text(artifact.content)
    # checkout's warnings go to its VictorOps tickets, critical alerts to PagerDuty.
    expectations = [RoutingExpectation("HighLatency", "warning", "checkout", "checkout-tickets"),
                    RoutingExpectation("HighErrorRate", "critical", "checkout", "pager")]
    assert route_findings("routes", tmp_path / CONFIG_PATH, expectations) == []
    wrong = [RoutingExpectation("HighLatency", "warning", "checkout", "pager")]
    assert len(route_findings("routes", tmp_path / CONFIG_PATH, wrong)) == 1  # the check is real


def test_no_overrides_leave_the_rules_as_generated() -> None:
    spec = load_spec().spec
    assert [rule_file_dict(f) for f in rule_files(spec)] == [rule_file_dict(f) for f in generated_rule_files(spec)]
