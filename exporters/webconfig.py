"""TLS and basic auth from a web-config file in the Prometheus exporter-toolkit format.

Supported keys: ``tls_server_config`` (``cert_file``, ``key_file``, ``client_auth_type``,
``client_ca_file``, ``min_version``, ``max_version``) and ``basic_auth_users`` (user -> bcrypt
hash). Any other key is refused rather than ignored: a typo must not silently turn security off.
Everything a handshake or a login would trip on later is checked at load: malformed or truncated
bcrypt hashes, values of the wrong type, ``min_version`` above ``max_version``, client
certificates asked for without ``client_ca_file``. Each problem is one ``WebConfigError`` line naming the
file and the key.

Every bad credential is a plain "no" (401) at about the cost of a good one: a password bcrypt
cannot take (over 72 bytes) and an unknown user still pay one bcrypt check at the highest cost
among the configured hashes. ``verdict`` answers without bcrypt where it can (auth off, no or
malformed credentials, credentials verified before), so the server runs ``authorized``, bcrypt
and all, off its event loop only when it must.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
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
# Python's ssl verifies every client certificate it asks for (it has no "request but do not
# verify"), so any mode but NoClientCert needs the CA; without one every handshake that carries
# a certificate would fail.
_ASKS_FOR_CERTIFICATES = set(_CLIENT_AUTH) - {"NoClientCert"}
_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
# Modular crypt format: $2a$/$2b$/$2y$, a two-digit cost, 22 characters of salt and 31 of hash.
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(?P<cost>\d\d)\$[./A-Za-z0-9]{53}")
_MIN_COST, _MAX_COST = 4, 31
# bcrypt reads at most 72 bytes of a password; the library refuses longer ones.
MAX_PASSWORD_BYTES = 72
_CACHE_SIZE = 256


def _dummy_hash(cost: int) -> bytes:
    """A valid hash of a random string at ``cost``: unknown users pay what known ones do."""
    return bcrypt.hashpw(b"obstack-unknown-user", bcrypt.gensalt(rounds=cost))


_DEFAULT_DUMMY_HASH = _dummy_hash(10)


class WebConfigError(ValueError):
    """The web-config file is unusable; the message names the key, never a secret."""


@dataclass
class WebConfig:
    """What the server enforces: an optional TLS context and optional basic-auth users."""

    tls: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    # Checked for unknown users and passwords bcrypt cannot take: the costliest configured hash's cost.
    dummy_hash: bytes = b""
    # bcrypt is slow on purpose; remember verified (user, password digest) pairs as exporter-toolkit does.
    _verified: set[tuple[str, bytes]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def auth_required(self) -> bool:
        return bool(self.users)

    def verdict(self, header: str | None) -> bool | None:
        """What is known of ``header`` (the Authorization value) without bcrypt: True when auth is off
        or the credentials were verified before, False when there are none or they are malformed,
        None when ``authorized`` must check them (tens of milliseconds: off the event loop)."""
        if not self.users:
            return True
        credentials = _basic_credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        with self._lock:
            return True if (user, hashlib.sha256(password).digest()) in self._verified else None

    def authorized(self, header: str | None) -> bool:
        """True when auth is off or ``header`` (the Authorization value) names a user and its password."""
        known = self.verdict(header)
        if known is not None:
            return known
        credentials = _basic_credentials(header)
        if credentials is None:  # verdict() said False already
            return False
        user, password = credentials
        digest = hashlib.sha256(password).digest()
        hashed = self.users.get(user)
        usable = len(password) <= MAX_PASSWORD_BYTES
        dummy = self.dummy_hash or _DEFAULT_DUMMY_HASH
        try:
            checked = bcrypt.checkpw(password if usable else password[:MAX_PASSWORD_BYTES],
                                     hashed if hashed is not None and usable else dummy)
        except ValueError:  # a hash load_web_config did not vet (WebConfig built by hand)
            checked = False
        ok = checked and usable and hashed is not None
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
    costs = [int(hashed[4:6]) for hashed in users.values()]
    return WebConfig(tls=tls, users=users, dummy_hash=_dummy_hash(max(costs)) if costs else b"")


def _users(path: Path, raw: Any) -> dict[str, bytes]:
    if not isinstance(raw, dict):
        raise WebConfigError(f"{path}: basic_auth_users must map user names to bcrypt hashes")
    users = {}
    for user, hashed in raw.items():
        key = f"basic_auth_users.{user}"
        if not isinstance(user, str) or not user:
            raise WebConfigError(f"{path}: {key}: a user name must be a non-empty string")
        match = _BCRYPT_HASH.fullmatch(hashed) if isinstance(hashed, str) else None
        if match is None:
            raise WebConfigError(f"{path}: {key}: not a bcrypt hash ($2a$/$2b$/$2y$, cost, 53 characters of "
                                 "salt and hash), e.g. from `htpasswd -nBC 10 \"\"`")
        if not _MIN_COST <= int(match.group("cost")) <= _MAX_COST:
            raise WebConfigError(f"{path}: {key}: bcrypt cost {match.group('cost')} is outside {_MIN_COST}..{_MAX_COST}")
        users[user] = hashed.encode()
    return users


def _tls_context(path: Path, raw: Any) -> ssl.SSLContext:
    if not isinstance(raw, dict):
        raise WebConfigError(f"{path}: tls_server_config must be a mapping")
    unknown = set(raw) - _TLS_KEYS
    if unknown:
        raise WebConfigError(f"{path}: tls_server_config: unsupported key(s) {', '.join(sorted(unknown))}")
    for key in sorted(raw):
        if not isinstance(raw[key], str) or not raw[key]:
            raise WebConfigError(f"{path}: tls_server_config.{key}: expected a non-empty string, got {_shown(raw[key])}")
    if not raw.get("cert_file") or not raw.get("key_file"):
        raise WebConfigError(f"{path}: tls_server_config needs cert_file and key_file")
    base = path.parent
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    minimum = _version(path, "min_version", raw.get("min_version", "TLS12"))
    maximum = _version(path, "max_version", raw["max_version"]) if "max_version" in raw else None
    if maximum is not None and minimum > maximum:
        raise WebConfigError(f"{path}: tls_server_config.min_version {raw.get('min_version', 'TLS12')} is above "
                             f"max_version {raw['max_version']}: no handshake could succeed")
    context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum
    try:
        context.load_cert_chain(base / raw["cert_file"], base / raw["key_file"])
    except (OSError, ssl.SSLError):
        raise WebConfigError(f"{path}: tls_server_config.cert_file/key_file: cannot load them") from None
    auth = raw.get("client_auth_type", "NoClientCert")
    if auth not in _CLIENT_AUTH:
        raise WebConfigError(f"{path}: tls_server_config.client_auth_type: unknown value {auth!r}; "
                             f"use one of {', '.join(_CLIENT_AUTH)}")
    if auth in _ASKS_FOR_CERTIFICATES and not raw.get("client_ca_file"):
        raise WebConfigError(f"{path}: tls_server_config.client_ca_file: client_auth_type {auth} asks for client "
                             "certificates, which are verified, and needs the CA that signs them")
    context.verify_mode = _CLIENT_AUTH[auth]
    if raw.get("client_ca_file"):
        try:
            context.load_verify_locations(base / raw["client_ca_file"])
        except (OSError, ssl.SSLError):
            raise WebConfigError(f"{path}: tls_server_config.client_ca_file: cannot load it") from None
    return context


def _version(path: Path, key: str, name: str) -> ssl.TLSVersion:
    if name not in _TLS_VERSIONS:
        raise WebConfigError(f"{path}: tls_server_config.{key}: unknown TLS version {name!r}; "
                             f"use one of {', '.join(_TLS_VERSIONS)}")
    return _TLS_VERSIONS[name]


def _shown(value: Any) -> str:
    """A wrong value's type for an error line (never the value: it could be a secret)."""
    return "nothing" if value is None or value == "" else type(value).__name__
