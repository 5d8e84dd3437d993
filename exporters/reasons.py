"""Turn any exception a probe meets into one bounded reason; the raw text never leaves here.

Library messages carry hosts, user names and sometimes the whole DSN, so the only thing a
probe may report is the class this module picks. The text is inspected (never returned)
because libpq reports refused, DNS and auth failures as one exception class.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

import psycopg
import redis.exceptions as redis_errors

from .results import Reason


class ProtocolError(Exception):
    """A peer answered with something that is not its protocol (raised by our own parsers)."""

# libpq / psycopg message fragments -> reason, checked in order (auth before the generic
# "connection failed" wording that wraps every libpq connect error).
_MESSAGE_REASONS: tuple[tuple[str, Reason], ...] = (
    ("password authentication failed", "auth"),
    ("no password supplied", "auth"),
    ("authentication failed", "auth"),
    ("no pg_hba.conf entry", "auth"),
    ("permission denied", "auth"),
    ("wrongpass", "auth"),
    ("noauth", "auth"),
    ("noperm", "auth"),
    ("invalid username-password", "auth"),
    ("timeout expired", "timeout"),
    ("timed out", "timeout"),
    ("connection refused", "refused"),
    ("could not translate host name", "dns"),
    ("name or service not known", "dns"),
    ("temporary failure in name resolution", "dns"),
    ("nodename nor servname", "dns"),
    ("ssl", "tls"),
    ("certificate", "tls"),
    ("server closed the connection unexpectedly", "refused"),
    ("connection reset", "refused"),
    ("connection closed by server", "refused"),
    ("no route to host", "refused"),
    ("network is unreachable", "refused"),
)

_ERRNO_REASONS: dict[int, Reason] = {
    errno.ECONNREFUSED: "refused",
    errno.ECONNRESET: "refused",
    errno.EHOSTUNREACH: "refused",
    errno.ENETUNREACH: "refused",
    errno.ETIMEDOUT: "timeout",
}


def classify(error: BaseException) -> Reason:
    """The reason for ``error``; ``other`` when nothing more specific is known."""
    typed = _by_type(error)
    if typed is not None:
        return typed
    for cause in _chain(error):
        if isinstance(cause, OSError) and cause.errno in _ERRNO_REASONS:
            return _ERRNO_REASONS[cause.errno]
        text = str(cause).lower()
        for fragment, reason in _MESSAGE_REASONS:
            if fragment in text:
                return reason
    if isinstance(error, (redis_errors.ResponseError, psycopg.errors.ProtocolViolation)):
        return "protocol"
    if isinstance(error, (psycopg.DatabaseError, redis_errors.RedisError, OSError)):
        return "other"
    return "other"


def _by_type(error: BaseException) -> Reason | None:
    if isinstance(error, (asyncio.TimeoutError, TimeoutError, socket.timeout, redis_errors.TimeoutError,
                          psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable)):
        return "timeout"
    if isinstance(error, (psycopg.errors.InvalidPassword, psycopg.errors.InvalidAuthorizationSpecification,
                          psycopg.errors.InsufficientPrivilege, redis_errors.AuthenticationError,
                          redis_errors.AuthenticationWrongNumberOfArgsError, redis_errors.NoPermissionError)):
        return "auth"
    if isinstance(error, socket.gaierror):
        return "dns"
    if isinstance(error, ssl.SSLError):
        return "tls"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, (ProtocolError, redis_errors.InvalidResponse, psycopg.errors.ProtocolViolation)):
        return "protocol"
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes/contexts (libraries wrap socket errors)."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
