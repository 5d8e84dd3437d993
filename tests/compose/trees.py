"""Generated trees for the compose and Kubernetes tests: the pipeline plus our derived generators.

The derived generators are passed explicitly, so these tests work whether or not the lead
has registered them in stack/pipeline.py, and with or without dashboards.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from alerts.global_rules import global_rule_artifacts
from compose.compose_file import compose_artifacts
from compose.kubernetes import kubernetes_artifacts
from foundation.artifacts import Artifact
from stack.pipeline import GENERATORS, generate
from stack.spec.loader import LoadedSpec, default_spec_text, load_spec_text
from stack.spec.model import Spec
from stack.validate.validator import ValidationContext
from stack.writer import write_tree

# Upstream schemas vendored for the tests (tests/schemas/SOURCES.md names each one's origin).
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
DERIVED = (compose_artifacts, kubernetes_artifacts, global_rule_artifacts)

DASHBOARD_PROVIDER = """apiVersion: 1
providers:
  - name: obstack
    type: file
    options:
      path: /var/lib/grafana/dashboards
      foldersFromFilesStructure: true
"""


def fake_dashboards(spec: Spec) -> list[Artifact]:
    """Stand-in for the dashboards generator: two dashboards (one in a folder) and provisioning."""
    return [
        Artifact(PurePosixPath("grafana/dashboards/overview.json"), '{"title": "Overview", "uid": "ov"}\n', "dashboards"),
        Artifact(PurePosixPath("grafana/dashboards/services/api.json"), '{"title": "API", "uid": "api"}\n', "dashboards"),
        Artifact(PurePosixPath("grafana/provisioning/dashboards/dashboards.yml"), DASHBOARD_PROVIDER, "dashboards"),
        Artifact(PurePosixPath("grafana/provisioning/datasources/datasources.yml"), "apiVersion: 1\ndatasources: []\n", "dashboards"),
    ]


def spec_with(change: Callable[[dict[str, Any]], None] | None = None) -> LoadedSpec:
    """The default spec, optionally changed as data before loading."""
    data = yaml.safe_load(default_spec_text())
    if change is not None:
        change(data)
    return load_spec_text(yaml.safe_dump(data, sort_keys=False), "test.yaml")


def _has_dashboards(loaded: LoadedSpec) -> bool:
    return any(a.path.as_posix().startswith("grafana/dashboards/") for a in generate(loaded, GENERATORS, ()))


def build_tree(out: Path, loaded: LoadedSpec | None = None, dashboards: bool = False) -> ValidationContext:
    loaded = loaded or spec_with()
    generators = GENERATORS
    if dashboards and not _has_dashboards(loaded):
        generators = GENERATORS + (fake_dashboards,)  # until the real dashboards generator is registered
    # Our derived generators are passed here, whether or not stack/pipeline.py lists them yet.
    artifacts = generate(loaded, generators, DERIVED)
    write_tree(out, artifacts)
    return ValidationContext(out, loaded, artifacts)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
