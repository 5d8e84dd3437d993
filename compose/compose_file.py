"""compose/docker-compose.yml, .env.example and the files the compose file mounts.

Rendered from the stack model: Grafana mounts the dashboards directory only when the model has
dashboards (a mount of a missing directory would make Docker create an empty one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from obstack.compose.apps import add_apps, add_datastores
from obstack.compose.build import COMPOSE_FILE, ENV_EXAMPLE, ComposeBuild
from obstack.compose.logs_traces import add_logs_part, add_traces_part
from obstack.compose.monitoring import add_metrics_part
from obstack.foundation.artifacts import Artifact, dump_yaml

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

# Profiles: services without one always start (metrics); `all` starts logs and traces too.
LOGS_PROFILES = ["logs", "all"]
TRACES_PROFILES = ["traces", "all"]

# Service keys in the order a reader looks for them.
_KEY_ORDER = ("image", "build", "profiles", "restart", "command", "environment", "secrets", "ports", "volumes",
              "tmpfs", "read_only", "pid", "ulimits", "depends_on", "healthcheck", "mem_limit")


def _ordered(service: dict[str, Any]) -> dict[str, Any]:
    rank = {key: index for index, key in enumerate(_KEY_ORDER)}
    return {key: service[key] for key in sorted(service, key=lambda k: (rank.get(k, len(rank)), k))}


def build_compose(model: StackModel) -> ComposeBuild:
    spec = model.spec
    build = ComposeBuild(spec)
    add_datastores(build)
    add_apps(build)
    add_metrics_part(build, model.dashboards_root if model.all_dashboards else None)
    if spec.logs.enabled:
        # Jaeger keeps its spans in this Elasticsearch, so starting traces alone starts it too.
        es_profiles = sorted({*LOGS_PROFILES, *(TRACES_PROFILES if spec.tracing.enabled else [])})
        add_logs_part(build, LOGS_PROFILES, es_profiles)
    if spec.tracing.enabled:
        add_traces_part(build, TRACES_PROFILES)
    return build


def compose_document(build: ComposeBuild) -> dict[str, Any]:
    document: dict[str, Any] = {"services": {name: _ordered(s) for name, s in sorted(build.services.items())}}
    if build.volumes:
        document["volumes"] = {name: {} for name in sorted(build.volumes)}
    if build.secrets:
        document["secrets"] = {name: {"file": path} for name, path in sorted(build.secrets.items())}
    return document


def env_example(build: ComposeBuild) -> str:
    """Every variable the compose file reads, documented, with a placeholder or default value."""
    lines = [
        "# Copy to .env next to docker-compose.yml and replace every CHANGE_ME; never commit .env.",
        "#",
        "# Profiles: empty starts the metrics part only; 'all' adds logs and traces",
        "# (or pick: 'logs', 'traces').",
        "COMPOSE_PROFILES=",
        f"COMPOSE_PROJECT_NAME={build.spec.project}",
    ]
    for var in sorted(build.env.values(), key=lambda v: v.name):
        need = "required" if var.required else f"optional, default {var.example}"
        lines += ["", f"# {var.description} ({need})", f"{var.name}={var.example}"]
    if build.secrets:
        lines += ["", "# Compose secrets: create one file per secret (its content only, no newline needed):"]
        lines += [f"#   {path}" for _, path in sorted(build.secrets.items())]
    return "\n".join(lines) + "\n"


def compose_artifacts(model: StackModel) -> list[Artifact]:
    """The compose file, its .env.example and every file it mounts."""
    build = build_compose(model)
    return [
        Artifact(COMPOSE_FILE, dump_yaml(compose_document(build)), "compose"),
        Artifact(ENV_EXAMPLE, env_example(build), "compose"),
        *build.files,
    ]
