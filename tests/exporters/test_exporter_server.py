"""The exporter's HTTP side: /health, /livez, /readyz, deadlines, single-flight, load, TLS and auth."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pytest

from obstack.exporters.routes import deadline_from
from tests.exporters.conftest import http_get, postgres_store, redis_store


class SlowHealth:
    """A service health endpoint answering ``status`` after ``delay`` seconds, counting requests."""

    def __init__(self, delay: float, status: int = 200) -> None:
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests += 1
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_health():
    services: list[SlowHealth] = []

    def make(delay: float, status: int = 200) -> SlowHealth:
        services.append(SlowHealth(delay, status))
        return services[-1]
    yield make
    for service in services:
        service.close()


def test_deadline_from_header():
    assert deadline_from("10", 0.5, 10.0) == 9.5
    assert deadline_from(None, 0.5, 10.0) == 10.0
    assert deadline_from("nonsense", 0.5, 7.0) == 7.0
    assert deadline_from("0.2", 0.5, 10.0) == 0.1


def test_deadline_is_capped_at_the_scrape_timeout():
    assert deadline_from("99999", 0.5, 10.0, 9.5) == 9.5
    assert deadline_from(None, 0.5, 30.0, 9.5) == 9.5
    assert deadline_from("5", 0.5, 10.0, 9.5) == 4.5


@pytest.mark.parametrize("listen", ["bad host!:9477", "-leading-dash:9477", "[::1:9477", "127.0.0.1:", "host:70000"])
def test_listen_addresses_are_validated(listen):
    from obstack.exporters.app import split_listen
    with pytest.raises(ValueError, match="--listen"):
        split_listen(listen)


def test_listen_addresses_that_are_fine():
    from obstack.exporters.app import split_listen
    assert split_listen("[::1]:9477") == ("::1", 9477)
    assert split_listen(":9477") == ("127.0.0.1", 9477)
    assert split_listen("exporter.internal:0") == ("exporter.internal", 0)


def test_health_document_livez_readyz(private_redis_session, exporter_for, slow_health):
    service = slow_health(0.0, 503)
    exporter = exporter_for({"datastores": [redis_store()], "services": [{"name": "api", "targets": [service.target]}],
                             "queues": [{"name": "jobs", "backend": "bullmq", "datastore": "cache"}]},
                            {"REDIS_URL": private_redis_session.url})
    health = exporter.scrape(path="/health")
    assert health.status == 200 and health.headers["Content-Type"] == "application/health+json"
    document = json.loads(health.body)
    assert document["status"] == "warn"  # the service's health URL says 503; the datastore is fine
    assert set(document["checks"]) == {"cache:responseTime", "cache:connections", "jobs:backlog", "api:responseTime"}
    check = document["checks"]["jobs:backlog"][0]
    assert {"componentId", "componentType", "observedValue", "observedUnit", "status", "time"} <= set(check)
    assert document["checks"]["api:responseTime"][0]["output"] == "other"
    assert exporter.scrape(path="/livez").status == 200
    assert exporter.scrape(path="/readyz").status == 200
    metrics = exporter.scrape()
    assert metrics.value("obstack_http_probe_status_code", target="api") == 503
    assert metrics.value("obstack_http_up", target="api") == 0


def test_dead_datastore_fails_health_and_readiness(exporter_for):
    exporter = exporter_for({"datastores": [postgres_store()]}, {"PG_DSN": "postgresql://u@127.0.0.1:1/db"})
    assert exporter.scrape(path="/health").status == 503
    assert exporter.scrape(path="/readyz").status == 503
    assert exporter.scrape(path="/livez").status == 200


def test_missing_secret_is_a_failure_not_a_crash(exporter_for, monkeypatch):
    monkeypatch.delenv("NO_SUCH_DSN", raising=False)
    scrape = exporter_for({"datastores": [postgres_store(env="NO_SUCH_DSN")]}).scrape()
    assert scrape.value("obstack_probe_failure", kind="postgres", target="db", reason="config") == 1


def test_slow_service_is_cut_at_the_deadline_and_shared_in_flight(exporter_for, slow_health):
    service = slow_health(1.5)
    exporter = exporter_for({"services": [{"name": "api", "targets": [service.target]}]})
    started = time.monotonic()
    scrape = exporter.scrape(timeout_header=1.0)
    assert time.monotonic() - started < 1.0
    assert scrape.value("obstack_probe_failure", kind="http", target="api", reason="timeout") == 1
    time.sleep(1.6)
    service.requests = 0
    # 20 concurrent /metrics and /health requests while one probe is in flight: one request upstream.
    with ThreadPoolExecutor(20) as pool:
        paths = ["/metrics", "/health"] * 10
        results = list(pool.map(lambda p: exporter.scrape(timeout_header=5, path=p), paths))
    assert all(r.status == 200 for r in results)
    assert service.requests == 1
    assert results[0].value("obstack_http_up", target="api") == 1


def _exporter_connections(pg, redis_server) -> tuple[int, int]:
    pg_count = int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'obstack-exporter'"))
    redis_count = redis_server.command("CLIENT", "LIST").count("name=obstack-exporter ")
    return pg_count, redis_count


def _rss_kib() -> int:
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0])


def test_fifty_concurrent_scrapers(private_postgres_session, private_redis_session, exporter_for):
    exporter = exporter_for({"datastores": [postgres_store(), redis_store()],
                             "queues": [{"name": "jobs", "backend": "bullmq", "datastore": "cache"}]},
                            {"PG_DSN": private_postgres_session.dsn, "REDIS_URL": private_redis_session.url})

    def scrape_many(count: int) -> list[tuple[int, float | None, float | None]]:
        out = []
        for _ in range(count):
            s = exporter.scrape(timeout_header=10)
            out.append((s.status, s.value("obstack_postgres_up"), s.value("obstack_redis_up")))
        return out

    with ThreadPoolExecutor(50) as pool:
        first = [r for batch in pool.map(scrape_many, [3] * 50) for r in batch]
        rss_middle = _rss_kib()
        second = [r for batch in pool.map(scrape_many, [3] * 50) for r in batch]
    assert len(first) + len(second) == 300
    assert all(r == (200, 1.0, 1.0) for r in first + second)
    assert _exporter_connections(private_postgres_session, private_redis_session) == (1, 1)
    assert _rss_kib() - rss_middle < 20_000  # stable: the second 150 scrapes add no real memory
    assert exporter.running.scheduler.inflight() == 0


def test_tls_and_basic_auth_from_web_config(tls_files, exporter_for):
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    config = tls_files / "web.yml"
    config.write_text(f"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                      f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    exporter = exporter_for({}, web_config=config)
    context = ssl.create_default_context(cafile=str(tls_files / "cert.pem"))
    url = exporter.running.url + "/metrics"
    assert url.startswith("https://")
    assert http_get(url, context=context).status == 401
    wrong = base64.b64encode(b"prometheus:nope").decode()
    assert http_get(url, {"Authorization": f"Basic {wrong}"}, context=context).status == 401
    right = base64.b64encode(b"prometheus:s3cret").decode()
    for _ in range(2):  # the second hits the verified-credentials cache
        assert http_get(url, {"Authorization": f"Basic {right}"}, context=context).status == 200
    with pytest.raises(Exception):
        http_get(url.replace("https://", "http://"), timeout=5)


def test_web_config_typos_are_refused(tmp_path):
    from obstack.exporters.webconfig import WebConfigError, load_web_config
    config = tmp_path / "web.yml"
    config.write_text("basic_auth_user:\n  a: b\n")
    with pytest.raises(WebConfigError, match="basic_auth_user"):
        load_web_config(config)
    config.write_text("basic_auth_users:\n  a: plain-text\n")
    with pytest.raises(WebConfigError, match="bcrypt"):
        load_web_config(config)


def test_listens_on_loopback_by_default():
    from obstack.stack.spec.model import Exporter
    assert Exporter().listen.startswith("127.0.0.1:")


def test_no_file_descriptor_leak_across_failures(exporter_for):
    exporter = exporter_for({"datastores": [postgres_store()]}, {"PG_DSN": "postgresql://u@127.0.0.1:1/db"})
    exporter.scrape()
    before = len(list(Path("/proc/self/fd").iterdir()))
    for _ in range(20):
        exporter.scrape()
    assert len(list(Path("/proc/self/fd").iterdir())) - before < 5
