"""Dashboards of your own (grafana.extra_dashboards_dir), provisioned beside the generated ones.

The loader reads the folder's ``*.json`` and checks their uids (stack/spec/dashboard_identities.py);
the stack model parses each once (``user_dashboards``), and here each becomes
``grafana/dashboards/<folder>/<uid>.json`` (the generated dashboards' place and naming), so
Grafana's provisioning, the Kubernetes ConfigMaps and the dashboard lint take them as they take
the generated ones. The JSON is written as given (re-serialised with sorted keys, as the
generated ones are).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from obstack.dashboards.generate import Dashboard, dashboard_file, dashboard_path
from obstack.foundation.artifacts import Artifact
from obstack.stack.spec.dashboard_identities import own_dashboards
from obstack.stack.spec.model import Spec

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel


def user_dashboards(spec: Spec, files: Sequence[tuple[str, str]]) -> tuple[Dashboard, ...]:
    """Your dashboards, parsed once (the loader has checked each is a JSON object with a uid)."""
    boards = (json.loads(text) for _, text in own_dashboards(spec, files))
    return tuple(Dashboard(dashboard_path(spec, board["uid"]), board) for board in boards)


def user_dashboard_artifacts(model: StackModel) -> list[Artifact]:
    return [dashboard_file(dashboard) for dashboard in model.user_dashboards]
