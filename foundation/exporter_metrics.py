"""The obstack exporter's metrics as data: names, types, labels and help text.

The names are a product interface (alerts, dashboards and users' own queries select on
them), so the probes, the rule lint and the docs all read this one table. The exporter
holds no Prometheus client state: on each scrape it writes the text exposition of that scrape's
samples over these entries itself (exporters/exposition.py). It lives in the foundation so
the series catalog reads it without importing the exporter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

# The families the text exposition can write (exporters/exposition.py); the probes emit gauges and counters.
MetricType = Literal["gauge", "counter", "histogram", "info"]

# Prometheus' obstack-exporter scrape job adds these to exporter series by relabelling
# (prometheus.yml: the owning team, the datastore of postgres/redis/queue series, the
# service of http series), so rules may select and group on them; the exporter itself
# knows only its targets.
EXPORTER_RELABEL_LABELS: tuple[str, ...] = ("team", "datastore", "service")


@dataclass(frozen=True)
class MetricInfo:
    """One metric family the exporter emits."""

    name: str
    type: MetricType
    labels: tuple[str, ...]
    help: str


_TARGET = ("target",)
_QUEUE = ("queue", "backend")
ADDED_JOBS = "obstack_queue_added_jobs_total"
COMPLETED_JOBS = "obstack_queue_completed_jobs_total"
FAILED_JOBS = "obstack_queue_failed_jobs_total"


def _gauge(name: str, labels: tuple[str, ...], help: str) -> MetricInfo:
    return MetricInfo(name, "gauge", labels, help)


def _counter(name: str, labels: tuple[str, ...], help: str) -> MetricInfo:
    return MetricInfo(name, "counter", labels, help)


PROBE_METRICS: tuple[MetricInfo, ...] = (
    _gauge("obstack_postgres_up", _TARGET, "1 when the last Postgres probe succeeded, else 0."),
    _gauge("obstack_redis_up", _TARGET, "1 when the last Redis probe succeeded, else 0."),
    _gauge("obstack_queue_up", _QUEUE, "1 when the queue's backend could be read, else 0."),
    _gauge("obstack_http_up", _TARGET, "1 when the health URL answered with a 2xx status, else 0."),
    _gauge("obstack_probe_duration_seconds", ("kind", "target"), "How long the last probe took."),
    _gauge("obstack_probe_failure", ("kind", "target", "reason"), "1 for the bounded reason the last probe failed."),
)

POSTGRES_METRICS: tuple[MetricInfo, ...] = (
    _gauge("obstack_postgres_connections", ("target", "state"), "Backends by state (pg_stat_activity)."),
    _gauge("obstack_postgres_max_connections", _TARGET, "Connections available to ordinary roles: max_connections minus reserved slots."),
    _gauge("obstack_postgres_oldest_transaction_seconds", _TARGET, "Age of the oldest open transaction."),
    _gauge("obstack_postgres_lock_waits", _TARGET, "Backends waiting for a lock."),
    _counter("obstack_postgres_deadlocks_total", _TARGET, "Deadlocks detected since the statistics reset."),
    _gauge("obstack_postgres_database_size_bytes", ("target", "database"), "Size of each database."),
    _gauge("obstack_postgres_replication_lag_seconds", _TARGET, "Replay lag of a replica behind its primary."),
)

REDIS_METRICS: tuple[MetricInfo, ...] = (
    _gauge("obstack_redis_memory_used_bytes", _TARGET, "used_memory from INFO memory."),
    _gauge("obstack_redis_memory_max_bytes", _TARGET, "maxmemory (0 when unlimited)."),
    _gauge("obstack_redis_connected_clients", _TARGET, "Connected clients."),
    _gauge("obstack_redis_max_clients", _TARGET, "The server's maxclients setting."),
    _gauge("obstack_redis_blocked_clients", _TARGET, "Clients blocked on a blocking call."),
    _counter("obstack_redis_rejected_connections_total", _TARGET, "Connections refused because of maxclients."),
    _counter("obstack_redis_evicted_keys_total", _TARGET, "Keys evicted because of maxmemory."),
    _counter("obstack_redis_keyspace_hits_total", _TARGET, "Successful key lookups."),
    _counter("obstack_redis_keyspace_misses_total", _TARGET, "Failed key lookups."),
    _gauge("obstack_redis_last_save_success", _TARGET, "1 when the last RDB save succeeded, else 0."),
)

QUEUE_METRICS: tuple[MetricInfo, ...] = (
    _gauge("obstack_queue_jobs", ("queue", "backend", "state"), "Jobs by backend state."),
    _gauge("obstack_queue_backlog_jobs", _QUEUE, "Jobs ready to run and not started (every waiting state)."),
    _gauge("obstack_queue_oldest_job_age_seconds", _QUEUE, "Age of the oldest job still waiting."),
    _gauge("obstack_queue_dead_letter_jobs", _QUEUE, "Jobs in the queue's dead-letter queue."),
    _gauge("obstack_queue_paused", _QUEUE, "1 when the queue is paused, else 0."),
    _gauge("obstack_queue_workers", _QUEUE, "Workers connected to the queue."),
    _counter(ADDED_JOBS, _QUEUE,
             "Jobs added to the queue, from the broker's own counter (BullMQ: its job id counter)."),
    _counter(COMPLETED_JOBS, _QUEUE,
             "Jobs completed, from the broker's own counter (BullMQ: workers with the metrics option)."),
    _counter(FAILED_JOBS, _QUEUE,
             "Jobs failed for good (no retry left), from the broker's own counter (BullMQ: workers with the "
             "metrics option)."),
)

# The job counters each queue backend's broker keeps by itself (docs/exporters.md, "Queues: job
# counters"). BullMQ's job id counter is always there; its completed and failed counts exist
# once a Worker with the `metrics` option has finished a job. RQ, Celery and pg-boss keep none.
QUEUE_JOB_COUNTERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bullmq": (ADDED_JOBS, COMPLETED_JOBS, FAILED_JOBS),
})

HTTP_METRICS: tuple[MetricInfo, ...] = (
    _gauge("obstack_http_probe_status_code", _TARGET, "HTTP status of the last health request (0 when none)."),
    _gauge("obstack_http_probe_duration_seconds", _TARGET, "How long the last health request took."),
)

EXPORTER_METRICS: tuple[MetricInfo, ...] = (
    *PROBE_METRICS,
    *POSTGRES_METRICS,
    *REDIS_METRICS,
    *QUEUE_METRICS,
    *HTTP_METRICS,
)

EXPORTER_METRICS_BY_NAME: dict[str, MetricInfo] = {metric.name: metric for metric in EXPORTER_METRICS}
