"""``obstack verify``: what a running Prometheus holds, checked against the spec.

The I/O edge of ``stack.series_check``: the series of every metric each service should expose
(its request metrics, process gauges and ``up``, for its job, seen in the last minutes) come from
Prometheus' series API; the expressions from the rules and dashboards the spec generates.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from alerts.rule_files import rule_file_dict, rule_files
from dashboards.generate import build_dashboards
from stack.deploy.http import HttpClient
from stack.series_check import Finding, Series, dashboard_exprs, exposed_metrics, rule_exprs, service_findings
from stack.spec.model import Spec

# Series seen in this window count as exposed now (a few scrape intervals: a renamed metric's
# old series are still in the TSDB, but no longer scraped).
RECENT_SECONDS = 300


def prometheus_series(client: HttpClient, spec: Spec, now: float | None = None) -> list[Series]:
    """Every series Prometheus saw recently of the metrics the spec's services should expose."""
    end = time.time() if now is None else now
    found: list[Series] = []
    wanted = sorted({(service.job, metric) for service in spec.services
                     for metric in ("up", *exposed_metrics(service))})
    for job, metric in wanted:
        query = urlencode({"match[]": f'{{__name__="{metric}", job="{job}"}}', "start": end - RECENT_SECONDS,
                           "end": end})
        found.extend(client.json("GET", f"/api/v1/series?{query}")["data"])
    return found


def generated_exprs(spec: Spec) -> list[tuple[str, str]]:
    """(reader, expr) of every generated rule and dashboard query."""
    return rule_exprs(rule_file_dict(f) for f in rule_files(spec)) + dashboard_exprs(build_dashboards(spec))


def down_jobs(client: HttpClient, spec: Spec) -> frozenset[str]:
    """The services' jobs whose every target failed its last scrape."""
    query = urlencode({"query": "max by (job) (up) == 0"})
    result = client.json("GET", f"/api/v1/query?{query}")["data"]["result"]
    return frozenset(item["metric"].get("job", "") for item in result) & {service.job for service in spec.services}


def verify(spec: Spec, client: HttpClient) -> list[Finding]:
    return service_findings(spec, generated_exprs(spec), prometheus_series(client, spec), down_jobs(client, spec))
