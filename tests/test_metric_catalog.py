"""The metric catalog: exporter, node-exporter, self-monitoring, service and recording-rule metrics in one place."""

from __future__ import annotations

from typing import Any

import pytest

from obstack.foundation.exporter_metrics import EXPORTER_METRICS, EXPORTER_METRICS_BY_NAME, EXPORTER_RELABEL_LABELS
from obstack.foundation.series_catalog import CatalogEntry, MetricCatalog
from obstack.stack.spec.loader import load_spec, load_spec_text
from obstack.stack.spec.model import Spec
from obstack.stack.spec.series import build_catalog

# The exporter's metric names are a product interface: renaming one breaks users' queries.
EXPORTER_NAMES = {
    "obstack_postgres_up", "obstack_redis_up", "obstack_queue_up", "obstack_http_up",
    "obstack_probe_duration_seconds", "obstack_probe_failure",
    "obstack_postgres_connections", "obstack_postgres_max_connections",
    "obstack_postgres_oldest_transaction_seconds", "obstack_postgres_lock_waits",
    "obstack_postgres_deadlocks_total", "obstack_postgres_database_size_bytes",
    "obstack_postgres_replication_lag_seconds",
    "obstack_redis_memory_used_bytes", "obstack_redis_memory_max_bytes", "obstack_redis_connected_clients",
    "obstack_redis_max_clients", "obstack_redis_blocked_clients", "obstack_redis_rejected_connections_total",
    "obstack_redis_evicted_keys_total", "obstack_redis_keyspace_hits_total", "obstack_redis_keyspace_misses_total",
    "obstack_redis_last_save_success",
    "obstack_queue_jobs", "obstack_queue_backlog_jobs", "obstack_queue_oldest_job_age_seconds",
    "obstack_queue_dead_letter_jobs", "obstack_queue_paused", "obstack_queue_workers",
    "obstack_queue_added_jobs_total", "obstack_queue_completed_jobs_total", "obstack_queue_failed_jobs_total",
    "obstack_http_probe_status_code", "obstack_http_probe_duration_seconds",
}

NODE_EXPORTER_NAMES = {
    "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes", "node_filesystem_readonly", "node_filesystem_device_error", "node_boot_time_seconds",
}

TWO_SERVICES = """
project: shop
services:
  - name: api
    targets: [api:8080]
    request_metrics:
      histogram: api_request_seconds
      method_label: verb
  - name: web
    targets: [web:8080]
  - name: admin
    targets: [admin:8080]
    request_metrics:
      status_label: code
"""


def spec_of(text: str) -> Spec:
    return load_spec_text(text, "t.yaml").spec


@pytest.fixture(scope="module")
def default_catalog() -> MetricCatalog:
    return build_catalog(load_spec().spec)


# --------------------------------------------------------------------------- exporter


def test_exporter_declares_exactly_the_product_metric_names() -> None:
    assert {m.name for m in EXPORTER_METRICS} == EXPORTER_NAMES
    assert len(EXPORTER_METRICS) == len(EXPORTER_NAMES)  # no name declared twice


def test_exporter_counters_are_exactly_the_total_metrics() -> None:
    counters = {m.name for m in EXPORTER_METRICS if m.type == "counter"}
    assert counters == {name for name in EXPORTER_NAMES if name.endswith("_total")}
    assert all(m.type in ("gauge", "counter") for m in EXPORTER_METRICS)


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("obstack_postgres_up", ("target",)),
        ("obstack_queue_up", ("queue", "backend")),
        ("obstack_probe_duration_seconds", ("kind", "target")),
        ("obstack_probe_failure", ("kind", "target", "reason")),
        ("obstack_postgres_connections", ("target", "state")),
        ("obstack_postgres_database_size_bytes", ("target", "database")),
        ("obstack_queue_jobs", ("queue", "backend", "state")),
        ("obstack_queue_workers", ("queue", "backend")),
        ("obstack_http_probe_duration_seconds", ("target",)),
    ],
)
def test_exporter_metric_labels(name: str, labels: tuple[str, ...]) -> None:
    assert EXPORTER_METRICS_BY_NAME[name].labels == labels


def test_every_exporter_metric_has_help_text() -> None:
    assert all(m.help.strip() for m in EXPORTER_METRICS)


# --------------------------------------------------------------------------- the default catalog


def test_default_catalog_has_the_request_histogram_as_counters(default_catalog: MetricCatalog) -> None:
    for suffix in ("_bucket", "_count", "_sum"):
        entry = default_catalog.lookup(f"http_request_duration_seconds{suffix}")
        assert entry is not None
        assert entry.type == "counter"
        assert entry.source == "service:bookmark-api"
        assert default_catalog.is_counter(entry.name)
    assert default_catalog.entries["http_request_duration_seconds_bucket"].labels == ("method", "route", "status_code", "le")
    assert default_catalog.entries["http_request_duration_seconds_count"].labels == ("method", "route", "status_code")
    assert "http_request_duration_seconds" not in default_catalog  # the family name is no series


def test_default_catalog_has_every_exporter_metric(default_catalog: MetricCatalog) -> None:
    for name in EXPORTER_NAMES:
        entry = default_catalog.lookup(name)
        assert entry is not None and entry.source == "exporter"
        assert entry.labels == EXPORTER_METRICS_BY_NAME[name].labels
        # Prometheus' target labels and the obstack-exporter job's relabelling
        assert set(entry.scrape_labels) == {"job", "instance", *EXPORTER_RELABEL_LABELS}
        assert {"team", "datastore", "service"} <= set(entry.all_labels)


def test_default_catalog_has_node_exporter_gauges(default_catalog: MetricCatalog) -> None:
    for name in NODE_EXPORTER_NAMES:
        entry = default_catalog.lookup(name)
        assert entry is not None and entry.type == "gauge" and entry.source == "node-exporter"
        assert not default_catalog.is_counter(name)
    assert default_catalog.entries["node_filesystem_avail_bytes"].labels == ("device", "fstype", "mountpoint")
    assert default_catalog.entries["node_memory_MemTotal_bytes"].labels == ()


def test_default_catalog_has_self_monitoring_metrics(default_catalog: MetricCatalog) -> None:
    assert default_catalog.entries["up"].labels == ("job", "instance")
    assert default_catalog.is_counter("prometheus_rule_evaluation_failures_total")
    assert default_catalog.is_counter("alertmanager_notifications_failed_total")
    assert default_catalog.entries["alertmanager_notifications_total"].source == "alertmanager"
    assert not default_catalog.is_counter("prometheus_config_last_reload_successful")
    assert "alertmanager_config_last_reload_successful" in default_catalog
    assert default_catalog.entries["ALERTS"].source == "synthetic"
    assert default_catalog.entries["ALERTS_FOR_STATE"].source == "synthetic"


def test_every_service_exposes_its_process_start_time(default_catalog: MetricCatalog) -> None:
    entry = default_catalog.lookup("process_start_time_seconds")
    assert entry is not None and entry.type == "gauge" and entry.source == "service:bookmark-api"


def test_catalog_contains_nothing_unexpected(default_catalog: MetricCatalog) -> None:
    sources = {entry.source for entry in default_catalog.entries.values()}
    assert sources == {"exporter", "node-exporter", "prometheus", "alertmanager", "synthetic", "service:bookmark-api"}


# --------------------------------------------------------------------------- the spec drives the catalog


def test_a_renamed_histogram_changes_the_catalog() -> None:
    catalog = build_catalog(spec_of(TWO_SERVICES))
    assert catalog.entries["api_request_seconds_bucket"].labels == ("verb", "route", "status_code", "le")
    assert catalog.entries["api_request_seconds_count"].source == "service:api"
    assert catalog.is_counter("api_request_seconds_sum")
    # web and admin keep prom-client's default name; api no longer contributes to it
    assert catalog.entries["http_request_duration_seconds_count"].source == "service:web"


def test_services_sharing_a_histogram_share_one_entry_with_united_labels() -> None:
    catalog = build_catalog(spec_of(TWO_SERVICES))
    labels = catalog.entries["http_request_duration_seconds_count"].labels
    assert labels == ("method", "route", "status_code", "code")


def test_only_spec_services_are_in_the_catalog() -> None:
    catalog = build_catalog(spec_of("project: bare\n"))
    assert "http_request_duration_seconds_count" not in catalog
    assert "process_start_time_seconds" not in catalog
    assert "obstack_postgres_up" in catalog  # the exporter's metrics do not depend on the spec


# --------------------------------------------------------------------------- recording rules

RULE_FILE = {
    "groups": [
        {
            "name": "slo",
            "rules": [
                {"record": "slo:sli_error:ratio_rate5m", "expr": "sum(rate(x_total[5m]))", "labels": {"slo": "errors"}},
                {"alert": "SomethingBroke", "expr": "up == 0"},
                {"record": "job:requests_total:sum", "expr": "sum by (job) (x_total)"},
            ],
        }
    ]
}


def test_recording_rules_in_a_passed_rule_file_are_in_the_catalog() -> None:
    catalog = build_catalog(load_spec().spec, {"prometheus/rules/slo.yml": RULE_FILE})
    entry = catalog.lookup("slo:sli_error:ratio_rate5m")
    assert entry is not None
    assert (entry.type, entry.source, entry.labels) == ("recording", "recording-rule:prometheus/rules/slo.yml", ("slo",))
    assert "SomethingBroke" not in catalog  # alerts record nothing (their ALERTS series is catalogued)


def test_rule_files_may_be_a_plain_list() -> None:
    catalog = build_catalog(load_spec().spec, [RULE_FILE])
    assert catalog.entries["slo:sli_error:ratio_rate5m"].source == "recording-rule:rule_files[0]"


def test_a_recording_rule_is_never_a_counter_even_named_like_one() -> None:
    # rate(sum(counter)) is wrong across counter resets: recorded series are no counters
    catalog = build_catalog(load_spec().spec, [RULE_FILE])
    assert not catalog.is_counter("slo:sli_error:ratio_rate5m")
    assert catalog.lookup("job:requests_total:sum") is not None
    assert not catalog.is_counter("job:requests_total:sum")


def test_malformed_rule_files_are_skipped_not_fatal() -> None:
    broken: list[Any] = [{"groups": "nope"}, {"groups": [{"rules": [{"record": 5}, "x", {"expr": "1"}]}]}, {}]
    assert len(build_catalog(load_spec().spec, broken)) == len(build_catalog(load_spec().spec))


# --------------------------------------------------------------------------- the catalog type


@pytest.mark.parametrize(
    ("name", "counter"),
    [("my_requests_total", True), ("my_duration_count", True), ("my_duration_sum", True), ("my_duration_bucket", True),
     ("my_temperature_celsius", False), ("my_total_bytes", False)],
)
def test_unknown_names_are_judged_by_their_suffix(name: str, counter: bool) -> None:
    assert MetricCatalog().is_counter(name) is counter


def test_a_known_gauge_with_a_counter_suffix_is_not_a_counter() -> None:
    catalog = MetricCatalog().with_entries([CatalogEntry("odd_total", "gauge", (), "", "synthetic")])
    assert not catalog.is_counter("odd_total")


def test_catalog_is_read_only(default_catalog: MetricCatalog) -> None:
    with pytest.raises(TypeError):
        default_catalog.entries["new"] = default_catalog.lookup("up")  # type: ignore[index]
    extended = default_catalog.with_entries([CatalogEntry("new", "gauge", (), "", "synthetic")])
    assert "new" in extended and "new" not in default_catalog
