"""The Postgres probe: one read-only SQL statement per scrape for the server's vital signs and
every pg-boss queue stored in it, on one reused psycopg 3 connection.

Timeouts come from the scrape deadline: connect_timeout, statement_timeout and lock_timeout
(half the budget, so a lock held on a pg-boss table leaves time to read the server without it).
"""

from __future__ import annotations

import math
import time
from typing import Any

import psycopg
from psycopg import sql

from obstack.stack.spec.model import PostgresDatastore, Queue

from ..results import ProbeResult, Reason, Sample, failed
from ..secrets import read_secret
from .base import ConnectionProbe
from .queues import pgboss
from .queues import queue_samples

APPLICATION_NAME = "obstack-exporter"
# Always emitted (0 when empty) so a state's series does not vanish between scrapes.
CONNECTION_STATES = ("active", "idle", "idle in transaction", "idle in transaction (aborted)",
                     "fastpath function call", "disabled", "waiting on a lock")

_SERVER_SQL = """
    'connections', (SELECT coalesce(json_object_agg(s, n), '{}') FROM (
        SELECT CASE WHEN wait_event_type = 'Lock' THEN 'waiting on a lock'
                    ELSE coalesce(state, 'unknown') END AS s, count(*) AS n
        FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1) AS c),
    'max_connections', current_setting('max_connections')::int
        - current_setting('superuser_reserved_connections')::int
        - coalesce(current_setting('reserved_connections', true)::int, 0),
    'oldest_transaction', (SELECT coalesce(extract(epoch FROM max(clock_timestamp() - xact_start)), 0)
        FROM pg_stat_activity WHERE backend_type = 'client backend' AND xact_start IS NOT NULL
        AND pid <> pg_backend_pid()),
    'lock_waits', (SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted),
    'deadlocks', (SELECT coalesce(sum(deadlocks), 0) FROM pg_stat_database),
    'sizes', (SELECT coalesce(json_object_agg(datname, pg_database_size(oid)), '{}')
        FROM pg_database WHERE NOT datistemplate AND datallowconn),
    'replication_lag', CASE WHEN pg_is_in_recovery() THEN
        coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END"""

# Errors that come from the pg-boss part of the statement (schema missing, no grant, a lock
# held on its table): the server itself is fine, so it is read again without the queues.
_QUEUE_ERRORS = (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName,
                 psycopg.errors.InsufficientPrivilege, psycopg.errors.LockNotAvailable,
                 psycopg.errors.UndefinedObject)


def build_statement(queues: list[Queue]) -> sql.Composable:
    """The one statement: server stats plus a JSON reading per pg-boss queue and dead-letter queue."""
    parts: list[sql.Composable] = [sql.SQL(_SERVER_SQL)]
    names = sorted({q.name for q in queues} | {q.dead_letter for q in queues if q.dead_letter})
    schemas = {q.name: q.prefix or "pgboss" for q in queues}
    schemas.update({q.dead_letter: q.prefix or "pgboss" for q in queues if q.dead_letter})
    if names:
        entries = sql.SQL(", ").join(
            sql.SQL("{}, {}").format(sql.Literal(n), pgboss.queue_sql(schemas[n], n)) for n in names)
        parts.append(sql.SQL(",\n    'queues', json_build_object({})").format(entries))
    return sql.SQL("SELECT json_build_object({})").format(sql.Composed(parts))


class PostgresProbe(ConnectionProbe):
    """A Postgres datastore and its pg-boss queues."""

    kind = "postgres"

    def __init__(self, datastore: PostgresDatastore, queues: list[Queue]) -> None:
        super().__init__(datastore.name)
        self.datastore = datastore
        self.queues = [q for q in queues if q.backend == "pgboss" and q.datastore == datastore.name]
        self._full = build_statement(self.queues)
        self._server_only = build_statement([])
        self._timeout_ms: int | None = None

    async def probe(self, budget: float, started: float) -> list[ProbeResult]:
        connection = await self._connection_for(budget)
        try:
            document = await self._fetch(connection, self._full)
            queue_error: Reason | None = None
        except _QUEUE_ERRORS as error:
            if not self.queues:
                raise
            queue_error = "timeout" if isinstance(error, psycopg.errors.LockNotAvailable) else (
                "auth" if isinstance(error, psycopg.errors.InsufficientPrivilege) else "other")
            document = await self._fetch(connection, self._server_only)
        return self._results(document, time.monotonic() - started, queue_error)

    async def _connection_for(self, budget: float) -> psycopg.AsyncConnection[Any]:
        timeout_ms = max(1, int(budget * 1000))
        if self._connection is None:
            dsn = read_secret(self.datastore.dsn_env, self.datastore.dsn_file)
            self._connection = await psycopg.AsyncConnection.connect(
                dsn, autocommit=True, connect_timeout=max(2, math.ceil(budget)),
                application_name=APPLICATION_NAME,
                # Read-only by construction, whatever the role may do.
                options=f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms // 2}"
                        " -c default_transaction_read_only=on",
            )
            self._timeout_ms = timeout_ms
        elif self._timeout_ms is None or abs(self._timeout_ms - timeout_ms) > self._timeout_ms // 10:
            # A different scrape timeout: one extra round trip, only when it changes.
            await self._connection.execute(
                "SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false)",
                (str(timeout_ms), str(timeout_ms // 2)))
            self._timeout_ms = timeout_ms
        return self._connection  # type: ignore[no-any-return]

    @staticmethod
    async def _fetch(connection: psycopg.AsyncConnection[Any], statement: sql.Composable) -> dict[str, Any]:
        cursor = await connection.execute(statement)
        row = await cursor.fetchone()
        assert row is not None
        return row[0]  # type: ignore[no-any-return]

    def _results(self, document: dict[str, Any], duration: float, queue_error: Reason | None) -> list[ProbeResult]:
        server = ProbeResult("postgres", self.target, True, None, duration, tuple(self._server_samples(document)))
        results = [server]
        readings = document.get("queues") or {}
        for queue in self.queues:
            identity = {"queue": queue.name, "backend": queue.backend}
            if queue_error is not None:
                results.append(failed("queue", queue.name, queue_error, duration, identity))
                continue
            reading = pgboss.parse(readings.get(queue.name) or {})
            dead = pgboss.parse(readings.get(queue.dead_letter) or {}) if queue.dead_letter else None
            results.append(ProbeResult("queue", queue.name, True, None, duration,
                                       queue_samples(queue, reading, dead), identity))
        return results

    def _server_samples(self, document: dict[str, Any]) -> list[Sample]:
        target = {"target": self.target}
        states = {state: 0 for state in CONNECTION_STATES}
        states.update({str(k): int(v) for k, v in (document.get("connections") or {}).items()})
        samples = [Sample("obstack_postgres_connections", {**target, "state": s}, float(n)) for s, n in states.items()]
        samples += [
            Sample("obstack_postgres_max_connections", target, float(document["max_connections"])),
            Sample("obstack_postgres_oldest_transaction_seconds", target, float(document["oldest_transaction"])),
            Sample("obstack_postgres_lock_waits", target, float(document["lock_waits"])),
            Sample("obstack_postgres_deadlocks_total", target, float(document["deadlocks"])),
        ]
        samples += [Sample("obstack_postgres_database_size_bytes", {**target, "database": str(name)}, float(size))
                    for name, size in sorted((document.get("sizes") or {}).items())]
        if document.get("replication_lag") is not None:
            samples.append(Sample("obstack_postgres_replication_lag_seconds", target, float(document["replication_lag"])))
        return samples

    async def disconnect(self, connection: Any) -> None:
        await connection.close()

    def is_connection_lost(self, error: BaseException) -> bool:
        # No SQLSTATE: the socket failed; 08xxx/57Pxx: the server dropped or is shutting down the session.
        state = getattr(error, "sqlstate", None)
        return isinstance(error, psycopg.OperationalError) and (state is None or state[:2] == "08" or state[:3] == "57P")

    def failures(self, reason: Reason, duration: float) -> list[ProbeResult]:
        return [failed("postgres", self.target, reason, duration)] + [
            failed("queue", q.name, reason, duration, {"queue": q.name, "backend": q.backend}) for q in self.queues]
