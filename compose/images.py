"""The one table of third-party images: pinned tag, the tools inside, healthcheck, memory, UI port.

Every image compose runs (except the application's and the exporter's, which the spec names)
is here, so an upgrade is one line and the compose lint can check each healthcheck against
the tools the image really ships.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str  # a fixed release, never a moving tag
    tools: frozenset[str]  # executables a healthcheck may call (checked by the compose lint)
    healthcheck: tuple[str, ...]  # compose `test`: CMD or CMD-SHELL form
    memory: str  # default memory limit (compose mem_limit)
    ui_port: int | None = None  # the port a person opens; only these are published
    start_period: str = "30s"  # JVM images need longer before the first probe counts

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


# Busybox-based Prometheus-project images ship sh and wget, but the Prometheus image itself
# is probed with promtool: it is the one tool every Prometheus release is guaranteed to carry.
_BUSYBOX = frozenset({"sh", "wget", "grep"})
# Elastic's images are Ubuntu-based with curl; Grafana's Alpine image installs curl too.
_UBUNTU_CURL = frozenset({"sh", "bash", "curl", "grep"})

IMAGES: dict[str, Image] = {
    "prometheus": Image(
        "prom/prometheus", "v3.5.0", frozenset({"prometheus", "promtool"}),
        ("CMD", "promtool", "check", "ready", "--url=http://localhost:9090"), "1g", ui_port=9090,
    ),
    "alertmanager": Image(
        "prom/alertmanager", "v0.28.1", frozenset({"alertmanager", "amtool"}) | _BUSYBOX,
        # amtool asks the running Alertmanager for its status: fails until it serves its API.
        ("CMD", "amtool", "config", "show", "--alertmanager.url=http://localhost:9093"), "128m", ui_port=9093,
    ),
    "node-exporter": Image(
        "prom/node-exporter", "v1.9.1", frozenset({"node_exporter"}) | _BUSYBOX,
        ("CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:9100/metrics"), "64m",
    ),
    "grafana": Image(
        "grafana/grafana", "11.6.0", frozenset({"grafana", "curl"}) | _BUSYBOX,
        ("CMD", "curl", "-fsS", "-o", "/dev/null", "http://localhost:3000/api/health"), "512m", ui_port=3000,
    ),
    "postgres": Image(
        "postgres", "16.4-alpine", frozenset({"postgres", "pg_isready", "psql"}) | _BUSYBOX,
        # $$ escapes compose interpolation: the container's shell expands the variables.
        ("CMD-SHELL", 'pg_isready -h 127.0.0.1 -U "$${POSTGRES_USER}" -d "$${POSTGRES_DB}"'), "512m",
    ),
    "redis": Image(
        "redis", "7.4.1-alpine", frozenset({"redis-server", "redis-cli"}) | _BUSYBOX,
        # redis-cli exits 0 on an error reply (e.g. LOADING): only PONG means ready.
        ("CMD-SHELL", "redis-cli ping | grep -q PONG"), "256m",
    ),
    "elasticsearch": Image(
        "docker.elastic.co/elasticsearch/elasticsearch", "8.15.3", frozenset({"elasticsearch"}) | _UBUNTU_CURL,
        ("CMD", "curl", "-fsS", "-o", "/dev/null", "http://localhost:9200/_cluster/health?wait_for_status=yellow&timeout=5s"),
        "2g", start_period="90s",
    ),
    "logstash": Image(
        "docker.elastic.co/logstash/logstash", "8.15.3", frozenset({"logstash"}) | _UBUNTU_CURL,
        ("CMD", "curl", "-fsS", "-o", "/dev/null", "http://localhost:9600/_node/pipelines/obstack"), "1g",
        start_period="90s",
    ),
    "kibana": Image(
        "docker.elastic.co/kibana/kibana", "8.15.3", frozenset({"kibana"}) | _UBUNTU_CURL,
        ("CMD", "curl", "-fsS", "-o", "/dev/null", "http://localhost:5601/api/status"), "1g", ui_port=5601,
        start_period="120s",
    ),
    "jaeger": Image(
        # Jaeger v2 release images are built on Alpine: busybox wget is there.
        "jaegertracing/jaeger", "2.5.0", frozenset({"jaeger"}) | _BUSYBOX,
        ("CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:13133/status"), "512m", ui_port=16686,
    ),
}

# The exporter image (named by the spec) is python:3.11-slim based: python, no curl or wget.
EXPORTER_TOOLS = frozenset({"python", "python3", "obstack"})
EXPORTER_MEMORY = "128m"
# The plan's healthcheck of the application: every 30s, 10s timeout, 3 retries, 40s to start.
APP_HEALTHCHECK_TIMING: dict[str, str | int] = {"interval": "30s", "timeout": "10s", "retries": 3}
APP_START_PERIOD = "40s"
STACK_HEALTHCHECK_TIMING: dict[str, str | int] = {"interval": "15s", "timeout": "5s", "retries": 5}


def tools_by_repository() -> dict[str, frozenset[str]]:
    """Repository (image name without tag) -> tools inside; what the lint checks against."""
    return {image.repository: image.tools for image in IMAGES.values()}
