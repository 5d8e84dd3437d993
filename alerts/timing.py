"""Every fixed hold (``for:``), range window, group interval and time threshold the generated rules
use, each with the reason it is what it is (as the Kubernetes mixin's config reads), and the
burn-rate window pairs of ``burn_rate_windows.yaml``.

Holds the spec gives (a service's ``down_for``, a queue's ``no_workers_for``...) stay in the spec.
Rule builders read this table through ``RuleContext.timing``; a time scale (``obstack local
--fast``) divides the table (``Timing.scaled``), so the rules are generated on the faster clock
instead of being rewritten after.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Literal

import yaml

from obstack.stack.spec.values import Duration

Kind = Literal["hold", "window", "interval", "threshold"]

# Below these a scaled value stops meaning what it did. A hold of one evaluation still means "seen
# twice" (pending, then firing); rate()/delta() need two samples in a window, and 4 scrapes at 1s
# leave room for jitter; Prometheus is comfortable at one evaluation a second.
FLOORS: dict[Kind, Duration] = {
    "hold": Duration.parse("1s"), "window": Duration.parse("4s"),
    "interval": Duration.parse("1s"), "threshold": Duration.parse("1s"),
}


def scale(duration: Duration, factor: int, floor: Duration = FLOORS["interval"]) -> Duration:
    """``duration / factor``, never below ``floor`` (and never above the original)."""
    scaled = max(duration.milliseconds // factor, floor.milliseconds)
    return Duration(min(scaled, duration.milliseconds) if duration.milliseconds else 0)


@dataclass(frozen=True)
class Timed:
    """One entry of the table: a duration, what kind of time it is, and why it is this long."""

    duration: Duration
    kind: Kind
    reason: str

    def scaled(self, factor: int) -> Timed:
        return dataclasses.replace(self, duration=scale(self.duration, factor, FLOORS[self.kind]))


def hold(value: str, reason: str) -> Timed:
    return Timed(Duration.parse(value), "hold", reason)


def window(value: str, reason: str) -> Timed:
    return Timed(Duration.parse(value), "window", reason)


@dataclass(frozen=True)
class BurnWindow:
    """One multi-window, multi-burn-rate pair of ``burn_rate_windows.yaml``."""

    severity: str
    long: Duration
    short: Duration
    budget_consumed: Decimal
    for_: Duration

    def __hash__(self) -> int:  # a key of the SLO rules' caches, hashed for every window of every service
        return hash((self.severity, self.long.milliseconds, self.short.milliseconds, self.for_.milliseconds))

    def burn_rate(self, slo_window: Duration) -> Decimal:
        return self.budget_consumed * Decimal(slo_window.milliseconds) / Decimal(self.long.milliseconds)

    def scaled(self, factor: int) -> BurnWindow:
        return dataclasses.replace(self, long=scale(self.long, factor, FLOORS["window"]),
                                   short=scale(self.short, factor, FLOORS["window"]),
                                   for_=scale(self.for_, factor, FLOORS["hold"]))


@functools.cache
def burn_windows() -> tuple[BurnWindow, ...]:
    """The window pairs of alerts/burn_rate_windows.yaml (package data: read and parsed once)."""
    text = resources.files("obstack.alerts").joinpath("burn_rate_windows.yaml").read_text(encoding="utf-8")
    return tuple(
        BurnWindow(w["severity"], Duration.parse(w["long"]), Duration.parse(w["short"]),
                   Decimal(str(w["budget_consumed"])), Duration.parse(w["for"]))
        for w in yaml.safe_load(text)["windows"]
    )


@dataclass(frozen=True)
class Timing:
    """The table. Field order is the order docs/alerting.md lists them in."""

    # Services (alerts/service_rules.py)
    red_window: Timed
    red_critical_hold: Timed
    red_warning_hold: Timed
    request_metrics_missing_hold: Timed
    health_check_hold: Timed
    restart_window: Timed
    flapping_hold: Timed
    shared_target_window: Timed
    shared_target_hold: Timed
    memory_restart_hold: Timed
    # SLOs (alerts/slo_rules.py); the pairs themselves are burn_windows
    slo_long_window: Timed
    slo_slow_interval: Timed
    slo_window_input: Timed
    # Datastores (alerts/datastore_rules.py)
    connection_saturation_hold: Timed
    persistence_hold: Timed
    replication_lag_hold: Timed
    # Queues (alerts/queue_rules.py)
    backlog_critical_hold: Timed
    backlog_warning_hold: Timed
    oldest_job_hold: Timed
    growth_window: Timed
    growth_hold: Timed
    queue_probe_hold: Timed
    # Host (alerts/host_rules.py)
    host_hold: Timed
    # The monitoring stack (alerts/stack_rules.py, alerts/target_rules.py)
    watchdog_hold: Timed
    stack_job_down_hold: Timed
    scrape_job_missing_hold: Timed
    stack_counter_window: Timed
    alert_sending_hold: Timed
    missed_evaluations_hold: Timed
    evaluation_failures_hold: Timed
    prometheus_reload_hold: Timed
    alertmanager_reload_hold: Timed
    notifications_failing_hold: Timed
    burn_windows: tuple[BurnWindow, ...]
    # How many times faster than production this table's clock runs (1: production).
    time_scale: int = 1

    def entries(self) -> list[tuple[str, Timed]]:
        """(name, entry) of every Timed field, in table order."""
        return [(f.name, value) for f in dataclasses.fields(self) if isinstance(value := getattr(self, f.name), Timed)]

    def scaled(self, factor: int) -> Timing:
        """The table on a clock ``factor`` times faster: every entry and burn pair divided by it
        (never below its kind's floor), so each keeps its number of evaluations and scrapes."""
        if factor == 1:
            return self
        return dataclasses.replace(self, **{name: entry.scaled(factor) for name, entry in self.entries()},
                                   burn_windows=tuple(w.scaled(factor) for w in self.burn_windows),
                                   time_scale=self.time_scale * factor)


TIMING = Timing(
    red_window=window("5m", "the error-ratio and p95 recordings' window: long enough to hold a few hundred requests "
                            "at modest traffic, short enough to see a fault within minutes"),
    red_critical_hold=hold("2m", "the 5m rate already smooths spikes; 2m more rules out one bad scrape or deploy blip"),
    red_warning_hold=hold("10m", "a warning is a ticket, not a page: only a sustained degradation is worth one"),
    request_metrics_missing_hold=hold("10m", (
        "a process that has just started has served no request yet (client libraries create a labelled series on "
        "its first observation); 10m of traffic-free uptime is rare for a service, a renamed metric is not")),
    health_check_hold=hold("2m", "a health check can time out once under load; 2m of failures is a service saying it "
                                 "is unwell"),
    restart_window=window("30m", "ServiceFlapping counts restarts over it: a crash loop restarts several times in half "
                                 "an hour, a deploy once"),
    flapping_hold=hold("5m", "restarts are counted over 30m already; 5m confirms it is not one rolling deploy"),
    shared_target_window=window("10m", "start times and request counters going back are looked for over it: several "
                                       "processes answering in turn step back many times in 10m"),
    shared_target_hold=hold("15m", "one step back (a clock stepped back) leaves the 10m window within 10m; steps back "
                                   "for longer are several processes answering in turn"),
    memory_restart_hold=hold("5m", "garbage collection lets resident memory swing for a minute or two; 5m near the "
                                   "limit is a worker growing into it"),
    slo_long_window=Timed(Duration.parse("6h"), "threshold", (
        "SLO windows at least this long are recorded in the slower group: a 6h, 1d or 3d rate moves by well under "
        "1% in a minute, and the pairs reading them hold 15m or 1h")),
    slo_slow_interval=Timed(Duration.parse("1m"), "interval", (
        "the slower SLO group's evaluation interval: the cost of a long rate grows with the samples in its window "
        "(rate(x[3d]) reads 17,280 samples per series at 15s), and a minute-old value changes nothing")),
    slo_window_input=window("5m", "the rates the SLI over the SLO's whole window is summed from, sampled once a "
                                  "minute in the slower group"),
    connection_saturation_hold=hold("5m", "connection counts swing with bursts; 5m of sustained use is a trend, not a "
                                          "spike"),
    persistence_hold=hold("5m", "one failed background save can be retried; 5m of failures means writes are not safe "
                                "on disk"),
    replication_lag_hold=hold("5m", "replay lag jumps during bulk writes and vacuums; 5m of lag is a replica falling "
                                    "behind"),
    backlog_critical_hold=hold("5m", "bulk imports enqueue in bursts that drain in minutes; 5m above the limit means "
                                     "workers cannot keep up"),
    backlog_warning_hold=hold("10m", "a deep queue is only worth a ticket once it stays deep"),
    oldest_job_hold=hold("5m", "the age already measures time; 5m more confirms no worker is picking jobs up"),
    growth_window=window("15m", "failed and dead-lettered jobs are counted over it: a retry storm or a bad batch "
                                "shows within a quarter hour"),
    growth_hold=hold("2m", "the count is over 15m already; 2m guards against a single scrape's jump and keeps it "
                           "behind a datastore outage's down alert (1m), which explains it and silences it"),
    queue_probe_hold=hold("2m", "a probe can time out once under load; 2m of failed probes means the queue cannot be "
                                "read"),
    host_hold=hold("5m", "page cache, log rotation and backups cause short peaks; 5m of pressure is real"),
    watchdog_hold=hold("0s", "it must fire on the first evaluation: every minute without it is a minute the switch "
                             "waits"),
    stack_job_down_hold=hold("1m", "the monitoring stack's own jobs (exporter, node-exporter, Alertmanager, "
                                   "Prometheus' self-scrape): one failed scrape is noise, a minute is an outage"),
    scrape_job_missing_hold=hold("5m", "a configuration reload replaces a job's targets within a scrape or two; 5m "
                                       "without any means the job is really gone"),
    stack_counter_window=window("5m", "the window over the stack's own failure counters (notifications, rule "
                                      "evaluations): one failure in it is already worth a look"),
    alert_sending_hold=hold("5m", "a single failed POST is retried; 5m of errors means alerts are lost"),
    missed_evaluations_hold=hold("5m", "one slow iteration after a restart is noise; 5m means a group does not fit "
                                       "its interval"),
    evaluation_failures_hold=hold("5m", "a transient query timeout can fail one evaluation; 5m means a rule is "
                                        "broken"),
    prometheus_reload_hold=hold("10m", "a reload is retried on the next deploy; 10m means the bad config stays"),
    alertmanager_reload_hold=hold("10m", "as for Prometheus: 10m means the bad configuration stays"),
    notifications_failing_hold=hold("5m", "one failed delivery is retried; 5m of failures means alerts are not "
                                          "arriving"),
    burn_windows=burn_windows(),
)


@functools.cache
def scaled_timing(time_scale: int) -> Timing:
    """The table on a clock ``time_scale`` times faster (1: ``TIMING`` itself)."""
    return TIMING.scaled(time_scale)
