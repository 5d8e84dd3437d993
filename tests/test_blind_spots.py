"""No blind spots: where a watcher, a probe or a metric disappears, an alert fires.

Each case feeds promtool the series a real failure leaves behind (three API replicas, a working
exporter beside a failing probe, counters that keep growing) and reads which alerts fire from
``ALERTS``, against the rules generated for the default spec with three API targets. Before these
alerts existed, every case below fired nothing at all.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import default_spec_text, load_spec_text
from obstack.stack.writer import write_tree
from tests.support.servers import require_binary

API = ("api-1:3001", "api-2:3001", "api-3:3001")
EXPORTER = {"job": "obstack-exporter", "instance": "obstack-exporter:9477", "team": "platform"}
HISTOGRAM = "http_request_duration_seconds_count"


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{inner}}}", "values": values}


def _api(instance: str) -> dict[str, str]:
    return {"job": "bookmark-api", "instance": instance, "service": "bookmark-api", "team": "platform"}


def _healthy_api(except_for: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Three replicas up, serving 200s (mixed routes), but those named in ``except_for``."""
    series = []
    for instance in API:
        if instance in except_for:
            continue
        series.append(_series("up", _api(instance), "1x40"))
        for route in ("/api/bookmarks", "/api/bookmarks/:id"):
            series.append(_series(HISTOGRAM, {**_api(instance), "method": "GET", "route": route,
                                              "status_code": "200"}, "0+300x40"))
    return series


def _stack_up(*, node: bool = True) -> list[dict[str, str]]:
    jobs = [("prometheus", "localhost:9090"), ("alertmanager", "alertmanager:9093"),
            ("obstack-exporter", "obstack-exporter:9477")] + ([("node", "node-exporter:9100")] if node else [])
    return [_series("up", {"job": job, "instance": instance, "team": "platform"}, "1x40") for job, instance in jobs]


def _datastores_and_queues(failing_queue: str | None = None) -> list[dict[str, str]]:
    series = [_series("obstack_postgres_up", {**EXPORTER, "target": "main", "datastore": "main"}, "1x40"),
              _series("obstack_redis_up", {**EXPORTER, "target": "cache", "datastore": "cache"}, "1x40"),
              _series("obstack_http_up", {**EXPORTER, "target": "bookmark-api", "service": "bookmark-api"}, "1x40")]
    for queue in ("bookmark-import", "link-check"):
        up = "0x40" if queue == failing_queue else "1x40"
        series.append(_series("obstack_queue_up", {**EXPORTER, "queue": queue, "backend": "bullmq",
                                                   "datastore": "cache"}, up))
    if failing_queue:
        series.append(_series("obstack_probe_failure", {**EXPORTER, "kind": "queue", "target": failing_queue,
                                                        "reason": "protocol"}, "1x40"))
    return series


# blind spot -> (input series, the alerts that must be firing at 10m, and nothing else but the Watchdog)
CASES: dict[str, tuple[list[dict[str, str]], set[str]]] = {
    "node-exporter down": (
        [s for s in _stack_up() if 'job="node"' not in s["series"]]
        + [_series("up", {"job": "node", "instance": "node-exporter:9100", "team": "platform"}, "0x40")]
        + _healthy_api() + _datastores_and_queues(),
        {"NodeExporterDown"}),
    "node-exporter gone from the configuration": (
        _stack_up(node=False) + _healthy_api() + _datastores_and_queues(),
        {"ScrapeJobMissing"}),
    "a queue probe failing while the exporter is up": (
        _stack_up() + _healthy_api() + _datastores_and_queues(failing_queue="link-check"),
        {"QueueProbeFailing"}),
    "request metrics absent on a replica that is up": (
        _stack_up() + _healthy_api(except_for=("api-3:3001",)) + [_series("up", _api("api-3:3001"), "1x40")]
        + _datastores_and_queues(),
        {"RequestMetricsMissing"}),
    # A warning, not ServiceDown. The availability SLO (the share of targets up) still burns at a third
    # of its targets down, and says so: its budget is really being spent.
    "one of three replicas down": (
        _stack_up() + _healthy_api(except_for=("api-2:3001",)) + [_series("up", _api("api-2:3001"), "0x40")]
        + _datastores_and_queues(),
        {"ServiceInstancesDown", "ErrorBudgetBurn"}),
    "all three replicas down": (
        _stack_up() + [_series("up", _api(instance), "0x40") for instance in API] + _datastores_and_queues(),
        {"ServiceDown", "ErrorBudgetBurn"}),
    "Prometheus cannot send to Alertmanager": (
        _stack_up() + _healthy_api() + _datastores_and_queues() + [
            _series("prometheus_notifications_sent_total",
                    {"job": "prometheus", "instance": "localhost:9090", "team": "platform",
                     "alertmanager": "http://alertmanager:9093/api/v2/alerts"}, "0+4x40"),
            _series("prometheus_notifications_errors_total",
                    {"job": "prometheus", "instance": "localhost:9090", "team": "platform",
                     "alertmanager": "http://alertmanager:9093/api/v2/alerts"}, "0+4x40")],
        {"PrometheusErrorSendingAlerts"}),
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = default_spec_text().replace("targets: [bookmark-api:3001]", f"targets: [{', '.join(API)}]")
    assert "api-3:3001" in text
    out = tmp_path_factory.mktemp("blind")
    write_tree(out, generate(load_spec_text(text, "three-replicas.yaml")))
    return out


def _test_group(name: str, series: list[dict[str, str]], firing: set[str]) -> dict[str, Any]:
    expected = [{"labels": f'{{alertname="{alert}"}}', "value": 1} for alert in sorted(firing)]
    return {
        "name": name, "interval": "15s", "input_series": series,
        "promql_expr_test": [{
            "expr": 'count by (alertname) (ALERTS{alertstate="firing", alertname!="Watchdog"})',
            "eval_time": "10m", "exp_samples": expected}],
    }


@pytest.mark.parametrize("case", CASES)
def test_a_blind_spot_fires_an_alert(tree: Path, case: str) -> None:
    series, firing = CASES[case]
    rules = sorted(p.name for p in (tree / "prometheus/rules").glob("*.yml"))
    test_file = tree / "prometheus/tests" / "blind-spot.test.yml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": [f"../rules/{name}" for name in rules], "evaluation_interval": "15s",
        "tests": [_test_group(case, series, firing)]}, sort_keys=False))
    run = subprocess.run([require_binary("promtool", "prometheus"), "test", "rules", test_file.name],
                         cwd=test_file.parent, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
