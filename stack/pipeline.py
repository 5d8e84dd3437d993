"""The generation pipeline: every generator over one spec, headers added, paths checked.

Two kinds of generators: ``Spec -> [Artifact]`` (most), and derived ones
``(Spec, [Artifact]) -> [Artifact]`` that package what the others made (e.g. dashboards
as Kubernetes ConfigMaps, rule files as PrometheusRule objects). Both are pure.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from alerts.alerting import alerting_artifacts
from alerts.global_rules import global_rule_artifacts
from alerts.prometheus_config import prometheus_config_artifacts
from alerts.user_rules import user_rule_artifacts
from compose.compose_file import compose_artifacts
from compose.kubernetes import kubernetes_artifacts
from dashboards.generate import dashboard_artifacts
from dashboards.provisioning import provisioning_artifacts
from dashboards.user_dashboards import user_dashboard_artifacts
from foundation.artifacts import Artifact, with_header
from stack.overview import overview_artifacts
from stack.spec.loader import LoadedSpec
from stack.spec.model import Spec

Generator = Callable[[Spec], list[Artifact]]
DerivedGenerator = Callable[[Spec, list[Artifact]], list[Artifact]]

# Each generator is pure (Spec in, artifacts out); later capabilities append theirs here.
GENERATORS: tuple[Generator, ...] = (
    prometheus_config_artifacts,
    alerting_artifacts,  # rule files, promtool tests, Alertmanager config, docs/alerts.md
    dashboard_artifacts,
    provisioning_artifacts,
    overview_artifacts,
)

# Run after GENERATORS, on their artifacts (without headers).
DERIVED_GENERATORS: tuple[DerivedGenerator, ...] = (
    compose_artifacts,
    kubernetes_artifacts,
    global_rule_artifacts,  # ruler/rules/: only when sharded
)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Generation builds millions of small, acyclic objects that live until it ends. The cyclic
    collector's full passes over that growing heap made generation superlinear (per service 1.4x
    slower at 1000 services than at 10); reference counting frees everything it frees anyway
    (peak memory measured equal). The collector's previous state is restored, even on error."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def generate(
    loaded: LoadedSpec,
    generators: tuple[Generator, ...] = GENERATORS,
    derived: tuple[DerivedGenerator, ...] = DERIVED_GENERATORS,
) -> list[Artifact]:
    """All artifacts of the spec, sorted by path; two generators may never claim one path."""
    artifacts: dict[str, Artifact] = {}

    def add(new: list[Artifact]) -> None:
        for artifact in new:
            key = artifact.path.as_posix()
            if key in artifacts:
                raise ValueError(f"two generators produce {key}")
            artifacts[key] = artifact

    with cyclic_gc_paused():
        for generator in generators:
            add(generator(loaded.spec))
        # Your own rule files, tests and dashboards, read by the loader.
        add(user_rule_artifacts(loaded.spec, loaded.user_files) + user_dashboard_artifacts(loaded.spec, loaded.user_files))
        base = list(artifacts.values())
        for derive in derived:
            add(derive(loaded.spec, base))
        return [with_header(artifacts[key], loaded.header_name) for key in sorted(artifacts)]
