"""The least-privilege Postgres role and Redis ACL of docs/exporter-permissions.md, used for real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.exporters.conftest import allow_password_login, pgboss_schema_sql, postgres_store, redis_store, with_password
from tests.exporters.queue_fill import close_bullmq, fill_bullmq, fill_celery, fill_rq

DOC = Path(__file__).resolve().parents[2] / "docs" / "exporter-permissions.md"
PASSWORD = "least-privilege-pw-42"
CANARY = "canary-Pg-pa55-9d1c"


def doc_block(marker: str) -> str:
    match = re.search(rf"<!-- obstack:{marker} -->\s*```[a-z]*\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"{DOC} has no {marker} block"
    return match.group(1).replace("change-me", PASSWORD)


def test_redis_acl_covers_exactly_what_the_probe_uses(private_redis, exporter_for):
    words = doc_block("redis-acl").split()
    assert words[:2] == ["ACL", "SETUSER"]
    private_redis.command(*words)
    loop, handles = fill_bullmq(private_redis.url)
    fill_rq(private_redis.url)
    app, connection, simple, _ = fill_celery(private_redis.url)
    try:
        url = with_password(private_redis.url, "obstack-exporter", PASSWORD)
        queues = [{"name": "jobs", "backend": "bullmq", "datastore": "cache", "dead_letter": "jobs-dlq"},
                  {"name": "default", "backend": "rq", "datastore": "cache"},
                  {"name": "celery", "backend": "celery", "datastore": "cache"}]
        scrape = exporter_for({"datastores": [redis_store()], "queues": queues}, {"REDIS_URL": url}).scrape()
        assert scrape.value("obstack_redis_up") == 1
        for queue in ("jobs", "default", "celery"):
            assert scrape.value("obstack_queue_up", queue=queue) == 1, queue
        assert scrape.value("obstack_queue_backlog_jobs", queue="jobs") == 5
        assert scrape.value("obstack_queue_workers", queue="jobs") >= 1  # CLIENT LIST allowed
        assert scrape.value("obstack_queue_added_jobs_total", queue="jobs") == 9  # GET of the id counter
        assert scrape.value("obstack_queue_completed_jobs_total", queue="jobs") == 1  # HGET of metrics count
        # Nothing beyond reading: a write is refused for this user.
        with pytest.raises(Exception, match="NOPERM|no permissions"):
            private_redis.command("--user", "obstack-exporter", "--pass", PASSWORD, "SET", "x", "1")
    finally:
        simple.close()
        connection.release()
        close_bullmq(loop, handles)


def test_postgres_role_reads_everything_and_wrong_password_is_auth(private_postgres, exporter_for):
    private_postgres.psql(pgboss_schema_sql("pgboss"))
    private_postgres.psql("SELECT pgboss.create_queue('mail', '{}'); INSERT INTO pgboss.job (name) VALUES ('mail')")
    private_postgres.psql(doc_block("postgres-role"))
    allow_password_login(private_postgres, "obstack_exporter")
    dsn = with_password(private_postgres.dsn.replace("postgres@", ""), "obstack_exporter", PASSWORD)
    spec = {"datastores": [postgres_store()], "queues": [{"name": "mail", "backend": "pgboss", "datastore": "db"}]}
    scrape = exporter_for(spec, {"PG_DSN": dsn}).scrape()
    assert scrape.value("obstack_postgres_up") == 1
    assert scrape.value("obstack_queue_up", queue="mail") == 1
    assert scrape.value("obstack_queue_backlog_jobs", queue="mail") == 1
    assert scrape.value("obstack_postgres_database_size_bytes", database="postgres") > 0
    # pg_monitor sees other roles' backends with their state (without it they show no state).
    assert scrape.value("obstack_postgres_connections", state="active") >= 1

    # Both DSN forms with a wrong password: reason auth, the password in no output.
    for wrong in (with_password(private_postgres.dsn.replace("postgres@", ""), "obstack_exporter", CANARY),
                  f"host=127.0.0.1 port={private_postgres.port} dbname=postgres user=obstack_exporter password={CANARY}"):
        exporter = exporter_for(spec, {"PG_DSN": wrong})
        scrape = exporter.scrape()
        health = exporter.scrape(path="/health")
        assert scrape.value("obstack_probe_failure", kind="postgres", target="db", reason="auth") == 1
        for output in (scrape.body, health.body, exporter.logs):
            assert CANARY not in output
