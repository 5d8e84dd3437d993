"""The Grafana datasources obstack provisions: stable uids (dashboards reference them) and which are enabled.

The uids never change with the spec, so a dashboard, a provisioned datasource and a user's
bookmark agree on them; the URLs come from the spec (``grafana.*_url``).
"""

from __future__ import annotations

from dataclasses import dataclass

from obstack.stack.spec.model import Spec


@dataclass(frozen=True)
class Datasource:
    """One provisioned datasource: its Grafana plugin type, stable uid and display name."""

    type: str
    uid: str
    name: str

    @property
    def ref(self) -> dict[str, str]:
        """The current dashboard model's reference to this datasource."""
        return {"type": self.type, "uid": self.uid}


PROMETHEUS = Datasource("prometheus", "obstack-prometheus", "Prometheus")
ALERTMANAGER = Datasource("alertmanager", "obstack-alertmanager", "Alertmanager")
JAEGER = Datasource("jaeger", "obstack-jaeger", "Jaeger")
ELASTICSEARCH = Datasource("elasticsearch", "obstack-elasticsearch", "Elasticsearch")

# Every metrics panel selects its Prometheus through the dashboard's datasource variable
# (dashboard-linter's convention), so one dashboard works against any Prometheus.
DATASOURCE_VARIABLE = "datasource"
PROMETHEUS_VARIABLE_REF: dict[str, str] = {"type": PROMETHEUS.type, "uid": "${" + DATASOURCE_VARIABLE + "}"}


def enabled_datasources(spec: Spec) -> list[Datasource]:
    """Prometheus and Alertmanager always; Jaeger and Elasticsearch when the spec enables traces and logs."""
    enabled = [PROMETHEUS, ALERTMANAGER]
    if spec.tracing.enabled:
        enabled.append(JAEGER)
    if spec.logs.enabled:
        enabled.append(ELASTICSEARCH)
    return enabled
