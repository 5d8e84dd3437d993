"""`obstack verify` against a real Prometheus scraping metrics captured from real libraries.

Two services are served from the captures in tests/fixtures/clients (a static /metrics each, the
text a real process emitted); a private Prometheus scrapes them. The spec describes one rightly
and one as the wrong library: verify must name exactly the keys to fix, and nothing on a right spec.
"""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.monitoring import PrometheusServer, http_json
from tests.support.servers import HOST, free_port

CLIENTS = Path(__file__).parent / "fixtures" / "clients"


class _Exposition(http.server.BaseHTTPRequestHandler):
    text = b""

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(self.text)

    def log_message(self, *args: object) -> None:
        pass


def _serve(capture: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = type("Capture", (_Exposition,), {"text": (capture / "after.prom").read_bytes()})
    server = http.server.ThreadingHTTPServer((HOST, free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"{HOST}:{server.server_address[1]}"


@pytest.fixture(scope="module")
def prometheus() -> Iterator[tuple[str, dict[str, str]]]:
    """A Prometheus scraping the fastapi-instrumentator capture as job api and express-prom-bundle's as web."""
    servers, targets = [], {}
    for job, capture in (("api", "fastapi-instrumentator"), ("web", "express-prom-bundle")):
        server, target = _serve(CLIENTS / capture)
        servers.append(server)
        targets[job] = target
    scrape = [{"job_name": job, "static_configs": [{"targets": [target], "labels": {"service": job, "team": "web"}}]}
              for job, target in targets.items()]
    with PrometheusServer(rule_files=(), scrape_configs=scrape) as server:
        deadline = time.monotonic() + 30
        while len(http_json(f"{server.url}/api/v1/query?query=up%3D%3D1")["data"]["result"]) < 2:
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.2)
        yield server.url, targets
    for server in servers:
        server.shutdown()


def _spec(tmp_path: Path, targets: dict[str, str], web: str) -> Path:
    spec = tmp_path / "stack.yaml"
    spec.write_text(f"""
project: shop
team: web
services:
  - name: api
    targets: ["{targets['api']}"]
    request_metrics:
      preset: fastapi-instrumentator
    thresholds:
      latency_p95: {{critical: 500ms, warning: 100ms}}
  - name: web
    targets: ["{targets['web']}"]
{web}
    thresholds:
      latency_p95: {{critical: 1500ms, warning: 300ms}}
""")
    return spec


def _verify(spec: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "obstack", "verify", "--spec", str(spec), "--prometheus", url],
                          capture_output=True, text=True, timeout=60)


def test_a_spec_that_describes_each_library_finds_nothing(prometheus: tuple[str, dict[str, str]],
                                                          tmp_path: Path) -> None:
    url, targets = prometheus
    web = "    request_metrics: {preset: express-prom-bundle}\n    process_start_metric: null"
    result = _verify(_spec(tmp_path, targets, web), url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"{url} holds every series the rules and dashboards of 2 services read"


def test_a_wrong_preset_is_named_key_by_key(prometheus: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    """web described as prom-client's convention (the old default) while it runs express-prom-bundle."""
    url, targets = prometheus
    spec = _spec(tmp_path, targets, "")
    result = _verify(spec, url)
    assert result.returncode == 1, result.stdout + result.stderr
    name = str(spec)
    assert result.stdout.splitlines() == [
        f"{name}: services[1].process_start_metric: web exposes no series named process_start_time_seconds (job web); "
        "read by ServiceFlapping (and 4 more)",
        f"{name}: services[1].request_metrics.buckets: declares buckets [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, "
        "2.5, 5, 10] but http_request_duration_seconds of web has [0.003, 0.03, 0.1, 0.3, 1.5, 10]",
        f"{name}: services[1].request_metrics.route_label: the http_request_duration_seconds_count series of web "
        "carry no label 'route' (theirs: status_code); read by shop / service / web / Requests per second by route",
    ]
    assert result.stderr.strip() == f"3 problems in what {url} holds for 2 services"


def test_a_service_prometheus_does_not_scrape_is_one_line(prometheus: tuple[str, dict[str, str]],
                                                          tmp_path: Path) -> None:
    url, targets = prometheus
    spec = _spec(tmp_path, targets, "    job: frontend\n    request_metrics: {preset: express-prom-bundle}")
    result = _verify(spec, url)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{spec}: services[1].job: no series of job frontend at all (not even up): web is not scraped, or under "
        'another job name; every rule of it selects job="frontend"']


def test_an_unreachable_prometheus_is_bad_input(tmp_path: Path) -> None:
    url = f"http://{HOST}:{free_port()}"
    spec = _spec(tmp_path, {"api": "api:8000", "web": "web:3000"}, "")
    spec.write_text(spec.read_text() + "deploy:\n  timeouts: {request: 1s, retries: 0}\n")
    result = _verify(spec, url)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith(f"verify: cannot reach prometheus at {url}/api/v1/series?")
