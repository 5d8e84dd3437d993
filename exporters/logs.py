"""JSON log lines (time, level, event, target, reason, ...), one object per line, redacted.

Only state changes are logged (a target going down, its reason changing, recovering), so a
dead dependency scraped every 15 s does not flood the log.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timezone
from typing import IO, Any

from .redaction import redact
from .secrets import known_secrets


class JsonLog:
    """Writes one JSON object per line to ``stream`` (stderr by default)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def log(self, level: str, event: str, **fields: Any) -> None:
        record: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level,
            "event": event,
        }
        secrets = known_secrets()
        for key, value in fields.items():
            if value is not None:
                record[key] = redact(value, secrets) if isinstance(value, str) else value
        line = json.dumps(record, sort_keys=False, default=str)
        stream = self._stream or sys.stderr
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def info(self, event: str, **fields: Any) -> None:
        self.log("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.log("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.log("error", event, **fields)
