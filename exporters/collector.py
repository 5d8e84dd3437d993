"""Turn one scrape's probe results into the Prometheus text exposition, fresh on every request.

Every family comes from the catalog (name, type, labels, help), so what is emitted cannot
drift from what the rules and dashboards select on; a sample the catalog does not know is a
programming error and fails loudly in tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from obstack.foundation.exporter_metrics import EXPORTER_METRICS
from .exposition import render_exposition
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


def scrape_samples(results: Sequence[ProbeResult]) -> Iterator[Sample]:
    """Every sample of one scrape: each result's own samples after its up/duration/reason."""
    for result in results:
        yield from probe_samples(result)
        yield from result.samples


def render_metrics(results: Sequence[ProbeResult]) -> bytes:
    """The Prometheus text exposition of ``results``."""
    return render_exposition(scrape_samples(results), EXPORTER_METRICS)
