"""Compose services of the metrics part: Prometheus, Alertmanager, node-exporter, Grafana, the exporter.

Configuration directories are mounted whole and read-only from the generated tree (``../x``
relative to compose/), so relative references inside them (Prometheus' ``rules/*.yml``,
Alertmanager's ``templates/*.tmpl``) resolve in the container exactly as they do on disk.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from obstack.compose.build import (
    ComposeBuild,
    EnvVar,
    credential_source,
    healthcheck,
    healthy,
    host_of,
    port_of,
    exporter_spec_text,
    stack_service,
)
from obstack.compose.images import EXPORTER_MEMORY, STACK_HEALTHCHECK_TIMING
from obstack.foundation.artifacts import Artifact
from obstack.stack.spec.model import PostgresDatastore, RedisDatastore, Spec

PROMETHEUS_CONFIG_DIR = "/etc/prometheus"
ALERTMANAGER_CONFIG_DIR = "/etc/alertmanager"
GRAFANA_PROVISIONING_DIR = "/etc/grafana/provisioning"
EXPORTER_SPEC_PATH = "/etc/obstack/stack.yaml"
EXPORTER_SPEC_FILE = PurePosixPath("compose/exporter/stack.yaml")


def bind(source: str, target: str) -> dict[str, Any]:
    """A read-only bind mount: the stack never writes into the generated tree."""
    return {"type": "bind", "source": source, "target": target, "read_only": True}


def add_prometheus(build: ComposeBuild, alertmanager: str) -> None:
    settings = build.spec.prometheus
    stack_service(
        build, "prometheus", "prometheus",
        command=[
            f"--config.file={PROMETHEUS_CONFIG_DIR}/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            f"--storage.tsdb.retention.time={settings.retention}",
            "--web.enable-lifecycle",  # `obstack deploy` reloads with POST /-/reload
        ],
        volumes=[bind("../prometheus", PROMETHEUS_CONFIG_DIR), build.volume("prometheus-data", "/prometheus")],
        # Alerts fired in the first minutes must have somewhere to go.
        depends_on=healthy(alertmanager),
    )


def _receiver_secret_files(spec: Spec) -> list[str]:
    paths = []
    for receiver in spec.notifications.receivers:
        for name, value in receiver:
            if name.endswith("_file") and isinstance(value, str):
                paths.append(value)
    return sorted(set(paths))


def add_alertmanager(build: ComposeBuild) -> str:
    name = host_of(build.spec.prometheus.alertmanager_targets[0])
    service = stack_service(
        build, name, "alertmanager",
        command=[f"--config.file={ALERTMANAGER_CONFIG_DIR}/alertmanager.yml", "--storage.path=/alertmanager"],
        volumes=[bind("../alertmanager", ALERTMANAGER_CONFIG_DIR), build.volume("alertmanager-data", "/alertmanager")],
    )
    secrets = [build.secret(path) for path in _receiver_secret_files(build.spec)]
    if secrets:
        service["secrets"] = secrets
    return name


def add_node_exporter(build: ComposeBuild) -> None:
    name = host_of(build.spec.host.node_exporter_targets[0])
    stack_service(
        build, name, "node-exporter",
        command=["--path.rootfs=/host", "--path.procfs=/host/proc", "--path.sysfs=/host/sys"],
        # The host's view, read-only: node-exporter reports the host, not its own container.
        volumes=[bind("/proc", "/host/proc"), bind("/sys", "/host/sys"), bind("/", "/host")],
        pid="host",
    )


def add_grafana(build: ComposeBuild, dashboards_root: str | None) -> None:
    """``dashboards_root``: where the provisioned file provider reads the dashboards; None when
    there are none (a mount of a missing directory would make Docker create an empty one)."""
    volumes: list[Any] = [bind("../grafana/provisioning", GRAFANA_PROVISIONING_DIR)]
    if dashboards_root is not None:
        volumes.append(bind("../grafana/dashboards", dashboards_root))
    volumes.append(build.volume("grafana-data", "/var/lib/grafana"))
    service = stack_service(
        build, "grafana", "grafana",
        environment={
            "GF_SECURITY_ADMIN_PASSWORD__FILE": "/run/secrets/grafana_admin_password",
            "GF_SERVER_ROOT_URL": build.spec.grafana.url,
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
        },
        volumes=volumes,
        depends_on=healthy("prometheus"),
    )
    service["secrets"] = [build.secret("/run/secrets/grafana_admin_password")]


def datastore_credentials(build: ComposeBuild, service: dict[str, Any],
                          datastores: list[PostgresDatastore | RedisDatastore]) -> None:
    """Pass each datastore's connection string as the spec says: an env variable or a secret file."""
    environment = service.setdefault("environment", {})
    secrets = service.setdefault("secrets", [])
    for datastore in datastores:
        is_postgres = isinstance(datastore, PostgresDatastore)
        env, file = credential_source(datastore)
        if env is not None:
            example = (f"postgres://{build.spec.project}:CHANGE_ME@{datastore.name}:5432/{build.spec.project}"
                       if is_postgres else f"redis://{datastore.name}:6379/0")
            what = "Postgres connection string" if is_postgres else "Redis URL"
            environment[env] = build.variable(EnvVar(env, example, f"{what} of datastore '{datastore.name}' (a secret)."))
        elif file is not None:
            secrets.append(build.secret(file))
    if not environment:
        del service["environment"]
    if not secrets:
        del service["secrets"]


def add_exporter(build: ComposeBuild) -> None:
    spec = build.spec
    name = host_of(spec.exporter.targets[0])
    port = port_of(spec.exporter.targets[0])
    service: dict[str, Any] = {"image": spec.compose.exporter_image}
    if spec.compose.exporter_build_context:
        service["build"] = {"context": spec.compose.exporter_build_context}
    service.update({
        "restart": "unless-stopped",
        # Listens on all interfaces of its container (the spec's listen is for a bare host);
        # the port is not published: only Prometheus, on the compose network, scrapes it.
        "command": ["exporter", "--spec", EXPORTER_SPEC_PATH, "--listen", f"0.0.0.0:{port}"],
        "volumes": [bind("./exporter/stack.yaml", EXPORTER_SPEC_PATH)],
        "read_only": True,
        "tmpfs": ["/tmp"],
    })
    datastore_credentials(build, service, list(spec.datastores))
    web_config = getattr(spec.exporter, "web_config_file", None)  # TLS / basic auth, when the spec has one
    if web_config is not None:
        service.setdefault("secrets", []).append(build.secret(web_config))
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/livez', timeout=5)"
    service["healthcheck"] = healthcheck(("CMD", "python", "-c", probe), "10s", STACK_HEALTHCHECK_TIMING)
    service["mem_limit"] = build.memory(name, EXPORTER_MEMORY)
    # No depends_on: the exporter must run while a datastore is down, to report it down.
    build.services[name] = service
    build.files.append(Artifact(EXPORTER_SPEC_FILE, exporter_spec_text(spec), "compose"))


def add_metrics_part(build: ComposeBuild, dashboards_root: str | None) -> None:
    alertmanager = add_alertmanager(build)
    add_prometheus(build, alertmanager)
    if build.spec.host is not None:
        add_node_exporter(build)
    add_grafana(build, dashboards_root)
    add_exporter(build)
