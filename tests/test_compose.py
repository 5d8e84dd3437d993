"""compose/docker-compose.yml and the files it mounts: schema, docker-compose, cross-checks, options."""

from __future__ import annotations

import json
import posixpath
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from obstack.compose.build import exporter_spec_text
from obstack.compose.compose_file import compose_artifacts
from obstack.exporters.app import build_probes
from obstack.compose.compose_lint import bind_mounts
from obstack.compose.images import IMAGES
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec, load_spec_text
from obstack.stack.spec.model import Spec
from obstack.stack.validate.compose_checks import (
    compose_lint_validator,
    docker_compose_config_validator,
    promtool_compose_validator,
)
from obstack.stack.validate.validator import ValidationContext
from tests.compose.trees import (
    SCHEMAS,
    build_tree,
    load_yaml,
    model_of,
    spec_with,
    without_dashboards,
)
from tests.support.servers import require_binary

SPECS = Path(__file__).parent / "specs"

COMPOSE = Path("compose/docker-compose.yml")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> ValidationContext:
    return build_tree(tmp_path_factory.mktemp("compose") / "build")


@pytest.fixture(scope="module")
def compose(tree: ValidationContext) -> dict[str, Any]:
    return load_yaml(tree.out / COMPOSE)


def test_the_compose_file_validates_against_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    errors = [f"{e.json_path}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(compose)]
    assert errors == []


def test_docker_compose_config_accepts_it(tree: ValidationContext) -> None:
    require_binary("docker-compose", "docker-compose")
    result = docker_compose_config_validator(tree)
    assert result.status == "pass", [str(f) for f in result.findings]


def test_every_prometheus_scrape_target_is_a_compose_service(tree: ValidationContext, compose: dict[str, Any]) -> None:
    config = load_yaml(tree.out / "prometheus" / "prometheus.yml")
    targets = [t for job in config["scrape_configs"] for static in job["static_configs"] for t in static["targets"]]
    targets += [t for am in config["alerting"]["alertmanagers"] for static in am["static_configs"] for t in static["targets"]]
    hosts = {target.rsplit(":", 1)[0] for target in targets} - {"localhost"}
    assert hosts <= set(compose["services"]), hosts - set(compose["services"])
    assert {"bookmark-api", "obstack-exporter", "node-exporter", "alertmanager"} <= hosts


def test_every_mounted_path_exists_in_the_generated_tree(tree: ValidationContext, compose: dict[str, Any]) -> None:
    compose_dir = tree.out / "compose"
    mounted = 0
    for name, service in compose["services"].items():
        for source, _, _ in bind_mounts(service):
            if source.startswith("/"):
                continue  # node-exporter's host paths
            mounted += 1
            assert (compose_dir / source).exists(), f"{name} mounts {source}, which was not generated"
    assert mounted >= 8


def test_images_come_pinned_from_the_one_table(compose: dict[str, Any]) -> None:
    table = {image.reference for image in IMAGES.values()}
    for name, service in compose["services"].items():
        image = service["image"]
        assert not image.endswith(":latest") and re.search(r":[^/]+$", image), f"{name}: {image}"
        if name not in ("bookmark-api", "obstack-exporter"):
            assert image in table, f"{name}: {image} is not from compose/images.py"


def test_every_service_has_a_healthcheck_memory_limit_and_restart_policy(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service["healthcheck"]["test"], name
        assert service["mem_limit"], name
        assert service["restart"] == "unless-stopped", name


def test_the_api_follows_the_plan_and_waits_for_its_datastores(compose: dict[str, Any]) -> None:
    api = compose["services"]["bookmark-api"]
    check = api["healthcheck"]
    assert check["test"][:2] == ["CMD", "curl"] and check["test"][-1] == "http://localhost:3001/health"
    assert (check["interval"], check["timeout"], check["retries"], check["start_period"]) == ("30s", "10s", 3, "40s")
    # the spec: depends_on [main, cache, bookmark-import, link-check]; both queues live in cache
    assert api["depends_on"] == {"main": {"condition": "service_healthy"}, "cache": {"condition": "service_healthy"}}
    assert compose["services"]["main"]["healthcheck"]["test"][1].startswith("pg_isready")
    assert "redis-cli ping" in compose["services"]["cache"]["healthcheck"]["test"][1]


def test_only_ui_ports_are_published_on_loopback(compose: dict[str, Any]) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if "ports" in s}
    assert set(published) == {"grafana", "prometheus", "alertmanager", "kibana", "jaeger"}
    assert all(port.startswith("127.0.0.1:") for ports in published.values() for port in ports)


def test_profiles_start_metrics_alone_or_everything(compose: dict[str, Any]) -> None:
    services = compose["services"]
    always = {name for name, s in services.items() if "profiles" not in s}
    assert {"prometheus", "alertmanager", "grafana", "node-exporter", "obstack-exporter"} <= always
    for name in ("elasticsearch", "logstash", "kibana", "jaeger"):
        assert "all" in services[name]["profiles"], name
    assert "traces" in services["elasticsearch"]["profiles"]  # Jaeger stores its spans there


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    volumes = set(compose["volumes"])
    for name, target in (("prometheus", "/prometheus"), ("grafana", "/var/lib/grafana"), ("main", "/var/lib/postgresql/data"),
                         ("cache", "/data"), ("elasticsearch", "/usr/share/elasticsearch/data")):
        named = [v for v in compose["services"][name]["volumes"] if isinstance(v, str) and v.endswith(":" + target)]
        assert named and named[0].split(":")[0] in volumes, name


def test_prometheus_gets_retention_lifecycle_and_its_whole_directory(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert "--storage.tsdb.retention.time=5w" in prometheus["command"]  # 35d, the spec default
    assert "--web.enable-lifecycle" in prometheus["command"]
    assert prometheus["healthcheck"]["test"][1:4] == ["promtool", "check", "ready"]
    assert {"type": "bind", "source": "../prometheus", "target": "/etc/prometheus", "read_only": True} in prometheus["volumes"]
    alertmanager = compose["services"]["alertmanager"]
    assert {"type": "bind", "source": "../alertmanager", "target": "/etc/alertmanager", "read_only": True} in alertmanager["volumes"]


def test_grafana_gets_provisioning_dashboards_and_a_secret_password(tree: ValidationContext,
                                                                    compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    targets = {v["target"]: v["source"] for v in grafana["volumes"] if isinstance(v, dict)}
    # the dashboards go where the generated provisioning's file provider looks
    providers = load_yaml(tree.out / "grafana/provisioning/dashboards/dashboards.yml")["providers"]
    provider_path = providers[0]["options"]["path"]
    assert targets == {"/etc/grafana/provisioning": "../grafana/provisioning", provider_path: "../grafana/dashboards"}
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert compose["secrets"]["grafana_admin_password"] == {"file": "./secrets/grafana_admin_password"}


def test_without_dashboards_grafana_mounts_its_provisioning_alone() -> None:
    files = {a.path.as_posix(): a for a in compose_artifacts(without_dashboards(model_of(spec_with())))}
    grafana = yaml.safe_load(files["compose/docker-compose.yml"].content)["services"]["grafana"]
    assert [v["source"] for v in grafana["volumes"] if isinstance(v, dict)] == ["../grafana/provisioning"]


def test_env_example_documents_every_variable_and_no_secret_is_inline(tree: ValidationContext) -> None:
    text = (tree.out / COMPOSE).read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    example = (tree.out / "compose" / ".env.example").read_text()
    documented = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")}
    assert used and used <= documented
    for name in used:  # each variable carries a comment line right above it
        lines = example.splitlines()
        assert lines[lines.index(next(l for l in lines if l.startswith(name + "="))) - 1].startswith("# ")
    assert "CHANGE_ME" not in text


def test_the_exporter_gets_the_resolved_spec_and_its_credentials(tree: ValidationContext, compose: dict[str, Any]) -> None:
    exporter = compose["services"]["obstack-exporter"]
    assert exporter["command"] == ["exporter", "--spec", "/etc/obstack/stack.yaml", "--listen", "0.0.0.0:9477"]
    assert "/livez" in exporter["healthcheck"]["test"][-1] and exporter["read_only"] is True
    assert set(exporter["environment"]) == {"BOOKMARK_PG_DSN", "BOOKMARK_REDIS_URL"}
    assert_exporter_reads_the_same((tree.out / "compose/exporter/stack.yaml").read_text(), spec_with().spec)


def assert_exporter_reads_the_same(text: str, spec: Spec) -> None:
    """The exporter's copy of the spec loads, and gives the exporter all it reads, as the spec does."""
    loaded = load_spec_text(text, "stack.yaml").spec
    assert loaded.exporter == spec.exporter and loaded.prometheus.scrape_timeout == spec.prometheus.scrape_timeout
    assert (loaded.project, loaded.datastores, loaded.queues) == (spec.project, spec.datastores, spec.queues)
    assert [(s.name, s.health_url) for s in loaded.services] == [(s.name, s.health_url) for s in spec.services]
    assert [type(p).__name__ for p in build_probes(loaded)] == [type(p).__name__ for p in build_probes(spec)]


@pytest.mark.parametrize("name", ["orders", "shop", "events"])
def test_the_exporter_spec_of_every_test_spec_loads_where_the_specs_own_files_are_not(name: str, tmp_path: Path) -> None:
    """Your own rule files and dashboards are not in the exporter's container: its copy of the spec
    names none of them (orders.yaml has both), and it holds only what the exporter reads."""
    loaded = load_spec(SPECS / f"{name}.yaml")
    text = next(a.content for a in generate(loaded) if a.path.as_posix() == "compose/exporter/stack.yaml")
    (tmp_path / "stack.yaml").write_text(text)
    assert_exporter_reads_the_same((tmp_path / "stack.yaml").read_text(), loaded.spec)
    assert load_spec(tmp_path / "stack.yaml").user_files == ()
    assert "slos" not in text and "receivers" not in text and "extra_rule_files" not in text


def test_the_exporter_spec_of_a_thousand_services_fits_a_config_map() -> None:
    entries = "\n".join(f"  - {{name: svc-{i}, targets: [svc-{i}:8080]}}" for i in range(1000))
    loaded = load_spec_text(f"project: big\nservices:\n{entries}\n", "big.yaml")
    text = exporter_spec_text(loaded.spec)
    assert len(text.encode()) < 1024 * 1024 / 2  # a ConfigMap holds 1 MiB


def test_logstash_pipeline_parses_json_lines_into_a_data_stream(tree: ValidationContext) -> None:
    pipeline = (tree.out / "compose/logstash/pipeline/obstack.conf").read_text()
    assert "codec => json_lines" in pipeline and "beats {" in pipeline
    for source, target in (("level", "[log][level]"), ("service", "[service][name]"), ("trace_id", "[trace][id]"),
                           ("span_id", "[span][id]"), ("correlation_id", "[http][request][id]")):
        assert f'"{source}" => "{target}"' in pipeline
    assert 'data_stream_dataset => "bookmark"' in pipeline and 'data_stream_namespace => "production"' in pipeline
    blocks = pipeline.replace("/^\\s*\\{/", "")  # the regex's brace opens no block
    assert blocks.count("{") == blocks.count("}")


def test_jaeger_stores_in_elasticsearch_with_logs_and_in_memory_without(tree: ValidationContext) -> None:
    config = load_yaml(tree.out / "compose/jaeger/config.yaml")
    backend = config["extensions"]["jaeger_storage"]["backends"]["traces"]
    assert backend["elasticsearch"]["server_urls"] == ["http://elasticsearch:9200"]
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"
    loaded = spec_with(lambda d: d.update(logs={"enabled": False}))
    files = {a.path.as_posix(): a for a in compose_artifacts(model_of(loaded))}
    assert "memory" in yaml.safe_load(files["compose/jaeger/config.yaml"].content)["extensions"]["jaeger_storage"]["backends"]["traces"]
    services = yaml.safe_load(files["compose/docker-compose.yml"].content)["services"]
    assert "elasticsearch" not in services and "depends_on" not in services["jaeger"]


def test_metrics_only_spec_has_no_logs_or_traces_services(tmp_path: Path) -> None:
    require_binary("docker-compose", "docker-compose")
    context = build_tree(tmp_path, spec_with(lambda d: d.update(logs={"enabled": False}, tracing={"enabled": False})))
    services = load_yaml(tmp_path / COMPOSE)["services"]
    assert not {"elasticsearch", "logstash", "kibana", "jaeger"} & set(services)
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in services["bookmark-api"]["environment"]
    for validator in (docker_compose_config_validator, compose_lint_validator):
        assert validator(context).status == "pass", [str(f) for f in validator(context).findings]


def test_spec_options_file_secrets_ports_and_external_datastores(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["datastores"][0] = {"name": "main", "kind": "postgres", "dsn_file": "/run/secrets/pg_dsn"}
        data["notifications"]["receivers"].append({"name": "slack", "type": "slack", "channel": "#ops",
                                                   "api_url_file": "/run/secrets/slack_url"})
        data["compose"] = {"bind_address": "0.0.0.0", "ui_ports": {"grafana": 3300}, "run_datastores": False,
                           "memory_limits": {"prometheus": "2g"}, "apps": data["compose"]["apps"]}

    context = build_tree(tmp_path, spec_with(change))
    compose = load_yaml(tmp_path / COMPOSE)
    services = compose["services"]
    assert services["grafana"]["ports"] == ["0.0.0.0:3300:3000"] and services["prometheus"]["mem_limit"] == "2g"
    assert "main" not in services and "depends_on" not in services["bookmark-api"]
    assert {"source": "pg_dsn", "target": "/run/secrets/pg_dsn"} in services["obstack-exporter"]["secrets"]
    assert {"source": "slack_url", "target": "/run/secrets/slack_url"} in services["alertmanager"]["secrets"]
    assert compose["secrets"]["pg_dsn"] == {"file": "./secrets/pg_dsn"}
    assert "./secrets/slack_url" in (tmp_path / "compose/.env.example").read_text()
    assert compose_lint_validator(context).status == "pass"


def test_a_service_that_runs_elsewhere_gets_no_container_and_keeps_its_scrape_job(tmp_path: Path) -> None:
    """The API runs in compose and depends on a search service on Kubernetes: compose runs the API
    alone (waiting for its datastores, not for search, which it cannot start), Prometheus scrapes both."""
    require_binary("docker-compose", "docker-compose")

    def change(data: dict[str, Any]) -> None:
        data["services"].append({"name": "search", "targets": ["search.apps.example.com:443"], "scheme": "https",
                                 "runs_on": "kubernetes"})
        data["services"][0]["depends_on"].append("search")

    context = build_tree(tmp_path, spec_with(change))
    services = load_yaml(tmp_path / COMPOSE)["services"]
    assert "bookmark-api" in services and not [name for name in services if name.startswith("search")]
    assert set(services["bookmark-api"]["depends_on"]) == {"main", "cache"}
    jobs = {job["job_name"]: job for job in load_yaml(tmp_path / "prometheus" / "prometheus.yml")["scrape_configs"]}
    assert jobs["search"]["scheme"] == "https"
    assert jobs["search"]["static_configs"][0]["targets"] == ["search.apps.example.com:443"]
    for validator in (docker_compose_config_validator, compose_lint_validator):
        assert validator(context).status == "pass", [str(f) for f in validator(context).findings]


def test_the_compose_lint_passes_on_the_generated_file(tree: ValidationContext) -> None:
    result = compose_lint_validator(tree)
    assert result.status == "pass", [str(f) for f in result.findings]


def test_the_lint_reports_an_app_for_an_unknown_service(tmp_path: Path) -> None:
    context = build_tree(tmp_path, spec_with(lambda d: d.update(compose={"apps": [{"service": "nope", "image": "x:1.0"}]})))
    messages = [f.message for f in compose_lint_validator(context).findings]
    assert "'nope' is not a service of the spec" in messages


def test_promtool_checks_the_config_as_the_container_sees_it(tree: ValidationContext) -> None:
    require_binary("promtool", "prometheus")
    result = promtool_compose_validator(tree)
    assert result.status == "pass", [str(f) for f in result.findings]


def test_promtool_view_catches_rules_mounted_away_from_the_config(tmp_path: Path) -> None:
    require_binary("promtool", "prometheus")
    context = build_tree(tmp_path)
    compose_file = tmp_path / COMPOSE
    document = load_yaml(compose_file)
    # Mount only the config file: the relative rules/*.yml then matches nothing in the container.
    volumes = document["services"]["prometheus"]["volumes"]
    volumes[0] = {"type": "bind", "source": "../prometheus/prometheus.yml", "target": "/etc/prometheus/prometheus.yml",
                  "read_only": True}
    compose_file.write_text(yaml.safe_dump(document))
    messages = " ".join(f.message for f in promtool_compose_validator(context).findings)
    assert "rule_files pattern rules/*.yml matches no file in the container" in messages


def test_promtool_view_fails_when_the_config_is_not_mounted(tmp_path: Path) -> None:
    context = build_tree(tmp_path)
    compose_file = tmp_path / COMPOSE
    document = load_yaml(compose_file)
    document["services"]["prometheus"]["volumes"] = ["prometheus-data:/prometheus"]
    compose_file.write_text(yaml.safe_dump(document))
    messages = [f.message for f in promtool_compose_validator(context).findings]
    assert messages == ["/etc/prometheus/prometheus.yml is not mounted into the container"]


def test_a_missing_docker_compose_is_a_visible_failure_naming_the_package(tree: ValidationContext,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    result = docker_compose_config_validator(tree)
    assert result.status == "missing tool" and result.failed
    assert "install the Debian package 'docker-compose'" in result.findings[0].message


def test_mounted_paths_resolve_inside_the_tree(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for source, _, _ in bind_mounts(service):
            if not source.startswith("/"):
                assert not posixpath.normpath(posixpath.join("compose", source)).startswith("..")

