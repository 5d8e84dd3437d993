"""What a deploy would change, for people: unified diffs per file and per dashboard."""

from __future__ import annotations

import difflib
import json
from typing import Any

# Grafana assigns these on every save: a diff showing them would never be empty.
DASHBOARD_VOLATILE_KEYS: tuple[str, ...] = ("id", "version")


def unified_diff(label: str, old: str, new: str) -> str:
    """A unified diff of ``old`` -> ``new`` with ``label`` as both file names ("" when equal)."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{label}", tofile=f"b/{label}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def normalize_dashboard(dashboard: dict[str, Any]) -> dict[str, Any]:
    """The dashboard without the keys Grafana assigns (top-level id and version)."""
    return {k: v for k, v in dashboard.items() if k not in DASHBOARD_VOLATILE_KEYS}


def dashboard_text(dashboard: dict[str, Any] | None) -> str:
    """Canonical text of a normalised dashboard, for diffs and equality ("" when absent)."""
    if dashboard is None:
        return ""
    return json.dumps(normalize_dashboard(dashboard), indent=2, sort_keys=True) + "\n"
