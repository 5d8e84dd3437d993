"""Fixtures for the exporter tests: a spec over the private servers, a started exporter, scrapes.

Everything runs against the real servers of tests/support (never 5432/6379) and real client
libraries; nothing here mocks a database.
"""

from __future__ import annotations

import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from obstack.exporters.app import RunningExporter, start_exporter
from obstack.exporters.logs import JsonLog
from obstack.stack.spec.model import Spec

PGBOSS_SQL = Path(__file__).with_name("pgboss_schema.sql")


@dataclass
class Scrape:
    status: int
    body: str
    headers: dict[str, str]

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        found = {}
        for family in text_string_to_metric_families(self.body):
            for sample in family.samples:
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return found

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the one sample of ``name`` whose labels include ``labels``."""
        matches = [v for (n, ls), v in self.samples().items() if n == name and set(labels.items()) <= set(ls)]
        assert len(matches) <= 1, f"{name}{labels} is ambiguous: {matches}"
        return matches[0] if matches else None


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 30,
             context: ssl.SSLContext | None = None) -> Scrape:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return Scrape(response.status, response.read().decode(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Scrape(error.code, error.read().decode(), dict(error.headers))


@dataclass
class ExporterHandle:
    running: RunningExporter
    log_stream: StringIO

    def scrape(self, timeout_header: float | None = None, path: str = "/metrics", **kw: Any) -> Scrape:
        headers = {} if timeout_header is None else {"X-Prometheus-Scrape-Timeout-Seconds": str(timeout_header)}
        headers.update(kw.pop("headers", {}))
        return http_get(self.running.url + path, headers, **kw)

    @property
    def logs(self) -> str:
        return self.log_stream.getvalue()


@pytest.fixture
def exporter_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ExporterHandle]]:
    """Start an exporter for a spec dict; ``env`` values become the secret variables."""
    started: list[RunningExporter] = []

    def start(spec: dict[str, Any], env: dict[str, str] | None = None, web_config: Path | None = None) -> ExporterHandle:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        stream = StringIO()
        running = start_exporter(Spec.model_validate({"project": "demo", **spec}), "127.0.0.1:0", web_config,
                                 JsonLog(stream))
        started.append(running)
        return ExporterHandle(running, stream)

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for 127.0.0.1 (cert.pem, key.pem) in a directory of its own."""
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(directory / "key.pem"),
                    "-out", str(directory / "cert.pem")], check=True, capture_output=True)
    return directory


def postgres_store(name: str = "db", env: str = "PG_DSN") -> dict[str, str]:
    return {"name": name, "kind": "postgres", "dsn_env": env}


def redis_store(name: str = "cache", env: str = "REDIS_URL") -> dict[str, str]:
    return {"name": name, "kind": "redis", "url_env": env}


def with_password(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"


def pgboss_schema_sql(schema: str = "pgboss") -> str:
    """pg-boss's DDL for ``schema`` (the file is written for the default schema name)."""
    return PGBOSS_SQL.read_text().replace("pgboss.", f"{schema}.").replace("SCHEMA IF NOT EXISTS pgboss",
                                                                          f"SCHEMA IF NOT EXISTS {schema}")


def allow_password_login(server: Any, roles: str) -> None:
    """Make ``roles`` log in with a password (scram) on the private server; others stay trusted."""
    hba = Path(server.data_dir) / "pg_hba.conf"
    hba.write_text(f"host all {roles} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    server.psql("SELECT pg_reload_conf()")
