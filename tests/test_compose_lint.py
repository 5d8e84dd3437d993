"""The compose lint catches each of its problems on a deliberately broken input, and only those."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.compose.compose_lint import ComposeInput, lint_compose
from obstack.stack.validate.compose_checks import compose_lint_validator, image_tools
from tests.compose.trees import build_tree, load_yaml, spec_with

TOOLS = image_tools(spec_with().spec)
GENERATED = frozenset({"prometheus/prometheus.yml", "prometheus/rules/host.yml", "compose/jaeger/config.yaml"})


def good() -> dict[str, Any]:
    """A small valid compose document in the generator's style."""
    return {
        "services": {
            "prometheus": {
                "image": "prom/prometheus:v3.5.0",
                "ports": ["127.0.0.1:9090:9090"],
                "volumes": [{"type": "bind", "source": "../prometheus", "target": "/etc/prometheus", "read_only": True},
                            "prometheus-data:/prometheus"],
                "healthcheck": {"test": ["CMD", "promtool", "check", "ready"]},
            },
            "jaeger": {
                "image": "jaegertracing/jaeger:2.5.0",
                "ports": ["127.0.0.1:16686:16686"],
                "volumes": ["./jaeger/config.yaml:/etc/jaeger/config.yaml:ro", "/proc:/host/proc:ro"],
                "healthcheck": {"test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:13133/status"]},
            },
            "grafana": {
                "image": "grafana/grafana:11.6.0",
                "environment": {"GF_SECURITY_ADMIN_PASSWORD__FILE": "/run/secrets/grafana_admin_password",
                                "DB_PASSWORD": "${DB_PASSWORD:?set it}"},
                "depends_on": {"prometheus": {"condition": "service_healthy"}},
                "healthcheck": {"test": ["CMD", "curl", "-fsS", "http://localhost:3000/api/health"]},
            },
            "main": {
                "image": "postgres:16.4-alpine",
                "healthcheck": {"test": ["CMD-SHELL", 'pg_isready -U "$${POSTGRES_USER}"']},
            },
        }
    }


def lint(document: dict[str, Any]) -> list[tuple[str, str]]:
    data = ComposeInput(document, "compose", GENERATED, frozenset({"DB_PASSWORD"}), TOOLS)
    return [(finding.rule, dict(finding.scope)["service"]) for finding in lint_compose(data)]


def broken(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(good())
    change(document["services"])
    return document


def test_the_good_document_is_clean() -> None:
    assert lint(good()) == []


def test_service_healthy_dependency_on_a_service_without_healthcheck() -> None:
    document = broken(lambda s: s["prometheus"].pop("healthcheck"))
    assert lint(document) == [("healthy-dependency-without-healthcheck", "grafana")]
    document = broken(lambda s: s["prometheus"].update(healthcheck={"disable": True}))
    assert lint(document) == [("healthy-dependency-without-healthcheck", "grafana")]


@pytest.mark.parametrize("service, test", [
    ("prometheus", ["CMD", "wget", "-q", "http://localhost:9090/-/ready"]),  # the Prometheus image: no wget
    ("jaeger", ["CMD", "curl", "-f", "http://localhost:13133/status"]),  # Alpine busybox: wget, no curl
    ("main", ["CMD-SHELL", "curl -f http://localhost:5432"]),
])
def test_healthcheck_command_the_image_cannot_run(service: str, test: list[str]) -> None:
    document = broken(lambda s: s[service]["healthcheck"].update(test=test))
    assert lint(document) == [("healthcheck-tool-missing", service)]


@pytest.mark.parametrize("image", ["grafana/grafana", "grafana/grafana:latest", "${GRAFANA_IMAGE}"])
def test_unpinned_images(image: str) -> None:
    document = broken(lambda s: s["grafana"].update(image=image))
    assert ("unpinned-image", "grafana") in lint(document)


def test_a_digest_or_a_registry_port_is_not_mistaken_for_a_tag() -> None:
    assert lint(broken(lambda s: s["grafana"].update(image="grafana/grafana@sha256:" + "0" * 64))) == []
    assert ("unpinned-image", "grafana") in lint(broken(lambda s: s["grafana"].update(image="registry:5000/grafana")))


@pytest.mark.parametrize("ports", [["127.0.0.1:9090:3000"], ["9090:3000"], [{"target": 3000, "published": 9090}]])
def test_a_port_published_twice(ports: list[Any]) -> None:
    document = broken(lambda s: s["grafana"].update(ports=ports))
    assert lint(document) == [("port-published-twice", "prometheus")]  # services are checked in name order


def test_one_port_on_two_addresses_or_protocols_is_fine() -> None:
    assert lint(broken(lambda s: s["grafana"].update(ports=["127.0.0.2:9090:3000"]))) == []
    assert lint(broken(lambda s: s["grafana"].update(ports=["127.0.0.1:9090:3000/udp"]))) == []


@pytest.mark.parametrize("environment", [
    {"POSTGRES_PASSWORD": "hunter2"},
    {"API_KEY": "abc123"},
    {"DATABASE_URL": "postgres://app:hunter2@main:5432/app"},
    ["GF_SECURITY_ADMIN_PASSWORD=hunter2"],
])
def test_a_secret_looking_value_inline(environment: Any) -> None:
    document = broken(lambda s: s["grafana"].update(environment=environment))
    problems = lint(document)
    assert problems == [("inline-secret", "grafana")]


def test_the_inline_secret_message_never_repeats_the_value() -> None:
    document = broken(lambda s: s["grafana"].update(environment={"POSTGRES_PASSWORD": "hunter2"}))
    data = ComposeInput(document, "compose", GENERATED, frozenset(), TOOLS)
    assert all("hunter2" not in p.message for p in lint_compose(data))


def test_a_password_in_a_command_url() -> None:
    document = broken(lambda s: s["main"].update(command=["--url", "redis://default:hunter2@cache:6379"]))
    assert lint(document) == [("inline-secret", "main")]


@pytest.mark.parametrize("source", ["../grafana/provisioning", "./logstash/pipeline", "../../etc", "./jaeger/config.yml"])
def test_a_mounted_file_the_generator_did_not_produce(source: str) -> None:
    document = broken(lambda s: s["grafana"].update(volumes=[{"type": "bind", "source": source, "target": "/x"}]))
    assert lint(document) == [("mount-not-generated", "grafana")]


def test_a_writable_host_mount() -> None:
    document = broken(lambda s: s["jaeger"].update(volumes=["/var/run/docker.sock:/var/run/docker.sock"]))
    assert lint(document) == [("mount-not-generated", "jaeger")]


def test_a_variable_missing_from_env_example() -> None:
    document = broken(lambda s: s["grafana"]["environment"].update(OTHER_TOKEN="${OTHER_TOKEN:?x}"))
    assert lint(document) == [("undocumented-variable", "grafana")]


def test_the_validator_reports_a_broken_generated_file(tmp_path: Path) -> None:
    """End to end: break the written compose file and the validator fails with rule ids."""
    context = build_tree(tmp_path)
    path = tmp_path / "compose" / "docker-compose.yml"
    document = load_yaml(path)
    document["services"]["prometheus"]["image"] = "prom/prometheus:latest"
    document["services"]["main"].pop("healthcheck")
    document["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] = "admin"
    path.write_text(yaml.safe_dump(document))
    result = compose_lint_validator(context)
    assert result.failed
    rules = sorted({f.message.split("]")[0].strip("[") for f in result.findings})
    assert rules == ["healthy-dependency-without-healthcheck", "inline-secret", "unpinned-image"]


def test_scrape_targets_and_datasources_outside_compose_are_warnings(tmp_path: Path) -> None:
    def external_api(data: dict[str, Any]) -> None:
        data["services"][0].update(targets=["api.example.com:3001"])
        data["compose"] = {"apps": []}  # the API runs elsewhere

    context = build_tree(tmp_path, spec_with(external_api))
    datasources = min((tmp_path / "grafana" / "provisioning" / "datasources").glob("*.yml"))
    document = yaml.safe_load(datasources.read_text())
    document["datasources"] = [{"name": "Typo", "type": "prometheus", "url": "http://promethues:9090"}]
    datasources.write_text(yaml.safe_dump(document))
    result = compose_lint_validator(context)
    warnings = sorted((f.file, f.location, f.message) for f in result.findings if f.severity == "warning")
    assert warnings == [
        ("grafana/provisioning/datasources/datasources.yml", "",
         "datasource Typo: http://promethues:9090 is not a compose service"),
        ("test.yaml", "services[0]",
         "job bookmark-api: target api.example.com:3001 is not a compose service: 'bookmark-api' runs on compose "
         "(the default) but has no compose.apps entry; add one, or set its runs_on to kubernetes or external"),
    ]
    assert not result.failed  # an external host is allowed; the warning is for typos
    assert result.status == "warn" and result.fails(strict=True)


@pytest.mark.parametrize("runs_on", ["kubernetes", "external"])
def test_the_lint_checks_only_what_compose_runs(tmp_path: Path, runs_on: str) -> None:
    """A service that says it runs elsewhere is scraped where it runs: no compose service to expect."""
    def elsewhere(data: dict[str, Any]) -> None:
        data["services"][0].update(targets=["api.example.com:3001", "10.0.0.7:3001"], runs_on=runs_on)
        data["compose"] = {"apps": []}

    result = compose_lint_validator(build_tree(tmp_path, spec_with(elsewhere)))
    assert result.findings == [] and result.status == "pass"


def test_a_service_elsewhere_whose_target_is_a_compose_service_is_an_error(tmp_path: Path) -> None:
    """On the compose network a compose service's name is that container: Prometheus would scrape the
    Postgres container 'main' instead of the API."""
    def pointed_at_main(data: dict[str, Any]) -> None:
        data["services"][0].update(targets=["api.example.com:3001", "main:3001"], runs_on="external")
        data["compose"] = {"apps": []}

    result = compose_lint_validator(build_tree(tmp_path, spec_with(pointed_at_main)))
    assert [(f.severity, f.file, f.location, f.message) for f in result.findings] == [
        ("error", "test.yaml", "services[0].targets",
         "job bookmark-api: target main:3001 is the compose service 'main', but 'bookmark-api' runs on external: "
         "Prometheus would scrape that container instead; use the address the service answers on")]
    assert result.failed
