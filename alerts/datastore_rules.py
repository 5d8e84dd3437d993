"""Datastore alerts: reachability, connection saturation, persistence and replication.

The exporter labels its series ``target`` (the datastore's name); the scrape config copies
it to ``datastore`` and adds the owning ``team``, so alerts carry both without joins.
"""

from __future__ import annotations

from typing import Any

from obstack.alerts import scenarios
from obstack.alerts.annotations import go_template
from obstack.alerts.common import EXPORTER_JOB_MATCHER, RuleContext, any_of, grouped, hold_labels, matcher, number, threshold_note
from obstack.alerts.rule_model import AlertInstance, AlertRule, RuleGroup, Scenario
from obstack.alerts.service_rules import CAUSE_KEEP_FIRING_REASON, cause_keep_firing
from obstack.stack.spec.model import PostgresDatastore, RedisDatastore
from obstack.stack.spec.values import Duration

Datastore = PostgresDatastore | RedisDatastore

_UP_METRIC = {"postgres": "obstack_postgres_up", "redis": "obstack_redis_up"}
_DOWN_ALERT = {"postgres": "PostgresDown", "redis": "RedisDown"}


def exporter_labels(context: RuleContext, store: Datastore) -> dict[str, str]:
    """Labels of an exporter series about ``store`` after the scrape config's relabelling."""
    return context.exporter_series(target=store.name, datastore=store.name, team=store.team)


def down_rules(context: RuleContext) -> list[AlertRule]:
    rules = []
    for kind in ("postgres", "redis"):
        stores = [s for s in context.spec.datastores if s.kind == kind]
        holds = [s.thresholds.down_for for s in stores]
        for down_for, group in grouped(stores, lambda s: s.thresholds.down_for):
            name = _DOWN_ALERT[kind]
            metric = _UP_METRIC[kind]
            rules.append(AlertRule(
                name=name, expr=f"{metric}{{{EXPORTER_JOB_MATCHER}, {matcher('datastore', [s.name for s in group])}}} == 0",
                for_=down_for, for_reason="the plan's 'down longer than' (spec: thresholds.down_for), as for services",
                severity="critical", subject="datastore", value_format="none",
                summary=f"A {kind.capitalize()} datastore is unreachable.",
                description=go_template("The exporter cannot reach {datastore} ({target}) for " f"{down_for}; "
                                        "see obstack_probe_failure for the reason.", "none"),
                runbook_url=context.runbook(name), dashboard_url=None,
                meaning=f"The exporter's probe of the {kind} datastore fails: the server is down, refuses connections, "
                        "rejects the credentials or does not answer within the scrape deadline.",
                first_checks=("Read the reason label of obstack_probe_failure (timeout, refused, auth, dns, tls; config: the "
                              "exporter's DSN variable or file is missing, /health says which).",
                              "Is the server process up? Check its logs and disk space.",
                              "Did credentials or network policy change?"),
                family=f"{kind}-down", static_labels=hold_labels(holds, down_for),
                keep_firing_for=cause_keep_firing(context), keep_firing_reason=CAUSE_KEEP_FIRING_REASON,
                instances=tuple(
                    AlertInstance(exporter_labels(context, s), scenarios.DOWN, False,
                                  lambda level, s=s, metric=metric: scenarios.down(metric, exporter_labels(context, s), level), 0, 1)
                    for s in group
                ),
            ))
    return rules


POOL_STATE_SHARES = (("idle", 0.5), ("active", 0.3), ("idle in transaction", 0.2))


def _by_state(used: int) -> list[tuple[str, int]]:
    """``used`` connections split over the pool's states by POOL_STATE_SHARES (whole connections)."""
    counts = [(state, round(used * share)) for state, share in POOL_STATE_SHARES[:-1]]
    return [*counts, (POOL_STATE_SHARES[-1][0], used - sum(count for _, count in counts))]


def _pool_scenario(context: RuleContext, store: Datastore, level: float) -> Scenario:
    labels = exporter_labels(context, store)
    maximum = 1000
    used = round(level * maximum)
    if store.kind == "postgres":
        series = (
            # Spread over states as a real pool is (most idle): a rule reading one state, or the
            # largest, reads another value than the sum.
            tuple(s for state, count in _by_state(used)
                  for s in scenarios.constant("obstack_postgres_connections", {**labels, "state": state}, count).series)
            + scenarios.constant("obstack_postgres_max_connections", labels, maximum).series
        )
    else:
        series = (
            scenarios.constant("obstack_redis_connected_clients", labels, used).series
            + scenarios.constant("obstack_redis_max_clients", labels, maximum).series
        )
    return Scenario(series, used / maximum, Duration(0))


def connection_rules(context: RuleContext) -> list[AlertRule]:
    return [rule for severity in ("critical", "warning") for rule in _connection_rules(context, severity)]


def _connection_rules(context: RuleContext, severity: str) -> list[AlertRule]:
    def level(store: Datastore) -> Any:
        return getattr(store.thresholds.connections, severity)

    stores = [s for s in context.spec.datastores if level(s) is not None]
    if not stores:
        return []
    groups = grouped(stores, level)
    terms = []
    for threshold, group in groups:
        for kind, used, maximum in [("postgres", "sum without (state) (obstack_postgres_connections{%s})",
                                     "obstack_postgres_max_connections{%s}"),
                                    ("redis", "obstack_redis_connected_clients{%s}", "obstack_redis_max_clients{%s}")]:
            names = [s.name for s in group if s.kind == kind]
            if names:
                selector = f"{EXPORTER_JOB_MATCHER}, {matcher('datastore', names)}"
                terms.append(f"{used % selector}\n/ {maximum % selector} > {number(threshold.value)}")
    return [AlertRule(
        name="ConnectionPoolExhaustion", expr=any_of(terms),
        for_=context.timing.connection_saturation_hold.duration,
        for_reason=context.timing.connection_saturation_hold.reason, severity=severity, subject="datastore",  # type: ignore[arg-type]
        summary="A datastore is running out of connections.",
        description=go_template("{datastore} uses {value} of its maximum connections"
                                + threshold_note([t for t, _ in groups]) + ".", "percentage"),
        runbook_url=context.runbook("ConnectionPoolExhaustion"), dashboard_url=None, value_format="percentage",
        meaning="Connections in use exceed the threshold share of the server's maximum (Postgres max_connections "
                "minus reserved, Redis maxclients); new connections will soon be refused.",
        first_checks=("Which clients hold the connections? (pg_stat_activity / CLIENT LIST)",
                      "Are connections leaking or idle in transaction?",
                      "Is a pool sized above the server's limit, or did the number of instances grow?"),
        family="connections",
        instances=tuple(
            AlertInstance(exporter_labels(context, s), float(level(s).value), True,
                          lambda level, s=s: _pool_scenario(context, s, level),
                          (float(level(s).value) + 1) / 2,
                          float(level(s).value) * 0.9)
            for s in stores
        ),
    )]


def persistence_rules(context: RuleContext) -> list[AlertRule]:
    stores = [s for s in context.spec.datastores if s.kind == "redis"]
    if not stores:
        return []
    return [AlertRule(
        name="RedisPersistenceFailing",
        expr=f"obstack_redis_last_save_success{{{EXPORTER_JOB_MATCHER}, {matcher('datastore', [s.name for s in stores])}}} == 0",
        for_=context.timing.persistence_hold.duration, for_reason=context.timing.persistence_hold.reason,
        severity="critical", subject="datastore",
        summary="Redis cannot persist its data to disk.",
        description=go_template("{datastore}: the last RDB save or AOF write failed; a restart now would lose data.",
                                "none"),
        runbook_url=context.runbook("RedisPersistenceFailing"), dashboard_url=None, value_format="none",
        meaning="Redis reports a failed background save or AOF write: the plan's zero-data-loss goal is at risk "
                "(queued jobs live in Redis).",
        first_checks=("Is the disk full or read-only? (INFO persistence: rdb_last_bgsave_status, aof_last_write_status)",
                      "Can Redis fork (memory overcommit, maxmemory)?"),
        family="redis-persistence",
        instances=tuple(
            AlertInstance(exporter_labels(context, s), scenarios.DOWN, False,
                          lambda level, s=s: scenarios.down("obstack_redis_last_save_success", exporter_labels(context, s), level),
                          0, 1)
            for s in stores
        ),
    )]


def replication_rules(context: RuleContext) -> list[AlertRule]:
    replicas = [s for s in context.spec.datastores if s.kind == "postgres" and s.role == "replica"]
    rules = []
    for name, severity in [("PostgresReplicationLagHigh", "critical"), ("PostgresReplicationLagging", "warning")]:
        entries = [s for s in replicas if getattr(s.thresholds.replication_lag, severity) is not None]
        if not entries:
            continue
        groups = grouped(entries, lambda s: getattr(s.thresholds.replication_lag, severity))
        terms = [f"obstack_postgres_replication_lag_seconds{{{EXPORTER_JOB_MATCHER}, "
                 f"{matcher('datastore', [s.name for s in group])}}} > {number(threshold.seconds)}"
                 for threshold, group in groups]

        def instance(store: PostgresDatastore, severity: str = severity) -> AlertInstance:
            limit = getattr(store.thresholds.replication_lag, severity).seconds
            return AlertInstance(
                exporter_labels(context, store), limit, True,
                lambda level: scenarios.constant("obstack_postgres_replication_lag_seconds",
                                                 exporter_labels(context, store), level),
                limit * 2, limit * 0.9)

        rules.append(AlertRule(
            name=name, expr=any_of(terms), for_=context.timing.replication_lag_hold.duration,
            for_reason=context.timing.replication_lag_hold.reason, severity=severity,  # type: ignore[arg-type]
            subject="datastore", summary="A Postgres replica is behind its primary.",
            description=go_template("{datastore} replays {value} behind its primary"
                                    + threshold_note([t for t, _ in groups]) + ".", "duration"),
            runbook_url=context.runbook(name), dashboard_url=None, value_format="duration",
            meaning="The replica's replay lag exceeds its threshold: reads are stale and a failover would lose "
                    "the unreplayed writes.",
            first_checks=("Is the replica's disk or CPU saturated, or a long query blocking replay?",
                          "Is WAL shipping interrupted (network, replication slot)?"),
            family="replication-lag",
            instances=tuple(instance(s) for s in entries),
        ))
    return rules


def datastore_rule_groups(context: RuleContext) -> list[RuleGroup]:
    rules = (*down_rules(context), *connection_rules(context), *persistence_rules(context), *replication_rules(context))
    return [RuleGroup("datastore-alerts", tuple(rules))] if rules else []
