"""The compose file under construction: services, volumes, secrets, variables and mounted files.

Service builders add to one ``ComposeBuild``; it keeps the pieces that must agree with each
other (a variable used and documented, a secret declared and referenced, a mounted file
generated) in one place, so none can be added without the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from obstack.compose.images import IMAGES, STACK_HEALTHCHECK_TIMING, Image
from obstack.foundation.artifacts import Artifact, dump_yaml
from obstack.stack.spec.model import PostgresDatastore, RedisDatastore, Spec

COMPOSE_DIR = PurePosixPath("compose")
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
SECRETS_DIR = "./secrets"  # relative to compose/; the user fills it, obstack never writes there


@dataclass(frozen=True)
class EnvVar:
    name: str
    example: str
    description: str
    required: bool = True  # required: ${NAME:?...}; otherwise ${NAME:-example}


@dataclass
class ComposeBuild:
    spec: Spec
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # secret name -> file under ./secrets
    env: dict[str, EnvVar] = field(default_factory=dict)
    files: list[Artifact] = field(default_factory=list)

    def variable(self, var: EnvVar) -> str:
        """Register a variable for .env.example and return its compose interpolation."""
        self.env.setdefault(var.name, var)
        if var.required:
            return "${" + var.name + ":?set " + var.name + " in .env (see .env.example)}"
        return "${" + var.name + ":-" + var.example + "}"

    def volume(self, name: str, target: str) -> str:
        if name not in self.volumes:
            self.volumes.append(name)
        return f"{name}:{target}"

    def secret(self, container_path: str) -> dict[str, str]:
        """A compose secret for a file the spec names; the file itself lives in ./secrets."""
        base = PurePosixPath(container_path).name
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in base)
        self.secrets[name] = f"{SECRETS_DIR}/{name}"
        return {"source": name, "target": container_path}

    def memory(self, service: str, default: str) -> str:
        return self.spec.compose.memory_limits.get(service, default)

    def ui_ports(self, service: str, image: Image) -> list[str]:
        """Only UIs are published, bound to the spec's address (loopback by default)."""
        if image.ui_port is None:
            return []
        host_port = self.spec.compose.ui_ports.get(service, image.ui_port)
        return [f"{self.spec.compose.bind_address}:{host_port}:{image.ui_port}"]


def healthcheck(test: tuple[str, ...] | list[str], start_period: str, timing: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"test": list(test), **(timing or STACK_HEALTHCHECK_TIMING), "start_period": start_period}


def stack_service(build: ComposeBuild, name: str, key: str, **extra: Any) -> dict[str, Any]:
    """A service from the image table: pinned image, its healthcheck, memory, UI port, restart policy."""
    image = IMAGES[key]
    service: dict[str, Any] = {"image": image.reference, "restart": "unless-stopped"}
    service.update(extra)
    ports = build.ui_ports(name, image)
    if ports:
        service["ports"] = ports
    service["healthcheck"] = healthcheck(image.healthcheck, image.start_period)
    service["mem_limit"] = build.memory(name, image.memory)
    build.services[name] = service
    return service


def healthy(*names: str) -> dict[str, dict[str, str]]:
    return {name: {"condition": "service_healthy"} for name in names}


def host_of(target: str) -> str:
    """'bookmark-api:3001' -> 'bookmark-api': scrape targets name compose services."""
    return target.rsplit(":", 1)[0]


def port_of(target: str) -> int:
    return int(target.rsplit(":", 1)[1])


def url_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "") or "/"


def env_name(name: str) -> str:
    """A datastore or service name as an environment-variable prefix: 'link-check' -> 'LINK_CHECK'."""
    return "".join(c.upper() if c.isalnum() else "_" for c in name)


# What the exporter reads of the spec (exporters/app.py, routes.py, health.py, probes/): its own
# settings, Prometheus's scrape timeout (the longest deadline a scrape may ask for), the
# datastores and queues it probes and each service's health URL; a service keeps the fields that
# name and place it.
EXPORTER_SPEC_KEYS = ("version", "project", "environment", "team", "prometheus", "services", "datastores", "queues",
                      "exporter")
EXPORTER_PROMETHEUS_KEYS = ("scrape_interval", "scrape_timeout", "evaluation_interval")
EXPORTER_SERVICE_KEYS = ("name", "job", "team", "targets", "runs_on", "health_url")


def exporter_spec_text(spec: Spec) -> str:
    """The spec as the exporter container loads it: what the exporter reads, every default filled
    in. The rest (SLOs, thresholds, alerts, receivers, your own rule files and dashboards) is left
    out: the exporter never reads it, a file it names is not in the container, and the whole spec
    of a thousand services (1.2 MB) outgrew a ConfigMap (1 MiB)."""
    full = spec.model_dump(mode="json", by_alias=True)
    document = {key: full[key] for key in EXPORTER_SPEC_KEYS}
    document["prometheus"] = {key: full["prometheus"][key] for key in EXPORTER_PROMETHEUS_KEYS}
    document["services"] = [{key: service[key] for key in EXPORTER_SERVICE_KEYS} for service in full["services"]]
    return dump_yaml(document)


def credential_source(datastore: PostgresDatastore | RedisDatastore) -> tuple[str | None, str | None]:
    """(environment variable, file) holding a datastore's connection string: exactly one is set."""
    if isinstance(datastore, PostgresDatastore):
        return datastore.dsn_env, datastore.dsn_file
    return datastore.url_env, datastore.url_file
