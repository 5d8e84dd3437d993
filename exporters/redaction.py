"""Remove credentials from any text before it can reach a log line or an error message.

Covers the two connection-string forms (URL userinfo ``scheme://user:secret@host`` and libpq
``key=value`` with ``password=``), query-string secrets, and any secret value the exporter
knows it loaded (so a password is caught even where no syntax marks it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]*)@")
_KEY_VALUE = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|sslpassword|secret|token)\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|[^\s&;]+)",
    re.IGNORECASE,
)


def _mask_userinfo(match: re.Match[str]) -> str:
    userinfo = match.group("userinfo")
    user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
    # A bare "secret@host" (redis://secret@host) is a password, not a user name.
    shown = f"{user}:{MASK}" if ":" in userinfo else MASK
    return f"{match.group('scheme')}{shown}@"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every credential replaced by ``***``."""
    for secret in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(_mask_userinfo, text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('key')}{MASK}", text)


def secret_parts(connection_string: str) -> list[str]:
    """The credential values inside a DSN or URL, for ``redact``'s known-secret pass."""
    parts = [m.group("value").strip("'") for m in _KEY_VALUE.finditer(connection_string)]
    for match in _URL_USERINFO.finditer(connection_string):
        userinfo = match.group("userinfo")
        parts.append(userinfo.split(":", 1)[1] if ":" in userinfo else userinfo)
    return [p for p in parts if p]
