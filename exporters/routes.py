"""What the exporter answers: /metrics, /health, /livez, /readyz, / and 404, behind basic auth.

Each request computes its deadline from Prometheus' ``X-Prometheus-Scrape-Timeout-Seconds``
minus the configured offset, capped at the spec's scrape timeout (a client cannot make a probe
that others join run for minutes), and awaits the scheduler's results within it, so a scrape is
answered before Prometheus gives up on it, however slow a dependency is.

A request whose credentials were verified before is let in on the spot; one that needs a
bcrypt check (tens of milliseconds by design) gets it on ``AUTH_THREADS`` threads off the event
loop, so a login never stalls the scrapes the loop serves meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

from obstack.stack.spec.model import Spec

from .collector import render_metrics
from .exposition import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .health import CONTENT_TYPE as HEALTH_CONTENT_TYPE, health_document, ready
from .httpwire import Request, answer
from .logs import JsonLog
from .scheduler import ProbeScheduler
from .webconfig import WebConfig

TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
MIN_DEADLINE = 0.1
MAX_DEADLINE = 120.0
AUTH_THREADS = 2  # bcrypt checks at once; bcrypt releases the GIL, and the machine may have 2 cores
TEXT = "text/plain; charset=utf-8"
_INDEX = b"obstack exporter: /metrics /health /livez /readyz\n"
_UNAUTHORIZED_HEADERS = (("WWW-Authenticate", 'Basic realm="obstack-exporter"'),)


def deadline_from(header: str | None, offset: float, default: float, ceiling: float = MAX_DEADLINE) -> float:
    """The probe budget for one request: scrape timeout minus offset, else ``default``; at most ``ceiling``."""
    try:
        timeout = float(header) if header else None
    except ValueError:
        timeout = None
    ceiling = max(MIN_DEADLINE, min(ceiling, MAX_DEADLINE))
    if timeout is None or timeout != timeout or timeout <= 0:  # absent, unparsable or NaN
        return min(default, ceiling)
    return min(ceiling, max(MIN_DEADLINE, timeout - offset))


class ExporterApp:
    """What a request needs: the spec, the scheduler, deadlines, auth, the log."""

    def __init__(self, spec: Spec, scheduler: ProbeScheduler, web: WebConfig, log: JsonLog) -> None:
        self.spec = spec
        self.scheduler = scheduler
        self.web = web
        self.log = log
        self.offset = spec.exporter.scrape_timeout_offset.seconds
        self.default_deadline = spec.exporter.default_timeout.seconds
        # No request may ask for more than Prometheus' own scrape timeout allows.
        self.max_deadline = spec.prometheus.scrape_timeout.seconds - self.offset
        self.idle_timeout = spec.exporter.idle_timeout.seconds or None  # 0s: never
        self._auth_threads = (ThreadPoolExecutor(AUTH_THREADS, thread_name_prefix="obstack-auth")
                              if web.auth_required else None)
        self._routes: dict[str, Callable[[Request], Awaitable[bytes]]] = {
            "/metrics": self._metrics, "/health": self._health, "/readyz": self._readyz}

    def immediate(self, request: Request) -> bytes | None:
        """The answer to a GET when it needs neither a probe nor a bcrypt check, else None (``respond`` then)."""
        verdict = self.web.verdict(request.headers.get("authorization"))
        if verdict is None:
            return None
        return self._settled(request) if verdict else self._unauthorized(request)

    async def respond(self, request: Request) -> bytes:
        """The answer to a GET ``immediate`` left: after the bcrypt check, or the probes, or both."""
        credentials = request.headers.get("authorization")
        verdict = self.web.verdict(credentials)
        if verdict is None:
            loop = asyncio.get_running_loop()
            verdict = await loop.run_in_executor(self._auth_threads, self.web.authorized, credentials)
        if not verdict:
            return self._unauthorized(request)
        settled = self._settled(request)
        if settled is not None:
            return settled
        return await self._routes[_path(request)](request)

    def failed(self, request: Request, error: Exception) -> bytes:
        """500 for an unexpected exception, its class logged (never its text: it may hold a secret)."""
        self.log.error("request_failed", path=_path(request), error=type(error).__name__)
        return answer(HTTPStatus.INTERNAL_SERVER_ERROR, TEXT, b"internal error\n", version=request.version)

    def _settled(self, request: Request) -> bytes | None:
        """An authorized GET's answer when no probe is needed, else None."""
        path = _path(request)
        if path in self._routes:
            return None
        if path == "/livez":
            return answer(HTTPStatus.OK, TEXT, b"ok\n", version=request.version)
        if path == "/":
            return answer(HTTPStatus.OK, TEXT, _INDEX, version=request.version)
        return answer(HTTPStatus.NOT_FOUND, TEXT, b"not found\n", version=request.version)

    def close(self) -> None:
        if self._auth_threads is not None:
            self._auth_threads.shutdown(wait=False, cancel_futures=True)

    def _unauthorized(self, request: Request) -> bytes:
        return answer(HTTPStatus.UNAUTHORIZED, TEXT, b"unauthorized\n", _UNAUTHORIZED_HEADERS, request.version)

    def _budget(self, request: Request) -> float:
        return deadline_from(request.headers.get(TIMEOUT_HEADER.lower()), self.offset, self.default_deadline,
                             self.max_deadline)

    async def _metrics(self, request: Request) -> bytes:
        results = await self.scheduler.probe(self._budget(request))
        return answer(HTTPStatus.OK, METRICS_CONTENT_TYPE, render_metrics(results), version=request.version)

    async def _health(self, request: Request) -> bytes:
        status, document = health_document(self.spec, await self.scheduler.probe(self._budget(request)))
        body = json.dumps(document, indent=2).encode() + b"\n"
        return answer(status, HEALTH_CONTENT_TYPE, body, (("Cache-Control", "no-store"),), request.version)

    async def _readyz(self, request: Request) -> bytes:
        ok = ready(await self.scheduler.probe(self._budget(request)))
        return answer(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, TEXT,
                      b"ready\n" if ok else b"not ready\n", version=request.version)


def _path(request: Request) -> str:
    return request.path.split("?", 1)[0]
