"""kubernetes/*.yaml: operator objects (the shards of your Prometheus among them), the scrape configs of external services, the exporter, dashboard
ConfigMaps, the Alertmanager config Secret and a kustomization.yaml.

Rendered from the stack model, as the other outputs are: the dashboard ConfigMaps hold the
model's dashboards (generated and yours), so Grafana's sidecar loads the same dashboards as the
compose Grafana; the Alertmanager Secret holds the model's Alertmanager config and templates.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from obstack.compose.k8s_alertmanager import SECRET_PATH, alertmanager_config_secret
from obstack.compose.k8s_common import KUBERNETES_DIR, dump_documents, metadata, object_name
from obstack.compose.k8s_exporter import exporter_objects
from obstack.compose.k8s_operator import additional_scrape_configs, prometheus_rules_text, prometheus_shards, service_monitors
from obstack.foundation.artifacts import Artifact, dump_yaml, json_text
from obstack.stack.spec.model import Spec

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

DASHBOARDS_DIR = PurePosixPath("grafana/dashboards")
KUSTOMIZATION = KUBERNETES_DIR / "kustomization.yaml"
# The label kube-prometheus-stack's Grafana sidecar watches for (its default `label`/`labelValue`).
DASHBOARD_LABEL = {"grafana_dashboard": "1"}


def dashboard_config_maps(model: StackModel) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard; a sub-directory of grafana/dashboards/ names its folder."""
    spec, maps = model.spec, []
    for dashboard in sorted(model.all_dashboards, key=lambda d: d.path.as_posix()):
        relative = dashboard.path.relative_to(DASHBOARDS_DIR)
        folder = relative.parts[0] if len(relative.parts) > 1 else spec.grafana.folder
        meta = metadata(spec, object_name(spec.project, "dashboard", relative.with_suffix("").as_posix().replace("/", "-")),
                        **DASHBOARD_LABEL)
        meta["annotations"] = {spec.kubernetes.dashboard_folder_annotation: folder}
        # Serialised compactly: a ConfigMap holds at most 1 MiB, and kubectl's client-side
        # apply keeps a copy in an annotation limited to 256 KiB.
        content = json_text(dashboard.board)
        maps.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {relative.name: content}})
    return maps


def kustomization(spec: Spec, files: list[PurePosixPath]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": spec.kubernetes.namespace,
        "resources": [path.name for path in files],
    }


def kubernetes_artifacts(model: StackModel) -> list[Artifact]:
    """Every Kubernetes manifest, one file per family, plus kustomization.yaml."""
    spec = model.spec
    rules = KUBERNETES_DIR / "prometheus-rules.yaml"
    families: list[tuple[str, list[dict[str, Any]]]] = [
        ("prometheus-shards.yaml", prometheus_shards(spec)),
        ("service-monitors.yaml", service_monitors(model)),
        ("additional-scrape-configs.yaml", additional_scrape_configs(model)),
        ("exporter.yaml", exporter_objects(spec)),
        ("dashboards.yaml", dashboard_config_maps(model)),
        (SECRET_PATH.name, alertmanager_config_secret(model)),
    ]
    files = [(KUBERNETES_DIR / name, objects) for name, objects in families if objects]
    out = [Artifact(path, dump_documents(objects), "kubernetes") for path, objects in files]
    if rules_text := prometheus_rules_text(model):
        out.insert(0, Artifact(rules, rules_text, "kubernetes"))
    paths = [artifact.path for artifact in out]
    out.append(Artifact(KUSTOMIZATION, dump_yaml(kustomization(spec, paths)), "kubernetes"))
    return out
