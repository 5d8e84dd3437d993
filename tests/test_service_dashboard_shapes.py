"""Services of one shape share one dashboard with a ``service`` variable; links select the service.

The shape is what a service dashboard draws (``DASHBOARD_SHAPE_FIELDS``). The tests hold both
sides of that promise: services differing in anything else share a dashboard that is, for each of
them, exactly the dashboard built for it alone; and a difference in any field of the shape splits
them.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from obstack.alerts.rule_files import rule_files
from obstack.alerts.renamed_files import is_renamed
from obstack.dashboards.generate import build_dashboards, service_dashboard_json
from obstack.stack.pipeline import generate
from obstack.stack.series_check import dashboard_exprs, service_findings
from obstack.stack.spec import dashboard_identities as ids
from obstack.stack.spec.loader import load_spec_text
from obstack.stack.spec.model import Spec

# api and billing differ only in what their dashboard never draws; search and worker each differ
# from them in one thing it does draw.
SHAPES = """
project: shop
services:
  - {name: api, targets: [api:3000], team: web}
  - name: billing
    targets: [billing:3000, billing-2:3000]
    team: money
    job: billing-job
    health_url: http://billing:3000/ready
    metrics_path: /m
    scheme: https
    runs_on: external
    pm2: {layout: worker-ports}
    metrics: [{name: invoices_created_total, type: counter}]
  - {name: search, targets: [search:3000], thresholds: {error_rate: {critical: 10%, warning: 2%}}}
  - {name: worker, targets: [worker:9000], depends_on: [api]}
logs: {enabled: true}
tracing: {enabled: true}
"""

# One variation per field of the shape: each alone gives the second service a dashboard of its own.
VARIATIONS = {
    "request_metrics": "request_metrics: {route_label: path}",
    "thresholds": "thresholds: {latency_p95: {critical: 2s, warning: 1s}}",
    "slos": "slos: [{name: availability, kind: availability, objective: 99.5%, window: 7d}]",
    "process_start_metric": "process_start_metric: null",
    "max_memory_restart": "max_memory_restart: 500M",
    "depends_on": "depends_on: [a]",
}


def _spec(text: str) -> Spec:
    return load_spec_text(text, "shapes.yaml").spec


def _without_selection(board: dict[str, Any]) -> dict[str, Any]:
    """The dashboard minus what names its services (title, description, the variable's options)."""
    variables = [v for v in board["templating"]["list"] if v["name"] != ids.SERVICE_VARIABLE]
    return {**board, "title": None, "description": None, "templating": {"list": variables}}


def test_services_of_one_shape_share_one_dashboard_named_after_the_first() -> None:
    spec = _spec(SHAPES)
    groups = ids.service_dashboards(spec).groups
    assert [group.names for group in groups] == [("api", "billing"), ("search",), ("worker",)]
    assert [group.dashboard.uid for group in groups] == ["shop-service-api", "shop-service-search",
                                                          "shop-service-worker"]
    assert [group.dashboard.title for group in groups] == ["shop / services / api and 1 more",
                                                            "shop / service / search", "shop / service / worker"]
    boards = build_dashboards(spec)
    assert [board["uid"] for board in boards[:3]] == [group.dashboard.uid for group in groups]
    variable = next(v for v in boards[0]["templating"]["list"] if v["name"] == ids.SERVICE_VARIABLE)
    assert variable["type"] == "custom" and variable["query"] == "api,billing" and variable["multi"] is False
    assert [option["value"] for option in variable["options"]] == ["api", "billing"]
    assert variable["current"]["value"] == "api"


def test_a_shared_dashboard_is_each_of_its_services_own_dashboard() -> None:
    """Built for one service alone, each member's dashboard is the shared one: the dashboard reads
    nothing of a service outside its shape (else billing's team, job or targets would show)."""
    spec = _spec(SHAPES)
    for group in ids.service_dashboards(spec).groups:
        shared = _without_selection(service_dashboard_json(spec, group))
        for service in group.services:
            alone = ids.ServiceDashboardGroup(group.dashboard, (service,))
            assert _without_selection(service_dashboard_json(spec, alone)) == shared, service.name


def test_every_query_follows_the_selected_service() -> None:
    spec = _spec(SHAPES)
    board = build_dashboards(spec)[0]
    texts = [str(target) for panel in board["panels"] for target in panel.get("targets") or []]
    assert texts and not any("api" in text or "billing" in text for text in texts)
    promql = [text for text in texts if "expr" in text]
    assert all('service=\\"$service\\"' in text or "service=\"$service\"" in text for text in promql)


@pytest.mark.parametrize("field", sorted(VARIATIONS))
def test_a_difference_in_any_field_of_the_shape_splits_the_dashboard(field: str) -> None:
    text = f"project: p\nservices:\n  - {{name: a, targets: ['a:1']}}\n  - {{name: b, targets: ['b:1'], {VARIATIONS[field]}}}\n"
    groups = ids.service_dashboards(_spec(text)).groups
    assert [group.names for group in groups] == [("a",), ("b",)]


def test_every_field_of_the_shape_has_a_variation() -> None:
    assert set(VARIATIONS) == ids.DASHBOARD_SHAPE_FIELDS


def _dashboard_urls(spec: Spec) -> dict[tuple[str, str], set[str]]:
    """(rule file, alert) -> the dashboard_url annotations of its rules."""
    urls: dict[tuple[str, str], set[str]] = {}
    for rule_file in rule_files(spec):
        for rule in rule_file.alert_rules:
            if rule.dashboard_url:
                urls.setdefault((rule_file.path.name, rule.name), set()).add(rule.dashboard_url)
    return urls


def test_a_services_alerts_select_it_on_its_shapes_dashboard() -> None:
    urls = _dashboard_urls(_spec(SHAPES))
    base = "http://localhost:3000/d"
    assert urls[("slo-billing.yml", "ErrorBudgetBurn")] == {
        f"{base}/shop-service-api?var-service=billing"}
    assert urls[("slo-search.yml", "ErrorBudgetBurn")] == {
        f"{base}/shop-service-search?var-service=search"}
    # services.yml's rules cover services of three dashboards: the Alerts & SLOs dashboard shows them all.
    assert urls[("services.yml", "HighErrorRate")] == {f"{base}/shop-alerts-slos/shop-alerts-slos"}


def test_a_rule_over_services_of_one_shape_selects_the_firing_one() -> None:
    text = "project: p\nservices:\n" + "".join(f"  - {{name: s{i}, targets: ['s{i}:1']}}\n" for i in range(3))
    spec = _spec(text)
    template = "http://localhost:3000/d/p-service-s0?var-service={{ $labels.service }}"
    assert _dashboard_urls(spec)[("services.yml", "HighErrorRate")] == {template}
    # The generated promtool tests expect it rendered, as Prometheus renders it, for the service that fires.
    tests = next(a for a in generate(load_spec_text(text, "p.yaml")) if a.path.name == "services.test.yml")
    expected = [alert["exp_annotations"]["dashboard_url"]
                for test in yaml.safe_load(tests.content)["tests"] for case in test.get("alert_rule_test") or []
                for alert in case.get("exp_alerts") or [] if case["alertname"] == "HighErrorRate"]
    assert expected and all(url.startswith(template.split("?")[0] + "?var-service=s") for url in expected)
    assert {url.rsplit("=", 1)[1] for url in expected} <= {"s0", "s1", "s2"}


def test_verify_traces_a_missing_series_to_the_shared_panel_that_reads_it() -> None:
    """``obstack verify``: a shared panel's ``service="$service"`` reads every service of its list."""
    spec = _spec(SHAPES)
    series = [{"__name__": "up", "job": service.job, "instance": service.targets[0]} for service in spec.services]
    findings = service_findings(spec, dashboard_exprs(build_dashboards(spec)), series)
    on_billing = [f.message for f in findings if f.location.startswith("services[1].request_metrics.histogram")]
    assert any("shop / services / api and 1 more / " in message for message in on_billing), on_billing


def test_services_sharing_a_dashboard_still_share_their_promtool_tests() -> None:
    """Every link names the shape's first service in the dashboard uid (not a renaming of names):
    the renamed-copy argument leaves dashboard paths aside, so one service of the shape is tested."""
    text = "project: p\nservices:\n" + "".join(f"  - {{name: s{i}, targets: ['s{i}:1']}}\n" for i in range(3))
    artifacts = {a.path.name: a.content for a in generate(load_spec_text(text, "p.yaml"))}
    assert "/d/p-service-s0?var-service=s1" in artifacts["slo-s1.yml"]
    assert sorted(name for name in artifacts if name.startswith("slo-") and name.endswith(".test.yml")) == [
        "slo-s0.3m-step.test.yml", "slo-s0.5m-step.test.yml", "slo-s0.test.yml"]
    assert yaml.safe_load(artifacts["services.test.yml"])["rule_files"] == ["../rules/services.yml",
                                                                             "../rules/service-s0.yml"]
    assert is_renamed(artifacts["slo-s0.yml"], "s0", artifacts["slo-s2.yml"], "s2")
    # The service a link selects is part of the argument: a copy selecting another service is no renaming.
    edited = artifacts["slo-s2.yml"].replace("var-service=s2", "var-service=s1", 1)
    assert not is_renamed(artifacts["slo-s0.yml"], "s0", edited, "s2")


def test_a_service_added_to_a_shape_changes_no_rule_file_of_the_others() -> None:
    """Links carry the uid, not the title's slug (the title counts the shape's services): adding a
    service changes its own files, services.yml's alternations, stack.yml's missing-job check and
    the dashboard, nothing else (`obstack validate --changed` reruns only those)."""
    def rule_texts(count: int) -> dict[str, str]:
        text = "project: p\nservices:\n" + "".join(f"  - {{name: s{i}, targets: ['s{i}:1']}}\n" for i in range(count))
        return {a.path.name: a.content for a in generate(load_spec_text(text, "p.yaml"))
                if a.path.parent.name == "rules"}

    two, three = rule_texts(2), rule_texts(3)
    assert {name for name in three if two.get(name) != three[name]} == {"slo-s2.yml", "service-s2.yml", "services.yml",
                                                                        "stack.yml"}
