"""What the exporter emits and foundation.exporter_metrics say the same thing, in both directions,
and the pieces every output passes through (reasons, redaction, JSON logs) keep secrets out."""

from __future__ import annotations

import json
from io import StringIO

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from obstack.exporters.collector import render_metrics
from obstack.exporters.logs import JsonLog
from obstack.exporters.probes.postgres import PostgresProbe
from obstack.exporters.reasons import classify
from obstack.exporters.redaction import redact, secret_parts
from obstack.exporters.results import REASONS, ProbeResult
from obstack.exporters.secrets import remember
from obstack.foundation.exporter_metrics import EXPORTER_METRICS, EXPORTER_METRICS_BY_NAME, QUEUE_JOB_COUNTERS
from obstack.stack.spec.model import PostgresDatastore
from tests.exporters.conftest import pgboss_schema_sql, postgres_store, redis_store
from tests.exporters.queue_fill import close_bullmq, fill_bullmq, fill_celery, fill_rq


COUNTER_NAMES = {name for names in QUEUE_JOB_COUNTERS.values() for name in names}


def _families(body: str) -> dict[str, tuple[str, list[frozenset[str]]]]:
    """Catalog name -> (type, label sets of its samples) from an exposition."""
    found = {}
    for family in text_string_to_metric_families(body):
        name = family.name + "_total" if family.type == "counter" else family.name
        found[name] = (family.type, [frozenset(s.labels) for s in family.samples])
    return found


def test_emitted_families_match_the_catalog_both_ways(private_postgres_session, private_redis, exporter_for):
    server = private_postgres_session
    server.psql(pgboss_schema_sql("catalog_boss") + "SELECT catalog_boss.create_queue('mail', '{}');")
    loop, handles = fill_bullmq(private_redis.url)
    fill_rq(private_redis.url)
    app, connection, simple, _ = fill_celery(private_redis.url)
    try:
        spec = {"datastores": [postgres_store(), redis_store()],
                "services": [{"name": "api", "targets": ["127.0.0.1:1"]}],
                "queues": [{"name": "jobs", "backend": "bullmq", "datastore": "cache", "dead_letter": "jobs-dlq"},
                           {"name": "default", "backend": "rq", "datastore": "cache"},
                           {"name": "celery", "backend": "celery", "datastore": "cache"},
                           {"name": "mail", "backend": "pgboss", "datastore": "db", "prefix": "catalog_boss"}]}
        body = exporter_for(spec, {"PG_DSN": server.dsn, "REDIS_URL": private_redis.url}).scrape().body
    finally:
        simple.close()
        connection.release()
        close_bullmq(loop, handles)
        server.psql("DROP SCHEMA catalog_boss CASCADE")
    emitted = _families(body)
    assert set(emitted) == {m.name for m in EXPORTER_METRICS}
    for name, (kind, label_sets) in emitted.items():
        info = EXPORTER_METRICS_BY_NAME[name]
        assert kind == info.type, name
        assert all(labels == frozenset(info.labels) for labels in label_sets), name
    # Every family has samples here but replication lag, which only a replica has (below).
    empty = {name for name, (_, label_sets) in emitted.items() if not label_sets}
    assert empty == {"obstack_postgres_replication_lag_seconds"}
    # The job counters come from exactly the backends QUEUE_JOB_COUNTERS names (the dashboards read it).
    counted = {(family.name + "_total", sample.labels["backend"]) for family in text_string_to_metric_families(body)
               if family.name + "_total" in COUNTER_NAMES for sample in family.samples}
    assert counted == {(name, backend) for backend, names in QUEUE_JOB_COUNTERS.items() for name in names}


def test_replica_document_gives_replication_lag():
    probe = PostgresProbe(PostgresDatastore(name="replica", kind="postgres", dsn_env="X", team="t"), [])
    document = {"connections": {}, "max_connections": 97, "oldest_transaction": 0, "lock_waits": 0,
                "deadlocks": 0, "sizes": {}, "replication_lag": 12.5}
    results = probe._results(document, 0.01, None)
    body = render_metrics(results).decode()
    assert 'obstack_postgres_replication_lag_seconds{target="replica"} 12.5' in body


def test_unknown_sample_is_refused():
    from obstack.exporters.results import Sample
    result = ProbeResult("redis", "cache", True, samples=(Sample("obstack_not_in_catalog", {"target": "x"}, 1),))
    with pytest.raises(KeyError):
        render_metrics([result])


@pytest.mark.parametrize("text", [
    "postgresql://app:canary-secret@db:5432/x",
    "redis://:canary-secret@cache:6379/0",
    "redis://canary-secret@cache:6379/0",
    "host=db user=app password=canary-secret dbname=x",
    "host=db password='canary-secret' dbname=x",
])
def test_redaction_of_both_dsn_forms(text):
    assert "canary-secret" not in redact(text)
    assert "canary-secret" in secret_parts(text)


def test_known_secret_redacted_anywhere_and_logs_are_json():
    remember("postgresql://app:known-canary-77@db/x")
    stream = StringIO()
    JsonLog(stream).warning("probe_failed", target="db", reason="auth", detail="it was known-canary-77 all along")
    record = json.loads(stream.getvalue())
    assert record["event"] == "probe_failed" and record["level"] == "warning" and "time" in record
    assert "known-canary-77" not in stream.getvalue()


def test_reasons_are_bounded():
    errors = [TimeoutError(), ConnectionRefusedError(111, "refused"), psycopg.OperationalError(
        'connection to server at "x" failed: password authentication failed for user "app"'),
        psycopg.OperationalError("could not translate host name \"nope\" to address"), ValueError("anything")]
    reasons = [classify(error) for error in errors]
    assert reasons == ["timeout", "refused", "auth", "dns", "other"]
    assert set(reasons) <= set(REASONS)
