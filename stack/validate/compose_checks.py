"""Validators of the compose output: `docker-compose config -q`, the compose lint, and
`promtool check config` on the Prometheus configuration as the container sees it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


from obstack.compose.build import COMPOSE_FILE, ENV_EXAMPLE
from obstack.compose.compose_lint import LINT_RULES, ComposeInput, lint_compose
from obstack.compose.container_view import config_path, rebuild_root, rewrite_config
from obstack.compose.images import EXPORTER_TOOLS, IMAGES, tools_by_repository
from obstack.foundation.artifacts import load_yaml
from obstack.foundation.findings import Finding
from obstack.foundation.lint_exclusions import apply_exclusions
from obstack.stack.spec.model import Spec
from obstack.stack.validate.lint_inputs import read_exclusions
from obstack.stack.validate.tools import ToolMissing, failure_text, run_tool
from obstack.stack.validate.validator import ValidationContext, ValidatorResult

_APP_TOOLS = {"curl": {"curl"}, "wget": {"wget"}, "node": {"node"}}


def _load_compose(context: ValidationContext, result: ValidatorResult) -> dict[str, Any] | None:
    path = context.out / COMPOSE_FILE
    if not path.is_file():
        result.findings.append(Finding(result.name, "error", COMPOSE_FILE.as_posix(), "", "not generated; run `obstack generate`"))
        return None
    return load_yaml(path.read_text(encoding="utf-8")) or {}


def docker_compose_config_validator(context: ValidationContext) -> ValidatorResult:
    """`docker-compose config -q` with .env.example as the environment (every variable set)."""
    result = ValidatorResult("docker-compose config")
    if _load_compose(context, result) is None:
        return result
    compose_file = (context.out / COMPOSE_FILE).resolve()
    args = ["--env-file", str((context.out / ENV_EXAMPLE).resolve()), "-f", str(compose_file), "config", "-q"]
    try:
        run = run_tool("docker-compose", args, cwd=compose_file.parent)
    except ToolMissing as missing:
        result.tool_missing = True
        result.findings.append(Finding(result.name, "error", COMPOSE_FILE.as_posix(), "", str(missing)))
        return result
    if run.returncode != 0:
        result.findings.append(Finding(result.name, "error", COMPOSE_FILE.as_posix(), "", failure_text("docker-compose", run.output)))
    else:
        result.summary = f"{COMPOSE_FILE.as_posix()} is a valid compose file"
    return result


def image_tools(spec: Spec) -> dict[str, frozenset[str]]:
    """Tools per image: the table's, the exporter's, and each application's declared probe tool."""
    tools = tools_by_repository()
    tools[spec.compose.exporter_image.rsplit(":", 1)[0]] = EXPORTER_TOOLS
    for app in spec.compose.apps:
        tools[app.image.rsplit(":", 1)[0]] = frozenset(_APP_TOOLS[app.healthcheck_tool])
    return tools


def _documented_variables(out: Path) -> frozenset[str]:
    path = out / ENV_EXAMPLE
    if not path.is_file():
        return frozenset()
    names = (line.split("=", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()
             if "=" in line and not line.lstrip().startswith("#"))
    return frozenset(names)


def _host(address: str) -> str:
    """'http://prometheus:9090/x' or 'prometheus:9090' -> 'prometheus'."""
    return urlsplit(address if "://" in address else f"//{address}").hostname or ""


_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_PROMETHEUS_CONFIG = "prometheus/prometheus.yml"


def _scrape_targets(out: Path) -> Iterator[tuple[str, str]]:
    """(job name, target) of every static target in the generated prometheus.yml."""
    config_file = out / _PROMETHEUS_CONFIG
    config = load_yaml(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    for job in (config or {}).get("scrape_configs") or []:
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                yield job["job_name"], target


def scrape_target_findings(context: ValidationContext, compose_services: set[str], validator: str) -> list[Finding]:
    """Scrape targets against where their service runs. A job of the stack itself or of a service
    that runs in compose names a compose service, else a warning (right for an external host, a
    typo or a missing compose.apps entry otherwise). A job of a service that runs elsewhere must
    not name one: on the compose network that name is the container, so Prometheus would scrape
    it instead of the service (an error)."""
    spec = context.loaded.spec
    services = {service.job: (index, service) for index, service in enumerate(spec.services)}
    in_apps = {app.service for app in spec.compose.apps}
    findings = []
    for job, target in _scrape_targets(context.out):
        host = _host(target)
        index, service = services.get(job, (None, None))
        if service is not None and service.runs_on != "compose":
            if host in compose_services:
                findings.append(Finding(
                    validator, "error", context.loaded.name, f"services[{index}].targets",
                    f"job {job}: target {target} is the compose service '{host}', but '{service.name}' runs on "
                    f"{service.runs_on}: Prometheus would scrape that container instead; use the address the service answers on"))
        elif host not in compose_services | _LOCAL_HOSTS:
            if service is not None and service.name not in in_apps:
                findings.append(Finding(
                    validator, "warning", context.loaded.name, f"services[{index}]",
                    f"job {job}: target {target} is not a compose service: '{service.name}' runs on compose (the "
                    "default) but has no compose.apps entry; add one, or set its runs_on to kubernetes or external"))
            else:
                findings.append(Finding(validator, "warning", _PROMETHEUS_CONFIG, "",
                                        f"job {job}: target {target} is not a compose service"))
    return findings


def unreachable_datasources(out: Path, compose_services: set[str]) -> list[tuple[str, str]]:
    """Grafana datasources naming no compose service: fine for an external host, a typo otherwise;
    reported as warnings."""
    problems = []
    for path in sorted((out / "grafana" / "provisioning" / "datasources").glob("*.y*ml")):
        for source in (load_yaml(path.read_text(encoding="utf-8")) or {}).get("datasources") or []:
            url = source.get("url")
            if isinstance(url, str) and "://" in url and _host(url) not in compose_services | _LOCAL_HOSTS:
                problems.append((path.relative_to(out).as_posix(), f"datasource {source.get('name')}: {url} is not a compose service"))
    return problems


def compose_lint_validator(context: ValidationContext) -> ValidatorResult:
    """The compose lint (compose/compose_lint.py) on the generated file, apps naming no spec service, scrape
    targets against where their service runs, and (as warnings) Grafana datasources that no compose
    service answers."""
    result = ValidatorResult("compose lint")
    document = _load_compose(context, result)
    if document is None:
        return result
    spec = context.loaded.spec
    data = ComposeInput(
        document=document,
        compose_dir=COMPOSE_FILE.parent.as_posix(),
        generated=frozenset(a.path.as_posix() for a in context.artifacts),
        documented_variables=_documented_variables(context.out),
        image_tools=image_tools(spec),
    )
    exclusions = read_exclusions(context, result, spec.compose.lint_exclusions, LINT_RULES)
    result.findings += apply_exclusions(lint_compose(data), exclusions)
    compose_services = set(document.get("services") or {})
    result.findings += scrape_target_findings(context, compose_services, result.name)
    for file, message in unreachable_datasources(context.out, compose_services):
        result.findings.append(Finding(result.name, "warning", file, "", message))
    services = {service.name for service in spec.services}
    for index, app in enumerate(spec.compose.apps):
        if app.service not in services:
            result.findings.append(Finding(result.name, "error", context.loaded.name, f"compose.apps[{index}].service",
                                           f"'{app.service}' is not a service of the spec"))
    if not result.findings:
        result.summary = f"{len(document.get('services') or {})} services, no finding"
    return result


def _prometheus_service(document: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    repository = IMAGES["prometheus"].repository
    for name, service in sorted((document.get("services") or {}).items()):
        if str(service.get("image", "")).startswith(repository + ":"):
            return name, service
    return None


def promtool_compose_validator(context: ValidationContext) -> ValidatorResult:
    """`promtool check config` on a copy of prometheus.yml laid out as the Prometheus container sees it."""
    result = ValidatorResult("promtool check config (compose)")
    document = _load_compose(context, result)
    if document is None:
        return result
    found = _prometheus_service(document)
    if found is None:
        result.findings.append(Finding(result.name, "error", COMPOSE_FILE.as_posix(), "services", "no Prometheus service"))
        return result
    name, service = found
    location = f"services.{name}"
    with tempfile.TemporaryDirectory(prefix="obstack-container-") as temporary:
        root = Path(temporary) / "root"
        problems = rebuild_root((context.out / COMPOSE_FILE).parent, service, root)
        container_config = config_path(service)
        if not (root / container_config.lstrip("/")).is_file():
            problems.append(f"{container_config} is not mounted into the container")
        else:
            config, glob_problems = rewrite_config(root, container_config)
            problems += glob_problems
            try:
                run = run_tool("promtool", ["check", "config", config.name], cwd=config.parent, timeout=600)
            except ToolMissing as missing:
                result.tool_missing = True
                problems.append(str(missing))
            else:
                if run.returncode != 0:
                    lines = [line.strip().replace(str(root), "") for line in run.output.splitlines() if line.strip()]
                    problems.append(" | ".join(lines[-6:]) or "promtool failed")
    for problem in problems:
        result.findings.append(Finding(result.name, "error", COMPOSE_FILE.as_posix(), location, problem))
    if not result.findings:
        result.summary = f"{container_config} as mounted in '{name}' passes promtool"
    return result
