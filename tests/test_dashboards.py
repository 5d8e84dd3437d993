"""Dashboards: schema-valid current model, lint-clean, deterministic, provisioned, linked."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from obstack.compose.images import IMAGES
from obstack.dashboards.dashboard_lint import lint_dashboard
from obstack.dashboards.datasources import ELASTICSEARCH, JAEGER, PROMETHEUS_VARIABLE_REF
from obstack.dashboards.generate import build_dashboards, dashboard_artifacts
from obstack.dashboards.normalise import GRAFANA_VERSION, SCHEMA_VERSION, normalise
from obstack.dashboards.provisioning import provisioning_artifacts
from obstack.stack.spec.dashboard_identities import dashboard_url, subject_dashboard
from tests.dashboards.support import (
    SPECS,
    catalog_of,
    datasource_uids,
    default_spec,
    panels_of,
    schema_validator,
    spec_params,
    two_services_spec,
)
from tests.support.rendered import rendered

LEGACY_KEYS = ("rows", "hideControls", "sharedCrosshair", "style", "__inputs", "gnetId", "id")


@spec_params()
def test_every_dashboard_validates_against_grafanas_schema(spec_name: str) -> None:
    validator = schema_validator()
    for board in build_dashboards(SPECS[spec_name]()):
        errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(board)]
        assert not errors, (board["uid"], errors[:5])


@spec_params()
def test_every_dashboard_passes_the_lint(spec_name: str) -> None:
    spec = SPECS[spec_name]()
    catalog, uids = catalog_of(spec), datasource_uids(spec)
    for board in build_dashboards(spec):
        assert lint_dashboard(board["uid"], board, catalog, uids) == [], board["uid"]


@spec_params()
def test_the_current_model_has_no_legacy_keys_or_nulls(spec_name: str) -> None:
    for board in build_dashboards(SPECS[spec_name]()):
        assert board["schemaVersion"] == SCHEMA_VERSION >= 39
        assert not [key for key in LEGACY_KEYS if key in board]
        for panel in panels_of(board):
            assert isinstance(panel.get("datasource", {}), dict)
            for target in panel.get("targets", []):
                assert isinstance(target["datasource"], dict) and "intervalFactor" not in target
        text = json.dumps(board)
        # The only null the model wants is the base threshold step's value.
        assert text.count("null") == text.count('"value": null'), board["uid"]
        assert '"null"' not in text


@spec_params()
def test_every_panel_is_made_for_the_grafana_the_stack_runs(spec_name: str) -> None:
    assert GRAFANA_VERSION == IMAGES["grafana"].tag
    for board in build_dashboards(SPECS[spec_name]()):
        for panel in panels_of(board):
            assert panel.get("pluginVersion") == (None if panel["type"] == "row" else GRAFANA_VERSION), panel["title"]
            custom = panel["fieldConfig"]["defaults"].get("custom", {}) if panel["type"] != "row" else {}
            assert "displayMode" not in custom, panel["title"]


def test_the_normaliser_turns_grafanalibs_legacy_output_current() -> None:
    legacy = {"__inputs": [], "rows": [], "schemaVersion": 12, "style": "dark", "id": None, "title": "t",
              "templating": {"list": []}, "annotations": {"list": []}, "panels": [
                  {"type": "stat", "datasource": "${datasource}", "span": None, "targets": [{"expr": "up", "query": "up",
                   "intervalFactor": 2, "datasource": None}],
                   "fieldConfig": {"defaults": {"thresholds": {"mode": "absolute", "steps": [
                       {"color": "green", "index": 0, "value": "null", "op": "gt"}]}, "decimals": None}}}]}
    board = normalise(legacy)
    assert schema_validator().is_valid(board)
    panel = board["panels"][0]
    assert panel["datasource"] == PROMETHEUS_VARIABLE_REF
    assert panel["targets"] == [{"expr": "up", "datasource": PROMETHEUS_VARIABLE_REF}]
    assert panel["fieldConfig"]["defaults"] == {"thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}]}}
    assert panel["pluginVersion"] == GRAFANA_VERSION
    assert panel["options"] == {"percentChangeColorMode": "standard", "showPercentChange": False, "wideLayout": True}


def test_dashboards_come_out_byte_identical_with_sorted_keys_and_a_trailing_newline() -> None:
    first, second = rendered(default_spec(), dashboard_artifacts), rendered(default_spec(), dashboard_artifacts)
    assert [(a.path, a.content) for a in first] == [(a.path, a.content) for a in second]
    for artifact in first:
        data = json.loads(artifact.content)
        assert artifact.content == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert artifact.path.as_posix() == f"grafana/dashboards/obstack/{data['uid']}.json"
        assert artifact.kind == "grafana-dashboards"


def test_the_default_spec_has_the_planned_dashboards_with_stable_uids() -> None:
    uids = [board["uid"] for board in build_dashboards(default_spec())]
    assert uids == ["bookmark-service-bookmark-api", "bookmark-postgres", "bookmark-redis", "bookmark-queues",
                    "bookmark-host", "bookmark-alerts-slos"]
    assert all(len(uid) <= 40 for uid in uids)
    two = [board["uid"] for board in build_dashboards(two_services_spec())]
    assert two[:2] == ["shop-service-api", "shop-service-worker"]


def test_dashboard_url_resolves_to_the_generated_dashboard() -> None:
    spec = default_spec()
    boards = {board["uid"]: board for board in build_dashboards(spec)}
    cases = [("service", "bookmark-api"), ("datastore", "main"), ("datastore", "cache"), ("queue", "link-check"),
             ("host", "node-exporter:9100"), ("slo", "latency")]
    for kind, name in cases:
        url = dashboard_url(spec, kind, name)  # type: ignore[arg-type]
        ident = subject_dashboard(spec, kind, name)  # type: ignore[arg-type]
        # A service's link is the uid and the service: its shape dashboard's title counts its services.
        path = f"{ident.uid}?var-service={name}" if kind == "service" else f"{ident.uid}/{ident.slug}"
        assert url == f"http://localhost:3000/d/{path}"
        assert ident.uid in boards and boards[ident.uid]["title"] == ident.title
    with pytest.raises(ValueError, match="no service"):
        dashboard_url(spec, "service", "nope")


def test_long_names_still_give_unique_uids_within_grafanas_limit() -> None:
    from obstack.stack.spec.loader import load_spec_text

    name = "a" * 60
    text = (f"project: {'p' * 30}\nservices:\n  - {{name: {name}1, targets: ['x:1']}}\n"
            f"  - {{name: {name}2, targets: ['y:1'], depends_on: [{name}1]}}\n")  # two shapes: two dashboards
    spec = load_spec_text(text, "long.yaml").spec
    uids = [subject_dashboard(spec, "service", s.name).uid for s in spec.services]
    assert len(set(uids)) == 2 and all(len(uid) <= 40 for uid in uids)


def _datasources(spec: Any) -> list[dict[str, Any]]:
    artifact = next(a for a in rendered(spec, provisioning_artifacts) if a.path.name == "datasources.yml")
    return yaml.safe_load(artifact.content)["datasources"]


@spec_params()
def test_every_datasource_a_dashboard_references_is_provisioned(spec_name: str) -> None:
    spec = SPECS[spec_name]()
    provisioned = {(source["type"], source["uid"]) for source in _datasources(spec)}
    for board in build_dashboards(spec):
        for panel in panels_of(board):
            for ref in [panel.get("datasource"), *(t["datasource"] for t in panel.get("targets", []))]:
                if ref and ref != PROMETHEUS_VARIABLE_REF:
                    assert (ref["type"], ref["uid"]) in provisioned, (board["uid"], panel["title"])


def test_provisioning_follows_grafanas_format() -> None:
    spec = default_spec()
    sources = _datasources(spec)
    assert [s["type"] for s in sources] == ["prometheus", "alertmanager", "jaeger", "elasticsearch"]
    assert [s for s in sources if s.get("isDefault")] == [sources[0]]
    assert sources[0]["jsonData"]["timeInterval"] == "15s"
    # Grafana expands ${...} in provisioning files; the data link's $$ keeps it literal.
    assert sources[3]["jsonData"]["dataLinks"][0] == {"field": "trace.id", "datasourceUid": "obstack-jaeger",
                                                      "url": "$${__value.raw}"}
    artifact = next(a for a in rendered(spec, provisioning_artifacts) if a.path.name == "dashboards.yml")
    assert artifact.path.as_posix() == "grafana/provisioning/dashboards/dashboards.yml"
    provider = yaml.safe_load(artifact.content)["providers"][0]
    assert provider["type"] == "file" and provider["options"]["foldersFromFilesStructure"] is True
    assert {a.kind for a in rendered(spec, provisioning_artifacts)} == {"grafana-provisioning"}


def test_logs_and_traces_panels_follow_the_spec() -> None:
    def sources(spec: Any) -> set[str]:
        return {p["datasource"]["uid"] for b in build_dashboards(spec) for p in panels_of(b) if "datasource" in p}

    assert {ELASTICSEARCH.uid, JAEGER.uid} <= sources(default_spec())
    assert not {ELASTICSEARCH.uid, JAEGER.uid} & sources(two_services_spec())
    assert {s["uid"] for s in _datasources(two_services_spec())} == {"obstack-prometheus", "obstack-alertmanager"}
    service = build_dashboards(default_spec())[0]
    logs = next(p for p in service["panels"] if p["type"] == "logs")
    assert logs["targets"][0]["query"] == 'service.name:"$service"'  # the selected service's lines
    traces = next(p for p in service["panels"] if p.get("targets") and p["targets"][0].get("queryType") == "search")
    assert traces["targets"][0]["service"] == "$service"
    explore = next(link["url"] for link in service["links"] if link["title"] == "Traces")
    # Grafana replaces the variable in a link's URL: it stays outside the URL encoding.
    assert "%22service%22%3A%22$service%22" in explore and "%24" not in explore


def test_dashboards_link_to_related_dashboards() -> None:
    spec = two_services_spec()
    boards = {board["uid"]: board for board in build_dashboards(spec)}
    urls = {uid: {link.get("url") for link in board["links"]} for uid, board in boards.items()}
    assert {"/d/shop-postgres/shop-postgres", "/d/shop-redis/shop-redis", "/d/shop-queues/shop-queues",
            "/d/shop-service-worker?var-service=worker",
            "/d/shop-alerts-slos/shop-alerts-slos"} <= urls["shop-service-api"]
    assert {"/d/shop-service-api/shop-service-api", "/d/shop-service-worker/shop-service-worker"} <= urls["shop-alerts-slos"]
    assert "/d/shop-service-api?var-service=api" in urls["shop-queues"]
    for board in boards.values():
        assert any(link["type"] == "dashboards" and link["tags"] == ["shop"] for link in board["links"])
        assert "shop" in board["tags"]


def test_the_grafana_folder_is_the_dashboards_directory() -> None:
    from obstack.stack.spec.errors import SpecError
    from obstack.stack.spec.loader import load_spec_text

    spec = load_spec_text("project: p\ngrafana: {folder: Team Shop}\n", "f.yaml").spec
    assert {a.path.parent.as_posix() for a in rendered(spec, dashboard_artifacts)} == {"grafana/dashboards/Team Shop"}
    for folder in ("../x", "a/b", ".."):
        with pytest.raises(SpecError):
            load_spec_text(f"project: p\ngrafana: {{folder: '{folder}'}}\n", "f.yaml")
