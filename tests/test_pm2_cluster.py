"""The reference bookmark API (examples/bookmark-api: express, prom-client, pg, ioredis, bullmq)
under PM2 in cluster mode, two workers, on private Postgres and Redis, monitored by
`obstack local up --fast` with the generated rules.

Each worker serves its metrics on a port of its own (pm2.layout: worker-ports), both ports
targets of the service. Random traffic (Poisson arrivals over several keep-alive connections,
which PM2 spreads over the workers) runs throughout. The tests check what the unit tests cannot:
`obstack verify` finds nothing against the real app; a fault switched on in every worker pages
HighErrorRate with the error ratio it was set to; a rolling reload of the workers is no restart
storm and no rate spike. The naive layout, the app's port scraped through PM2's balancing, is
replayed from a capture of this app in tests/test_pm2_replays.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.alerts.service_rules import error_ratio_record, requests_rate_record
from obstack.alerts.timing import scaled_timing
from obstack.stack import local
from obstack.stack.deploy.http import HttpClient, HttpSettings
from obstack.stack.local_config import hold_factor
from obstack.stack.spec.loader import default_spec_text, load_spec
from obstack.stack.spec.model import RequestMetrics, Spec
from obstack.stack.spec.values import Duration
from obstack.stack.verify import verify
from tests.support.load import Load
from tests.support.monitoring import http_json
from tests.support.servers import HOST, PostgresServer, RedisServer, free_port
from tests.test_end_to_end import SLACK, _durations, poll, received

pytestmark = pytest.mark.long_running(80)  # seconds in one process: scheduled first (tests/conftest.py)

APP = Path(__file__).parent.parent / "examples" / "bookmark-api"
PM2 = APP / "node_modules" / ".bin" / "pm2"
WORKERS = 2
RATE = 8.0  # requests per second, over both workers
WAIT = 60.0


def _free_pair() -> int:
    """A port P with P and P + 1 free: the workers' metrics ports (METRICS_PORT_BASE + NODE_APP_INSTANCE)."""
    for _ in range(50):
        base = free_port()
        try:
            with __import__("socket").create_server((HOST, base + 1)):
                return base
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


@dataclass
class Cluster:
    home: Path
    env: dict[str, str]
    port: int
    metrics_base: int

    def pm2(self, *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(PM2), *args], cwd=APP, env={**self.env, **(extra or {})},
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"pm2 {' '.join(args)}: {result.stdout}{result.stderr}"
        return result

    def start(self, layout: str, port: int) -> None:
        self.pm2("start", "ecosystem.config.js", extra={"METRICS_LAYOUT": layout, "PORT": str(port)})

    def metrics(self, port: int) -> str:
        with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as response:
            return response.read().decode()

    def faults(self, method: str, body: dict[str, float] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://{HOST}:{self.port}/admin/faults", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5).close()


@dataclass
class Stack:
    cluster: Cluster
    spec: Spec
    urls: dict[str, str]
    load: Load
    state_dir: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        return http_json(f"{self.urls['prometheus']}/api/v1/query?query={urllib.request.quote(promql)}")["data"]["result"]

    def alerts(self, state: str = "firing") -> set[str]:
        return {a["labels"]["alertname"] for a in http_json(f"{self.urls['prometheus']}/api/v1/alerts")["data"]["alerts"]
                if a["state"] == state}

    def verify(self, spec: Spec | None = None) -> list[str]:
        return [f"{f.location}: {f.message}" for f in verify(spec or self.spec, HttpClient(
            self.urls["prometheus"], "prometheus", HttpSettings(timeout=5, retries=1)))]


def _spec_text(cluster: Cluster) -> str:
    """The default spec, the bookmark API as this cluster: each worker's metrics port a target."""
    targets = ", ".join(f'"{HOST}:{cluster.metrics_base + n}"' for n in range(WORKERS))
    text = default_spec_text().replace(
        "    targets: [bookmark-api:3001]\n", f"    targets: [{targets}]\n    pm2: {{layout: worker-ports}}\n").replace(
        "health_url: http://bookmark-api:3001/health", f"health_url: http://{HOST}:{cluster.port}/health")
    assert "pm2:" in text and f"{HOST}:{cluster.port}/health" in text
    return text


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    assert PM2.is_file(), f"{PM2} missing: `make test` installs the reference app (npm ci in {APP})"
    root = tmp_path_factory.mktemp("pm2")
    with PostgresServer() as postgres, RedisServer() as redis:
        cluster = Cluster(root / "pm2-home", {**os.environ, "PM2_HOME": str(root / "pm2-home"),
                                              "WORKERS": str(WORKERS), "DATABASE_URL": postgres.dsn,
                                              "REDIS_URL": redis.url},
                          free_port(), _free_pair())
        cluster.env["METRICS_PORT_BASE"] = str(cluster.metrics_base)
        state_dir = root / "local"
        try:
            cluster.start("worker-ports", cluster.port)
            for worker in range(WORKERS):
                poll(lambda w=worker: _answers(cluster, cluster.metrics_base + w), WAIT, f"worker {worker} metrics")
            spec_path = root / "stack.yaml"
            spec_path.write_text(_spec_text(cluster))
            env = {**os.environ, "BOOKMARK_PG_DSN": postgres.dsn, "BOOKMARK_REDIS_URL": redis.url}
            processes = local.up(load_spec(spec_path), spec_path, state_dir, fast=True, env=env)
            load = Load(HOST, cluster.port, RATE).start()
            try:
                yield Stack(cluster, load_spec(spec_path).spec, {p.name: p.url for p in processes}, load, state_dir)
            finally:
                load.stop()
        finally:
            local.down(state_dir)
            subprocess.run([str(PM2), "kill"], cwd=APP, env=cluster.env, capture_output=True, timeout=60)


def _answers(cluster: Cluster, port: int) -> bool:
    try:
        return "process_start_time_seconds" in cluster.metrics(port)
    except OSError:
        return False


def test_each_worker_is_a_target_and_verify_finds_nothing(stack: Stack) -> None:
    # Both workers serve traffic (PM2 balances the load's connections) and are scraped apart.
    poll(lambda: len(stack.query('sum by (instance) (rate(http_request_duration_seconds_count{job="bookmark-api"}[20s])) > 0'))
         == WORKERS, WAIT, "requests counted on both workers")
    starts = stack.query('process_start_time_seconds{job="bookmark-api"}')
    assert len({s["metric"]["instance"] for s in starts}) == WORKERS
    # verify reads what the real app exposes: every series the rules and dashboards read is there.
    poll(lambda: stack.verify() == [], WAIT, "verify without findings")
    # The same app described as another library: verify names the keys to fix.
    wrong = stack.spec.model_copy(update={"services": [stack.spec.services[0].model_copy(update={
        "request_metrics": RequestMetrics(preset="express-prom-bundle")})]})
    assert stack.verify(wrong) == [
        "services[0].request_metrics.buckets: declares buckets [0.003, 0.03, 0.1, 0.3, 1.5, 10] but "
        "http_request_duration_seconds of bookmark-api has [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10]"]
    # Resident memory per worker, as WorkerMemoryNearRestart reads it: far from 500M.
    shares = stack.query('process_resident_memory_bytes{job="bookmark-api"} / 524288000')
    assert len(shares) == WORKERS and all(0 < float(s["value"][1]) < 0.9 for s in shares)
    assert stack.alerts() <= {"Watchdog"}, stack.alerts()


def test_a_fault_in_every_worker_pages_with_its_error_ratio(stack: Stack) -> None:
    """20% of requests fail in both workers (the switch is in Redis): the page reaches the pager
    within its bound, and the recorded error ratio is the one switched on."""
    fault_at = time.time()
    stack.cluster.faults("POST", {"error_ratio": 0.2, "added_latency_ms": 0})
    try:
        page = poll(lambda: _paged(stack, "HighErrorRate", fault_at), WAIT, "HighErrorRate at the pager")
        # The page comes while the window still fills with faulty traffic; once full, the recorded
        # ratio is the one switched on (20%, on random arrivals over two workers).
        poll(lambda: 0.1 < _error_ratio(stack) < 0.3, WAIT, "the recorded error ratio near 20%")
    finally:
        stack.cluster.faults("DELETE")
    # The end-to-end suite's bound (tests/test_end_to_end.py): scrape, evaluation, the 5m window
    # filling, for, group_wait and the slack, on the fast profile's clock.
    prometheus = yaml.safe_load((stack.state_dir / "prometheus" / "prometheus.yml").read_text())["global"]
    group_wait = yaml.safe_load((stack.state_dir / "alertmanager" / "alertmanager.yml").read_text())["route"]["group_wait"]
    fill = _red_window(stack).seconds
    held = _durations(stack.state_dir / "prometheus" / "rules")["HighErrorRate"]
    bound = (Duration.parse(prometheus["scrape_interval"]).seconds + Duration.parse(prometheus["evaluation_interval"]).seconds
             + fill + held + Duration.parse(group_wait).seconds + SLACK)
    latency = page - fault_at
    out = os.environ.get("OBSTACK_PM2_DETECTION_OUT")
    if out:  # for bench/detection.py
        Path(out).write_text(json.dumps({"HighErrorRate": {"latency": round(latency, 3), "bound": round(bound, 3)}}))
    assert latency <= bound, f"paged {latency:.1f}s after the fault; bound {bound:.1f}s"


def _red_window(stack: Stack) -> Duration:
    """The RED window on the fast profile's clock (5m in production, 20s here): the recordings' name says it."""
    return scaled_timing(hold_factor(stack.spec)).red_window.duration


def _error_ratio(stack: Stack) -> float:
    record = error_ratio_record(_red_window(stack))
    return float(stack.query(f'{record}{{service="bookmark-api"}}')[0]["value"][1])


def _paged(stack: Stack, alertname: str, after: float) -> float | None:
    """When the receiver got ``alertname`` firing on the pager after ``after`` (None: not yet)."""
    for entry in http_json(f"{stack.urls['receiver']}/notifications"):
        at = received(entry)
        if at >= after and entry["path"] == "/pager" and any(
                a["labels"]["alertname"] == alertname and a["status"] == "firing" for a in entry["payload"]["alerts"]):
            return at
    return None


def test_a_rolling_reload_is_no_restart_storm_and_no_rate_spike(stack: Stack) -> None:
    before = {s["metric"]["instance"]: s["value"][1] for s in stack.query('process_start_time_seconds{job="bookmark-api"}')}
    stack.cluster.pm2("reload", "bookmark-api")
    poll(lambda: all(s["value"][1] != before.get(s["metric"]["instance"])
                     for s in stack.query('process_start_time_seconds{job="bookmark-api"}')),
         WAIT, "both workers reloaded")
    time.sleep(5)  # a few scrapes and evaluations past the reload
    # Each worker restarted once: its counters began again from zero, which rate() reads as a reset.
    record = requests_rate_record(_red_window(stack))
    peak = float(stack.query(f'max_over_time({record}{{service="bookmark-api"}}[30s])')[0]["value"][1])
    assert peak < 3 * RATE, f"request rate peaked at {peak:.1f}/s for {RATE}/s sent"
    assert not {"ServiceFlapping", "ScrapeTargetSharedByProcesses"} & (stack.alerts() | stack.alerts("pending"))
