"""Where the stack runs: docker-compose and Kubernetes settings, and the optional logs and traces parts."""

from __future__ import annotations

from pydantic import Field

from .base import Name, StrictModel


class LogsSettings(StrictModel):
    """The ELK part of the stack (Elasticsearch, Logstash, Kibana)."""

    enabled: bool = Field(True, description="Generate the logs part (compose profile, Grafana datasource, log panels).")


class TracingSettings(StrictModel):
    """The tracing part of the stack (Jaeger)."""

    enabled: bool = Field(True, description="Generate the traces part (compose profile, Grafana datasource, trace links).")


class ComposeSettings(StrictModel):
    """docker-compose output for a single host."""

    bind_address: str = Field("127.0.0.1", description="Address published UI ports bind to.")


class KubernetesSettings(StrictModel):
    """Kubernetes output for kube-prometheus-stack / prometheus-operator users."""

    namespace: Name = Field("monitoring", description="Namespace of every generated object.")
    labels: dict[str, str] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"},
        description="Labels put on every object so the operator's selectors pick them up.",
    )
