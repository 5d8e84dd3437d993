"""Where the stack runs: docker-compose and Kubernetes settings, and the optional logs and traces parts."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictInt

from .base import Name, StrictModel

_MEMORY_RE = re.compile(r"^[1-9][0-9]*[mg]$")
_CPU_RE = re.compile(r"^([1-9][0-9]*m|[0-9]+(\.[0-9]+)?)$")
_K8S_MEMORY_RE = re.compile(r"^[1-9][0-9]*(Mi|Gi)$")
_KUBE_VERSION_RE = re.compile(r"^1\.[0-9]{2}$")


def _memory(value: str) -> str:
    if not _MEMORY_RE.match(value):
        raise ValueError(f"'{value}' is not a memory size; write e.g. '512m' or '2g'")
    return value


def _k8s_memory(value: str) -> str:
    if not _K8S_MEMORY_RE.match(value):
        raise ValueError(f"'{value}' is not a Kubernetes memory quantity; write e.g. '128Mi' or '1Gi'")
    return value


def _cpu(value: str) -> str:
    if not _CPU_RE.match(value):
        raise ValueError(f"'{value}' is not a Kubernetes CPU quantity; write e.g. '100m' or '0.5'")
    return value


def _pinned_image(value: str) -> str:
    """An image must name a fixed release: a moving tag makes two deploys of one spec differ."""
    if "@sha256:" in value:
        return value
    name, _, tag = value.rpartition(":")
    if not name or "/" in tag or not tag:
        raise ValueError(f"image '{value}' has no tag; pin a release, e.g. 'bookmark-api:1.4.2'")
    if tag == "latest":
        raise ValueError(f"image '{value}' uses the moving tag 'latest'; pin a release")
    return value


def _kube_version(value: str) -> str:
    if not _KUBE_VERSION_RE.match(value):
        raise ValueError(f"'{value}' is not a Kubernetes minor version; write e.g. '1.30'")
    return value


MemorySize = Annotated[str, AfterValidator(_memory)]
KubernetesMemory = Annotated[str, AfterValidator(_k8s_memory)]
KubernetesCpu = Annotated[str, AfterValidator(_cpu)]
PinnedImage = Annotated[str, AfterValidator(_pinned_image)]
HostPort = Annotated[int, Field(ge=1, le=65535)]


class LogsSettings(StrictModel):
    """The ELK part of the stack (Elasticsearch, Logstash, Kibana)."""

    enabled: bool = Field(True, description="Generate the logs part (compose profile, Grafana datasource, log panels).")
    elasticsearch_heap: MemorySize = Field(
        "1g", description="Elasticsearch JVM heap (-Xms/-Xmx); the container's memory limit is twice this."
    )
    logstash_heap: MemorySize = Field("512m", description="Logstash JVM heap; the container's memory limit is twice this.")
    tcp_port: HostPort = Field(5000, description="Logstash TCP input for JSON lines (one log object per line).")
    beats_port: HostPort = Field(5044, description="Logstash Beats input (Filebeat shipping JSON log lines).")


class TracingSettings(StrictModel):
    """The tracing part of the stack (Jaeger)."""

    enabled: bool = Field(True, description="Generate the traces part (compose profile, Grafana datasource, trace links).")


class AppContainer(StrictModel):
    """How compose runs one of the spec's services (the application itself, e.g. the bookmark API)."""

    service: Name = Field(description="Name of the spec's service this container runs (its compose service is the target's host).")
    image: PinnedImage = Field(description="The service's image with a pinned tag (never 'latest').")
    healthcheck_tool: Literal["curl", "wget", "node"] = Field(
        "curl", description="Tool inside the image that probes the health URL (node: a one-line fetch with node itself)."
    )
    memory: MemorySize = Field("512m", description="Memory limit of the container.")
    environment: list[Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]] = Field(
        default_factory=list,
        description="Extra environment variables passed through from .env (names only; values never live in the YAML).",
    )


class ComposeSettings(StrictModel):
    """docker-compose output for a single host."""

    bind_address: str = Field("127.0.0.1", description="Address published UI ports bind to.")
    ui_ports: dict[Name, HostPort] = Field(
        default_factory=dict,
        description="Host port per published UI (grafana, prometheus, alertmanager, kibana, jaeger); default: the UI's own port.",
    )
    apps: list[AppContainer] = Field(
        default_factory=list,
        description="Containers for the spec's services that run in compose (runs_on: compose, the default); a "
                    "service that runs elsewhere sets runs_on: kubernetes or external instead.",
    )
    run_datastores: bool = Field(
        True, description="Run a Postgres or Redis container for each datastore (service named after the datastore)."
    )
    exporter_image: PinnedImage = Field(
        "obstack-exporter:0.1.0", description="Image of the obstack exporter (build it with the Dockerfile in obstack's repository)."
    )
    exporter_build_context: str | None = Field(
        None, description="When set, compose builds the exporter image from this directory (relative to compose/)."
    )
    memory_limits: dict[Name, MemorySize] = Field(
        default_factory=dict, description="Memory limit per compose service, overriding obstack's table."
    )
    # Read by `obstack validate` alone: left out of the exporter's copy of the spec (compose/build.py).
    lint_exclusions: str | None = Field(
        None,
        exclude=True,
        description="YAML file (relative to the spec) of compose lint exclusions; every entry needs a rule and a "
                    "reason, and may narrow it to a compose service (service, a name or glob).",
    )


# Kubernetes' label syntax (apimachinery validation: IsQualifiedName, IsValidLabelValue).
_KUBE_LABEL_NAME_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_KUBE_LABEL_PREFIX_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KUBE_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


def _kube_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if not _KUBE_LABEL_NAME_RE.match(name) or (prefix and (len(prefix) > 253 or not _KUBE_LABEL_PREFIX_RE.match(prefix))):
            raise ValueError(f"'{key}' is not a Kubernetes label key: [prefix/]name, the name 1-63 letters, digits, "
                             "'-', '_' or '.', starting and ending with a letter or digit")
        if not _KUBE_LABEL_VALUE_RE.match(value):
            raise ValueError(f"'{value}' (label {key}) is not a Kubernetes label value: at most 63 letters, digits, "
                             "'-', '_' or '.', starting and ending with a letter or digit")
    return labels


def _plan_labels() -> dict[str, str]:
    return {"release": "kube-prometheus-stack"}


class KubernetesResources(StrictModel):
    """Requests and limits of the exporter container."""

    cpu_request: KubernetesCpu = Field("50m", description="CPU the scheduler reserves.")
    memory_request: KubernetesMemory = Field("64Mi", description="Memory the scheduler reserves.")
    cpu_limit: KubernetesCpu = Field("500m", description="CPU ceiling (probes run on scrape, in bursts).")
    memory_limit: KubernetesMemory = Field("256Mi", description="Memory ceiling.")


def _kubernetes_object_name(value: str) -> str:
    """A name Kubernetes accepts for a Secret (a DNS-1123 label: the spec's Name also allows '_')."""
    if not _KUBE_OBJECT_NAME_RE.match(value):
        raise ValueError(f"'{value}' is not a Kubernetes object name: use 1-63 lower-case letters, digits or '-', "
                         "starting and ending with a letter or digit")
    return value


_KUBE_OBJECT_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class KubernetesPrometheus(StrictModel):
    """Your prometheus-operator Prometheus object (e.g. the chart's): obstack sets only its shards."""

    name: Annotated[str, AfterValidator(_kubernetes_object_name)] = Field(
        "kube-prometheus-stack-prometheus",
        description="Name of the Prometheus object (kube-prometheus-stack names it <release>-prometheus).",
    )
    shards: StrictInt | None = Field(
        None, ge=1, le=1000,
        description="Number of shards the operator splits the scrape targets onto (spec.shards, 1-1000, written to "
        "kubernetes/prometheus-shards.yaml). Above 1, the PrometheusRule objects carry only the per-target rules; "
        "the rules that aggregate across targets go to ruler/rules/ for a global evaluator (docs/kubernetes.md#sharding).",
    )

    @property
    def sharded(self) -> bool:
        """Whether the targets are split onto more than one Prometheus."""
        return (self.shards or 1) > 1


class KubernetesSettings(StrictModel):
    """Kubernetes output for kube-prometheus-stack / prometheus-operator users."""

    namespace: Name = Field("monitoring", description="Namespace of every generated object.")
    labels: Annotated[dict[str, str], AfterValidator(_kube_labels)] = Field(
        default_factory=_plan_labels,
        description="Labels put on every object so the operator's selectors pick them up.",
    )
    version: Annotated[str, AfterValidator(_kube_version)] = Field(
        "1.30", description="Kubernetes minor version the manifests are validated against."
    )
    exporter_image: PinnedImage = Field("obstack-exporter:0.1.0", description="Image of the exporter Deployment.")
    exporter_replicas: int = Field(1, ge=1, le=10, description="Exporter replicas (each probes every target on its scrape).")
    exporter_resources: KubernetesResources = Field(default_factory=KubernetesResources)
    app_namespace: Name | None = Field(
        None, description="Namespace the spec's services run in, for their ServiceMonitors (default: the namespace above)."
    )
    service_port_name: str = Field(
        "http", description="Name of the port serving /metrics in each service's Kubernetes Service (selected by app.kubernetes.io/name)."
    )
    secret_name: Name = Field(
        "obstack-exporter", description="Secret holding the exporter's datastore credentials (keys: env names and file names)."
    )
    dashboard_folder_annotation: str = Field(
        "grafana_folder", description="Annotation key the Grafana sidecar reads the folder from (its folderAnnotation)."
    )
    additional_scrape_configs_secret: Annotated[str, AfterValidator(_kubernetes_object_name)] = Field(
        "obstack-additional-scrape-configs",
        description="Name of the generated Secret holding the scrape jobs of the services that run on external "
        "hosts (runs_on: external; a ServiceMonitor cannot select them); point the Prometheus resource's "
        "additionalScrapeConfigs at it.",
    )
    alertmanager_config_secret: Annotated[str, AfterValidator(_kubernetes_object_name)] = Field(
        "obstack-alertmanager-config",
        description="Name of the generated Secret holding alertmanager.yaml and the templates; point the Alertmanager "
        "resource's configSecret at it.",
    )
    prometheus: KubernetesPrometheus = Field(default_factory=KubernetesPrometheus)
