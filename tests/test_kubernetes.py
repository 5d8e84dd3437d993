"""kubernetes/*.yaml: core kinds via kubernetes-validate, operator kinds against the shared CRD schemas,
the same rule groups as the rule files, and the exporter's hardening."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from compose.kubernetes import kubernetes_artifacts
from compose.operator_shapes import operator_object_problems
from stack.validate.findings import ValidationContext
from stack.validate.kubernetes_checks import (
    kubernetes_core_validator,
    prometheus_operator_validator,
)
from tests.compose.trees import (
    SHARED_SCHEMAS,
    build_tree,
    fake_dashboards,
    load_documents,
    load_yaml,
    spec_with,
)

CRDS = {
    "PrometheusRule": "monitoring.coreos.com_prometheusrules.yaml",
    "ServiceMonitor": "monitoring.coreos.com_servicemonitors.yaml",
}


def crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((SHARED_SCHEMAS / "crds" / CRDS[kind]).read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> ValidationContext:
    return build_tree(tmp_path_factory.mktemp("kubernetes") / "build", dashboards=True)


@pytest.fixture(scope="module")
def objects(tree: ValidationContext) -> list[dict[str, Any]]:
    return [d for path in sorted((tree.out / "kubernetes").glob("*.yaml")) for d in load_documents(path)]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_core_objects_validate_with_kubernetes_validate(objects: list[dict[str, Any]]) -> None:
    core = [o for o in objects if o["apiVersion"] in ("v1", "apps/v1")]
    assert {o["kind"] for o in core} == {"ConfigMap", "Deployment", "Service"}
    for document in core:
        kubernetes_validate.validate(document, "1.30", strict=True)


def test_operator_objects_validate_against_the_shared_crd_schemas(objects: list[dict[str, Any]]) -> None:
    for kind in CRDS:
        validator = jsonschema.Draft7Validator(crd_schema(kind))
        found = of_kind(objects, kind)
        assert found, kind
        for document in found:
            assert [e.message for e in validator.iter_errors(document)] == [], document["metadata"]["name"]


def test_the_validators_pass_on_the_generated_tree(tree: ValidationContext) -> None:
    for validator in (kubernetes_core_validator, prometheus_operator_validator):
        result = validator(tree)
        assert result.status == "pass", [str(f) for f in result.findings]


def test_prometheus_rules_carry_the_same_groups_as_the_rule_files(tree: ValidationContext,
                                                                 objects: list[dict[str, Any]]) -> None:
    rule_files = sorted((tree.out / "prometheus" / "rules").glob("*.yml"))
    by_name = {o["metadata"]["name"]: o for o in of_kind(objects, "PrometheusRule")}
    assert len(by_name) == len(rule_files)
    for path in rule_files:
        assert by_name[f"bookmark-{path.stem}"]["spec"] == load_yaml(path)


def test_every_generated_dashboard_becomes_a_config_map(tree: ValidationContext, objects: list[dict[str, Any]]) -> None:
    dashboards = [a for a in tree.artifacts if a.path.as_posix().startswith("grafana/dashboards/") and a.path.suffix == ".json"]
    maps = [o for o in of_kind(objects, "ConfigMap") if o["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert dashboards and len(maps) == len(dashboards)


def test_a_service_monitor_per_service_and_for_the_exporter(objects: list[dict[str, Any]]) -> None:
    monitors = {o["metadata"]["name"]: o["spec"] for o in of_kind(objects, "ServiceMonitor")}
    assert set(monitors) == {"bookmark-api", "bookmark-obstack-exporter"}
    api = monitors["bookmark-api"]["endpoints"][0]
    assert api["path"] == "/metrics" and api["interval"] == "15s" and api["scrapeTimeout"] == "10s"
    assert {"action": "replace", "targetLabel": "job", "replacement": "bookmark-api"} in api["relabelings"]
    exporter = monitors["bookmark-obstack-exporter"]
    assert exporter["selector"]["matchLabels"]["app.kubernetes.io/name"] == "obstack-exporter"
    assert exporter["endpoints"][0]["metricRelabelings"][0]["targetLabel"] == "datastore"


def test_dashboard_config_maps_are_labelled_for_the_sidecar() -> None:
    spec = spec_with().spec
    dashboards = next(a for a in kubernetes_artifacts(spec, fake_dashboards(spec)) if a.path.name == "dashboards.yaml")
    maps = {o["metadata"]["name"]: o for o in yaml.safe_load_all(dashboards.content)}
    assert set(maps) == {"bookmark-dashboard-overview", "bookmark-dashboard-services-api"}
    for config_map in maps.values():
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert maps["bookmark-dashboard-overview"]["metadata"]["annotations"] == {"grafana_folder": "obstack"}
    assert maps["bookmark-dashboard-services-api"]["metadata"]["annotations"] == {"grafana_folder": "services"}
    assert maps["bookmark-dashboard-services-api"]["data"] == {"api.json": '{"title":"API","uid":"api"}'}


def test_no_dashboards_means_no_dashboard_file() -> None:
    files = {a.path.name for a in kubernetes_artifacts(spec_with().spec, [])}
    assert "dashboards.yaml" not in files
    kustomization = next(a for a in kubernetes_artifacts(spec_with().spec, []) if a.path.name == "kustomization.yaml")
    assert "dashboards.yaml" not in kustomization.content


def test_the_exporter_deployment_is_probed_bounded_and_hardened(objects: list[dict[str, Any]]) -> None:
    deployment = of_kind(objects, "Deployment")[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert set(container["resources"]) == {"requests", "limits"}
    context = container["securityContext"]
    assert context["runAsNonRoot"] and context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
    assert context["capabilities"] == {"drop": ["ALL"]} and pod["automountServiceAccountToken"] is False
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert secrets == {"BOOKMARK_PG_DSN": "obstack-exporter", "BOOKMARK_REDIS_URL": "obstack-exporter"}
    service = of_kind(objects, "Service")[0]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_labels_namespace_and_file_secrets_come_from_the_spec(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["datastores"][1] = {"name": "cache", "kind": "redis", "url_file": "/run/secrets/redis_url"}
        data["kubernetes"] = {"namespace": "observability", "labels": {"release": "prom", "team": "sre"},
                              "app_namespace": "bookmark", "secret_name": "bookmark-probes"}

    context = build_tree(tmp_path, spec_with(change))
    objects = [d for p in sorted((tmp_path / "kubernetes").glob("*.yaml")) for d in load_documents(p)]
    for document in objects:
        if document["kind"] != "Kustomization":
            assert document["metadata"]["namespace"] == "observability"
            assert {"release": "prom", "team": "sre"}.items() <= document["metadata"]["labels"].items()
    assert load_yaml(tmp_path / "kubernetes" / "kustomization.yaml")["namespace"] == "observability"
    monitor = next(o for o in objects if o.get("metadata", {}).get("name") == "bookmark-api")
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["bookmark"]}
    pod = of_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]
    assert {"name": "credentials", "mountPath": "/run/secrets/redis_url", "subPath": "redis_url", "readOnly": True} \
        in pod["containers"][0]["volumeMounts"]
    assert pod["volumes"][-1]["secret"] == {"secretName": "bookmark-probes", "items": [{"key": "redis_url", "path": "redis_url"}]}
    for validator in (kubernetes_core_validator, prometheus_operator_validator):
        assert validator(context).status == "pass", [str(f) for f in validator(context).findings]


def test_kustomization_lists_every_manifest(tree: ValidationContext) -> None:
    kustomization = load_yaml(tree.out / "kubernetes" / "kustomization.yaml")
    manifests = {p.name for p in (tree.out / "kubernetes").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


def _rule_object(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return copy.deepcopy(of_kind(objects, "PrometheusRule")[0])


@pytest.mark.parametrize("breakage, expected", [
    (lambda o: o["spec"]["groups"][0].update(interval="5 minutes"), "interval"),
    (lambda o: o["spec"]["groups"][0]["rules"][0].update(alert="Both"), "exactly one of 'alert' and 'record'"),
    (lambda o: o["spec"]["groups"][0]["rules"][0].pop("expr"), "'expr' is a required property"),
    (lambda o: o["spec"]["groups"][0].update(rulez=[]), "Additional properties"),
    (lambda o: o["spec"]["groups"].append(copy.deepcopy(o["spec"]["groups"][0])), "appears 2 times"),
    (lambda o: o["metadata"].update(name="Bad_Name"), "does not match"),
])
def test_the_structural_check_catches_broken_prometheus_rules(objects: list[dict[str, Any]], breakage: Any,
                                                             expected: str) -> None:
    document = _rule_object(objects)
    breakage(document)
    assert any(expected in problem for problem in operator_object_problems(document))


def test_the_structural_check_catches_a_broken_service_monitor(objects: list[dict[str, Any]]) -> None:
    document = copy.deepcopy(of_kind(objects, "ServiceMonitor")[0])
    document["spec"]["endpoints"][0]["scheme"] = "ftp"
    document["spec"]["endpoints"][0]["relabelings"][0]["action"] = "rename"
    del document["spec"]["selector"]
    problems = " ".join(operator_object_problems(document))
    assert "'ftp' is not one of" in problems and "'rename' is not one of" in problems and "'selector' is a required" in problems


@pytest.mark.parametrize("breakage, expected", [
    (lambda d: d["spec"].update(replicas="one"), "spec.replicas:"),
    # strict schemas: an unknown key (which the API server would drop silently) fails
    (lambda d: d["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"].update(pathh="/x"), "pathh"),
])
def test_the_core_validator_reports_a_broken_deployment(tmp_path: Path, breakage: Any, expected: str) -> None:
    context = build_tree(tmp_path)
    path = tmp_path / "kubernetes" / "exporter.yaml"
    documents = load_documents(path)
    breakage(documents[1])
    path.write_text("---\n".join(yaml.safe_dump(d) for d in documents))
    findings = kubernetes_core_validator(context).findings
    assert len(findings) == 1 and expected in findings[0].message
    assert findings[0].location == "document 1 (Deployment/bookmark-obstack-exporter)"


def test_an_oversized_dashboard_is_reported(tmp_path: Path) -> None:
    context = build_tree(tmp_path, dashboards=True)
    path = tmp_path / "kubernetes" / "dashboards.yaml"
    documents = load_documents(path)
    documents[0]["data"] = {"big.json": "x" * (300 * 1024)}
    path.write_text("---\n".join(yaml.safe_dump(d) for d in documents))
    findings = kubernetes_core_validator(context).findings
    assert [f.severity for f in findings] == ["warning"] and "--server-side" in findings[0].message


def test_the_exporter_web_config_is_a_secret_in_compose_and_kubernetes(tmp_path: Path) -> None:
    loaded = spec_with(lambda d: d["exporter"].update(web_config_file="/etc/obstack/web.yml"))
    build_tree(tmp_path, loaded)
    exporter = load_yaml(tmp_path / "compose" / "docker-compose.yml")["services"]["obstack-exporter"]
    assert {"source": "web_yml", "target": "/etc/obstack/web.yml"} in exporter["secrets"]
    pod = of_kind(load_documents(tmp_path / "kubernetes" / "exporter.yaml"), "Deployment")[0]["spec"]["template"]["spec"]
    assert {"name": "credentials", "mountPath": "/etc/obstack/web.yml", "subPath": "web.yml", "readOnly": True} \
        in pod["containers"][0]["volumeMounts"]
