"""Remove credentials from any text before it can reach a log line or an error message.

Covers the two connection-string forms (URL userinfo ``scheme://user:secret@host`` and libpq
``key=value`` with ``password=``), query-string secrets, and any secret value the exporter
knows it loaded (so a password is caught even where no syntax marks it). Passwords only: a
user name is not a secret (masking ``postgres`` would mask every ``"kind": "postgres"``).
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


def _bare_userinfo_is_secret(scheme: str) -> bool:
    """A bare ``name@host``: in a Redis URL clients disagree (some send it as the password), so it
    is treated as one; anywhere else (``postgresql://app@db``) it is a user name, not a secret."""
    return scheme.lower().rstrip(":/").startswith("redis")


def _mask_userinfo(match: re.Match[str]) -> str:
    userinfo, scheme = match.group("userinfo"), match.group("scheme")
    if ":" in userinfo:
        shown = f"{userinfo.split(':', 1)[0]}:{MASK}"
    else:
        shown = MASK if _bare_userinfo_is_secret(scheme) else userinfo
    return f"{scheme}{shown}@"


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
        if ":" in userinfo:
            parts.append(userinfo.split(":", 1)[1])
        elif _bare_userinfo_is_secret(match.group("scheme")):
            parts.append(userinfo)
    return [p for p in parts if p]
