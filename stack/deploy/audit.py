"""The deploy audit trail: one JSON line per deploy, appended (never rewritten).

It lives in the user's state directory unless the spec or ``--audit-log`` says otherwise: not in
the working directory, where it would depend on where deploy ran and end up in a commit."""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Mapping
from typing import Any

AUDIT_LOG_NAME = "deploy-audit.jsonl"


def default_audit_log(environ: Mapping[str, str] = os.environ, home: Path | None = None) -> Path:
    """``$XDG_STATE_HOME/obstack/deploy-audit.jsonl``, else ``~/.local/state/obstack/deploy-audit.jsonl``
    (the XDG Base Directory rule: state that outlives a run; a relative XDG_STATE_HOME is ignored)."""
    state = environ.get("XDG_STATE_HOME", "")
    root = Path(state) if os.path.isabs(state) else (home or Path.home()) / ".local" / "state"
    return root / "obstack" / AUDIT_LOG_NAME


def audit_log_path(configured: str | None) -> Path:
    """The spec's ``deploy.audit_log`` when set, else the default."""
    return Path(configured) if configured else default_audit_log()


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
