"""The exporter on Kubernetes: its spec as a ConfigMap, a Deployment and a Service.

Hardened by default: non-root, read-only root filesystem, no privilege escalation, no
capabilities, no service-account token (the exporter never talks to the API server).
Credentials come only from a Secret the user creates (``kubernetes.secret_name``).
"""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath
from typing import Any

from obstack.compose.build import credential_source, exporter_spec_text
from obstack.compose.k8s_common import labels, metadata, object_name
from obstack.compose.k8s_operator import EXPORTER_PORT_NAME, exporter_selector
from obstack.stack.spec.model import EXPORTER_JOB, Spec

SPEC_DIR = "/etc/obstack"
SPEC_KEY = "stack.yaml"
# The exporter image's user (see the Dockerfile): fixed so runAsNonRoot can be verified.
EXPORTER_UID = 10001


def exporter_port(spec: Spec) -> int:
    return int(spec.exporter.targets[0].rsplit(":", 1)[1])


def spec_config_map(spec: Spec) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": metadata(spec, object_name(spec.project, EXPORTER_JOB, "spec")),
            "data": {SPEC_KEY: exporter_spec_text(spec)}}


def _credentials(spec: Spec) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, str]]]:
    """Env entries, volume mounts and Secret items for every credential the spec names."""
    env, mounts, items = [], [], []
    secret = spec.kubernetes.secret_name
    for datastore in spec.datastores:
        name, file = credential_source(datastore)
        if name is not None:
            env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}})
        elif file is not None:
            key = PurePosixPath(file).name
            items.append({"key": key, "path": key})
            mounts.append({"name": "credentials", "mountPath": file, "subPath": key, "readOnly": True})
    web_config = getattr(spec.exporter, "web_config_file", None)  # TLS / basic auth, when the spec has one
    if web_config is not None:
        key = PurePosixPath(web_config).name
        items.append({"key": key, "path": key})
        mounts.append({"name": "credentials", "mountPath": web_config, "subPath": key, "readOnly": True})
    return env, mounts, items


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": EXPORTER_PORT_NAME}, "periodSeconds": period,
            "timeoutSeconds": 5, "failureThreshold": failures}


def _container(spec: Spec, env: list[dict[str, Any]], mounts: list[dict[str, Any]]) -> dict[str, Any]:
    resources = spec.kubernetes.exporter_resources
    container: dict[str, Any] = {
        "name": "exporter",
        "image": spec.kubernetes.exporter_image,
        "args": ["exporter", "--spec", f"{SPEC_DIR}/{SPEC_KEY}", "--listen", f"0.0.0.0:{exporter_port(spec)}"],
        "ports": [{"name": EXPORTER_PORT_NAME, "containerPort": exporter_port(spec), "protocol": "TCP"}],
        "livenessProbe": _probe("/livez", 10, 3),  # the process alone: restart only when it is stuck
        "readinessProbe": _probe("/readyz", 10, 2),  # the critical dependencies
        "resources": {
            "requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
            "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": EXPORTER_UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "spec", "mountPath": SPEC_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}, *mounts],
    }
    if env:
        container["env"] = env
    return container


def deployment(spec: Spec) -> dict[str, Any]:
    env, mounts, items = _credentials(spec)
    volumes: list[dict[str, Any]] = [
        {"name": "spec", "configMap": {"name": object_name(spec.project, EXPORTER_JOB, "spec")}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
    ]
    if items:
        volumes.append({"name": "credentials", "secret": {"secretName": spec.kubernetes.secret_name, "items": items}})
    # A changed spec changes the pod template, so the Deployment rolls out the new spec.
    checksum = hashlib.sha256(exporter_spec_text(spec).encode()).hexdigest()
    pod_labels = labels(spec, **exporter_selector(spec))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, object_name(spec.project, EXPORTER_JOB), **exporter_selector(spec)),
        "spec": {
            "replicas": spec.kubernetes.exporter_replicas,
            "selector": {"matchLabels": exporter_selector(spec)},
            "template": {
                "metadata": {"labels": pod_labels, "annotations": {"obstack/spec-sha256": checksum}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": EXPORTER_UID, "runAsGroup": EXPORTER_UID,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [_container(spec, env, mounts)],
                    "volumes": volumes,
                },
            },
        },
    }


def service(spec: Spec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, object_name(spec.project, EXPORTER_JOB), **exporter_selector(spec)),
        "spec": {
            "type": "ClusterIP",
            "selector": exporter_selector(spec),
            "ports": [{"name": EXPORTER_PORT_NAME, "port": exporter_port(spec), "targetPort": EXPORTER_PORT_NAME,
                       "protocol": "TCP"}],
        },
    }


def exporter_objects(spec: Spec) -> list[dict[str, Any]]:
    return [spec_config_map(spec), deployment(spec), service(spec)]
