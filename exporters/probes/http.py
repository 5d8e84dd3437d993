"""The HTTP health probe: GET a service's health URL within the deadline, read the status line.

A minimal HTTP/1.1 client on asyncio streams rather than a thread-pool client, so a hanging
service is cancelled at the deadline instead of holding a worker thread. A new connection per
probe (``Connection: close``): health endpoints are cheap and this keeps no state to go stale.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from obstack.stack.spec.model import Service

from ..reasons import ProtocolError
from ..results import ProbeResult, Reason, Sample, failed
from .base import ConnectionProbe

USER_AGENT = "obstack-exporter"
MAX_STATUS_LINE = 1024


class BadResponse(ProtocolError):
    """The peer did not answer with an HTTP status line."""


class HttpProbe(ConnectionProbe):
    """A service's health URL; up when it answers 2xx."""

    kind = "http"

    def __init__(self, service: Service) -> None:
        super().__init__(service.name)
        self.url = service.health_url
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._host_header = parts.netloc

    async def probe(self, budget: float, started: float) -> list[ProbeResult]:
        context = ssl.create_default_context() if self._https else None
        reader, writer = await asyncio.open_connection(self._host, self._port, ssl=context,
                                                       server_hostname=self._host if context else None)
        try:
            request = (f"GET {self._path} HTTP/1.1\r\nHost: {self._host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
                       "Accept: application/health+json, application/json, */*\r\nConnection: close\r\n\r\n")
            writer.write(request.encode("latin-1"))
            await writer.drain()
            status = parse_status(await reader.readline())
        finally:
            writer.close()
        duration = time.monotonic() - started
        target = {"target": self.target}
        samples = (Sample("obstack_http_probe_status_code", target, float(status)),
                   Sample("obstack_http_probe_duration_seconds", target, duration))
        ok = 200 <= status < 300
        # A clean non-2xx answer is the service saying it is unhealthy: no transport reason fits.
        return [ProbeResult("http", self.target, ok, None if ok else "other", duration, samples)]

    async def disconnect(self, connection: Any) -> None:
        return None

    def is_connection_lost(self, error: BaseException) -> bool:
        return False

    def failures(self, reason: Reason, duration: float) -> list[ProbeResult]:
        result = failed("http", self.target, reason, duration)
        target = {"target": self.target}
        samples = (Sample("obstack_http_probe_status_code", target, 0.0),
                   Sample("obstack_http_probe_duration_seconds", target, duration))
        return [ProbeResult(result.kind, result.target, False, reason, duration, samples)]


def parse_status(line: bytes) -> int:
    """The status code of an HTTP/1.x status line."""
    parts = line[:MAX_STATUS_LINE].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise BadResponse()
    return int(parts[1])
