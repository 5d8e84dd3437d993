"""Request inputs for the generated tests, spelled the way the service's request_metrics say:
the metric names, labels and status values of its instrumentation library (its preset)."""

from __future__ import annotations

from collections.abc import Mapping

from obstack.alerts import scenarios
from obstack.alerts.rule_model import Scenario
from obstack.stack.spec.model import RequestMetrics
from obstack.stack.spec.values import Duration

# The route every request input is served on (scenarios add a second one beside it).
EXAMPLE_ROUTE = "/api/bookmarks"


def request_labels(metrics: RequestMetrics, series: Mapping[str, str]) -> dict[str, str]:
    """``series`` labels (job, instance, service, team) plus the method and route the library sets."""
    labels = dict(series)
    if metrics.method_label:
        labels[metrics.method_label] = "GET"
    if metrics.route_label:
        labels[metrics.route_label] = EXAMPLE_ROUTE
    return labels


def _counter(metrics: RequestMetrics) -> scenarios.RequestCounter | None:
    if metrics.requests is None:
        return None
    return scenarios.RequestCounter(metrics.requests, metrics.status_label, metrics.status_example("ok"))


def error_ratio(metrics: RequestMetrics, series: Mapping[str, str], level: float, interval: Duration,
                per_interval: float) -> Scenario:
    """Requests on the request counter, a ``level`` share of them server errors."""
    return scenarios.error_ratio(metrics.request_counter, request_labels(metrics, series), metrics.status_label,
                                 level, interval, per_interval=per_interval,
                                 error_status=metrics.status_example("error"), ok_status=metrics.status_example("ok"),
                                 client_error=scenarios.client_error_status(metrics.error_status_regex,
                                                                              metrics.status_example("client_error")), route_label=metrics.route_label)


def latency_quantile(metrics: RequestMetrics, series: Mapping[str, str], quantile: float, level: float,
                     interval: Duration, per_interval: float) -> Scenario:
    """The histogram's ``quantile`` at about ``level`` (and the requests on the counter, where apart)."""
    return scenarios.latency_quantile(metrics.histogram, request_labels(metrics, series), metrics.buckets, quantile,
                                      level, interval, per_interval=per_interval, route_label=metrics.route_label,
                                      counter=_counter(metrics))


def slow_share(metrics: RequestMetrics, series: Mapping[str, str], threshold: float, level: float,
               interval: Duration, per_interval: float) -> Scenario:
    """A ``level`` share of requests slower than ``threshold`` (and all of them on the counter, where apart)."""
    return scenarios.slow_share(metrics.histogram, request_labels(metrics, series), metrics.buckets, threshold, level,
                                interval, per_interval=per_interval, route_label=metrics.route_label,
                                counter=_counter(metrics))
