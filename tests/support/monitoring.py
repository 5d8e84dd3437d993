"""Private Prometheus and Alertmanager processes for tests, started from the Debian binaries.

Each server runs in its own temporary directory on a free port of 127.0.0.1, with the lifecycle
API enabled (``/-/reload``) and Alertmanager's clustering switched off, so tests never touch a
server they did not start. ``stop()`` ends only the process this object started (by its pid).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from tests.support.servers import HOST, free_port, require_binary

READY_TIMEOUT = 30.0


def http_json(url: str, method: str = "GET", body: Any = None, timeout: float = 5.0) -> Any:
    """One JSON request (test helper; the code under test has its own client)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read()
    return json.loads(text) if text else None


class _MonitoringServer(ABC):
    """Temp dir, port, log and process lifecycle shared by Prometheus and Alertmanager."""

    kind = "server"
    binary = ""
    package = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"private-{self.kind}-"))
        self.log_path = self.root / f"{self.kind}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @abstractmethod
    def _argv(self, executable: str) -> list[str]: ...

    def start(self) -> None:
        executable = require_binary(self.binary, self.package)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self._argv(executable), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at start:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/-/ready", timeout=1).close()
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} not ready within {READY_TIMEOUT:g}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=15)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class PrometheusServer(_MonitoringServer):
    """Prometheus loading ``rule_files`` (relative to its config dir), evaluating every second."""

    kind = "prometheus"
    binary = "prometheus"
    package = "prometheus"

    def __init__(self, rule_files: tuple[str, ...] = ("rules/*.yml",),
                 scrape_configs: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.rules_dir = self.root / "rules"
        self.rules_dir.mkdir()
        # A one-second evaluation interval so freshly loaded rules report health within a test.
        config: dict[str, Any] = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                                  "rule_files": list(rule_files)}
        if scrape_configs:
            config["scrape_configs"] = scrape_configs
        (self.root / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")

    def _argv(self, executable: str) -> list[str]:
        return [executable, f"--config.file={self.root / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.root / 'data'}", f"--web.listen-address={HOST}:{self.port}",
                "--web.enable-lifecycle"]

    def rules(self) -> list[dict[str, Any]]:
        """The rule groups Prometheus serves."""
        return http_json(f"{self.url}/api/v1/rules")["data"]["groups"]

    def wait_evaluated(self, group_names: set[str], timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until every named group is served and each of its rules evaluated with health ok."""
        deadline = time.monotonic() + timeout
        while True:
            groups = [g for g in self.rules() if g["name"] in group_names]
            healthy = all(r["health"] == "ok" for g in groups for r in g["rules"])
            if {g["name"] for g in groups} == group_names and healthy:
                return groups
            if time.monotonic() > deadline:
                raise AssertionError(f"groups not all served and healthy: {[(g['name'], [r['health'] for r in g['rules']]) for g in groups]}")
            time.sleep(0.2)


class AlertmanagerServer(_MonitoringServer):
    """Alertmanager (no clustering) reading ``config_dir/alertmanager.yml``."""

    kind = "alertmanager"
    binary = "prometheus-alertmanager"
    package = "prometheus-alertmanager"

    def __init__(self, config_text: str | None = None) -> None:
        super().__init__()
        self.config_dir = self.root / "config"
        self.config_dir.mkdir()
        self.config_path = self.config_dir / "alertmanager.yml"
        self.config_path.write_text(
            config_text or "route:\n  receiver: initial\nreceivers:\n  - name: initial\n", encoding="utf-8")

    def _argv(self, executable: str) -> list[str]:
        return [executable, f"--config.file={self.config_path}", f"--storage.path={self.root / 'data'}",
                f"--web.listen-address={HOST}:{self.port}", "--cluster.listen-address="]

    def config_original(self) -> str:
        return http_json(f"{self.url}/api/v2/status")["config"]["original"]


class RejectingProxy:
    """An HTTP proxy in front of a server that answers the first ``reject`` reload requests
    (``POST /-/reload``) with 500 itself, as a server refusing new files would, and forwards
    everything else. It stands in for failures the pre-flight validators cannot see."""

    def __init__(self, upstream: str, reject: int = 1) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.rejected = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                if self.command == "POST" and self.path == "/-/reload" and proxy.rejected < reject:
                    proxy.rejected += 1
                    self._send(500, b"failed to reload config: injected by the test proxy\n")
                    return
                request = urllib.request.Request(upstream + self.path, data=body, method=self.command,
                                                 headers={"Content-Type": self.headers.get("Content-Type", "")})
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        self._send(response.status, response.read())
                except urllib.error.HTTPError as error:
                    self._send(error.code, error.read())

            def _send(self, code: int, data: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
