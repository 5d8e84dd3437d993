"""Shared fixtures of the dashboard tests: specs, the schema, the catalog."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from obstack.alerts.rule_files import rule_file_dict, rule_files
from obstack.dashboards.datasources import enabled_datasources
from obstack.foundation.series_catalog import MetricCatalog
from obstack.stack.spec.loader import load_spec, load_spec_text
from obstack.stack.spec.model import Spec
from obstack.stack.spec.series import build_catalog

# The reference schema is vendored test data (tests/schemas/SOURCES.md), never part of the product.
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "grafana-dashboard.jsonschema.json"

# Two services with different thresholds, a replica, a queue with a dead-letter queue,
# warning levels on the host, logs and traces off: every branch the default spec leaves out.
TWO_SERVICES = """
project: shop
services:
  - name: api
    targets: [api:3000, api-2:3000]
    thresholds:
      error_rate: {critical: 10%, warning: 2%}
      latency_p95: {critical: 1s, warning: 250ms}
      restarts: {critical: 10, warning: 3}
    depends_on: [pg, pg-replica, cache, emails, worker]
  - name: worker
    targets: [worker:9000]
    process_start_metric: null
    slos:
      - {name: availability, kind: availability, objective: 99.5%, window: 7d}
datastores:
  - {name: pg, kind: postgres, dsn_env: PG_DSN, thresholds: {connections: {critical: 95%, warning: 70%}}}
  - {name: pg-replica, kind: postgres, role: replica, dsn_env: PG_REPLICA_DSN}
  - {name: cache, kind: redis, url_env: REDIS_URL}
queues:
  - name: emails
    backend: bullmq
    datastore: cache
    dead_letter: emails-dlq
    thresholds:
      backlog: {critical: 200, warning: 50}
      oldest_waiting: {critical: 30m, warning: 5m}
      failed_jobs: {critical: 100, warning: 5}
  - {name: reports, backend: rq, datastore: cache}
host:
  node_exporter_targets: [node-1:9100, node-2:9100]
  thresholds:
    memory_used: {critical: 90%, warning: 75%}
    disk_free: {critical: 5%, warning: 15%}
logs: {enabled: false}
tracing: {enabled: false}
"""


@cache
def default_spec() -> Spec:
    return load_spec().spec


@cache
def two_services_spec() -> Spec:
    return load_spec_text(TWO_SERVICES, "two.yaml").spec


SPECS = {"default": default_spec, "two-services": two_services_spec}


def spec_params() -> Any:
    return pytest.mark.parametrize("spec_name", sorted(SPECS))


_CATALOGS: dict[int, tuple[Spec, MetricCatalog]] = {}


def catalog_of(spec: Spec) -> MetricCatalog:
    """The catalog the dashboards are held to: exporter, node-exporter, services and the generated rules."""
    # Generating the rule files is the slow part; specs are immutable, so one catalog per spec object.
    if id(spec) not in _CATALOGS:
        _CATALOGS[id(spec)] = (spec, build_catalog(spec, {str(f.path): rule_file_dict(f) for f in rule_files(spec)}))
    return _CATALOGS[id(spec)][1]


def datasource_uids(spec: Spec) -> dict[str, str]:
    return {source.uid: source.type for source in enabled_datasources(spec)}


@cache
def schema_validator() -> Draft7Validator:
    if not SCHEMA_PATH.is_file():
        pytest.fail(f"the Grafana dashboard schema is missing at {SCHEMA_PATH} (vendored in tests/schemas); "
                    "the schema tests cannot run without it")
    return Draft7Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def panels_of(board: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for panel in board["panels"]:
        result.append(panel)
        result.extend(panel.get("panels", []))
    return result
