"""End to end: a real fault on a real process becomes the right notification, within its bound.

Private Postgres and Redis, the simulated bookmark API and `obstack local up --fast` (receiver,
Alertmanager, exporter, Prometheus from the installed binaries) run for the whole module; the
tests inject one fault each, in order, and undo it. Every wait polls with a deadline.

Detection latency is fault -> notification received by `obstack receiver`, checked against
scrape interval + evaluation interval + the rule's ``for`` + group_wait + ``SLACK`` (the fast
profile's values, read from the running configs). ``SLACK`` covers what the sum leaves out: the
evaluation that turns pending into firing, Prometheus' send to Alertmanager, the webhook, and
for the error rate the range window filling up to the threshold. Latencies are written to
``$OBSTACK_DETECTION_OUT`` (JSON) when set, for bench/detection.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack import local
from stack.spec.loader import default_spec_text, load_spec
from stack.spec.values import Duration
from tests.support.fake_api import FakeBookmarkApi
from tests.support.monitoring import http_json
from tests.support.servers import PostgresServer, RedisServer

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

    def bound(self, alertname: str) -> float:
        t = self.timing
        return t["scrape"] + t["evaluation"] + self.rule_for[alertname] + t["group_wait"] + SLACK

    def record(self, alertname: str, fault_at: float, entry: dict[str, Any]) -> float:
        latency = received(entry) - fault_at
        self.latencies[alertname] = {"latency": round(latency, 3), "bound": round(self.bound(alertname), 3)}
        return latency

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.urls['prometheus']}/api/v1/query?query={urllib.parse.quote(promql)}"
        return http_json(url)["data"]["result"]

    def firing(self) -> set[str]:
        alerts = http_json(f"{self.urls['prometheus']}/api/v1/alerts")["data"]["alerts"]
        return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}


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
    with PostgresServer() as postgres, RedisServer() as redis, FakeBookmarkApi() as api:
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
                      "group_wait": seconds(am["route"]["group_wait"])}
            result = Stack(postgres, redis, api, state_dir, {p.name: p.url for p in processes}, timing,
                           _durations(state_dir / "prometheus" / "rules"))
            yield result
        finally:
            local.down(state_dir)
        out = os.environ.get("OBSTACK_DETECTION_OUT")
        if out:
            Path(out).write_text(json.dumps({"timing": result.timing, "slack": SLACK,
                                             "faults": result.latencies}, indent=2) + "\n")


def test_healthy_stack_fires_nothing(stack: Stack) -> None:
    # Wait until Prometheus has scraped every target and evaluated rules on real data.
    poll(lambda: all(r["value"][1] == "1" for r in stack.query("up")) and len(stack.query("up")) == 4,
         WAIT, "four targets up")
    poll(lambda: stack.query("obstack_redis_up == 1") and stack.query("obstack_postgres_up == 1"), WAIT,
         "datastores up in Prometheus")
    with urllib.request.urlopen(f"{stack.urls['exporter']}/health", timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "pass"
    # Watched over several evaluations on healthy data: nothing may be firing or delivered.
    deadline = time.monotonic() + 3 * stack.timing["evaluation"] + stack.timing["group_wait"]
    while time.monotonic() < deadline:
        assert stack.firing() == set()
        time.sleep(0.2)
    assert [e for e in stack.notifications() if e["payload"]["status"] == "firing"] == []


def test_redis_down_pages_and_inhibits_queue_alerts(stack: Stack) -> None:
    fault_at = time.time()
    stack.redis.stop()
    try:
        entry = stack.wait_notification("RedisDown", "firing", "/pager", after=fault_at)
        assert stack.record("RedisDown", fault_at, entry) <= stack.bound("RedisDown")
        # A queue alert on the dead Redis reaches Alertmanager: the generated inhibit rule must hold it.
        labels = {"alertname": "QueueBacklogHigh", "severity": "critical", "queue": "bookmark-import",
                  "datastore": "cache", "cluster": "bookmark", "environment": "production", "e2e": "inhibit"}
        http_json(f"{stack.urls['alertmanager']}/api/v2/alerts", "POST", [{"labels": labels}])

        def suppressed() -> bool:
            alerts = http_json(f"{stack.urls['alertmanager']}/api/v2/alerts?filter=e2e%3D%22inhibit%22")
            return bool(alerts) and alerts[0]["status"]["state"] == "suppressed" and alerts[0]["status"]["inhibitedBy"]
        poll(suppressed, WAIT, "QueueBacklogHigh suppressed by RedisDown")
        # Held across more than a group_wait and a group_interval: never delivered.
        interval = yaml.safe_load((stack.state_dir / "alertmanager" / "alertmanager.yml").read_text())["route"]
        deadline = time.monotonic() + stack.timing["group_wait"] + Duration.parse(interval["group_interval"]).seconds
        while time.monotonic() < deadline:
            assert suppressed() and not delivered("e2e", "inhibit", stack), "an inhibited queue alert was delivered"
            time.sleep(0.2)
        # Resolve it before Redis returns, or it would (rightly) be sent once uninhibited.
        ended = datetime.now(UTC).isoformat()
        http_json(f"{stack.urls['alertmanager']}/api/v2/alerts", "POST", [{"labels": labels, "endsAt": ended}])
    finally:
        restart_at = time.time()
        stack.redis.start()
    stack.wait_notification("RedisDown", "resolved", "/pager", after=restart_at)
    assert not delivered("e2e", "inhibit", stack, status="firing"), "an inhibited queue alert was delivered"


def delivered(label: str, value: str, stack: Stack, status: str | None = None) -> bool:
    """Whether any notification so far carried an alert with ``label=value`` (and ``status``)."""
    return any(a["labels"].get(label) == value and status in (None, a["status"])
               for e in stack.notifications() for a in e["payload"]["alerts"])


def test_error_rate_pages_and_inhibits_warning(stack: Stack) -> None:
    fault_at = time.time()
    stack.api.set_faults(error_rate=0.10)
    try:
        entry = stack.wait_notification("HighErrorRate", "firing", "/pager", after=fault_at)
        assert stack.record("HighErrorRate", fault_at, entry) <= stack.bound("HighErrorRate")
        # The warning fires in Prometheus too, and Alertmanager holds it back while the page stands.
        poll(lambda: "ErrorRateIncreased" in stack.firing(), WAIT, "ErrorRateIncreased firing in Prometheus")

        def inhibited() -> bool:
            alerts = http_json(f"{stack.urls['alertmanager']}/api/v2/alerts?filter=alertname%3D%22ErrorRateIncreased%22")
            return bool(alerts) and all(a["status"]["state"] == "suppressed" for a in alerts)
        poll(inhibited, WAIT, "ErrorRateIncreased suppressed in Alertmanager")
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


def test_postgres_down_pages_and_exporter_recovers(stack: Stack) -> None:
    fault_at = time.time()
    stack.postgres.stop()
    try:
        entry = stack.wait_notification("PostgresDown", "firing", "/pager", after=fault_at)
        assert stack.record("PostgresDown", fault_at, entry) <= stack.bound("PostgresDown")
    finally:
        stack.postgres.start()
    restarted = time.monotonic()
    # The exporter dropped its connection on failure and reconnects on the next scrape.
    poll(lambda: stack.query("obstack_postgres_up == 1"), WAIT, "obstack_postgres_up back to 1")
    assert time.monotonic() - restarted <= stack.timing["scrape"] + SLACK
    stack.wait_notification("PostgresDown", "resolved", "/pager", after=fault_at)
