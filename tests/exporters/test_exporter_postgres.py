"""The Postgres probe and pg-boss queues against a real private Postgres: values, faults, read-only."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.exporters.conftest import pgboss_schema_sql, postgres_store
from tests.support.servers import PostgresServer, _child_pids


def _connect(server: PostgresServer, autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(server.dsn, autocommit=autocommit)


def test_connection_states_locks_and_sizes(private_postgres, exporter_for):
    private_postgres.psql("CREATE TABLE t (id int)")
    exporter = exporter_for({"datastores": [postgres_store()]}, {"PG_DSN": private_postgres.dsn})
    idle = [_connect(private_postgres) for _ in range(3)]
    holder = _connect(private_postgres, autocommit=False)
    holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")  # idle in transaction, holding the lock
    waiter = _connect(private_postgres)
    blocked = threading.Thread(target=lambda: waiter.execute("SELECT * FROM t"), daemon=True)
    blocked.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            scrape = exporter.scrape()
            if scrape.value("obstack_postgres_connections", state="waiting on a lock") == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert scrape.value("obstack_postgres_up", target="db") == 1
        assert scrape.value("obstack_postgres_connections", state="waiting on a lock") == 1
        assert scrape.value("obstack_postgres_connections", state="idle in transaction") == 1
        assert scrape.value("obstack_postgres_connections", state="idle") == 3
        assert scrape.value("obstack_postgres_connections", state="active") == 1  # the exporter's own statement
        assert scrape.value("obstack_postgres_lock_waits") == 1
        assert scrape.value("obstack_postgres_oldest_transaction_seconds") > 0
        assert scrape.value("obstack_postgres_max_connections") == 97  # 100 minus 3 reserved for superusers
        assert scrape.value("obstack_postgres_database_size_bytes", database="postgres") > 1_000_000
        assert scrape.value("obstack_postgres_deadlocks_total") == 0
        assert scrape.value("obstack_postgres_replication_lag_seconds") is None  # a primary has none
        assert scrape.value("obstack_probe_failure", kind="postgres") is None
    finally:
        holder.rollback()
        blocked.join(5)
        for connection in [*idle, holder, waiter]:
            connection.close()


@pytest.fixture
def pgboss(private_postgres_session) -> Iterator[tuple[PostgresServer, str]]:
    """A pg-boss schema of its own on the shared Postgres, with jobs in every state."""
    schema = f"boss_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    server = private_postgres_session
    server.psql(pgboss_schema_sql(schema))
    server.psql(f"""
        SELECT {schema}.create_queue('mail-dlq', '{{}}');
        SELECT {schema}.create_queue('mail', '{{"deadLetter": "mail-dlq"}}');
        INSERT INTO {schema}.job (name, state, created_on) VALUES ('mail', 'created', now() - interval '90 seconds');
        INSERT INTO {schema}.job (name, state) SELECT 'mail', 'created' FROM generate_series(1, 2);
        INSERT INTO {schema}.job (name, state, start_after) SELECT 'mail', 'created', now() + interval '1 hour'
            FROM generate_series(1, 2);
        INSERT INTO {schema}.job (name, state, retry_count) VALUES ('mail', 'retry', 1);
        INSERT INTO {schema}.job (name, state, start_after) VALUES ('mail', 'retry', now() + interval '1 hour');
        INSERT INTO {schema}.job (name, state, started_on) VALUES ('mail', 'active', now());
        INSERT INTO {schema}.job (name, state) SELECT 'mail', 'completed' FROM generate_series(1, 4);
        INSERT INTO {schema}.job (name, state) VALUES ('mail', 'failed'), ('mail', 'cancelled');
        INSERT INTO {schema}.job (name, state) SELECT 'mail-dlq', 'created' FROM generate_series(1, 2);
    """)
    yield server, schema
    server.psql(f"DROP SCHEMA {schema} CASCADE")


def _pgboss_spec(schema: str) -> dict:
    return {"datastores": [postgres_store()],
            "queues": [{"name": "mail", "backend": "pgboss", "datastore": "db", "prefix": schema,
                        "dead_letter": "mail-dlq"}]}


def _snapshot(server: PostgresServer, schema: str) -> str:
    # xmin changes on any UPDATE, even one writing identical values.
    return server.psql(f"SELECT xmin, * FROM {schema}.job ORDER BY id") + server.psql(
        f"SELECT xmin, * FROM {schema}.queue ORDER BY name")


def test_pgboss_states_backlog_age_dead_letter_and_read_only(pgboss, exporter_for):
    server, schema = pgboss
    before = _snapshot(server, schema)
    exporter = exporter_for(_pgboss_spec(schema), {"PG_DSN": server.dsn})
    for _ in range(3):
        scrape = exporter.scrape()
    labels = {"queue": "mail", "backend": "pgboss"}
    assert scrape.value("obstack_queue_up", **labels) == 1
    expected = {"waiting": 3, "delayed": 2, "retry": 2, "active": 1, "completed": 4, "cancelled": 1, "failed": 1}
    for state, count in expected.items():
        assert scrape.value("obstack_queue_jobs", **labels, state=state) == count, state
    assert scrape.value("obstack_queue_backlog_jobs", **labels) == 4  # 3 created + 1 retry due now
    assert 89 <= scrape.value("obstack_queue_oldest_job_age_seconds", **labels) < 150
    assert scrape.value("obstack_queue_dead_letter_jobs", **labels) == 2
    assert scrape.value("obstack_queue_paused", **labels) == 0
    assert _snapshot(server, schema) == before


def test_lock_on_pgboss_table_is_bounded_and_spares_the_server(pgboss, exporter_for):
    server, schema = pgboss
    exporter = exporter_for(_pgboss_spec(schema), {"PG_DSN": server.dsn})
    assert exporter.scrape().value("obstack_queue_up", queue="mail") == 1
    holder = _connect(server, autocommit=False)
    holder.execute(f"LOCK TABLE {schema}.job IN ACCESS EXCLUSIVE MODE")
    try:
        started = time.monotonic()
        scrape = exporter.scrape(timeout_header=2.5)
        assert time.monotonic() - started < 2.5
        assert scrape.value("obstack_postgres_up", target="db") == 1
        assert scrape.value("obstack_queue_up", queue="mail") == 0
        assert scrape.value("obstack_probe_failure", kind="queue", target="mail", reason="timeout") == 1
    finally:
        holder.rollback()
        holder.close()
    assert exporter.scrape().value("obstack_queue_up", queue="mail") == 1


def test_missing_pgboss_schema_fails_the_queue_not_the_server(private_postgres_session, exporter_for):
    spec = {"datastores": [postgres_store()],
            "queues": [{"name": "mail", "backend": "pgboss", "datastore": "db", "prefix": "no_such_schema"}]}
    scrape = exporter_for(spec, {"PG_DSN": private_postgres_session.dsn}).scrape()
    assert scrape.value("obstack_postgres_up") == 1
    assert scrape.value("obstack_probe_failure", kind="queue", target="mail", reason="other") == 1


def _backends(server: PostgresServer) -> int:
    return int(server.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'obstack-exporter'"))


def test_kill_restart_and_hang_are_bounded(private_postgres, exporter_for):
    exporter = exporter_for({"datastores": [postgres_store()]}, {"PG_DSN": private_postgres.dsn})
    assert exporter.scrape(timeout_header=3).value("obstack_postgres_up") == 1

    private_postgres.kill()
    started = time.monotonic()
    scrape = exporter.scrape(timeout_header=3)
    assert time.monotonic() - started < 3
    assert scrape.value("obstack_postgres_up") == 0
    assert scrape.value("obstack_probe_failure", kind="postgres", target="db", reason="refused") == 1

    private_postgres.restart()
    started = time.monotonic()
    assert exporter.scrape(timeout_header=3).value("obstack_postgres_up") == 1
    assert time.monotonic() - started < 5  # the plan's recovery bound

    # A hung server (every Postgres process stopped): the scrape still answers by the deadline.
    pids = [private_postgres.postmaster_pid(), *_child_pids(private_postgres.postmaster_pid())]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        scrape = exporter.scrape(timeout_header=2)
        assert time.monotonic() - started < 2
        assert scrape.value("obstack_probe_failure", kind="postgres", target="db", reason="timeout") == 1
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 5
    while exporter.scrape(timeout_header=3).value("obstack_postgres_up") != 1:
        assert time.monotonic() < deadline, "no recovery within 5 s after the hang"
    assert _backends(private_postgres) == 1
    events = [line for line in exporter.logs.splitlines() if '"probe_' in line]
    assert any('"probe_failed"' in e and '"refused"' in e for e in events)
    assert any('"probe_recovered"' in e for e in events)
