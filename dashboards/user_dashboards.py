"""Dashboards of your own (grafana.extra_dashboards_dir), provisioned beside the generated ones.

The loader reads the folder's ``*.json`` and checks their uids (stack/spec/dashboard_identities.py);
here each becomes ``grafana/dashboards/<folder>/<uid>.json``
(the generated dashboards' place and naming), so Grafana's provisioning, the Kubernetes ConfigMaps
and the dashboard lint take them as they take the generated ones. The JSON is written as given
(re-serialised with sorted keys, as the generated ones are).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from dashboards.generate import KIND, dashboard_json, dashboard_path
from foundation.artifacts import Artifact
from stack.spec.dashboard_identities import own_dashboards
from stack.spec.model import Spec


def user_dashboard_artifacts(spec: Spec, files: Sequence[tuple[str, str]]) -> list[Artifact]:
    result = []
    for _, text in own_dashboards(spec, files):
        board = json.loads(text)
        result.append(Artifact(dashboard_path(spec, board["uid"]), dashboard_json(board), KIND))
    return result
