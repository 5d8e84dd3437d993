"""Cause before symptom: inhibit rules derived from depends_on, proven by the evaluator and by a
real Alertmanager reading the generated config."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from obstack.alerts.alertmanager_config import all_alert_rules, inhibit_rules
from obstack.alerts.dependency_inhibition import dependents, explained_by
from obstack.alerts.routing import inhibited_alerts
from obstack.alerts.rule_files import rule_files
from obstack.stack.spec.loader import load_spec_text
from obstack.stack.stack_model import build_stack_model
from tests.support.monitoring import AlertmanagerServer, http_json

# api needs Postgres and a queue living in Redis; worker reaches both through api; search has its own Redis.
SPEC = """
project: shop
environment: prod
prometheus: {external_labels: {cluster: eu}}
services:
  - name: api
    targets: [api-1:8080, api-2:8080]
    depends_on: [main-db, jobs]
  - name: worker
    targets: [worker:8080]
    depends_on: [api]
  - name: search
    targets: [search:8080]
    depends_on: [search-cache]
datastores:
  - {name: main-db, kind: postgres, dsn_env: PG_DSN}
  - {name: cache, kind: redis, url_env: REDIS_URL}
  - {name: search-cache, kind: redis, url_env: SEARCH_REDIS_URL}
queues:
  - {name: jobs, backend: bullmq, datastore: cache, dead_letter: jobs-dlq}
host: {node_exporter_targets: [node:9100]}
"""


@pytest.fixture(scope="module")
def spec() -> Any:
    return load_spec_text(SPEC, "shop.yaml").spec


def test_dependents_follow_queues_and_services_transitively(spec: Any) -> None:
    assert dependents(spec, "cache").services == ("api", "worker")  # api through its queue, worker through api
    assert dependents(spec, "cache").queues == ("jobs",)
    assert dependents(spec, "main-db").services == ("api", "worker")
    assert dependents(spec, "search-cache").services == ("search",) and dependents(spec, "search-cache").queues == ()
    assert dependents(spec, "api").services == ("worker",)
    assert dependents(spec, "worker").services == ()


def test_inhibit_rules_name_their_targets_and_keep_environments_apart(spec: Any) -> None:
    rules = inhibit_rules(spec, all_alert_rules(rule_files(spec)))
    redis = [r for r in rules if r["source_matchers"] == ['alertname="RedisDown"', 'datastore="cache"']]
    assert {tuple(r["target_matchers"][1:]) for r in redis} == {('service=~"api|worker"',), ('queue="jobs"',)}
    assert all(r["equal"] == ["cluster", "environment"] for r in redis)
    assert not [r for r in rules if 'datastore="search-cache"' in r["source_matchers"]
                and any("api" in m for m in r["target_matchers"])]


def test_docs_name_the_causes_of_a_symptom(spec: Any) -> None:
    alerts = [r for f in rule_files(spec) for r in f.alert_rules]
    assert explained_by(spec, alerts, "HighErrorRate", "worker") == [
        "PostgresDown (main-db)", "RedisDown (cache)", "ServiceDown (api)", "ServiceDown (worker)"]
    assert explained_by(spec, alerts, "QueueFailedJobsGrowing", "jobs") == ["PostgresDown (main-db)", "RedisDown (cache)"]
    assert explained_by(spec, alerts, "ServiceDown", "api") == []  # a cause is nobody's symptom


def _alert(environment: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"environment": environment, "cluster": "eu", **labels}}


# (alert, must Alertmanager hold it back?)
FIRING: list[tuple[dict[str, Any], bool]] = [
    # prod: Redis "cache" is down. Its dependents' symptoms are held; search's are not.
    (_alert("prod", alertname="RedisDown", severity="critical", datastore="cache", team="platform"), False),
    (_alert("prod", alertname="HighErrorRate", severity="critical", service="api", team="platform"), True),
    (_alert("prod", alertname="HealthCheckFailing", severity="critical", service="worker", team="platform"), True),
    (_alert("prod", alertname="ErrorBudgetBurn", severity="critical", service="worker", slo="errors",
            long_window="1h", team="platform"), True),
    (_alert("prod", alertname="QueueFailedJobsGrowing", severity="warning", queue="jobs", datastore="cache",
            team="platform"), True),
    (_alert("prod", alertname="HighErrorRate", severity="critical", service="search", team="platform"), False),
    # staging: the same symptoms without their cause: nothing held (equal on the external labels).
    (_alert("staging", alertname="HighErrorRate", severity="critical", service="api", team="platform"), False),
    (_alert("staging", alertname="HealthCheckFailing", severity="critical", service="worker", team="platform"), False),
    # canary: api is down. Its own symptoms and its dependent worker's are held; search's are not.
    (_alert("canary", alertname="ServiceDown", severity="critical", service="api", job="api", team="platform"), False),
    (_alert("canary", alertname="ErrorBudgetBurn", severity="critical", service="api", slo="availability",
            long_window="1h", team="platform"), True),
    (_alert("canary", alertname="HighLatency", severity="critical", service="worker", team="platform"), True),
    (_alert("canary", alertname="HighErrorRate", severity="critical", service="search", team="platform"), False),
]


def test_the_evaluator_holds_exactly_the_dependents_symptoms(spec: Any) -> None:
    firing = [a["labels"] for a, _ in FIRING]
    held = inhibited_alerts(inhibit_rules(spec, all_alert_rules(rule_files(spec))), firing)
    assert [a["labels"] in held for a, _ in FIRING] == [expected for _, expected in FIRING]


def test_a_real_alertmanager_holds_exactly_the_dependents_symptoms(spec: Any) -> None:
    config = yaml.safe_dump(build_stack_model(spec).alertmanager_config, sort_keys=False)
    with AlertmanagerServer(config) as alertmanager:
        http_json(f"{alertmanager.url}/api/v2/alerts", "POST", [alert for alert, _ in FIRING])

        def states() -> dict[tuple[tuple[str, str], ...], bool] | None:
            served = http_json(f"{alertmanager.url}/api/v2/alerts")
            if len(served) < len(FIRING) or any(a["status"]["state"] == "unprocessed" for a in served):
                return None
            return {tuple(sorted(a["labels"].items())): bool(a["status"]["inhibitedBy"]) for a in served}

        deadline = time.monotonic() + 20
        while (seen := states()) is None:
            assert time.monotonic() < deadline, "Alertmanager did not process the alerts"
            time.sleep(0.2)
        for alert, expected in FIRING:
            assert seen[tuple(sorted(alert["labels"].items()))] is expected, alert["labels"]
