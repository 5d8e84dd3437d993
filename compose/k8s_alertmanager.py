"""kubernetes/alertmanager-config.yaml: alertmanager.yml and its templates as the Secret prometheus-operator
reads as an Alertmanager's ``configSecret`` (the operator's "manually managed secret").

Made from the model's Alertmanager config and the same templates ``alertmanager/`` holds, so the
two cannot differ but for the templates glob: the operator mounts every key of the Secret in one
directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from obstack.alerts.alertmanager_config import OBSTACK_TEMPLATES, TEMPLATES_GLOB, TEMPLATES_PATH
from obstack.compose.k8s_common import KUBERNETES_DIR, metadata
from obstack.foundation.artifacts import dump_yaml

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

SECRET_PATH = KUBERNETES_DIR / "alertmanager-config.yaml"
# The key the operator reads the configuration from; every other key is mounted next to it.
CONFIG_KEY = "alertmanager.yaml"
OPERATOR_CONFIG_DIR = PurePosixPath("/etc/alertmanager/config")
OPERATOR_TEMPLATES_GLOB = (OPERATOR_CONFIG_DIR / "*.tmpl").as_posix()
TEMPLATES_DIR = TEMPLATES_PATH.parent


def with_templates_glob(config: Mapping[str, Any], glob: str) -> Mapping[str, Any]:
    """The config with its generated templates glob replaced (any other entry kept as it is)."""
    templates = [glob if entry == TEMPLATES_GLOB else entry for entry in config.get("templates") or []]
    return {**config, "templates": templates} if "templates" in config else config


def alertmanager_config_secret(model: StackModel) -> list[dict[str, Any]]:
    """The Secret: alertmanager.yml as the operator mounts it (templates read from its config
    directory) and the notification templates beside it."""
    spec = model.spec
    data = {CONFIG_KEY: dump_yaml(with_templates_glob(model.alertmanager_config, OPERATOR_TEMPLATES_GLOB)),
            TEMPLATES_PATH.name: OBSTACK_TEMPLATES}
    return [{
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, spec.kubernetes.alertmanager_config_secret),
        "type": "Opaque",
        "stringData": data,
    }]
