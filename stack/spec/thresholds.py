"""Alert thresholds. Every default is the plan's number; the reason for each sits beside it.

A threshold with two levels says which side is worse: for most the alert fires *above*
the level; for free disk space it fires *below*. A warning must be less severe than its
critical level, and ``warning: null`` switches the warning alert off.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from .base import StrictModel
from .values import Duration, Ratio


class Levels(StrictModel):
    """A critical and an optional warning level for one measure (subclasses declare both)."""

    fires_above: ClassVar[bool] = True
    critical: Any
    warning: Any

    @model_validator(mode="after")
    def _warning_is_less_severe(self) -> Levels:
        critical, warning = self.critical, self.warning
        if critical is None and warning is None:
            raise ValueError("set at least one of 'critical' and 'warning'")
        if critical is not None and warning is not None:
            if self.fires_above and not warning < critical:
                raise ValueError(f"warning ({warning}) must be below critical ({critical})")
            if not self.fires_above and not warning > critical:
                raise ValueError(f"warning ({self.warning}) must be above critical ({self.critical}): it fires below")
        return self


class ErrorRateLevels(Levels):
    """Share of requests answered with a 5xx status over 5m."""

    critical: Ratio | None = Field(Ratio.of("5%"), description="HighErrorRate fires above this share (plan: 5%).")
    warning: Ratio | None = Field(Ratio.of("1%"), description="ErrorRateIncreased fires above this share (plan: 1%).")


class LatencyLevels(Levels):
    """95th percentile request latency over 5m, from the request histogram."""

    critical: Duration | None = Field(Duration.parse("2s"), description="HighLatency fires above this p95 (plan: 2 s).")
    warning: Duration | None = Field(
        Duration.parse("500ms"), description="LatencyDegraded fires above this p95 (plan: 500 ms)."
    )


class BacklogLevels(Levels):
    """Jobs ready to run and not started (every waiting state of the backend)."""

    critical: NonNegativeInt | None = Field(1000, description="QueueBacklogHigh fires above this many jobs (plan: 1000).")
    warning: NonNegativeInt | None = Field(500, description="QueueDepthHigh fires above this many jobs (plan: 500).")


class RestartLevels(Levels):
    """Process restarts of a service within 30m (a crash loop or flapping deploys)."""

    critical: NonNegativeInt | None = Field(None, description="Optional critical level.")
    warning: NonNegativeInt | None = Field(3, description="ServiceFlapping fires above this many restarts in 30m.")


class OldestJobLevels(Levels):
    """Age of the oldest job still waiting: the latency users feel when workers fall behind or stall."""

    critical: Duration | None = Field(None, description="Optional critical level.")
    warning: Duration | None = Field(
        Duration.parse("10m"), description="QueueOldestJobTooOld fires above this wait (a stalled or starved queue)."
    )


class FailedJobLevels(Levels):
    """Jobs newly failed within 15m."""

    critical: NonNegativeInt | None = Field(None, description="Optional critical level.")
    warning: NonNegativeInt | None = Field(10, description="QueueFailedJobsGrowing fires above this many new failures in 15m.")


class DeadLetterLevels(Levels):
    """Jobs newly added to the dead-letter queue within 15m (data that will not be processed without a human)."""

    critical: NonNegativeInt | None = Field(None, description="Optional critical level.")
    warning: NonNegativeInt | None = Field(
        0, description="QueueDeadLetterGrowing fires above this many new dead letters in 15m (0: any)."
    )


class ReplicationLagLevels(Levels):
    """Replay lag of a Postgres replica behind its primary."""

    critical: Duration | None = Field(Duration.parse("5m"), description="PostgresReplicationLag (critical) fires above this lag.")
    warning: Duration | None = Field(
        Duration.parse("30s"), description="PostgresReplicationLag (warning) fires above this lag."
    )


class MemoryLevels(Levels):
    """Host memory in use (MemTotal - MemAvailable) / MemTotal."""

    critical: Ratio | None = Field(Ratio.of("80%"), description="HighMemoryUsage fires above this share (plan: 80%).")
    warning: Ratio | None = Field(None, description="Optional earlier warning; the plan sets none.")


class DiskFreeLevels(Levels):
    """Free space on real, writable filesystems; fires *below* the level."""

    fires_above: ClassVar[bool] = False
    critical: Ratio | None = Field(Ratio.of("10%"), description="DiskSpaceLow fires below this free share (plan: 10%).")
    warning: Ratio | None = Field(None, description="Optional earlier warning; the plan sets none.")


class ConnectionLevels(Levels):
    """Connections in use against the server's maximum (max_connections / maxclients)."""

    critical: Ratio | None = Field(None, description="Optional critical level; the plan sets none.")
    warning: Ratio | None = Field(
        Ratio.of("80%"), description="ConnectionPoolExhaustion fires above this share of the maximum (plan: 80%)."
    )


class ServiceThresholds(StrictModel):
    """Alert thresholds of a service."""

    down_for: Duration = Field(
        Duration.parse("1m"),
        description="ServiceDown fires once every target of the service has been down this long (plan: 1m); "
        "shorter pages on a single failed scrape or a rolling restart.",
    )
    error_rate: ErrorRateLevels = Field(default_factory=ErrorRateLevels)
    latency_p95: LatencyLevels = Field(default_factory=LatencyLevels)
    min_request_rate: PositiveFloat = Field(
        0.1,
        description="Traffic guard in requests/s: error-rate, latency and SLO burn alerts stay quiet below it, "
        "since one failed request among a handful is not an incident (availability still covers a dead service).",
    )
    min_requests: PositiveInt = Field(
        100,
        description="Traffic guard in requests per window: an error-rate or latency alert needs this many requests "
        "in its 5m window, a burn-rate pair in each of its windows, before it can fire (2 errors among 30 requests "
        "are 6.7% but no incident). With min_request_rate, the stricter of the two applies to each window.",
    )
    restarts: RestartLevels = Field(default_factory=RestartLevels)


class DatastoreThresholds(StrictModel):
    """Alert thresholds of a datastore."""

    down_for: Duration = Field(
        Duration.parse("1m"),
        description="PostgresDown/RedisDown fire once the probe has failed this long (plan: 1m, as for services).",
    )
    connections: ConnectionLevels = Field(default_factory=ConnectionLevels)
    replication_lag: ReplicationLagLevels = Field(default_factory=ReplicationLagLevels)


class QueueThresholds(StrictModel):
    """Alert thresholds of a queue."""

    backlog: BacklogLevels = Field(default_factory=BacklogLevels)
    oldest_waiting: OldestJobLevels = Field(default_factory=OldestJobLevels)
    failed_jobs: FailedJobLevels = Field(default_factory=FailedJobLevels)
    dead_letter_jobs: DeadLetterLevels = Field(default_factory=DeadLetterLevels)
    dead_letter_unattended: Duration = Field(
        Duration.parse("1h"),
        description="QueueDeadLetterNotEmpty fires once the dead-letter queue has held jobs this long, and stays "
        "until it is drained: a dead-lettered job never runs again without a human, however old it gets.",
    )
    no_workers_for: Duration = Field(
        Duration.parse("5m"),
        description="QueueNoWorkers fires once the queue has had a backlog and no worker connected this long "
        "(BullMQ and RQ report workers; Celery and pg-boss cannot).",
    )
    paused_for: Duration = Field(
        Duration.parse("15m"),
        description="QueuePausedWithBacklog fires once the queue has been paused with jobs waiting this long "
        "(a pause for a deploy or a migration takes minutes; one left behind does not end).",
    )


class HostThresholds(StrictModel):
    """Alert thresholds of the hosts (node-exporter)."""

    memory_used: MemoryLevels = Field(default_factory=MemoryLevels)
    disk_free: DiskFreeLevels = Field(default_factory=DiskFreeLevels)
