"""kubernetes/alertmanager-config.yaml: alertmanager.yml and its templates as the Secret prometheus-operator
reads as an Alertmanager's ``configSecret`` (the operator's "manually managed secret").

Made from the already generated ``alertmanager/`` artifacts, never regenerated, so the two cannot
differ but for the templates glob: the operator mounts every key of the Secret in one directory.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import yaml

from alerts.alertmanager_config import CONFIG_PATH, TEMPLATES_GLOB, TEMPLATES_PATH
from compose.k8s_common import KUBERNETES_DIR, metadata
from foundation.artifacts import Artifact, dump_yaml
from stack.spec.model import Spec

SECRET_PATH = KUBERNETES_DIR / "alertmanager-config.yaml"
# The key the operator reads the configuration from; every other key is mounted next to it.
CONFIG_KEY = "alertmanager.yaml"
OPERATOR_CONFIG_DIR = PurePosixPath("/etc/alertmanager/config")
OPERATOR_TEMPLATES_GLOB = (OPERATOR_CONFIG_DIR / "*.tmpl").as_posix()
TEMPLATES_DIR = TEMPLATES_PATH.parent


def with_templates_glob(config: dict[str, Any], glob: str) -> dict[str, Any]:
    """The config with its generated templates glob replaced (any other entry kept as it is)."""
    templates = [glob if entry == TEMPLATES_GLOB else entry for entry in config.get("templates") or []]
    return {**config, "templates": templates} if "templates" in config else config


def operator_config_text(alertmanager_yml: str) -> str:
    """alertmanager.yml as the operator mounts it: the same document, templates read from its config directory."""
    config = yaml.load(alertmanager_yml, Loader=yaml.CSafeLoader)
    return dump_yaml(with_templates_glob(config, OPERATOR_TEMPLATES_GLOB))


def template_artifacts(artifacts: list[Artifact]) -> list[Artifact]:
    """The generated notification templates: the files the relative glob ``templates/*.tmpl`` matches."""
    return sorted((a for a in artifacts if a.path.parent == TEMPLATES_DIR and a.path.suffix == ".tmpl"),
                  key=lambda a: a.path.name)


def alertmanager_config_secret(spec: Spec, artifacts: list[Artifact]) -> list[dict[str, Any]]:
    """The Secret, or nothing when no alertmanager.yml was generated."""
    config = next((a for a in artifacts if a.path == CONFIG_PATH), None)
    if config is None:
        return []
    data = {CONFIG_KEY: operator_config_text(config.content)}
    data.update((template.path.name, template.content) for template in template_artifacts(artifacts))
    return [{
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, spec.kubernetes.alertmanager_config_secret),
        "type": "Opaque",
        "stringData": data,
    }]
