"""``obstack verify``: what a running Prometheus holds, checked against the spec.

The I/O edge of ``stack.series_check``: the series of every metric each service should expose
(its request metrics, process gauges and ``up``, for its job, seen in the last minutes) come from
Prometheus' series API; the expressions from the rules and dashboards the spec generates.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from obstack.alerts.rule_files import rule_file_dict, rule_files
from obstack.alerts.service_rules import shared_target_expr
from obstack.dashboards.generate import build_dashboards
from obstack.foundation.findings import Finding
from obstack.stack.deploy.http import HttpClient
from obstack.stack.series_check import Series, dashboard_exprs, exposed_metrics, rule_exprs, service_findings
from obstack.stack.spec.model import Spec
from obstack.stack.spec.values import Duration

# Series seen in this window count as exposed now (a few scrape intervals: a renamed metric's
# old series are still in the TSDB, but no longer scraped).
RECENT_SECONDS = 300


def prometheus_series(client: HttpClient, spec: Spec, now: float | None = None) -> list[Series]:
    """Every series Prometheus saw recently of the metrics the spec's services should expose."""
    end = time.time() if now is None else now
    wanted = sorted({(service.job, metric) for service in spec.services
                     for metric in ("up", *exposed_metrics(service))})
    query = urlencode({"match[]": [f'{{__name__="{metric}", job="{job}"}}' for job, metric in wanted],
                       "start": end - RECENT_SECONDS, "end": end}, doseq=True)
    return list(client.json("GET", f"/api/v1/series?{query}")["data"])


def generated_exprs(spec: Spec) -> list[tuple[str, str]]:
    """(reader, expr) of every generated rule and dashboard query."""
    return rule_exprs(rule_file_dict(f) for f in rule_files(spec)) + dashboard_exprs(build_dashboards(spec))


def down_jobs(client: HttpClient, spec: Spec) -> frozenset[str]:
    """The services' jobs whose every target failed its last scrape."""
    query = urlencode({"query": "max by (job) (up) == 0"})
    result = client.json("GET", f"/api/v1/query?{query}")["data"]["result"]
    return frozenset(item["metric"].get("job", "") for item in result) & {service.job for service in spec.services}


def shared_targets(client: HttpClient, spec: Spec) -> frozenset[tuple[str, str]]:
    """(job, instance) of the services' targets several processes answer in turn, by the signs
    ScrapeTargetSharedByProcesses reads, over the recent window."""
    found: set[tuple[str, str]] = set()
    for service in spec.services:
        if not service.process_start_metric:
            continue
        expr = shared_target_expr(service.process_start_metric, service.request_metrics.request_counter,
                                  f'job="{service.job}"', Duration(RECENT_SECONDS * 1000))
        result = client.json("GET", f"/api/v1/query?{urlencode({'query': expr})}")["data"]["result"]
        found |= {(item["metric"].get("job", ""), item["metric"].get("instance", "")) for item in result}
    return frozenset(found)


def verify(spec: Spec, client: HttpClient, spec_name: str = "stack.yaml") -> list[Finding]:
    return service_findings(spec, generated_exprs(spec), prometheus_series(client, spec), down_jobs(client, spec),
                            shared_targets(client, spec), spec_name)
