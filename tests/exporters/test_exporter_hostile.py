"""Faults and hostile input against the real exporter process (`obstack exporter`): keep-alive
latency, bursts of scrapers, slow clients, greedy deadlines, frozen datastores, missing
configuration, hostile credentials, bad web-configs and listen addresses.

Every datastore is a private server from tests/conftest.py. No assertion is an absolute time
beyond a scrape's own deadline: latency is compared as a ratio within one run.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from tests.exporters.conftest import Scrape, http_get

TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"


@dataclass
class ExporterProcess:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def scrape(self, timeout_header: float | None = None, path: str = "/metrics", **kw) -> Scrape:
        headers = {} if timeout_header is None else {TIMEOUT_HEADER: str(timeout_header)}
        headers.update(kw.pop("headers", {}))
        return http_get(self.url + path, headers, **kw)

    def log_records(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.startswith("{")]


def _exporter_command(spec: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "obstack", "exporter", "--spec", str(spec), *extra]


def _environment(env: dict[str, str], unset: tuple[str, ...] = ()) -> dict[str, str]:
    merged = {**os.environ, **env}
    for name in unset:
        merged.pop(name, None)
    return merged


@pytest.fixture
def run_exporter(tmp_path: Path) -> Iterator[Callable[..., ExporterProcess]]:
    """Start `obstack exporter` for a spec text; waits for its "listening" log line."""
    started: list[subprocess.Popen[bytes]] = []

    def start(spec_text: str, env: dict[str, str] | None = None, unset: tuple[str, ...] = ()) -> ExporterProcess:
        spec = tmp_path / f"stack-{len(started)}.yaml"
        spec.write_text(spec_text)
        log_path = tmp_path / f"exporter-{len(started)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(_exporter_command(spec, "--listen", "127.0.0.1:0"), stdout=log,
                                       stderr=log, env=_environment(env or {}, unset))
        started.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in log_path.read_text().splitlines():
                if '"listening"' in line:
                    host, port = json.loads(line)["address"].rsplit(":", 1)
                    return ExporterProcess(process, host, int(port), log_path)
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.05)
        raise AssertionError(f"exporter did not start: {log_path.read_text()}")

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _redis_spec(extra: str = "") -> str:
    return f"project: demo\ndatastores: [{{name: cache, kind: redis, url_env: REDIS_URL}}]\n{extra}"


def _postgres_spec(extra: str = "") -> str:
    return f"project: demo\ndatastores: [{{name: db, kind: postgres, dsn_env: PG_DSN}}]\n{extra}"


# ---------------------------------------------------------------------------------------------
# HTTP behaviour


def _timed_scrapes(connect: Callable[[], http.client.HTTPConnection], count: int, keep_alive: bool) -> list[float]:
    connection = connect()
    timings = []
    for _ in range(count):
        if not keep_alive:
            connection.close()
            connection = connect()
        started = time.perf_counter()
        connection.request("GET", "/metrics", headers={TIMEOUT_HEADER: "10"})
        response = connection.getresponse()
        body = response.read()
        timings.append(time.perf_counter() - started)
        assert response.status == 200 and b"obstack_redis_up" in body
    connection.close()
    return timings


def test_keep_alive_scrapes_are_not_slower_than_fresh_connections(private_redis, run_exporter):
    """The Nagle/delayed-ACK stall made a keep-alive scrape ~40 ms against ~2.5 ms fresh."""
    exporter = run_exporter(_redis_spec(), {"REDIS_URL": private_redis.url})

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(exporter.host, exporter.port, timeout=15)

    _timed_scrapes(connect, 5, keep_alive=True)  # warm: the Redis connection exists
    keep_alive, fresh = [], []
    for _ in range(3):  # interleaved, so load on the shared machine hits both alike
        keep_alive += _timed_scrapes(connect, 10, keep_alive=True)
        fresh += _timed_scrapes(connect, 10, keep_alive=False)
    ratio = statistics.median(keep_alive) / statistics.median(fresh)
    assert ratio < 3, f"keep-alive p50 is {ratio:.1f}x the fresh-connection p50"


def _scrape_seconds(url: str, header: float, client_timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = http_get(url, {TIMEOUT_HEADER: str(header)}, timeout=client_timeout).status
    except OSError:
        status = 0
    return status, time.monotonic() - started


def test_two_hundred_concurrent_scrapes_answered_within_their_deadline(private_redis, run_exporter):
    exporter = run_exporter(_redis_spec(), {"REDIS_URL": private_redis.url})
    exporter.scrape(10)
    barrier = threading.Barrier(200)
    outcomes: list[tuple[int, float]] = []

    def scrape() -> None:
        barrier.wait()
        outcomes.append(_scrape_seconds(exporter.url + "/metrics", 10, client_timeout=30))

    threads = [threading.Thread(target=scrape) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 200
    assert all(status == 200 for status, _ in outcomes), sorted(outcomes)[:5]
    slowest = max(seconds for _, seconds in outcomes)
    assert slowest < 10, f"the slowest of 200 concurrent scrapes took {slowest:.1f} s (deadline 10 s)"


def test_slow_and_idle_clients_neither_block_scrapes_nor_hold_connections(private_redis, run_exporter):
    exporter = run_exporter(_redis_spec("exporter: {idle_timeout: 2s}\n"), {"REDIS_URL": private_redis.url})
    slow = [socket.create_connection((exporter.host, exporter.port), timeout=10) for _ in range(50)]
    idle = [socket.create_connection((exporter.host, exporter.port), timeout=10) for _ in range(10)]
    try:
        for client in slow:
            client.sendall(b"GET /metrics HTTP/1.1\r\n")
        for _ in range(3):  # trickle a header line now and then: a slow-loris client
            for client in slow:
                client.sendall(b"X-A: b\r\n")
            status, seconds = _scrape_seconds(exporter.url + "/metrics", 5, client_timeout=10)
            assert status == 200 and seconds < 5
            time.sleep(0.5)
        # Silent from now on: the server closes each within idle_timeout (2 s), with no answer.
        for client in slow + idle:
            assert client.recv(1024) == b"", "the exporter kept a silent client's connection"
    finally:
        for client in slow + idle:
            client.close()


# ---------------------------------------------------------------------------------------------
# Deadlines and frozen datastores


class FreezingProxy:
    """A TCP proxy to ``port`` that can freeze: from then on it forwards nothing on the connections
    it holds (they stay open, as a partitioned or stopped peer's do) and new ones connect but get
    no answer. ``thaw`` forwards new connections again; frozen ones stay dead."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.frozen = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: list[tuple[socket.socket, socket.socket, list[bool]]] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            dead = [self.frozen]
            self._connections.append((client, upstream, dead))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target, dead), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, dead: list[bool]) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if not dead[0]:
                try:
                    target.sendall(data)
                except OSError:
                    return

    def freeze(self) -> None:
        self.frozen = True
        for _, _, dead in self._connections:
            dead[0] = True

    def thaw(self) -> None:
        self.frozen = False

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for client, upstream, _ in self._connections:
            client.close()
            upstream.close()


@pytest.fixture
def freezing_proxy() -> Iterator[Callable[[int], FreezingProxy]]:
    proxies: list[FreezingProxy] = []

    def make(port: int) -> FreezingProxy:
        proxies.append(FreezingProxy(port))
        return proxies[-1]
    yield make
    for proxy in proxies:
        proxy.close()


def test_greedy_timeout_header_is_capped_and_the_scrape_after_recovery_is_fresh(
        private_redis, run_exporter, freezing_proxy):
    """A scrape asking for 99999 s while Redis hangs must not make everyone's probe wait for it."""
    proxy = freezing_proxy(private_redis.port)
    exporter = run_exporter(_redis_spec("prometheus: {scrape_interval: 15s, scrape_timeout: 4s}\n"),
                            {"REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"})
    assert exporter.scrape(4).value("obstack_redis_up", target="cache") == 1
    proxy.freeze()
    greedy: list[tuple[int, float]] = []
    thread = threading.Thread(target=lambda: greedy.append(
        _scrape_seconds(exporter.url + "/metrics", 99999, client_timeout=30)))
    thread.start()
    time.sleep(0.5)
    proxy.thaw()  # Redis is back for new connections; the frozen one never answers
    time.sleep(0.5)
    started = time.monotonic()
    after = exporter.scrape(4)
    assert time.monotonic() - started < 4
    assert after.value("obstack_redis_up", target="cache") == 1, "the scrape after recovery was not fresh"
    thread.join(40)
    (status, seconds), = greedy
    assert status == 200 and seconds < 4, f"the greedy scrape took {seconds:.1f} s; the cap is 3.5 s"


def test_a_frozen_postgres_backend_is_replaced_within_one_scrape(private_postgres, run_exporter):
    exporter = run_exporter(_postgres_spec(), {"PG_DSN": f"{private_postgres.dsn}?sslmode=disable"})
    assert exporter.scrape(5).value("obstack_postgres_up", target="db") == 1
    backend = int(private_postgres.psql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'obstack-exporter'"))
    os.kill(backend, signal.SIGSTOP)
    try:
        scrape = exporter.scrape(5)
        assert scrape.value("obstack_postgres_up", target="db") == 1, scrape.body[:2000]
    finally:
        os.kill(backend, signal.SIGCONT)


# ---------------------------------------------------------------------------------------------
# Configuration errors as data


def test_an_unset_dsn_variable_is_reason_config_with_its_name(run_exporter):
    exporter = run_exporter(_postgres_spec(), unset=("PG_DSN",))
    scrape = exporter.scrape(5)
    assert scrape.value("obstack_probe_failure", kind="postgres", target="db", reason="config") == 1
    health = exporter.scrape(5, path="/health")
    output = json.loads(health.body)["checks"]["db:responseTime"][0]["output"]
    assert health.status == 503 and output == "config: environment variable PG_DSN is not set"
    failures = [r for r in exporter.log_records() if r["event"] == "probe_failed"]
    assert failures and failures[0]["reason"] == "config"
    assert failures[0]["message"] == "environment variable PG_DSN is not set"


def test_a_user_name_is_not_redacted_as_a_secret(run_exporter):
    """A DSN without a password made its user name ("postgres") a secret: every line said "kind": "***"."""
    exporter = run_exporter(_postgres_spec(), {"PG_DSN": "postgresql://postgres@127.0.0.1:1/db"})
    exporter.scrape(5)
    failures = [r for r in exporter.log_records() if r["event"] == "probe_failed"]
    assert failures and failures[0]["kind"] == "postgres" and failures[0]["reason"] == "refused"


# ---------------------------------------------------------------------------------------------
# Basic auth and web-configs


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")],
                   check=True, capture_output=True)
    return directory


def _start_with_web_config(tmp_path: Path, config_text: str) -> tuple[subprocess.Popen[str], Path]:
    config = tmp_path / "web.yml"
    config.write_text(config_text)
    spec = tmp_path / "stack.yaml"
    spec.write_text("project: demo\n")
    process = subprocess.Popen(_exporter_command(spec, "--listen", "127.0.0.1:0", "--web-config", str(config)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, config


def _basic(user: str, password: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user.encode() + b":" + password).decode()}


def test_auth_answers_401_to_long_passwords_and_unknown_users_pay_the_same_bcrypt(tmp_path):
    slow = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=12)).decode()
    fast = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=4)).decode()
    process, _ = _start_with_web_config(tmp_path, f"basic_auth_users:\n  slow: '{slow}'\n  fast: '{fast}'\n")
    try:
        address = json.loads(process.stderr.readline())["address"]
        url = f"http://{address}/livez"
        assert http_get(url, _basic("fast", b"right")).status == 200
        for user in ("fast", "slow", "nobody"):
            assert http_get(url, _basic(user, b"x" * 100)).status == 401
            assert http_get(url, _basic(user, "\u00e9".encode() * 40)).status == 401

        def median_seconds(user: str) -> float:
            timings = []
            for _ in range(5):
                started = time.perf_counter()
                assert http_get(url, _basic(user, b"wrong")).status == 401
                timings.append(time.perf_counter() - started)
            return statistics.median(timings)
        ratio = median_seconds("nobody") / median_seconds("slow")
        assert 0.5 < ratio < 2, f"an unknown user costs {ratio:.2f}x a known cost-12 user"
    finally:
        process.terminate()
        process.wait(10)


def _bad_web_configs(tls: Path) -> dict[str, tuple[str, str]]:
    """name -> (web-config text, the key the error line must name)."""
    cert, key = tls / "cert.pem", tls / "key.pem"
    tls_head = f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
    good = bcrypt.hashpw(b"x", bcrypt.gensalt(rounds=4)).decode()
    return {
        "truncated bcrypt hash": (f"basic_auth_users:\n  admin: '{good[:40]}'\n", "basic_auth_users.admin"),
        "min above max": (tls_head + "  min_version: TLS13\n  max_version: TLS12\n", "min_version"),
        "verification without a CA": (tls_head + "  client_auth_type: RequireAndVerifyClientCert\n", "client_ca_file"),
        # Python's ssl verifies whatever certificate it asks for: without a CA every one fails.
        "certificate request without a CA": (tls_head + "  client_auth_type: RequireAnyClientCert\n", "client_ca_file"),
        "version of the wrong type": (tls_head + "  min_version: [1, 2]\n", "min_version"),
        "file of the wrong type": (f"tls_server_config:\n  cert_file: 1\n  key_file: {key}\n", "cert_file"),
    }


@pytest.mark.parametrize("case", ["truncated bcrypt hash", "min above max", "verification without a CA",
                                  "certificate request without a CA", "version of the wrong type",
                                  "file of the wrong type"])
def test_a_bad_web_config_exits_2_with_one_line_naming_file_and_key(case, tls_pair, tmp_path):
    text, key = _bad_web_configs(tls_pair)[case]
    process, config = _start_with_web_config(tmp_path, text)
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"{case}: the exporter started with a web-config it cannot use")
    lines = stderr.strip().splitlines()
    assert process.returncode == 2 and len(lines) == 1, stderr
    assert str(config) in lines[0] and key in lines[0]


@pytest.mark.parametrize("listen", ["127.0.0.1:99999", "127.0.0.1:http", "127.0.0.1:-1"])
def test_a_bad_listen_address_exits_2_with_one_line(listen, tmp_path):
    spec = tmp_path / "stack.yaml"
    spec.write_text("project: demo\n")
    result = subprocess.run(_exporter_command(spec, "--listen", listen), capture_output=True, text=True, timeout=30)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert listen in lines[0]



def _closed(client: socket.socket) -> bool:
    """The peer closed the connection (without waiting: no data yet is an open connection)."""
    try:
        return client.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_a_request_trickled_a_byte_at_a_time_is_cut_at_the_idle_timeout(private_redis, run_exporter):
    """A slow-loris client sending a header line every half second, never silent for long: its
    request must still arrive whole within idle_timeout (2 s), or the connection is closed (a
    guard: the socket-level timeout of http.server's reads already bounds the whole request)."""
    exporter = run_exporter(_redis_spec("exporter: {idle_timeout: 2s}\n"), {"REDIS_URL": private_redis.url})
    client = socket.create_connection((exporter.host, exporter.port), timeout=10)
    started = time.monotonic()
    try:
        client.sendall(b"GET /metrics HTTP/1.1\r\n")
        for _ in range(40):  # 20 s of trickling if nobody stops it
            try:
                client.sendall(b"X-A: b\r\n")
            except OSError:
                break
            time.sleep(0.5)
            if _closed(client):
                break
        else:
            pytest.fail("the exporter kept a trickled request's connection for 20 s")
    finally:
        client.close()
    assert time.monotonic() - started < 5, "the trickled request held its connection past the idle timeout"
