"""End to end: a real fault on a real process becomes the right notification, within its bound.

Private Postgres and Redis, the simulated bookmark API (which needs both, as the real one does)
and `obstack local up --fast` (receiver, Alertmanager, node-exporter, exporter, Prometheus from the
installed binaries) run for the whole module; the tests inject one fault each, in order, and undo
it. A datastore fault must page its cause alone: the API's errors, failing health check, burning
budget and unreadable queues fire in Prometheus and stay silenced in Alertmanager. The last test
stops Alertmanager: the Watchdog's heartbeat stops and Prometheus sees it cannot deliver alerts.
Every wait polls with a deadline.

Detection latency is fault -> notification received by `obstack receiver`, checked against
scrape interval + evaluation interval + the rule's ``for`` + group_wait + ``SLACK`` (the fast
profile's values, read from the running configs), plus for the error rate one range window
filling up. ``SLACK`` covers what the sum leaves out: the evaluation that turns pending into
firing, Prometheus' send to Alertmanager and the webhook. The API's traffic is random (Poisson
arrivals, Bernoulli errors, 5 req/s): the error-rate page must also hold through a steady fault. Latencies are written to
``$OBSTACK_DETECTION_OUT`` (JSON) when set, for bench/detection.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.alerts.stack_rules import WATCHDOG
from obstack.stack import local
from obstack.stack.local_config import hold_factor
from obstack.stack.spec.loader import default_spec_text, load_spec
from obstack.stack.spec.values import Duration
from tests.support.fake_api import FakeBookmarkApi
from tests.support.monitoring import http_json
from tests.support.servers import PostgresServer, RedisServer

pytestmark = pytest.mark.long_running(330)  # seconds in one process: scheduled first (tests/conftest.py)

SLACK = 6.0  # seconds; see the module docstring
WAIT = 60.0  # upper bound of any single wait: a broken path fails, it never hangs


@dataclass
class Stack:
    """The running end-to-end stack and the helpers the tests share."""

    postgres: PostgresServer
    redis: RedisServer
    api: FakeBookmarkApi
    state_dir: Path
    urls: dict[str, str]
    timing: dict[str, float]
    rule_for: dict[str, float]
    hold_factor: int
    latencies: dict[str, dict[str, float]] = field(default_factory=dict)

    def notifications(self) -> list[dict[str, Any]]:
        return http_json(f"{self.urls['receiver']}/notifications")

    def wait_notification(self, alertname: str, status: str, path: str | None = None,
                          after: float = 0.0, timeout: float = WAIT) -> dict[str, Any]:
        """The first notification received after ``after`` carrying ``alertname`` with ``status``."""
        def find() -> dict[str, Any] | None:
            for entry in self.notifications():
                if received(entry) < after or (path is not None and entry["path"] != path):
                    continue
                if any(a["labels"]["alertname"] == alertname and a["status"] == status
                       for a in entry["payload"]["alerts"]):
                    return entry
            return None
        return poll(find, timeout, f"{alertname} {status} notification{' on ' + path if path else ''}")

    def bound(self, alertname: str, fill: float = 0.0) -> float:
        """``fill``: how long the alert's range window takes to reach its threshold (ratio alerts)."""
        t = self.timing
        return t["scrape"] + t["evaluation"] + fill + self.rule_for[alertname] + t["group_wait"] + SLACK

    def record(self, alertname: str, fault_at: float, entry: dict[str, Any], fill: float = 0.0) -> float:
        latency = received(entry) - fault_at
        self.latencies[alertname] = {"latency": round(latency, 3), "bound": round(self.bound(alertname, fill), 3)}
        return latency

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.urls['prometheus']}/api/v1/query?query={urllib.parse.quote(promql)}"
        return http_json(url)["data"]["result"]

    def firing(self) -> set[str]:
        alerts = http_json(f"{self.urls['prometheus']}/api/v1/alerts")["data"]["alerts"]
        return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}

    def silenced_in_alertmanager(self, alertname: str) -> bool:
        """Every alert of ``alertname`` Alertmanager holds is suppressed by an inhibition."""
        query = urllib.parse.quote(f'alertname="{alertname}"')
        alerts = http_json(f"{self.urls['alertmanager']}/api/v2/alerts?filter={query}")
        return bool(alerts) and all(a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"]
                                    for a in alerts)

    def wait_silenced(self, symptoms: set[str], cause: str) -> None:
        """The symptoms fire in Prometheus, reach Alertmanager and stay inhibited there for longer
        than a group_wait and a group_interval: no notification can go out for them."""
        poll(lambda: symptoms <= self.firing(), WAIT, f"{sorted(symptoms)} firing in Prometheus")
        for name in sorted(symptoms):
            poll(lambda: self.silenced_in_alertmanager(name), WAIT, f"{name} inhibited by {cause}")
        deadline = time.monotonic() + self.timing["group_wait"] + self.timing["group_interval"]
        while time.monotonic() < deadline:
            assert cause in self.firing() and all(self.silenced_in_alertmanager(n) for n in symptoms)
            time.sleep(0.2)

    def assert_only_cause_paged(self, cause: str, since: float) -> None:
        """Once the symptoms have drained, the only alert any receiver heard of since ``since``
        (besides the heartbeat) is the cause: no symptom during the incident nor in its tail."""
        last: set[str] = set()

        def resolved() -> bool:
            last.clear()
            last.update(self.firing() - {WATCHDOG})
            return not last
        try:
            poll(resolved, WAIT, "every alert resolved")
        except pytest.fail.Exception as failure:
            raise AssertionError(f"still firing: {sorted(last)}") from failure
        time.sleep(self.timing["group_wait"] + self.timing["group_interval"] + 1)
        heard = {(e["path"], a["labels"]["alertname"]) for e in self.notifications() if received(e) >= since
                 for a in e["payload"]["alerts"] if e["path"] != "/heartbeat"}
        assert heard == {("/pager", cause)}, heard


def received(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["received_at"]).timestamp()


def poll(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Call ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:g}s", pytrace=False)
        time.sleep(interval)


def _spec_text(api: FakeBookmarkApi) -> str:
    """The default spec with the bookmark API at the simulated one's address."""
    text = default_spec_text().replace("bookmark-api:3001", f"127.0.0.1:{api.port}")
    assert f"127.0.0.1:{api.port}/health" in text
    return text


def _durations(path: Path) -> dict[str, float]:
    """alertname -> for (seconds), from the rule files Prometheus runs."""
    found = {}
    for rule_file in path.glob("*.yml"):
        for group in yaml.safe_load(rule_file.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found[rule["alert"]] = Duration.parse(rule.get("for", "0s")).seconds
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e")
    with PostgresServer() as postgres, RedisServer() as redis, \
            FakeBookmarkApi(dependencies=((postgres.host, postgres.port), (redis.host, redis.port))) as api:
        spec_path = root / "stack.yaml"
        spec_path.write_text(_spec_text(api))
        env = {**os.environ, "BOOKMARK_PG_DSN": postgres.dsn, "BOOKMARK_REDIS_URL": redis.url}
        state_dir = root / "local"
        try:
            processes = local.up(load_spec(spec_path), spec_path, state_dir, fast=True, env=env)
            config = yaml.safe_load((state_dir / "prometheus" / "prometheus.yml").read_text())
            am = yaml.safe_load((state_dir / "alertmanager" / "alertmanager.yml").read_text())
            seconds = lambda text: Duration.parse(text).seconds
            timing = {"scrape": seconds(config["global"]["scrape_interval"]),
                      "evaluation": seconds(config["global"]["evaluation_interval"]),
                      "group_wait": seconds(am["route"]["group_wait"]),
                      "group_interval": seconds(am["route"]["group_interval"])}
            result = Stack(postgres, redis, api, state_dir, {p.name: p.url for p in processes}, timing,
                           _durations(state_dir / "prometheus" / "rules"), hold_factor(load_spec(spec_path).spec))
            yield result
        finally:
            local.down(state_dir)
        out = os.environ.get("OBSTACK_DETECTION_OUT")
        if out:
            Path(out).write_text(json.dumps({"timing": result.timing, "slack": SLACK,
                                             "faults": result.latencies}, indent=2) + "\n")


def test_healthy_stack_fires_only_the_watchdog(stack: Stack) -> None:
    # Wait until Prometheus has scraped every target and evaluated rules on real data.
    poll(lambda: all(r["value"][1] == "1" for r in stack.query("up")) and len(stack.query("up")) == 5,
         WAIT, "five targets up")
    poll(lambda: stack.query("obstack_redis_up == 1") and stack.query("obstack_postgres_up == 1"), WAIT,
         "datastores up in Prometheus")
    with urllib.request.urlopen(f"{stack.urls['exporter']}/health", timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "pass"
    # Watched over several evaluations on healthy data: nothing but the heartbeat may fire or be delivered.
    deadline = time.monotonic() + 3 * stack.timing["evaluation"] + stack.timing["group_wait"]
    while time.monotonic() < deadline:
        assert stack.firing() <= {WATCHDOG}
        time.sleep(0.2)
    stack.wait_notification(WATCHDOG, "firing", "/heartbeat")
    assert {(e["path"], a["labels"]["alertname"]) for e in stack.notifications()
            for a in e["payload"]["alerts"] if a["status"] == "firing"} == {("/heartbeat", WATCHDOG)}


def test_redis_down_pages_its_cause_alone(stack: Stack) -> None:
    fault_at = time.time()
    stack.redis.stop()
    try:
        entry = stack.wait_notification("RedisDown", "firing", "/pager", after=fault_at)
        assert stack.record("RedisDown", fault_at, entry) <= stack.bound("RedisDown")
        # The API fails without Redis and the exporter cannot read the queues: real symptoms, firing.
        symptoms = {"HighErrorRate", "HealthCheckFailing", "QueueProbeFailing"}
        stack.wait_silenced(symptoms, "RedisDown")
    finally:
        restart_at = time.time()
        stack.redis.start()
    stack.wait_notification("RedisDown", "resolved", "/pager", after=restart_at)
    stack.assert_only_cause_paged("RedisDown", fault_at)


def test_postgres_down_pages_its_cause_alone_and_exporter_recovers(stack: Stack) -> None:
    fault_at = time.time()
    stack.postgres.stop()
    try:
        entry = stack.wait_notification("PostgresDown", "firing", "/pager", after=fault_at)
        assert stack.record("PostgresDown", fault_at, entry) <= stack.bound("PostgresDown")
        stack.wait_silenced({"HighErrorRate", "HealthCheckFailing"}, "PostgresDown")
    finally:
        stack.postgres.start()
    restarted = time.monotonic()
    # The exporter dropped its connection on failure and reconnects on the next scrape.
    poll(lambda: stack.query("obstack_postgres_up == 1"), WAIT, "obstack_postgres_up back to 1")
    assert time.monotonic() - restarted <= stack.timing["scrape"] + SLACK
    stack.wait_notification("PostgresDown", "resolved", "/pager", after=fault_at)
    stack.assert_only_cause_paged("PostgresDown", fault_at)


def test_error_rate_pages_once_holds_steady_and_inhibits_warning(stack: Stack) -> None:
    """10% of requests fail at random (Bernoulli) on random arrivals at 5 req/s: one page, which
    stays up for the whole steady fault (no resolve and re-page as the window's ratio wanders)."""
    assert stack.api.rate == 5.0
    fault_at = time.time()
    stack.api.set_faults(error_rate=0.10)
    try:
        entry = stack.wait_notification("HighErrorRate", "firing", "/pager", after=fault_at)
        # The 5m window (20s here) reaches 5% errors half-way at 10%; a whole window leaves room for chance.
        fill = Duration.parse("5m").seconds / stack.hold_factor
        assert stack.record("HighErrorRate", fault_at, entry, fill) <= stack.bound("HighErrorRate", fill)
        # The warning fires in Prometheus too, and Alertmanager holds it back while the page stands.
        poll(lambda: "ErrorRateIncreased" in stack.firing(), WAIT, "ErrorRateIncreased firing in Prometheus")

        def inhibited() -> bool:
            alerts = http_json(f"{stack.urls['alertmanager']}/api/v2/alerts?filter=alertname%3D%22ErrorRateIncreased%22")
            return bool(alerts) and all(a["status"]["state"] == "suppressed" for a in alerts)
        poll(inhibited, WAIT, "ErrorRateIncreased suppressed in Alertmanager")
        # Two more windows of the same fault (10 minutes in production): the page never drops.
        deadline = time.monotonic() + 2 * fill
        while time.monotonic() < deadline:
            assert "HighErrorRate" in stack.firing(), "HighErrorRate resolved during a steady fault"
            time.sleep(0.2)
        statuses = [a["status"] for e in stack.notifications() if received(e) >= fault_at and e["path"] == "/pager"
                    for a in e["payload"]["alerts"] if a["labels"]["alertname"] == "HighErrorRate"]
        assert statuses == ["firing"], f"HighErrorRate notifications during the fault: {statuses}"
    finally:
        recover_at = time.time()
        stack.api.set_faults(error_rate=0.0)
    stack.wait_notification("HighErrorRate", "resolved", "/pager", after=recover_at)
    # The page kept firing while the window drained, so the warning cleared under its inhibition:
    # neither during the incident nor in its tail did the warning reach anyone.
    assert "ErrorRateIncreased" not in stack.firing()
    assert not [e for e in stack.notifications() if received(e) >= fault_at and any(
        a["labels"]["alertname"] == "ErrorRateIncreased" for a in e["payload"]["alerts"])]


def _enqueue(url: str, count: int) -> None:
    from bullmq import Queue

    async def fill() -> None:
        queue = Queue("bookmark-import", {"connection": url, "prefix": "bull"})
        try:
            for start in range(0, count, 500):
                await queue.addBulk([{"name": "import", "data": {"i": i}} for i in range(start, min(count, start + 500))])
        finally:
            await queue.close()
    asyncio.run(fill())


def test_queue_backlog_pages(stack: Stack) -> None:
    fault_at = time.time()
    _enqueue(stack.redis.url, 1500)
    try:
        entry = stack.wait_notification("QueueBacklogHigh", "firing", "/pager", after=fault_at)
        assert stack.record("QueueBacklogHigh", fault_at, entry) <= stack.bound("QueueBacklogHigh")
        assert entry["payload"]["groupLabels"].get("queue") == "bookmark-import"
    finally:
        stack.redis.command("FLUSHALL")


def test_alertmanager_down_stops_the_heartbeat_and_prometheus_sees_it(stack: Stack) -> None:
    """Last: Alertmanager is stopped for good. Nothing can be delivered, so what tells is the
    heartbeat stopping at the dead-man's switch; Prometheus itself knows it cannot send."""
    beats = lambda: [e for e in stack.notifications() if e["path"] == "/heartbeat"]
    poll(lambda: len(beats()) >= 2, WAIT, "Watchdog heartbeats")
    alertmanager = next(p for p in local.load_state(stack.state_dir) if p.name == "alertmanager")
    os.kill(alertmanager.pid, signal.SIGTERM)
    poll(lambda: not local.is_running(alertmanager), WAIT, "Alertmanager stopped")
    stopped_at = time.time()
    poll(lambda: {"PrometheusErrorSendingAlerts", "AlertmanagerDown"} <= stack.firing(), WAIT,
         "PrometheusErrorSendingAlerts and AlertmanagerDown firing in Prometheus")
    # Several heartbeat intervals (the Watchdog route's repeat) pass with no heartbeat at all.
    assert not [e for e in beats() if received(e) > stopped_at + 1]
