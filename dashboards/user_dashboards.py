"""Dashboards of your own (grafana.extra_dashboards_dir), provisioned beside the generated ones.

The loader reads the folder's ``*.json``; here each becomes ``grafana/dashboards/<folder>/<uid>.json``
(the generated dashboards' place and naming), so Grafana's provisioning, the Kubernetes ConfigMaps
and the dashboard lint take them as they take the generated ones. The JSON is written as given
(re-serialised with sorted keys, as the generated ones are).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from stack.spec import dashboard_identities as ids
from dashboards.generate import KIND, dashboard_json, dashboard_path
from foundation.artifacts import Artifact
from stack.spec.model import Spec


def _own(spec: Spec, files: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    folder = spec.grafana.extra_dashboards_dir
    if folder is None:
        return []
    prefix = folder.rstrip("/") + "/"
    return [(path, text) for path, text in files if path.startswith(prefix) and path.endswith(".json")]


def reserved_uids(spec: Spec) -> set[str]:
    """Every uid a generated dashboard of ``spec`` may take."""
    boards = [ids.postgres_dashboard(spec), ids.redis_dashboard(spec), ids.queues_dashboard(spec),
              ids.host_dashboard(spec), ids.alerts_dashboard(spec)]
    boards += [ids.service_dashboard(spec, service.name) for service in spec.services]
    return {board.uid for board in boards}


def _parsed(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def user_dashboard_problems(spec: Spec, files: Sequence[tuple[str, str]]) -> list[str]:
    """Each file is a JSON object with a uid of its own (not a generated dashboard's, not another file's)."""
    problems, seen, reserved = [], {}, reserved_uids(spec)
    for path, text in _own(spec, files):
        data = _parsed(text)
        uid = data.get("uid") if data is not None else None
        if data is None:
            problems.append(f"{path} is not a dashboard: not a JSON object")
        elif not isinstance(uid, str) or not uid:
            problems.append(f"{path} has no uid: give it one (it names the provisioned file and its links)")
        elif uid in reserved:
            problems.append(f"{path}: uid '{uid}' is a generated dashboard's; pick another")
        elif uid in seen:
            problems.append(f"{path}: uid '{uid}' is also the uid of {seen[uid]}")
        else:
            seen[uid] = path
    return problems


def user_dashboard_artifacts(spec: Spec, files: Sequence[tuple[str, str]]) -> list[Artifact]:
    result = []
    for _, text in _own(spec, files):
        board = json.loads(text)
        result.append(Artifact(dashboard_path(spec, board["uid"]), dashboard_json(board), KIND))
    return result
