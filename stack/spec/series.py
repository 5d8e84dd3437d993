"""The series a spec declares: each service's request histogram (and counter), process gauges, own
metrics and events-SLO counters; and the metric catalog of a spec (these beside the fixed sources
of ``foundation.series_catalog`` and the recording rules)."""

from __future__ import annotations

from obstack.foundation.series_catalog import (
    RESIDENT_MEMORY,
    SCRAPE_LABELS,
    SERVICE_TARGET_LABELS,
    CatalogEntry,
    MetricCatalog,
    RuleFiles,
    fixed_entries,
    recording_rule_entries,
)

from .model import Service, Spec


def service_entries(service: Service) -> list[CatalogEntry]:
    """The request histogram's three series (and the request counter, where the library counts
    requests apart from it) and the process gauges a service exposes."""
    metrics = service.request_metrics
    source = f"service:{service.name}"
    scrape = (*SCRAPE_LABELS, *SERVICE_TARGET_LABELS)
    series = [
        ("_bucket", (*metrics.histogram_labels, "le"), "Requests per duration bucket (cumulative)."),
        ("_count", metrics.histogram_labels, "Requests answered."),
        ("_sum", metrics.histogram_labels, "Total request duration in seconds."),
    ]
    entries = [
        CatalogEntry(f"{metrics.histogram}{suffix}", "counter", labels, help, source, scrape)
        for suffix, labels, help in series
    ]
    if metrics.requests is not None:
        entries.append(CatalogEntry(metrics.requests, "counter", metrics.request_labels, "Requests answered, by status.",
                                    source, scrape))
    # The spec may name another start-time gauge or none (null turns restart alerts off).
    start_metric = getattr(service, "process_start_metric", "process_start_time_seconds")
    if start_metric:
        entries.append(CatalogEntry(start_metric, "gauge", (), "Process start time, in unixtime.", source, scrape))
    if getattr(service, "max_memory_restart", None) is not None:
        entries.append(CatalogEntry(RESIDENT_MEMORY, "gauge", (), "Resident memory size in bytes.", source, scrape))
    entries += app_metric_entries(service)
    entries += event_slo_entries(service)
    return entries


def app_metric_entries(service: Service) -> list[CatalogEntry]:
    """The metrics the spec declares for the service itself (services[].metrics)."""
    source = f"service:{service.name}"
    scrape = (*SCRAPE_LABELS, *SERVICE_TARGET_LABELS)
    entries = []
    for metric in getattr(service, "metrics", ()):
        labels = tuple(metric.labels)
        if metric.type == "histogram":
            entries += [CatalogEntry(f"{metric.name}_bucket", "counter", (*labels, "le"), metric.help, source, scrape),
                        CatalogEntry(f"{metric.name}_count", "counter", labels, metric.help, source, scrape),
                        CatalogEntry(f"{metric.name}_sum", "counter", labels, metric.help, source, scrape)]
        else:
            entries.append(CatalogEntry(metric.name, metric.type, labels, metric.help, source, scrape))
    return entries


def event_slo_entries(service: Service) -> list[CatalogEntry]:
    """The counters the service's events SLOs select, declared by the selectors themselves: a metric
    services[].metrics declares keeps that entry (merged first), the others are counters with the
    labels their matchers name."""
    source = f"service:{service.name}"
    scrape = (*SCRAPE_LABELS, *SERVICE_TARGET_LABELS)
    entries = []
    for slo in getattr(service, "slos", ()):
        counters = slo.event_counters
        for selector in counters[1:] if counters is not None else ():
            entries.append(CatalogEntry(selector.metric, "counter", selector.labels,
                                        f"Counted by the events SLO {slo.name}.", source, scrape))
    return entries


def build_catalog(spec: Spec, rule_files: RuleFiles = ()) -> MetricCatalog:
    """The catalog for ``spec``: exporter, node-exporter, self-monitoring, services, then recording rules."""
    entries = fixed_entries()
    for service in spec.services:
        entries.extend(service_entries(service))
    entries.extend(recording_rule_entries(rule_files))
    return MetricCatalog().with_entries(entries)
