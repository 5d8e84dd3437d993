"""The Postgres dashboard: one row per Postgres datastore of the spec, coloured at its own thresholds."""

from __future__ import annotations

import grafanalib.core as G

from obstack.dashboards.common import datastore_links
from obstack.dashboards.panels import (
    INSTANCE,
    JOB,
    RATE_INTERVAL,
    UP_MAPPINGS,
    Panel,
    alert_steps,
    dashboard,
    job_instance_variables,
    prom,
    quoted,
    refs,
    row,
    selector,
    stat,
    timeseries,
    up_steps,
)
from obstack.stack.spec import dashboard_identities as ids
from obstack.stack.spec.model import PostgresDatastore, Spec


def _panels(store: PostgresDatastore) -> list[Panel]:
    scope = (JOB, INSTANCE, f"datastore={quoted(store.name)}")
    probe = selector("obstack_probe_duration_seconds", JOB, INSTANCE, 'kind="postgres"', f"target={quoted(store.name)}")
    used = f"sum without (state) ({selector('obstack_postgres_connections', *scope)})"
    maximum = selector("obstack_postgres_max_connections", *scope)
    connections = store.thresholds.connections
    panels: list[Panel] = [
        row(f"{store.name} (team {store.team})"),
        stat("Up", f"Does the exporter's probe of {store.name} succeed? PostgresDown fires after "
             f"{store.thresholds.down_for} down.", [prom(selector("obstack_postgres_up", *scope))], "none",
             up_steps(), mappings=UP_MAPPINGS),
        stat("Connections used", "Share of max_connections in use; ConnectionPoolExhaustion fires above the threshold.",
             [prom(f"{used}\n/ {maximum}")], "percentunit", alert_steps(connections)),
        stat("Oldest transaction", "Age of the oldest open transaction (long ones block vacuum and hold locks).",
             [prom(selector("obstack_postgres_oldest_transaction_seconds", *scope))], "s"),
        stat("Lock waits", "Backends waiting for a lock right now.",
             [prom(selector("obstack_postgres_lock_waits", *scope))], "short"),
        stat("Probe latency", "How long the exporter's probe round trip took.", [prom(probe)], "s"),
        stat("Max connections", "The server's max_connections (minus reserved): the ceiling of the pool.",
             [prom(maximum)], "short"),
        timeseries("Connections by state", "What are the backends doing, against max_connections?",
                   refs(prom(f"sum by (state) ({selector('obstack_postgres_connections', *scope)})", "{{state}}"),
                        prom(f"max({maximum})", "max_connections")), "short", w=8, minimum=0),
        timeseries("Connections used of max", "Share of max_connections in use; dashed: the "
                   "ConnectionPoolExhaustion thresholds.", [prom(f"{used}\n/ {maximum}", "used")], "percentunit",
                   alert_steps(connections), w=8, minimum=0),
        timeseries("Probe latency", "How long the probe's single round trip takes; it rises before the server "
                   "stops answering.", [prom(probe, "probe")], "s", w=8, minimum=0),
        timeseries("Oldest transaction", "Age of the oldest open transaction: a long one blocks vacuum and holds "
                   "its locks.", [prom(selector("obstack_postgres_oldest_transaction_seconds", *scope), "oldest")],
                   "s", w=8, minimum=0),
        timeseries("Lock waits", "Backends waiting for a lock: with a long transaction beside, it holds what they "
                   "wait for.", [prom(selector("obstack_postgres_lock_waits", *scope), "waiting")], "short", w=8,
                   minimum=0),
        timeseries("Deadlocks", "Deadlocks detected per second (each aborts a transaction).",
                   [prom(f"sum(rate({selector('obstack_postgres_deadlocks_total', *scope)}[{RATE_INTERVAL}]))",
                         "deadlocks")], "cps", w=8, minimum=0),
        timeseries("Database sizes", "How big is each database, and how fast is it growing?",
                   [prom(selector("obstack_postgres_database_size_bytes", *scope), "{{database}}")], "bytes", w=24),
    ]
    if store.role == "replica":
        panels.append(timeseries(
            "Replication lag", "How far does this replica replay behind its primary? Dashed: the "
            "PostgresReplicationLagging (warning) and PostgresReplicationLagHigh (critical) thresholds.",
            [prom(selector("obstack_postgres_replication_lag_seconds", *scope), "lag")], "s",
            alert_steps(store.thresholds.replication_lag), w=24, minimum=0))
    return panels


def postgres_dashboard(spec: Spec) -> G.Dashboard | None:
    stores = [s for s in spec.datastores if s.kind == "postgres"]
    if not stores:
        return None
    panels = [panel for store in stores for panel in _panels(store)]
    return dashboard(ids.postgres_dashboard(spec), "Reachability, connections, transactions, locks, sizes and "
                     "replication of every Postgres datastore, as probed by the obstack exporter.",
                     [spec.project, "datastore", "postgres"], job_instance_variables("obstack_postgres_up"),
                     panels, datastore_links(spec, [s.name for s in stores]))
