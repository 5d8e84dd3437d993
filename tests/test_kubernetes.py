"""kubernetes/*.yaml: core kinds via kubernetes-validate, operator kinds against the vendored CRD schemas,
the same rule groups as the rule files, and the exporter's hardening."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from obstack.alerts.alertmanager_config import alertmanager_artifacts
from obstack.compose.k8s_operator import prometheus_rules, prometheus_rules_text
from obstack.compose.kubernetes import kubernetes_artifacts
from obstack.compose.operator_shapes import operator_object_problems
from obstack.stack.spec.errors import SpecError
from obstack.stack.spec.loader import load_spec
from obstack.stack.stack_model import build_stack_model
from obstack.stack.validate.kubernetes_alertmanager import alertmanager_secret_validator
from obstack.stack.validate.kubernetes_checks import (
    kubernetes_core_validator,
    prometheus_operator_validator,
)
from obstack.stack.validate.validator import ValidationContext
from tests.compose.trees import (
    SCHEMAS,
    build_tree,
    load_documents,
    load_yaml,
    model_of,
    spec_with,
    with_fake_dashboards,
    without_dashboards,
)
from tests.support.servers import require_binary

CRDS = {
    "PrometheusRule": "monitoring.coreos.com_prometheusrules.yaml",
    "ServiceMonitor": "monitoring.coreos.com_servicemonitors.yaml",
}


def crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((SCHEMAS / "crds" / CRDS[kind]).read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> ValidationContext:
    return build_tree(tmp_path_factory.mktemp("kubernetes") / "build")


@pytest.fixture(scope="module")
def objects(tree: ValidationContext) -> list[dict[str, Any]]:
    return [d for path in sorted((tree.out / "kubernetes").glob("*.yaml")) for d in load_documents(path)]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_core_objects_validate_with_kubernetes_validate(objects: list[dict[str, Any]]) -> None:
    core = [o for o in objects if o["apiVersion"] in ("v1", "apps/v1")]
    assert {o["kind"] for o in core} == {"ConfigMap", "Deployment", "Secret", "Service"}
    for document in core:
        kubernetes_validate.validate(document, "1.30", strict=True)


def test_operator_objects_validate_against_the_vendored_crd_schemas(objects: list[dict[str, Any]]) -> None:
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


def test_where_a_service_runs_decides_how_kubernetes_scrapes_it(tmp_path: Path) -> None:
    """compose and kubernetes services get a ServiceMonitor; an external one has no Kubernetes Service
    to select, so its prometheus.yml job goes into the additional scrape configs Secret."""
    require_binary("promtool", "prometheus")

    def change(data: dict[str, Any]) -> None:
        data["services"] += [{"name": "search", "targets": ["search:8080"], "runs_on": "kubernetes"},
                             {"name": "billing", "targets": ["10.0.4.7:9100"], "runs_on": "external"}]
        data["kubernetes"] = {"additional_scrape_configs_secret": "fleet-scrape-configs"}

    context = build_tree(tmp_path, spec_with(change))
    objects = [d for path in sorted((tmp_path / "kubernetes").glob("*.yaml")) for d in load_documents(path)]
    assert {o["metadata"]["name"] for o in of_kind(objects, "ServiceMonitor")} == \
        {"bookmark-api", "bookmark-search", "bookmark-obstack-exporter"}
    secret = next(o for o in of_kind(objects, "Secret") if o["metadata"]["name"] == "fleet-scrape-configs")
    jobs = yaml.safe_load(secret["stringData"]["prometheus-additional.yaml"])
    prometheus_jobs = {job["job_name"]: job for job in load_yaml(tmp_path / "prometheus" / "prometheus.yml")["scrape_configs"]}
    assert jobs == [prometheus_jobs["billing"]]
    assert "additional-scrape-configs.yaml" in load_yaml(tmp_path / "kubernetes" / "kustomization.yaml")["resources"]
    for validator in (kubernetes_core_validator, prometheus_operator_validator):
        assert validator(context).status == "pass", [str(f) for f in validator(context).findings]
    # The operator appends the jobs to the configuration it writes: promtool accepts them there.
    config = tmp_path / "with-additional-jobs.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": jobs}))
    check = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_without_external_services_there_is_no_scrape_configs_secret(tree: ValidationContext,
                                                                     objects: list[dict[str, Any]]) -> None:
    assert not [o for o in of_kind(objects, "Secret") if o["metadata"]["name"] == "obstack-additional-scrape-configs"]
    assert not (tree.out / "kubernetes" / "additional-scrape-configs.yaml").exists()


def test_dashboard_config_maps_are_labelled_for_the_sidecar() -> None:
    model = with_fake_dashboards(model_of(spec_with()))
    dashboards = next(a for a in kubernetes_artifacts(model) if a.path.name == "dashboards.yaml")
    maps = {o["metadata"]["name"]: o for o in yaml.safe_load_all(dashboards.content)}
    assert set(maps) == {"bookmark-dashboard-overview", "bookmark-dashboard-services-api"}
    for config_map in maps.values():
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert maps["bookmark-dashboard-overview"]["metadata"]["annotations"] == {"grafana_folder": "obstack"}
    assert maps["bookmark-dashboard-services-api"]["metadata"]["annotations"] == {"grafana_folder": "services"}
    assert maps["bookmark-dashboard-services-api"]["data"] == {"api.json": '{"title":"API","uid":"api"}'}


def test_no_dashboards_means_no_dashboard_file() -> None:
    out = kubernetes_artifacts(without_dashboards(model_of(spec_with())))
    assert "dashboards.yaml" not in {a.path.name for a in out}
    kustomization = next(a for a in out if a.path.name == "kustomization.yaml")
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
    (lambda o: o["spec"]["groups"][0]["rules"][0].update(alert="Both", record="both"), "exactly one of 'alert' and 'record'"),
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
    context = build_tree(tmp_path)
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


# ---------------------------------------------------------------------------------------------
# The Alertmanager config Secret (kubernetes/alertmanager-config.yaml)


def _secret(out: Path) -> dict[str, Any]:
    (secret,) = load_documents(out / "kubernetes" / "alertmanager-config.yaml")
    return secret


def _without_header(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("# ")]


def _mount_like_the_operator(secret: dict[str, Any], directory: Path) -> Path:
    """Every key as a file in one directory (the operator's /etc/alertmanager/config), the glob pointed there."""
    for key, text in secret["stringData"].items():
        (directory / key).write_text(text)
    config = directory / "alertmanager.yaml"
    config.write_text(config.read_text().replace("/etc/alertmanager/config/", f"{directory}/"))
    return config


def test_the_alertmanager_config_secret_holds_the_config_and_the_templates(tree: ValidationContext) -> None:
    secret = _secret(tree.out)
    assert (secret["apiVersion"], secret["kind"], secret["type"]) == ("v1", "Secret", "Opaque")
    assert secret["metadata"]["name"] == "obstack-alertmanager-config"
    assert secret["metadata"]["namespace"] == "monitoring"
    assert secret["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert set(secret["stringData"]) == {"alertmanager.yaml", "obstack.tmpl"}
    assert yaml.safe_load(secret["stringData"]["alertmanager.yaml"])["templates"] == ["/etc/alertmanager/config/*.tmpl"]
    written = (tree.out / "alertmanager" / "templates" / "obstack.tmpl").read_text()
    assert written.endswith(secret["stringData"]["obstack.tmpl"]) and "{{ define" in secret["stringData"]["obstack.tmpl"]
    assert (tree.out / "kubernetes" / "alertmanager-config.yaml").read_text().startswith("# Generated by obstack")


def test_the_secret_differs_from_alertmanager_yml_only_in_the_templates_glob(tree: ValidationContext) -> None:
    in_secret = _without_header(_secret(tree.out)["stringData"]["alertmanager.yaml"])
    on_disk = _without_header((tree.out / "alertmanager" / "alertmanager.yml").read_text())
    assert len(in_secret) == len(on_disk)
    changed = [(a, b) for a, b in zip(in_secret, on_disk) if a != b]
    assert changed == [("- /etc/alertmanager/config/*.tmpl", "- templates/*.tmpl")]


def test_the_secret_passes_amtool_with_its_templates_where_the_operator_mounts_them(tree: ValidationContext,
                                                                                   tmp_path: Path) -> None:
    amtool = require_binary("amtool", "prometheus-alertmanager")
    config = _mount_like_the_operator(_secret(tree.out), tmp_path)
    checked = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The glob really finds the templates: a template the receivers use renders from them.
    rendered = subprocess.run([amtool, "template", "render", f"--template.glob={tmp_path}/*.tmpl",
                               '--template.text={{ template "obstack.title" . }}'],
                              capture_output=True, text=True, check=False)
    # amtool's example data: status "alertstatus", group labels grouplabelkey1..2 (shown by obstack.subject).
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout.startswith("[ALERTSTATUS]") and "grouplabelkey1=grouplabelvalue1" in rendered.stdout


def test_the_secret_is_in_the_kustomization_and_validated_by_both_validators(tree: ValidationContext) -> None:
    assert "alertmanager-config.yaml" in load_yaml(tree.out / "kubernetes" / "kustomization.yaml")["resources"]
    require_binary("amtool", "prometheus-alertmanager")
    result = alertmanager_secret_validator(tree)
    assert result.status == "pass", [str(f) for f in result.findings]
    assert "obstack.tmpl" in result.summary


def test_a_custom_secret_name_and_file_secrets_of_receivers(tmp_path: Path) -> None:
    require_binary("amtool", "prometheus-alertmanager")
    slack_file = "/etc/alertmanager/secrets/alertmanager-receivers/slack_webhook_url"

    def change(data: dict[str, Any]) -> None:
        data["kubernetes"] = {"namespace": "observability", "labels": {"release": "prom"},
                              "alertmanager_config_secret": "bookmark-alertmanager"}
        data["notifications"]["receivers"].append(
            {"name": "team-chat", "type": "slack", "api_url_file": slack_file, "channel": "#alerts"})

    context = build_tree(tmp_path, spec_with(change))
    secret = _secret(tmp_path)
    assert secret["metadata"]["name"] == "bookmark-alertmanager" and secret["metadata"]["namespace"] == "observability"
    assert secret["metadata"]["labels"]["release"] == "prom"
    config = yaml.safe_load(secret["stringData"]["alertmanager.yaml"])
    slack = next(r for r in config["receivers"] if r["name"] == "team-chat")["slack_configs"][0]
    assert slack["api_url_file"] == slack_file  # a path to mount, never the URL itself
    for validator in (kubernetes_core_validator, alertmanager_secret_validator):
        assert validator(context).status == "pass", [str(f) for f in validator(context).findings]


def test_a_secret_name_kubernetes_refuses_is_a_spec_error() -> None:
    with pytest.raises(SpecError) as error:
        spec_with(lambda data: data.update(kubernetes={"alertmanager_config_secret": "am_config"}))
    assert "kubernetes.alertmanager_config_secret" in str(error.value) and "\n" not in str(error.value).strip()


def test_a_spec_without_notifications_gets_the_default_receivers_in_the_secret(tmp_path: Path) -> None:
    require_binary("amtool", "prometheus-alertmanager")
    context = build_tree(tmp_path, spec_with(lambda data: data.pop("notifications")))
    config = yaml.safe_load(_secret(tmp_path)["stringData"]["alertmanager.yaml"])
    assert [r["name"] for r in config["receivers"]] == ["pager", "chat", "heartbeat"]
    assert alertmanager_secret_validator(context).status == "pass"


def test_the_secret_is_the_models_config_and_templates_with_the_operators_glob() -> None:
    model = model_of(spec_with())
    secret = next(a for a in kubernetes_artifacts(model) if a.path.name == "alertmanager-config.yaml")
    data = yaml.safe_load(secret.content)["stringData"]
    assert yaml.safe_load(data["alertmanager.yaml"]) == {**model.alertmanager_config,
                                                         "templates": ["/etc/alertmanager/config/*.tmpl"]}
    assert data["obstack.tmpl"] == next(a.content for a in alertmanager_artifacts(model) if a.path.suffix == ".tmpl")


def _edit_secret(out: Path, edit: Any) -> None:
    path = out / "kubernetes" / "alertmanager-config.yaml"
    secret = _secret(out)
    edit(secret["stringData"])
    path.write_text(yaml.safe_dump(secret, sort_keys=False))


def _reroute(data: dict[str, str]) -> None:
    config = yaml.safe_load(data["alertmanager.yaml"])
    config["route"]["routes"][0]["receiver"] = "chat"
    data["alertmanager.yaml"] = yaml.safe_dump(config, sort_keys=False)


@pytest.mark.parametrize("edit, expected", [
    (_reroute, "route.routes[0].receiver: 'chat' here, 'heartbeat' in alertmanager/alertmanager.yml"),
    (lambda d: d.update({"alertmanager.yaml": d["alertmanager.yaml"].replace("/etc/alertmanager/config/*.tmpl",
                                                                              "templates/*.tmpl")}),
     "templates[0]: 'templates/*.tmpl' here, '/etc/alertmanager/config/*.tmpl'"),
    (lambda d: d.pop("obstack.tmpl"), "missing: alertmanager/templates/obstack.tmpl is not in the Secret"),
    (lambda d: d.update({"obstack.tmpl": d["obstack.tmpl"] + "{{ define \"extra\" }}x{{ end }}\n"}),
     "differs from alertmanager/templates/obstack.tmpl"),
    (lambda d: d.update({"obstack.tmpl": "{{ define \"broken\" }}"}), "unexpected EOF"),
    (lambda d: d.pop("alertmanager.yaml"), "no 'alertmanager.yaml' key"),
])
def test_the_secret_validator_reports_a_hand_edited_secret(tmp_path: Path, edit: Any, expected: str) -> None:
    require_binary("amtool", "prometheus-alertmanager")
    context = build_tree(tmp_path)
    _edit_secret(tmp_path, edit)
    result = alertmanager_secret_validator(context)
    assert result.status == "fail"
    assert any(expected in str(finding) for finding in result.findings), [str(f) for f in result.findings]
    assert all(f.file == "kubernetes/alertmanager-config.yaml" for f in result.findings)


def test_the_secret_validator_fails_without_amtool_and_names_the_package(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    context = build_tree(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    result = alertmanager_secret_validator(context)
    assert result.status == "missing tool"
    assert "'prometheus-alertmanager'" in result.findings[0].message


def test_the_schema_validator_covers_the_secret_strictly(tmp_path: Path) -> None:
    context = build_tree(tmp_path)
    path = tmp_path / "kubernetes" / "alertmanager-config.yaml"
    secret = _secret(tmp_path)
    secret["stringdata"] = secret.pop("stringData")
    path.write_text(yaml.safe_dump(secret))
    findings = kubernetes_core_validator(context).findings
    assert len(findings) == 1 and "stringdata" in findings[0].message
    assert findings[0].location == "document 0 (Secret/obstack-alertmanager-config)"


@pytest.mark.parametrize("spec_file", [None, "orders.yaml", "events.yaml"])
def test_prometheus_rules_written_from_the_rule_files_text_are_the_rule_objects(spec_file: str | None) -> None:
    """Each PrometheusRule's spec is its rule file's YAML indented under ``spec:``: it must read
    back as the object a fresh dump writes (the generated rule files and your own)."""
    loaded = load_spec(None if spec_file is None else Path(__file__).parent / "specs" / spec_file)
    model = build_stack_model(loaded.spec, loaded.user_files)
    objects = prometheus_rules(model)
    assert len(objects) == len(model.loaded_rule_documents) > 1
    assert list(yaml.safe_load_all(prometheus_rules_text(model))) == objects
