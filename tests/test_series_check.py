"""The series check's PM2 findings: an aggregated endpoint without the worker label, and a target
several processes answer in turn (series captured from prom-client, tests/fixtures/clients)."""

from __future__ import annotations

from pathlib import Path

from obstack.stack.series_check import series_from_exposition, service_findings
from obstack.stack.spec.loader import load_spec_text
from obstack.stack.spec.model import Spec
from obstack.stack.verify import generated_exprs

CAPTURE = Path(__file__).parent / "fixtures" / "clients" / "prom-client" / "after.prom"
TARGET = {"job": "api", "instance": "api:9400", "service": "api", "team": "web"}


def _spec(pm2: str) -> Spec:
    return load_spec_text(f"""
project: p
team: web
services:
  - name: api
    targets: ["api:9400"]
    pm2: {pm2}
    process_start_metric: app_worker_start_time_seconds
""", "p.yaml").spec


def _workers(labelled: bool) -> list[dict[str, str]]:
    """Two workers' scrapes behind one aggregating endpoint, with a per-worker start-time gauge."""
    series = []
    for worker in ("0", "1"):
        extra = {"worker": worker} if labelled else {}
        series += [{**s, **extra} for s in series_from_exposition(CAPTURE.read_text(), TARGET)]
        series.append({"__name__": "app_worker_start_time_seconds", **TARGET, **extra})
    return series


def _findings(spec: Spec, series: list[dict[str, str]], **kwargs: frozenset) -> list[str]:  # type: ignore[type-arg]
    return [f"{f.location}: {f.message}" for f in service_findings(spec, generated_exprs(spec), series, **kwargs)]


def test_an_aggregated_endpoint_keeping_workers_apart_is_right() -> None:
    assert _findings(_spec("{layout: aggregated}"), _workers(labelled=True)) == []


def test_an_aggregated_endpoint_summing_workers_is_named_by_its_key() -> None:
    assert _findings(_spec("{layout: aggregated}"), _workers(labelled=False)) == [
        "services[0].pm2.worker_label: the app_worker_start_time_seconds, http_request_duration_seconds_bucket, "
        "http_request_duration_seconds_count, http_request_duration_seconds_sum series of api carry no label "
        "'worker': the aggregating endpoint sums the workers' counters, which drop at every worker restart "
        "(set it with register.setDefaultLabels in each worker)"]


def test_worker_ports_need_no_worker_label() -> None:
    assert _findings(_spec("{layout: worker-ports}"), _workers(labelled=False)) == []


def test_a_target_answered_by_several_processes_is_named() -> None:
    found = _findings(_spec("{layout: worker-ports}"), _workers(labelled=False),
                      shared_targets=frozenset({("api", "api:9400"), ("other", "x:1")}))
    assert found == [
        "services[0].targets: api:9400 answers scrapes from several processes in turn (its "
        "app_worker_start_time_seconds or request counter goes back): a PM2 cluster balancing one port over its "
        "workers; scrape each worker on its own port (pm2.layout: worker-ports)"]
