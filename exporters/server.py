"""The exporter's HTTP server: /metrics, /health, /livez, /readyz, with optional TLS and basic auth.

Each request computes its deadline from Prometheus' ``X-Prometheus-Scrape-Timeout-Seconds``
minus the configured offset, capped at the spec's scrape timeout (a client cannot make a probe
that others join run for minutes), and asks the scheduler for results within it, so a scrape is
answered before Prometheus gives up on it, however slow a dependency is.

Connections are kept alive (Prometheus reuses them) with ``TCP_NODELAY`` and each response
leaves in one buffered write, so a keep-alive scrape never waits for a delayed ACK. A thread
serves each connection (a burst waits in a listen backlog of ``LISTEN_BACKLOG``, not in SYN
retries); a socket read that waits longer than ``exporter.idle_timeout`` (an idle keep-alive
connection, a client sending its request slowly) closes the connection, so no client holds a
thread for ever. Threads are reused across connections and not capped (``workers.WorkerPool``).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stack.spec.model import Spec

from .collector import render_metrics
from .exposition import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .health import CONTENT_TYPE as HEALTH_CONTENT_TYPE, health_document, ready
from .logs import JsonLog
from .scheduler import ProbeScheduler
from .webconfig import WebConfig
from .workers import WorkerPool

TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
MIN_DEADLINE = 0.1
MAX_DEADLINE = 120.0
TLS_HANDSHAKE_TIMEOUT = 10.0
LISTEN_BACKLOG = 1024  # the kernel caps it at net.core.somaxconn
# Responses are written whole from this buffer (headers and body in one send for usual bodies).
WRITE_BUFFER = 256 * 1024
_INDEX = b"obstack exporter: /metrics /health /livez /readyz\n"


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


class ExporterHTTPServer(ThreadingHTTPServer):
    """Thread per connection; TLS handshakes happen in that thread, never in accept()."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], app: ExporterApp) -> None:
        self.app = app
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.workers = WorkerPool("obstack-connection")
        super().__init__(address, ExporterHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection on a pooled worker (ThreadingMixIn would start a thread for it)."""
        try:
            self.workers.submit(lambda: self.process_request_thread(request, client_address))
        except RuntimeError:  # closing: the connection is refused like any after close
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self.workers.close()

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = self.app.web.tls
        if tls is not None:
            request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            try:
                request = tls.wrap_socket(request, server_side=True)
            except (OSError, ValueError):
                return  # a failed handshake is the client's problem; nothing to answer
        self.RequestHandlerClass(request, client_address, self)


class ExporterApp:
    """What the handler needs: the spec, the scheduler, deadlines, auth, the log."""

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


class ExporterHandler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "obstack-exporter"
    sys_version = ""
    wbufsize = WRITE_BUFFER  # flushed once per response by http.server

    def setup(self) -> None:
        # On every socket read and write: a slow or idle client is disconnected.
        self.timeout = self.server.app.idle_timeout
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        app = self.server.app
        if not app.web.authorized(self.headers.get("Authorization")):
            self._send(HTTPStatus.UNAUTHORIZED, "text/plain; charset=utf-8", b"unauthorized\n",
                       {"WWW-Authenticate": 'Basic realm="obstack-exporter"'})
            return
        path = self.path.split("?", 1)[0]
        routes: dict[str, Callable[[ExporterApp], None]] = {
            "/metrics": self._metrics, "/health": self._health, "/livez": self._livez, "/readyz": self._readyz}
        route = routes.get(path)
        if route is None:
            if path == "/":
                self._send(HTTPStatus.OK, "text/plain; charset=utf-8", _INDEX)
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")
            return
        try:
            route(app)
        except Exception as error:  # noqa: BLE001 - answer 500, log the class only (never its text)
            app.log.error("request_failed", path=path, error=type(error).__name__)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", b"internal error\n")

    def _budget(self, app: ExporterApp) -> float:
        return deadline_from(self.headers.get(TIMEOUT_HEADER), app.offset, app.default_deadline, app.max_deadline)

    def _metrics(self, app: ExporterApp) -> None:
        results = app.scheduler.probe_all(self._budget(app))
        self._send(HTTPStatus.OK, METRICS_CONTENT_TYPE, render_metrics(results))

    def _health(self, app: ExporterApp) -> None:
        status, document = health_document(app.spec, app.scheduler.probe_all(self._budget(app)))
        body = json.dumps(document, indent=2).encode() + b"\n"
        self._send(HTTPStatus(status), HEALTH_CONTENT_TYPE, body, {"Cache-Control": "no-store"})

    def _livez(self, app: ExporterApp) -> None:
        self._send(HTTPStatus.OK, "text/plain; charset=utf-8", b"ok\n")

    def _readyz(self, app: ExporterApp) -> None:
        ok = ready(app.scheduler.probe_all(self._budget(app)))
        self._send(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                   b"ready\n" if ok else b"not ready\n")

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Access logs are off: a scrape every few seconds is not news (state changes are logged)."""


def serve_in_thread(server: ExporterHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="obstack-http", daemon=True)
    thread.start()
    return thread
