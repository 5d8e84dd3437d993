"""kubernetes/*.yaml: operator objects (the shards of your Prometheus among them), the scrape configs of external services, the exporter, dashboard
ConfigMaps, the Alertmanager config Secret and a kustomization.yaml.

A derived generator: dashboard ConfigMaps are made from whatever ``grafana/dashboards/*.json``
the dashboards generator produced (none, when it is not there), so Grafana's sidecar loads
the same dashboards as the compose Grafana; the Alertmanager Secret likewise carries the
generated ``alertmanager/`` files.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import orjson

from compose.k8s_alertmanager import SECRET_PATH, alertmanager_config_secret
from compose.k8s_common import KUBERNETES_DIR, dump_documents, metadata, object_name
from compose.k8s_exporter import exporter_objects
from compose.k8s_operator import additional_scrape_configs, prometheus_rules, prometheus_shards, service_monitors
from foundation.artifacts import Artifact, dump_yaml, json_text
from stack.spec.model import Spec

DASHBOARDS_DIR = PurePosixPath("grafana/dashboards")
KUSTOMIZATION = KUBERNETES_DIR / "kustomization.yaml"
# The label kube-prometheus-stack's Grafana sidecar watches for (its default `label`/`labelValue`).
DASHBOARD_LABEL = {"grafana_dashboard": "1"}


def _dashboard_artifacts(artifacts: list[Artifact]) -> list[Artifact]:
    return sorted((a for a in artifacts if a.path.suffix == ".json" and a.path.is_relative_to(DASHBOARDS_DIR)),
                  key=lambda a: a.path.as_posix())


def dashboard_config_maps(spec: Spec, artifacts: list[Artifact]) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard; a sub-directory of grafana/dashboards/ names its folder."""
    maps = []
    for artifact in _dashboard_artifacts(artifacts):
        relative = artifact.path.relative_to(DASHBOARDS_DIR)
        folder = relative.parts[0] if len(relative.parts) > 1 else spec.grafana.folder
        meta = metadata(spec, object_name(spec.project, "dashboard", relative.with_suffix("").as_posix().replace("/", "-")),
                        **DASHBOARD_LABEL)
        meta["annotations"] = {spec.kubernetes.dashboard_folder_annotation: folder}
        # Re-serialised compactly: a ConfigMap holds at most 1 MiB, and kubectl's client-side
        # apply keeps a copy in an annotation limited to 256 KiB.
        content = json_text(orjson.loads(artifact.content))
        maps.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {relative.name: content}})
    return maps


def kustomization(spec: Spec, files: list[PurePosixPath]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": spec.kubernetes.namespace,
        "resources": [path.name for path in files],
    }


def kubernetes_artifacts(spec: Spec, artifacts: list[Artifact]) -> list[Artifact]:
    """Derived generator: every Kubernetes manifest, one file per family, plus kustomization.yaml."""
    families: list[tuple[str, list[dict[str, Any]]]] = [
        ("prometheus-rules.yaml", prometheus_rules(spec, artifacts)),
        ("prometheus-shards.yaml", prometheus_shards(spec)),
        ("service-monitors.yaml", service_monitors(spec)),
        ("additional-scrape-configs.yaml", additional_scrape_configs(spec)),
        ("exporter.yaml", exporter_objects(spec)),
        ("dashboards.yaml", dashboard_config_maps(spec, artifacts)),
        (SECRET_PATH.name, alertmanager_config_secret(spec, artifacts)),
    ]
    files = [(KUBERNETES_DIR / name, objects) for name, objects in families if objects]
    out = [Artifact(path, dump_documents(objects), "kubernetes") for path, objects in files]
    out.append(Artifact(KUSTOMIZATION, dump_yaml(kustomization(spec, [path for path, _ in files])), "kubernetes"))
    return out
