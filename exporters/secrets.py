"""Read datastore credentials from the environment or a file, at connect time (so a rotated
secret is picked up on the next reconnect), and remember them so every output is redacted."""

from __future__ import annotations

import os
import threading
from urllib.parse import unquote

from .redaction import secret_parts

_known: set[str] = set()
_lock = threading.Lock()


class SecretUnavailable(Exception):
    """The variable is unset or the file unreadable; the message names the source, never a value."""


def read_secret(env: str | None, file: str | None) -> str:
    """The connection string named by ``env`` or ``file`` (exactly one is set by the spec)."""
    if env is not None:
        value = os.environ.get(env, "").strip()
        if not value:
            raise SecretUnavailable(f"environment variable {env} is not set")
    else:
        assert file is not None
        try:
            with open(file, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as error:
            raise SecretUnavailable(f"cannot read {file}: {error.strerror}") from None
        if not value:
            raise SecretUnavailable(f"{file} is empty")
    remember(value)
    return value


def remember(connection_string: str) -> None:
    """Register the credentials inside ``connection_string`` for redaction."""
    parts = secret_parts(connection_string)
    with _lock:
        for part in parts:
            _known.add(part)
            _known.add(unquote(part))


def known_secrets() -> frozenset[str]:
    with _lock:
        return frozenset(_known)
