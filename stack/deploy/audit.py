"""The deploy audit trail: one JSON line per deploy, appended (never rewritten)."""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return str(os.getuid())


def audit_record(spec_name: str, spec_sha256: str, targets: dict[str, str], changed: dict[str, list[str]],
                 result: str) -> dict[str, Any]:
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "user": current_user(),
        "spec": spec_name,
        "spec_sha256": spec_sha256,
        "targets": targets,
        "changed": changed,
        "result": result,
    }


def append_audit(path: Path, record: dict[str, Any]) -> None:
    """Append one line; O_APPEND keeps concurrent deploys' lines whole, fsync keeps it after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
