"""The dashboards generator: every dashboard of the spec, normalised, as deterministic JSON files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import grafanalib.core as G
import orjson

from obstack.dashboards.alerts_slos import alerts_dashboard
from obstack.dashboards.host import host_dashboard
from obstack.dashboards.normalise import normalise
from obstack.dashboards.postgres import postgres_dashboard
from obstack.dashboards.queues import queues_dashboard
from obstack.dashboards.redis import redis_dashboard
from obstack.dashboards.service import service_dashboard
from obstack.foundation.artifacts import Artifact, json_text
from obstack.stack.spec.dashboard_identities import ServiceDashboardGroup, service_dashboards
from obstack.stack.spec.model import Spec

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

DASHBOARDS_DIR = PurePosixPath("grafana/dashboards")
KIND = "grafana-dashboards"


def _value_json(value: object) -> object:
    # What grafanalib's DashboardEncoder does for its value objects.
    return value.to_json_data()  # type: ignore[attr-defined]


def _legacy_json(board: G.Dashboard) -> dict[str, Any]:
    # grafanalib's value objects turned into plain JSON data; a round trip gives dicts (orjson:
    # 10x faster than the json module here, and floats round-trip exactly).
    return orjson.loads(orjson.dumps(board.to_json_data(), default=_value_json))


def service_dashboard_json(spec: Spec, group: ServiceDashboardGroup) -> dict[str, Any]:
    """The dashboard of one shape's services, in the current dashboard model."""
    return normalise(_legacy_json(service_dashboard(spec, group)))


def build_dashboards(spec: Spec) -> list[dict[str, Any]]:
    """Every dashboard of ``spec`` in the current dashboard model: the services' (one per shape) first."""
    boards = [service_dashboard_json(spec, group) for group in service_dashboards(spec).groups]
    others = [postgres_dashboard(spec), redis_dashboard(spec), queues_dashboard(spec), host_dashboard(spec),
              alerts_dashboard(spec)]
    return boards + [normalise(_legacy_json(board)) for board in others if board is not None]


def dashboard_json(dashboard: dict[str, Any]) -> str:
    """Deterministic bytes: sorted keys, two-space indent, trailing newline."""
    return json_text(dashboard, indent=True)


def dashboard_path(spec: Spec, uid: str) -> PurePosixPath:
    """``grafana/dashboards/<folder>/<uid>.json``: the directory is the Grafana folder (foldersFromFilesStructure)."""
    return DASHBOARDS_DIR / spec.grafana.folder / f"{uid}.json"


@dataclass(frozen=True)
class Dashboard:
    """A dashboard as Grafana reads it: its file in the tree and its JSON model."""

    path: PurePosixPath  # grafana/dashboards/<folder>/<uid>.json
    board: Mapping[str, Any]


def generated_dashboards(spec: Spec) -> tuple[Dashboard, ...]:
    return tuple(Dashboard(dashboard_path(spec, board["uid"]), board) for board in build_dashboards(spec))


def dashboard_file(dashboard: Dashboard) -> Artifact:
    return Artifact(dashboard.path, dashboard_json(dashboard.board), KIND)


def dashboard_artifacts(model: StackModel) -> list[Artifact]:
    """One JSON file per generated dashboard, under its Grafana folder."""
    return [dashboard_file(dashboard) for dashboard in model.dashboards]
