"""The metric catalog: every metric name obstack's rules and dashboards may select, and where it comes from.

One catalog connects the parts: the exporter declares what it emits (``foundation.exporter_metrics``),
the spec declares what each service exposes (``stack.spec.series``, which builds a spec's catalog),
recording rules declare what they record, and the node-exporter and Prometheus/Alertmanager metrics
obstack uses are listed here once. The rule and dashboard lints check every selector against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from obstack.foundation.exporter_metrics import EXPORTER_METRICS, EXPORTER_RELABEL_LABELS

CatalogType = Literal["gauge", "counter", "histogram", "info", "recording"]

# Prometheus attaches these to every scraped series (target labels).
SCRAPE_LABELS: tuple[str, ...] = ("job", "instance")
# Static target labels prometheus.yml puts on service and node-exporter targets.
SERVICE_TARGET_LABELS: tuple[str, ...] = ("service", "team")
NODE_TARGET_LABELS: tuple[str, ...] = ("team",)
STACK_TARGET_LABELS: tuple[str, ...] = ("team",)  # the prometheus and alertmanager jobs

# Suffixes of counter series (and of a histogram's series) by Prometheus naming convention:
# the best guess for a name the catalog does not know.
COUNTER_SUFFIXES: tuple[str, ...] = ("_total", "_count", "_sum", "_bucket")

_FILESYSTEM = ("device", "fstype", "mountpoint")
# prom-client's (and every Prometheus client's) process memory gauge, read against max_memory_restart.
RESIDENT_MEMORY = "process_resident_memory_bytes"
# Metrics that are 0 in their source's default configuration, where 0 means "no limit": a share of
# one is empty (or infinite) out of the box, which the dashboard lint does not let a panel rest on.
ZERO_BY_DEFAULT: Mapping[str, str] = MappingProxyType({
    "obstack_redis_memory_max_bytes": "Redis' maxmemory is 0 (no limit) unless configured",
})


@dataclass(frozen=True)
class CatalogEntry:
    """One metric name: its type, the labels its source promises, and the source."""

    name: str
    type: CatalogType
    labels: tuple[str, ...]  # labels the source emits (relabelling may add more; never exhaustive)
    help: str
    source: str  # exporter, node-exporter, prometheus, alertmanager, service:<name>, recording-rule:<file>, synthetic
    scrape_labels: tuple[str, ...] = ()  # labels Prometheus adds when it scrapes (job, instance, relabelled)
    zero_by_default: str | None = None  # why the value is 0 out of the box (0 meaning "no limit"), if it is

    @property
    def all_labels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.labels, *self.scrape_labels)))


@dataclass(frozen=True)
class MetricCatalog:
    """Metric name -> entry. Read-only: build a new catalog with ``with_entries``."""

    entries: Mapping[str, CatalogEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))

    def lookup(self, name: str) -> CatalogEntry | None:
        return self.entries.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def is_counter(self, name: str) -> bool:
        """A counter, as far as rate()/increase() are concerned.

        A known name is a counter only when its type says so: a recording rule never is,
        even one recording a sum of counters (rate after sum breaks on counter resets).
        An unknown name falls back to the naming convention.
        """
        entry = self.lookup(name)
        if entry is not None:
            return entry.type == "counter"
        return name.endswith(COUNTER_SUFFIXES)

    def with_entries(self, entries: Iterable[CatalogEntry]) -> MetricCatalog:
        """A new catalog with ``entries`` merged in (an existing name keeps its type and source)."""
        merged = dict(self.entries)
        for entry in entries:
            _merge_into(merged, entry)
        return MetricCatalog(merged)


def not_in_catalog(name: str) -> str:
    """What the lints say of a selected metric no source declares."""
    return f"{name} is not in the metric catalog (no exporter, service, node-exporter or recording rule declares it)"


def _merge_into(entries: dict[str, CatalogEntry], entry: CatalogEntry) -> None:
    # Two services commonly share prom-client's histogram name: one entry, labels united.
    known = entries.get(entry.name)
    if known is None:
        entries[entry.name] = entry
        return
    entries[entry.name] = replace(
        known,
        labels=tuple(dict.fromkeys((*known.labels, *entry.labels))),
        scrape_labels=tuple(dict.fromkeys((*known.scrape_labels, *entry.scrape_labels))),
    )


def exporter_entries() -> list[CatalogEntry]:
    scrape = (*SCRAPE_LABELS, *EXPORTER_RELABEL_LABELS)
    return [CatalogEntry(m.name, m.type, m.labels, m.help, "exporter", scrape, ZERO_BY_DEFAULT.get(m.name))
            for m in EXPORTER_METRICS]


def node_exporter_entries() -> list[CatalogEntry]:
    """The node-exporter metrics obstack's host alerts and dashboards use (not all it emits)."""
    scrape = (*SCRAPE_LABELS, *NODE_TARGET_LABELS)
    gauges = [
        ("node_memory_MemAvailable_bytes", (), "Memory available for new work without swapping."),
        ("node_memory_MemTotal_bytes", (), "Total usable memory."),
        ("node_filesystem_avail_bytes", _FILESYSTEM, "Filesystem space available to non-root users."),
        ("node_filesystem_size_bytes", _FILESYSTEM, "Filesystem size."),
        ("node_filesystem_readonly", _FILESYSTEM, "1 when the filesystem is mounted read-only."),
        ("node_filesystem_device_error", _FILESYSTEM, "1 when the filesystem's stats could not be read."),
        ("node_boot_time_seconds", (), "Node boot time, in unixtime."),
    ]
    return [CatalogEntry(name, "gauge", labels, help, "node-exporter", scrape) for name, labels, help in gauges]


def self_monitoring_entries() -> list[CatalogEntry]:
    """Prometheus' and Alertmanager's own metrics the meta alerts use, and the ALERTS series."""
    scrape = (*SCRAPE_LABELS, *STACK_TARGET_LABELS)
    return [
        CatalogEntry("up", "gauge", SCRAPE_LABELS, "1 when the last scrape of the target succeeded.", "prometheus"),
        CatalogEntry(
            "prometheus_rule_evaluation_failures_total", "counter", ("rule_group",),
            "Rule evaluations that failed.", "prometheus", scrape,
        ),
        CatalogEntry(
            "prometheus_rule_group_iterations_missed_total", "counter", ("rule_group",),
            "Rule group evaluations skipped because the previous one was still running.", "prometheus", scrape,
        ),
        CatalogEntry(
            "prometheus_notifications_errors_total", "counter", ("alertmanager",),
            "Errors sending alert batches to an Alertmanager.", "prometheus", scrape,
        ),
        CatalogEntry(
            "prometheus_notifications_sent_total", "counter", ("alertmanager",),
            "Alerts sent (attempted) to an Alertmanager.", "prometheus", scrape,
        ),
        CatalogEntry(
            "prometheus_config_last_reload_successful", "gauge", (),
            "1 when the last configuration reload succeeded.", "prometheus", scrape,
        ),
        CatalogEntry(
            "alertmanager_notifications_failed_total", "counter", ("integration",),
            "Notifications that failed to be delivered.", "alertmanager", scrape,
        ),
        CatalogEntry(
            "alertmanager_notifications_total", "counter", ("integration",),
            "Notifications attempted.", "alertmanager", scrape,
        ),
        CatalogEntry(
            "alertmanager_config_last_reload_successful", "gauge", (),
            "1 when the last configuration reload succeeded.", "alertmanager", scrape,
        ),
        # Written by the rule manager, not scraped: they carry the alert's own labels.
        CatalogEntry("ALERTS", "gauge", ("alertname", "alertstate"), "Pending and firing alerts.", "synthetic"),
        CatalogEntry("ALERTS_FOR_STATE", "gauge", ("alertname",), "When each pending alert became active.", "synthetic"),
    ]


RuleFiles = Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]]


def recording_rule_entries(rule_files: RuleFiles) -> list[CatalogEntry]:
    """Every ``record:`` name in the rule files; malformed parts are skipped (the rule lint reports them)."""
    named = rule_files.items() if isinstance(rule_files, Mapping) else (
        (f"rule_files[{index}]", content) for index, content in enumerate(rule_files)
    )
    entries = []
    for file, content in named:
        for group in _as_list(content.get("groups") if isinstance(content, Mapping) else None):
            for rule in _as_list(group.get("rules") if isinstance(group, Mapping) else None):
                if isinstance(rule, Mapping) and isinstance(rule.get("record"), str):
                    labels = rule.get("labels")
                    label_names = tuple(sorted(labels)) if isinstance(labels, Mapping) else ()
                    help = f"Recorded from: {rule.get('expr', '')}"
                    entries.append(CatalogEntry(rule["record"], "recording", label_names, help, f"recording-rule:{file}"))
    return entries


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def fixed_entries() -> list[CatalogEntry]:
    """What every stack has, whatever its spec: the exporter's, node-exporter's and self-monitoring metrics."""
    return [*exporter_entries(), *node_exporter_entries(), *self_monitoring_entries()]
