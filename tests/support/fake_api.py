"""A simulated bookmark API for the end-to-end tests: request metrics, /health and fault knobs.

It exposes what prom-client exposes in the real API — the ``http_request_duration_seconds``
histogram with ``method``, ``route`` and ``status_code`` — plus ``/health``. A background thread
generates its own traffic, so rates move without a load tool. ``POST /control`` with
``{"error_rate": 0.1, "latency": 0.02}`` changes the faults.

Like the real API it needs its datastores: ``dependencies`` are (host, port) pairs it checks with a
TCP connect every ``DEPENDENCY_CHECK`` seconds. While one is unreachable every request fails with
503 and ``/health`` answers 503, so a stopped Redis or Postgres shows as the symptoms a real
service would show (errors, a failing health check, a burning error budget).

Traffic is what the world sends, from a seeded generator: requests arrive at random (a Poisson
process of ``rate`` per second: bursts and gaps), on a random route, and each fails on its own
with probability ``error_rate`` (Bernoulli). Evenly spaced errors — every tenth request at 10% —
keep a short window's ratio exactly on the asked one and hid flapping that real traffic shows.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import generate_latest

HOST = "127.0.0.1"
ROUTES = (("GET", "/api/bookmarks"), ("POST", "/api/bookmarks"), ("GET", "/api/bookmarks/:id"))
# The default spec's buckets: prom-client's defaults (0.1 is the latency SLO's threshold) plus 2,
# where the p95 page sits.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0)
DEPENDENCY_CHECK = 0.25  # seconds between checks of the dependencies


class FakeBookmarkApi:
    """The simulated API on a free port of 127.0.0.1, with its own traffic thread."""

    def __init__(self, rate: float = 5.0, dependencies: tuple[tuple[str, int], ...] = (), seed: int = 7) -> None:
        self.rate = rate
        self._random = random.Random(seed)
        self.dependencies = dependencies
        self._dependencies_up = True
        self._checked_at = 0.0
        self.error_rate = 0.0
        self.latency = 0.01  # seconds recorded per request (simulated, not slept)
        self.registry = CollectorRegistry()
        self.histogram = Histogram("http_request_duration_seconds", "Duration of HTTP requests in seconds",
                                   ("method", "route", "status_code"), registry=self.registry, buckets=BUCKETS)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer((HOST, 0), self._handler())
        self._httpd.daemon_threads = True
        self._threads = [threading.Thread(target=self._httpd.serve_forever, daemon=True, name="fake-api-http"),
                         threading.Thread(target=self._traffic, daemon=True, name="fake-api-traffic")]

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def set_faults(self, error_rate: float | None = None, latency: float | None = None) -> None:
        """Change the error rate (0..1) and the recorded latency (seconds)."""
        with self._lock:
            if error_rate is not None:
                if not 0 <= error_rate <= 1:
                    raise ValueError(f"error_rate must be within 0..1, not {error_rate}")
                self.error_rate = error_rate
            if latency is not None:
                self.latency = latency

    def dependencies_up(self) -> bool:
        """Whether every dependency accepts a TCP connection (checked at most every DEPENDENCY_CHECK s)."""
        now = time.monotonic()
        if now - self._checked_at >= DEPENDENCY_CHECK:
            self._checked_at = now
            self._dependencies_up = all(_reachable(host, port) for host, port in self.dependencies)
        return self._dependencies_up

    def request(self) -> None:
        """Serve one simulated request on a random route: it fails (503) while a dependency is down;
        otherwise it fails (500) with probability ``error_rate``."""
        with self._lock:
            method, route = self._random.choice(ROUTES)
            failed = self._random.random() < self.error_rate
            latency = self.latency
        if not self.dependencies_up():
            self.histogram.labels(method, route, "503").observe(latency)
            return
        self.histogram.labels(method, route, "500" if failed else "200").observe(latency)

    def _traffic(self) -> None:
        """Poisson arrivals: exponential gaps of mean 1/rate, served in the order they fall due."""
        due = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                due += self._random.expovariate(self.rate)
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            self.request()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, generate_latest(api.registry), "text/plain; version=0.0.4")
                elif self.path == "/health":
                    if api.dependencies_up():
                        self._send(200, b'{"status": "ok"}')
                    else:
                        self._send(503, b'{"status": "unavailable", "reason": "a dependency is down"}')
                else:
                    self._send(404, b'{"error": "not found"}')

            def do_POST(self) -> None:
                if self.path != "/control":
                    self._send(404, b'{"error": "not found"}')
                    return
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                    api.set_faults(body.get("error_rate"), body.get("latency"))
                except (ValueError, AttributeError) as error:
                    self._send(400, json.dumps({"error": str(error)}).encode())
                    return
                self._send(200, json.dumps({"error_rate": api.error_rate, "latency": api.latency}).encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
