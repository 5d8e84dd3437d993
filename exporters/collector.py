"""Turn one scrape's probe results into Prometheus metric families, fresh on every collect.

Every family comes from the catalog (name, type, labels, help), so what is emitted cannot
drift from what the rules and dashboards select on; a sample the catalog does not know is a
programming error and fails loudly in tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.exposition import generate_latest

from .catalog import EXPORTER_METRICS, EXPORTER_METRICS_BY_NAME, MetricInfo
from .results import ProbeResult, Sample

UP_METRIC = {"postgres": "obstack_postgres_up", "redis": "obstack_redis_up",
             "queue": "obstack_queue_up", "http": "obstack_http_up"}


def probe_samples(result: ProbeResult) -> list[Sample]:
    """The samples every probe has, whatever its outcome: up, duration, failure reason."""
    identity = dict(result.identity) or {"target": result.target}
    samples = [
        Sample(UP_METRIC[result.kind], identity, 1.0 if result.success else 0.0),
        Sample("obstack_probe_duration_seconds", {"kind": result.kind, "target": result.target}, result.duration),
    ]
    if not result.success and result.reason is not None:
        samples.append(Sample("obstack_probe_failure",
                              {"kind": result.kind, "target": result.target, "reason": result.reason}, 1.0))
    return samples


def _family(info: MetricInfo) -> GaugeMetricFamily | CounterMetricFamily:
    if info.type == "counter":
        return CounterMetricFamily(info.name, info.help, labels=list(info.labels))
    return GaugeMetricFamily(info.name, info.help, labels=list(info.labels))


class ResultsCollector(Collector):
    """A collector over one scrape's results; build one per request (no global state)."""

    def __init__(self, results: Sequence[ProbeResult]) -> None:
        self._results = list(results)

    def collect(self) -> Iterator[Metric]:
        families = {info.name: _family(info) for info in EXPORTER_METRICS}
        for sample in self._samples():
            info = EXPORTER_METRICS_BY_NAME.get(sample.name)
            if info is None:
                raise KeyError(f"{sample.name} is not in exporters.catalog")
            if set(sample.labels) != set(info.labels):
                raise KeyError(f"{sample.name} has labels {sorted(sample.labels)}, catalog says {list(info.labels)}")
            families[sample.name].add_metric([sample.labels[label] for label in info.labels], sample.value)
        yield from families.values()

    def _samples(self) -> Iterable[Sample]:
        for result in self._results:
            yield from probe_samples(result)
            yield from result.samples


def render_metrics(results: Sequence[ProbeResult]) -> bytes:
    """The Prometheus text exposition of ``results``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ResultsCollector(results))
    return generate_latest(registry)
