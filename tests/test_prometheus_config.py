"""prometheus/prometheus.yml: derived from the spec and accepted by the real promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from obstack.alerts.prometheus_config import prometheus_config
from obstack.foundation.artifacts import dump_yaml
from obstack.stack.spec.loader import load_spec, load_spec_text
from tests.support.servers import require_binary

TWO_SERVICES = """
project: shop
environment: staging
prometheus:
  scrape_interval: 30s
  scrape_timeout: 20s
  evaluation_interval: 1m
  external_labels: {region: eu-west}
  alertmanager_targets: [am-1:9093, am-2:9093]
services:
  - name: api
    team: payments
    targets: [api-1:8080, api-2:8080]
    metrics_path: /internal/metrics
    scheme: https
  - name: worker
    job: shop-worker
    targets: [worker:9000]
host:
  node_exporter_targets: [host-a:9100, host-b:9100]
"""


def promtool_check(tmp_path: Path, config: dict) -> subprocess.CompletedProcess[str]:
    promtool = require_binary("promtool", "prometheus")
    path = tmp_path / "prometheus.yml"
    path.write_text(dump_yaml(config))
    return subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, check=False)


def test_default_config_is_accepted_by_promtool(tmp_path: Path) -> None:
    result = promtool_check(tmp_path, prometheus_config(load_spec().spec))
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_service_config_is_accepted_by_promtool(tmp_path: Path) -> None:
    result = promtool_check(tmp_path, prometheus_config(load_spec_text(TWO_SERVICES, "t.yaml").spec))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_config_so_the_check_is_real(tmp_path: Path) -> None:
    config = prometheus_config(load_spec().spec)
    config["global"]["scrape_timeout"] = "1h"  # longer than the interval
    assert promtool_check(tmp_path, config).returncode != 0


def test_jobs_targets_and_labels_come_from_the_spec() -> None:
    config = prometheus_config(load_spec_text(TWO_SERVICES, "t.yaml").spec)
    assert config["global"] == {
        "scrape_interval": "30s",
        "scrape_timeout": "20s",
        "evaluation_interval": "1m",
        "external_labels": {"environment": "staging", "region": "eu-west"},
    }
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert list(jobs) == ["prometheus", "alertmanager", "node", "obstack-exporter", "api", "shop-worker"]
    api = jobs["api"]
    assert api["metrics_path"] == "/internal/metrics" and api["scheme"] == "https"
    assert api["static_configs"] == [
        {"targets": ["api-1:8080", "api-2:8080"], "labels": {"service": "api", "team": "payments"}}
    ]
    assert jobs["shop-worker"]["static_configs"][0]["labels"] == {"service": "worker", "team": "platform"}
    assert jobs["node"]["static_configs"][0]["targets"] == ["host-a:9100", "host-b:9100"]
    assert jobs["alertmanager"]["static_configs"][0]["targets"] == ["am-1:9093", "am-2:9093"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["am-1:9093", "am-2:9093"]
    assert config["rule_files"] == ["rules/*.yml"]


def test_rendered_yaml_round_trips() -> None:
    config = prometheus_config(load_spec().spec)
    assert yaml.safe_load(dump_yaml(config)) == config
