"""Compose services of what is monitored: the spec's datastores (Postgres, Redis) and its applications.

An application waits for what it depends on (``depends_on`` in the spec, queues resolved to
the datastore holding them) with ``condition: service_healthy``, so it never starts against a
database that is still initialising.
"""

from __future__ import annotations

from typing import Any

from obstack.compose.build import (
    ComposeBuild,
    EnvVar,
    env_name,
    healthcheck,
    host_of,
    port_of,
    stack_service,
    url_path,
)
from obstack.compose.images import APP_HEALTHCHECK_TIMING, APP_START_PERIOD
from obstack.compose.monitoring import datastore_credentials
from obstack.stack.spec.model import PostgresDatastore, Service, Spec
from obstack.stack.spec.platform import AppContainer


def _add_postgres(build: ComposeBuild, datastore: PostgresDatastore) -> None:
    prefix = env_name(datastore.name)
    project = build.spec.project
    stack_service(
        build, datastore.name, "postgres",
        environment={
            "POSTGRES_USER": build.variable(EnvVar(f"{prefix}_POSTGRES_USER", project, f"Owner role created in '{datastore.name}'.", False)),
            "POSTGRES_DB": build.variable(EnvVar(f"{prefix}_POSTGRES_DB", project, f"Database created in '{datastore.name}'.", False)),
            "POSTGRES_PASSWORD": build.variable(EnvVar(
                f"{prefix}_POSTGRES_PASSWORD", "CHANGE_ME",
                f"Password of {prefix}_POSTGRES_USER (a secret; the one in the connection string of '{datastore.name}').")),
        },
        volumes=[build.volume(f"{datastore.name}-data", "/var/lib/postgresql/data")],
    )


def _add_redis(build: ComposeBuild, name: str) -> None:
    # Not published and without a password: it is reachable on the compose network only.
    stack_service(
        build, name, "redis",
        command=["redis-server", "--appendonly", "yes"],
        volumes=[build.volume(f"{name}-data", "/data")],
    )


def add_datastores(build: ComposeBuild) -> None:
    if not build.spec.compose.run_datastores:
        return
    for datastore in build.spec.datastores:
        if isinstance(datastore, PostgresDatastore):
            _add_postgres(build, datastore)
        else:
            _add_redis(build, datastore.name)


def dependency_services(spec: Spec, service: Service, running: set[str]) -> list[str]:
    """Compose services an application waits for, in the spec's dependency order."""
    names: list[str] = []
    queues = {queue.name: queue.datastore for queue in spec.queues}
    containers = {app.service for app in spec.compose.apps}
    apps = {s.name: host_of(s.targets[0]) for s in spec.services if s.name in containers}
    for dependency in service.depends_on:
        target = queues.get(dependency, dependency)  # a queue waits for the datastore holding it
        target = apps.get(target, target)  # another application is known by its target host
        if target in running and target not in names:
            names.append(target)
    return names


def _health_test(app: AppContainer, url: str) -> tuple[str, ...]:
    """The plan's probe (curl /health) in the tool the image actually has."""
    if app.healthcheck_tool == "curl":
        return ("CMD", "curl", "-fsS", "-o", "/dev/null", url)
    if app.healthcheck_tool == "wget":
        return ("CMD", "wget", "-q", "-O", "/dev/null", url)
    script = f"fetch('{url}').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
    return ("CMD", "node", "-e", script)


def _app_environment(build: ComposeBuild, service: Service, app: AppContainer) -> dict[str, str]:
    environment: dict[str, str] = {}
    for name in app.environment:
        environment[name] = build.variable(EnvVar(name, "CHANGE_ME", f"Passed to '{service.name}' as is (declared in compose.apps)."))
    if build.spec.tracing.enabled:
        # OpenTelemetry SDKs read these; spans go to Jaeger's OTLP/HTTP port on the compose network.
        environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://jaeger:4318"
        environment["OTEL_SERVICE_NAME"] = service.name
    return environment


def add_apps(build: ComposeBuild) -> None:
    spec = build.spec
    by_name = {service.name: service for service in spec.services}
    # Every application is known before any is built, so one may wait for another.
    running = set(build.services) | {host_of(by_name[a.service].targets[0]) for a in spec.compose.apps if a.service in by_name}
    for app in spec.compose.apps:
        service = by_name.get(app.service)
        if service is None:
            continue  # the compose lint reports the unknown name; generation stays total
        name = host_of(service.targets[0])
        health = f"http://localhost:{port_of(service.targets[0])}{url_path(service.health_url)}"
        entry: dict[str, Any] = {"image": app.image, "restart": "unless-stopped"}
        environment = _app_environment(build, service, app)
        if environment:
            entry["environment"] = environment
        depends = [spec.datastore(d) for d in service.depends_on if spec.datastore(d) is not None]
        queue_stores = [spec.datastore(q.datastore) for q in spec.queues if q.name in service.depends_on]
        stores = list({d.name: d for d in [*depends, *queue_stores] if d is not None}.values())
        datastore_credentials(build, entry, stores)
        waits_for = dependency_services(spec, service, running - {name})
        if waits_for:
            entry["depends_on"] = {n: {"condition": "service_healthy"} for n in waits_for}
        entry["healthcheck"] = healthcheck(_health_test(app, health), APP_START_PERIOD, APP_HEALTHCHECK_TIMING)
        entry["mem_limit"] = build.memory(name, app.memory)
        build.services[name] = entry
