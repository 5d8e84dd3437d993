"""pg-boss queues (Postgres), read with one SELECT that becomes part of the Postgres probe's
single statement.

Layout from pg-boss's own DDL (npm ``pg-boss`` 10, ``src/plans.js``): ``<schema>.job``
partitioned by ``name``, ``state`` enum created < retry < active < completed < cancelled <
failed, ``start_after`` (a job is fetchable when ``state < 'active' AND start_after < now()``),
``created_on``. pg-boss has no pause and no worker registry: paused is 0, workers not reported.
"""

from __future__ import annotations

from collections.abc import Mapping

from psycopg import sql

from . import QueueReading

STATES = ("waiting", "delayed", "retry", "active", "completed", "cancelled", "failed")

_QUEUE_SQL = """(SELECT json_build_object(
    'states', (SELECT coalesce(json_object_agg(s, n), '{{}}') FROM (
        SELECT CASE WHEN state = 'created' AND start_after >= now() THEN 'delayed'
                    WHEN state = 'created' THEN 'waiting'
                    ELSE state::text END AS s, count(*) AS n
        FROM {job} WHERE name = {name} GROUP BY 1) AS by_state),
    'backlog', (SELECT count(*) FROM {job}
        WHERE name = {name} AND state IN ('created', 'retry') AND start_after < now()),
    'oldest', (SELECT coalesce(extract(epoch FROM now() - min(created_on)), 0) FROM {job}
        WHERE name = {name} AND state IN ('created', 'retry') AND start_after < now())))"""


def queue_sql(schema: str, name: str) -> sql.Composed:
    """A scalar subquery giving one queue's reading as JSON."""
    job = sql.Identifier(schema, "job")
    return sql.SQL(_QUEUE_SQL).format(job=job, name=sql.Literal(name))


def parse(document: Mapping[str, object]) -> QueueReading:
    raw_states = document.get("states") or {}
    assert isinstance(raw_states, Mapping)
    states = {state: int(raw_states.get(state, 0)) for state in STATES}  # type: ignore[call-overload]
    oldest = document.get("oldest") or 0
    return QueueReading(
        states=states,
        backlog=int(document.get("backlog") or 0),  # type: ignore[call-overload]
        oldest_age=max(0.0, float(oldest)),  # type: ignore[arg-type]
        paused=False,
        workers=None,
    )
