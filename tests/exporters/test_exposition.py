"""/metrics text: the exporter's own renderer writes what prometheus_client wrote before it
(the oracle below) for every catalog type, promtool accepts it, and the catalog still refuses
unknown samples."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.core import HistogramMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString  # go_float_text's oracle: not public API, so only a test uses it

from obstack.exporters.collector import render_metrics, scrape_samples
from obstack.exporters.exposition import go_float_text, render_exposition, series_labels
from obstack.exporters.probes.queues import QueueReading, queue_samples
from obstack.exporters.results import ProbeResult, Sample, failed
from obstack.foundation.exporter_metrics import EXPORTER_METRICS, MetricInfo
from obstack.stack.spec.model import Queue
from tests.exporters.conftest import redis_store
from tests.support.servers import require_binary

BULLMQ_STATES = ("waiting", "prioritized", "active", "delayed", "waiting-children", "completed", "failed")


def _client_name(info: MetricInfo) -> str:
    """The family's name as prometheus_client takes it: without the suffix its renderer appends."""
    return info.name.removesuffix({"counter": "_total", "info": "_info"}.get(info.type, "\0"))


class _Families(Collector):
    def __init__(self, samples: Iterable[Sample], catalog: Sequence[MetricInfo]) -> None:
        self.samples, self.catalog = list(samples), catalog

    def collect(self) -> Iterable[Metric]:
        families = {m.name: Metric(_client_name(m), m.help, m.type) for m in self.catalog}
        family_of = {series: m.name for m in self.catalog for series in series_labels(m)}
        for sample in self.samples:
            families[family_of[sample.name]].add_sample(sample.name, dict(sample.labels), sample.value)
        yield from families.values()


def prometheus_client_exposition(samples: Iterable[Sample], catalog: Sequence[MetricInfo]) -> bytes:
    """The oracle: the rendering the exporter used before (prometheus_client families and generate_latest)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(samples, catalog))
    return generate_latest(registry)


def parsed(body: bytes) -> list[tuple[str, str, str, list[tuple[str, dict[str, str], str]]]]:
    """Families as prometheus_client's parser reads them; values by repr so NaN equals NaN, -0.0 is not 0.0."""
    return [(family.name, family.type, family.documentation,
             [(s.name, s.labels, repr(s.value)) for s in family.samples])
            for family in text_string_to_metric_families(body.decode())]


def assert_renders_like_prometheus_client(samples: list[Sample], catalog: Sequence[MetricInfo]) -> None:
    ours, theirs = render_exposition(samples, catalog), prometheus_client_exposition(samples, catalog)
    assert parsed(ours) == parsed(theirs)
    assert ours == theirs  # also the same bytes: label order, -0.0, exponent forms


def realistic_results(queues: int) -> list[ProbeResult]:
    """One Redis with ``queues`` BullMQ queues (13 series each), a failed Postgres, a health URL."""
    results = [
        ProbeResult("redis", "cache", True, None, 0.0123, (
            Sample("obstack_redis_memory_used_bytes", {"target": "cache"}, 1_234_567.0),
            Sample("obstack_redis_memory_max_bytes", {"target": "cache"}, 0.0),
            Sample("obstack_redis_keyspace_hits_total", {"target": "cache"}, 3.5e9),
            Sample("obstack_redis_last_save_success", {"target": "cache"}, 1.0))),
        failed("postgres", "db", "auth", 0.5),
        ProbeResult("http", "api", True, None, 0.02, (
            Sample("obstack_http_probe_status_code", {"target": "api"}, 200.0),
            Sample("obstack_http_probe_duration_seconds", {"target": "api"}, 0.019))),
    ]
    for index in range(queues):
        queue = Queue(name=f"q{index:04d}", backend="bullmq", datastore="cache", team="t")
        reading = QueueReading({state: (index * 7 + k) % 13 for k, state in enumerate(BULLMQ_STATES)},
                               index % 5, index * 1.25, index % 10 == 0, 1)
        results.append(ProbeResult("queue", queue.name, True, None, 0.047, queue_samples(queue, reading, None),
                                   {"queue": queue.name, "backend": "bullmq"}))
    return results


# --------------------------------------------------------------------------
# Same output as prometheus_client, for any samples

label_values = st.text(st.one_of(st.sampled_from('\\"\n{}=,# \t'), st.characters(codec="utf-8")), max_size=12)
values = st.one_of(st.floats(), st.sampled_from([math.inf, -math.inf, math.nan, -0.0, 0.0, 1.0, 1e22, 1e-300,
                                                 5e-324, 1.7976931348623157e308, 123456789.0, -3.5e9]))


@st.composite
def catalog_samples(draw: st.DrawFn, catalog: Sequence[MetricInfo]) -> list[Sample]:
    samples = []
    for metric in draw(st.lists(st.sampled_from(catalog), max_size=30)):
        name, labels = draw(st.sampled_from(sorted(series_labels(metric).items())))
        samples.append(Sample(name, {label: draw(label_values) for label in labels}, draw(values)))
    return samples


SUFFIXES = {"counter": ["", "_total"], "gauge": ["", "_total"], "histogram": [""], "info": ["", "_info"]}


@st.composite
def catalogs(draw: st.DrawFn) -> list[MetricInfo]:
    """Every catalog type, with and without the suffix its wire name takes, any help text, zero to three labels."""
    stems = draw(st.lists(st.sampled_from(["a", "b", "c", "jobs", "hits"]), min_size=1, max_size=5, unique=True))
    catalog = []
    for stem in stems:
        kind = draw(st.sampled_from(["counter", "gauge", "histogram", "info"]))
        catalog.append(MetricInfo(f"test_{stem}" + draw(st.sampled_from(SUFFIXES[kind])), kind,
                                  tuple(draw(st.lists(st.sampled_from(["target", "queue", "state"]), max_size=3, unique=True))),
                                  draw(st.text(st.one_of(st.sampled_from("\\\n\""), st.characters(codec="utf-8")), max_size=20))))
    return catalog


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalog_samples(EXPORTER_METRICS))
def test_any_samples_render_as_prometheus_client_rendered_them(samples):
    assert_renders_like_prometheus_client(samples, EXPORTER_METRICS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_catalog_renders_as_prometheus_client_rendered_it(data):
    catalog = data.draw(catalogs())
    assert_renders_like_prometheus_client(data.draw(catalog_samples(catalog)), catalog)


@settings(max_examples=500, deadline=None)
@given(values)
def test_values_are_written_as_prometheus_client_writes_them(value):
    assert go_float_text(value) == floatToGoString(value)


HISTOGRAM = MetricInfo("test_request_duration_seconds", "histogram", ("target",), "Request durations.")
INFO = MetricInfo("test_build", "info", ("target", "version", "revision"), "The build each target runs.")


def test_histogram_and_info_families_built_by_prometheus_client_render_byte_identically():
    """The samples prometheus_client's own family builders make, rendered by ours and by generate_latest."""
    histogram = HistogramMetricFamily(HISTOGRAM.name, HISTOGRAM.help, labels=["target"])
    histogram.add_metric(["api"], [("0.005", 0.0), ("0.1", 17.0), ("1.0", 20.0), ("10.0", 21.0), ("+Inf", 21.0)], 3.75)
    histogram.add_metric(['we"ird\\'], [("0.5", 1.0), ("+Inf", 2.0)], 1e6)
    info = InfoMetricFamily(INFO.name, INFO.help, labels=["target"])
    info.add_metric(["api"], {"version": "1.2.3", "revision": "abc"})
    samples = [Sample(s.name, s.labels, s.value) for family in (histogram, info) for s in family.samples]
    body = render_exposition(samples, [HISTOGRAM, INFO])
    assert body == prometheus_client_exposition(samples, [HISTOGRAM, INFO])
    text = body.decode()
    assert "# TYPE test_request_duration_seconds histogram\n" in text and "# TYPE test_build_info gauge\n" in text
    assert 'test_request_duration_seconds_bucket{le="0.1",target="api"} 17.0\n' in text
    assert 'test_request_duration_seconds_sum{target="we\\"ird\\\\"} 1e+06\n' in text
    assert 'test_build_info{revision="abc",target="api",version="1.2.3"} 1.0\n' in text


def test_a_histogram_bucket_without_its_bound_is_refused():
    with pytest.raises(KeyError, match="test_request_duration_seconds_bucket has labels"):
        render_exposition([Sample("test_request_duration_seconds_bucket", {"target": "api"}, 1.0)], [HISTOGRAM])


def test_realistic_scrape_is_byte_identical_to_prometheus_client():
    results = realistic_results(200)
    oracle = prometheus_client_exposition(scrape_samples(results), EXPORTER_METRICS)
    assert render_metrics(results) == oracle


# --------------------------------------------------------------------------
# What a reader of /metrics sees


def test_escaping_numbers_and_counter_names_on_the_wire():
    results = [ProbeResult("redis", 'ca"che\\\n', True, None, math.inf, (
        Sample("obstack_redis_keyspace_hits_total", {"target": 'ca"che\\\n'}, 1e22),
        Sample("obstack_redis_keyspace_misses_total", {"target": "é"}, math.nan),
        Sample("obstack_redis_memory_max_bytes", {"target": "x"}, 0)))]
    body = render_metrics(results).decode()
    assert 'obstack_redis_up{target="ca\\"che\\\\\\n"} 1.0\n' in body
    assert 'obstack_probe_duration_seconds{kind="redis",target="ca\\"che\\\\\\n"} +Inf\n' in body
    assert "# TYPE obstack_redis_keyspace_hits_total counter\n" in body
    assert 'obstack_redis_keyspace_hits_total{target="ca\\"che\\\\\\n"} 1e+22\n' in body
    assert 'obstack_redis_keyspace_misses_total{target="é"} NaN\n' in body
    assert 'obstack_redis_memory_max_bytes{target="x"} 0.0\n' in body


def test_every_catalog_family_is_announced_in_catalog_order_even_without_samples():
    body = render_metrics([]).decode()
    announced = [line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")]
    assert announced == [m.name for m in EXPORTER_METRICS]
    assert all(line.startswith("#") for line in body.splitlines())


def test_unknown_sample_is_refused_by_name():
    result = ProbeResult("redis", "cache", True, samples=(Sample("obstack_not_in_catalog", {"target": "x"}, 1.0),))
    with pytest.raises(KeyError, match="obstack_not_in_catalog is not in foundation.exporter_metrics"):
        render_metrics([result])


def test_sample_with_other_labels_than_the_catalog_is_refused():
    result = ProbeResult("redis", "cache", True, samples=(
        Sample("obstack_redis_memory_used_bytes", {"target": "x", "db": "0"}, 1.0),))
    with pytest.raises(KeyError, match=r"obstack_redis_memory_used_bytes has labels \['db', 'target'\], "
                                       r"catalog says \['target'\]"):
        render_metrics([result])


@pytest.mark.parametrize("info", [MetricInfo("obstack.queue_jobs", "gauge", (), "h"),
                                  MetricInfo("obstack_queue_jobs", "gauge", ("queue-name",), "h"),
                                  MetricInfo("obstack_queue_jobs", "gauge", ("__queue",), "h"),
                                  MetricInfo("obstack_wait_seconds", "histogram", ("le",), "h")])
def test_catalog_names_outside_the_text_format_are_refused(info):
    # prometheus_client wrote the first two with underscores instead (a silently renamed series);
    # names starting with __ are Prometheus' own.
    with pytest.raises(ValueError, match="is not a Prometheus|cannot include 'le'"):
        render_exposition([], [info])


def test_promtool_accepts_a_thousand_queue_scrape_without_findings():
    promtool = require_binary("promtool", "prometheus")
    body = render_metrics(realistic_results(1000))
    checked = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
    # The same standard as prometheus_client's rendering met: exit 0 and not one lint finding.
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, b"", b"")


def test_metrics_are_text_0_0_4_and_never_gzip(private_redis_session, exporter_for):
    exporter = exporter_for({"datastores": [redis_store()]}, {"REDIS_URL": private_redis_session.url})
    scrape = exporter.scrape(headers={"Accept-Encoding": "gzip"})
    assert scrape.status == 200
    assert scrape.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "Content-Encoding" not in scrape.headers  # docs/exporters.md: gzip costs more than it saves
    assert scrape.value("obstack_redis_up", target="cache") == 1.0
