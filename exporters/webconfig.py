"""TLS and basic auth from a web-config file in the Prometheus exporter-toolkit format.

Supported keys: ``tls_server_config`` (``cert_file``, ``key_file``, ``client_auth_type``,
``client_ca_file``, ``min_version``, ``max_version``) and ``basic_auth_users`` (user -> bcrypt
hash). Any other key is refused rather than ignored: a typo must not silently turn security off.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

_TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                 "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_CLIENT_AUTH = {"NoClientCert": ssl.CERT_NONE, "RequestClientCert": ssl.CERT_OPTIONAL,
                "RequireAnyClientCert": ssl.CERT_REQUIRED, "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
                "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}
_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
# A valid bcrypt hash of a random string: unknown users cost as much as known ones (no user probing by timing).
_DUMMY_HASH = bcrypt.hashpw(b"obstack-unknown-user", bcrypt.gensalt(rounds=10))
_CACHE_SIZE = 256


class WebConfigError(ValueError):
    """The web-config file is unusable; the message names the key, never a secret."""


@dataclass
class WebConfig:
    """What the server enforces: an optional TLS context and optional basic-auth users."""

    tls: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    # bcrypt is slow on purpose; remember verified (user, password digest) pairs as exporter-toolkit does.
    _verified: set[tuple[str, bytes]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def auth_required(self) -> bool:
        return bool(self.users)

    def authorized(self, header: str | None) -> bool:
        """True when auth is off or ``header`` (the Authorization value) names a user and its password."""
        if not self.users:
            return True
        credentials = _basic_credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        digest = hashlib.sha256(password).digest()
        with self._lock:
            if (user, digest) in self._verified:
                return True
        hashed = self.users.get(user)
        ok = bcrypt.checkpw(password, hashed if hashed is not None else _DUMMY_HASH) and hashed is not None
        if ok:
            with self._lock:
                if len(self._verified) >= _CACHE_SIZE:
                    self._verified.clear()
                self._verified.add((user, digest))
        return ok


def _basic_credentials(header: str | None) -> tuple[str, bytes] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "replace"), password


def load_web_config(path: Path) -> WebConfig:
    """Parse ``path``; relative cert/key paths are relative to the file, as in exporter-toolkit."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise WebConfigError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError:
        raise WebConfigError(f"{path}: not valid YAML") from None
    if not isinstance(document, dict):
        raise WebConfigError(f"{path}: expected a mapping")
    unknown = set(document) - {"tls_server_config", "basic_auth_users"}
    if unknown:
        raise WebConfigError(f"{path}: unsupported key(s) {', '.join(sorted(unknown))}")
    users = _users(path, document.get("basic_auth_users") or {})
    tls = _tls_context(path, document["tls_server_config"]) if document.get("tls_server_config") else None
    return WebConfig(tls=tls, users=users)


def _users(path: Path, raw: Any) -> dict[str, bytes]:
    if not isinstance(raw, dict):
        raise WebConfigError(f"{path}: basic_auth_users must map user names to bcrypt hashes")
    users = {}
    for user, hashed in raw.items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise WebConfigError(f"{path}: basic_auth_users.{user}: not a bcrypt hash")
        users[str(user)] = hashed.encode()
    return users


def _tls_context(path: Path, raw: Any) -> ssl.SSLContext:
    if not isinstance(raw, dict):
        raise WebConfigError(f"{path}: tls_server_config must be a mapping")
    unknown = set(raw) - _TLS_KEYS
    if unknown:
        raise WebConfigError(f"{path}: tls_server_config: unsupported key(s) {', '.join(sorted(unknown))}")
    if not raw.get("cert_file") or not raw.get("key_file"):
        raise WebConfigError(f"{path}: tls_server_config needs cert_file and key_file")
    base = path.parent
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _version(path, raw.get("min_version", "TLS12"))
    if raw.get("max_version"):
        context.maximum_version = _version(path, raw["max_version"])
    try:
        context.load_cert_chain(base / raw["cert_file"], base / raw["key_file"])
    except (OSError, ssl.SSLError):
        raise WebConfigError(f"{path}: cannot load cert_file/key_file") from None
    auth = raw.get("client_auth_type", "NoClientCert")
    if auth not in _CLIENT_AUTH:
        raise WebConfigError(f"{path}: tls_server_config.client_auth_type: unknown value {auth!r}")
    context.verify_mode = _CLIENT_AUTH[auth]
    if raw.get("client_ca_file"):
        context.load_verify_locations(base / raw["client_ca_file"])
    return context


def _version(path: Path, name: Any) -> ssl.TLSVersion:
    if name not in _TLS_VERSIONS:
        raise WebConfigError(f"{path}: unknown TLS version {name!r}; use one of {', '.join(_TLS_VERSIONS)}")
    return _TLS_VERSIONS[name]
