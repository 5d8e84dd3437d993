"""A fake Prometheus or Alertmanager for `obstack deploy`'s fault tests: it serves what deploy
reads (Prometheus: runtimeinfo, reload, the rules it loaded from the rules directory;
Alertmanager: status with the config it loaded, reload) and injects one fault, once, at the
step the test names. Cheap (no real server) so that one deploy per fault is affordable; the
real Prometheus and Alertmanager are tested in tests/test_deploy.py.

Faults (each strikes the first matching request after the first reload, i.e. after deploy
wrote its files, unless it is the reload itself; the rollback then finds a well-behaved server):

- ``no-lastConfigTime``: runtimeinfo without ``lastConfigTime``
- ``groups-not-a-list``: ``/api/v1/rules`` with ``groups`` an object
- ``status-without-config``: Alertmanager's ``/api/v2/status`` without ``config``
- ``trickle-body`` / ``trickle-headers``: runtimeinfo sent one byte a second, for a minute
- ``huge-error-body``: the reload answers 503 with a 300 MB body
- ``redirect-elsewhere``: runtimeinfo redirects (302) to ``elsewhere``, another host
- ``reload-302``: the reload answers 302 to ``/-/reload`` (a client following it sends a GET)
- ``rules-pending``: the rules are served, never evaluated (verification waits)
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.support.local_http import ServedInThread
from tests.support.servers import free_port

HUGE_BODY = 300 * 1024 * 1024
TRICKLE_SECONDS = 60


class FaultServer(ServedInThread):
    """``kind`` is "prometheus" (``path``: its rules directory) or "alertmanager" (``path``: its config file)."""

    def __init__(self, kind: str, path: Path, fault: str | None = None, host: str = "127.0.0.1",
                 elsewhere: str = "") -> None:
        self.kind, self.path, self.fault, self.elsewhere = kind, path, fault, elsewhere
        self.requests: list[tuple[str, str]] = []
        self.reloads = 0
        self.struck = 0
        self.bytes_sent = 0
        self.config_time = datetime(2024, 5, 1, tzinfo=timezone.utc)
        self.loaded: Any = self._load()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, free_port()), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"

    def _load(self) -> Any:
        if self.kind == "alertmanager":
            return self.path.read_text() if self.path.exists() else ""
        return [{"file": str(file), "name": group["name"], "rules": [
                    {"name": rule.get("alert") or rule.get("record"), "health": "ok"} for rule in group.get("rules") or []]}
                for file in sorted(self.path.glob("*.yml")) for group in (yaml.safe_load(file.read_text()) or {}).get("groups") or []]

    def strikes(self, fault: str) -> bool:
        """Whether this request gets ``fault`` (once, after the first reload)."""
        with self._lock:
            if self.fault != fault or self.struck or (self.reloads == 0 and fault not in RELOAD_FAULTS):
                return False
            self.struck += 1
            return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def send(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def trickle(self, data: bytes) -> None:
                self.close_connection = True
                try:
                    for byte in data[:TRICKLE_SECONDS]:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(1)
                except OSError:
                    pass

            def huge(self) -> None:
                self.close_connection = True
                self.send_response(503)
                self.send_header("Content-Length", str(HUGE_BODY))
                self.end_headers()
                chunk = b"x" * (1024 * 1024)
                try:
                    for _ in range(HUGE_BODY // len(chunk)):
                        self.wfile.write(chunk)
                        server.bytes_sent += len(chunk)
                except OSError:
                    pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(("GET", self.path))
                if self.path == "/api/v1/status/runtimeinfo":
                    self.runtimeinfo()
                elif self.path == "/api/v1/rules":
                    groups: Any = server.loaded
                    if server.strikes("groups-not-a-list"):
                        groups = {"groups": "as an object"}
                    elif server.fault == "rules-pending" and server.reloads == 1:
                        groups = [{**g, "rules": [{**r, "health": "unknown"} for r in g["rules"]]} for g in groups]
                    self.send(200, {"status": "success", "data": {"groups": groups}})
                elif self.path == "/api/v2/status":
                    status: dict[str, Any] = {"cluster": {"status": "disabled"}}
                    if not server.strikes("status-without-config"):
                        status["config"] = {"original": server.loaded}
                    self.send(200, status)
                else:
                    self.send(200 if self.path == "/-/reload" else 404, {"path": self.path})

            def runtimeinfo(self) -> None:
                info = {"reloadConfigSuccess": True, "lastConfigTime": server.config_time.isoformat()}
                if server.strikes("no-lastConfigTime"):
                    del info["lastConfigTime"]
                body = {"status": "success", "data": info}
                if server.strikes("redirect-elsewhere"):
                    self.send(302, {}, {"Location": f"{server.elsewhere}/api/v1/status/runtimeinfo"})
                elif server.strikes("trickle-headers"):
                    self.trickle(b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"." * 100)
                elif server.strikes("trickle-body"):
                    data = json.dumps(body).encode() + b" " * 1000
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.trickle(data)
                else:
                    self.send(200, body)

            def do_POST(self) -> None:  # noqa: N802
                server.requests.append(("POST", self.path))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/-/reload":
                    self.send(404, {})
                elif server.strikes("huge-error-body"):
                    self.huge()
                elif server.strikes("reload-302"):
                    self.send(302, {}, {"Location": "/-/reload"})
                else:
                    server.reloads += 1
                    server.config_time = datetime.now(timezone.utc)
                    server.loaded = server._load()
                    self.send(200, {})

        return Handler


RELOAD_FAULTS = ("huge-error-body", "reload-302")
