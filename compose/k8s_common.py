"""What every generated Kubernetes object shares: names, metadata and the label set."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from obstack.foundation.artifacts import dump_yaml
from obstack.stack.spec.model import Spec

KUBERNETES_DIR = PurePosixPath("kubernetes")
# Kubernetes' own recommended labels; the spec's labels (e.g. release) come on top.
PART_OF = {"app.kubernetes.io/part-of": "obstack", "app.kubernetes.io/managed-by": "obstack"}


def object_name(*parts: str) -> str:
    """A DNS-1123 name: spec names may hold '_', which Kubernetes refuses."""
    name = "-".join(re.sub(r"[^a-z0-9-]+", "-", part.lower()) for part in parts if part)
    return re.sub(r"-+", "-", name).strip("-")[:253]


def labels(spec: Spec, **extra: str) -> dict[str, str]:
    return {**PART_OF, **extra, **spec.kubernetes.labels}


def metadata(spec: Spec, name: str, **extra_labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": spec.kubernetes.namespace, "labels": labels(spec, **extra_labels)}


def dump_documents(documents: list[dict[str, Any]]) -> str:
    """Several objects in one file, as kubectl and kustomize read them."""
    return "---\n".join(dump_yaml(document) for document in documents)
