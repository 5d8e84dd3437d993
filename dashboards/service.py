"""The service overview dashboard: RED, SLO status and burn, instances, restarts, and the
service's logs and traces when the spec enables them.

Services of one shape share one dashboard (``dashboard_identities``); its ``service`` variable
picks the service, and every query, the logs and the traces follow it. The shape is what the
dashboard draws from, so any of its services builds it: the first does.

The top stats read the recording rules the alerts read, coloured at the alert thresholds;
the graphs below read the raw series over ``$__rate_interval`` so one instance can be picked.
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import quote

import grafanalib.core as G

from obstack.alerts import service_rules
from obstack.alerts.service_rules import (
    MEMORY_RESTART_SHARE,
    compared_latency_levels,
    p95_record,
    red_traffic_floor,
    requests_rate_record,
)
from obstack.alerts.slo_rules import (
    alertable_windows,
    error_ratio_record,
    window_bad_events_record,
    window_total_events_record,
)
from obstack.alerts.timing import Timing, scaled_timing
from obstack.dashboards.datasources import ELASTICSEARCH, JAEGER
from obstack.dashboards.panels import (
    GREEN,
    INSTANCE,
    JOB,
    ORANGE,
    RATE_INTERVAL,
    RED,
    UP_MAPPINGS,
    Panel,
    alert_steps,
    dashboard,
    external_link,
    job_instance_variables,
    link,
    logs,
    prom,
    quoted,
    refs,
    row,
    selector,
    stat,
    steps,
    tagged_links,
    timeseries,
    traces,
    up_steps,
)
from obstack.foundation.series_catalog import RESIDENT_MEMORY
from obstack.stack.spec import dashboard_identities as ids
from obstack.stack.spec.dashboard_identities import SERVICE_VARIABLE, ServiceDashboardGroup
from obstack.stack.spec.model import Service, Slo, Spec

# Budget remaining: red once spent, orange in its last quarter (time to slow down releases).
BUDGET_STEPS = ((0, ORANGE), (0.25, GREEN))
# The selected service, in queries and searches (spec names need no escaping: [a-z0-9_-]).
SELECTED = f"${SERVICE_VARIABLE}"
SERVICE = f'service="{SELECTED}"'


def _red_panels(service: Service) -> list[Panel]:
    metrics = service.request_metrics
    scope = (SERVICE, JOB, INSTANCE)
    count = selector(metrics.request_counter, *scope)
    errors = selector(metrics.request_counter, *scope, f"{metrics.status_label}=~{quoted(metrics.error_status_regex)}")
    bucket = selector(f"{metrics.histogram}_bucket", *scope)
    thresholds = service.thresholds
    quantiles = [prom(f"histogram_quantile({q}, sum by (le) (rate({bucket}[{RATE_INTERVAL}])))", f"p{int(q * 100)}")
                 for q in (0.5, 0.95, 0.99)]
    # A library without a route label (express-prom-bundle's default) shows the service as one series.
    by_route = (timeseries("Requests per second by route", "How much traffic does each route get (all instances "
                           "selected)?", [prom(f"sum by ({metrics.route_label}) (rate({count}[{RATE_INTERVAL}]))",
                                               f"{{{{{metrics.route_label}}}}}")], "reqps", w=8)
                if metrics.route_label else
                timeseries("Requests per second", "How much traffic does the service get (all instances selected)? "
                           "Its instrumentation has no route label (spec: request_metrics.route_label).",
                           [prom(f"sum(rate({count}[{RATE_INTERVAL}]))", "requests")], "reqps", w=8))
    return [
        by_route,
        timeseries("Error ratio", "Which share of requests fails with a server error? Dashed lines: the "
                   "ErrorRateIncreased (warning) and HighErrorRate (critical) thresholds.",
                   [prom(f"sum(rate({errors}[{RATE_INTERVAL}]))\n/\nsum(rate({count}[{RATE_INTERVAL}]))", "error ratio")],
                   "percentunit", alert_steps(thresholds.error_rate), w=8, minimum=0),
        timeseries("Latency p50 / p95 / p99", "How long do requests take? Dashed lines: the LatencyDegraded "
                   "(warning) and HighLatency (critical) thresholds, which apply to p95.",
                   refs(*quantiles), "s", alert_steps(compared_latency_levels(service)), w=8, minimum=0),
    ]


def _status_panels(service: Service, timing: Timing) -> list[Panel]:
    """What the alerts see right now: the recorded series, coloured at the alert thresholds."""
    scope = (SERVICE, JOB, INSTANCE)
    red = timing.red_window.duration
    panels = [
        stat(f"Request rate ({red})", "Requests per second as the alerts see them (recording rule); error-rate and "
             f"latency alerts stay quiet below their traffic guard (spec: min_requests in {red}, min_request_rate).",
             [prom(selector(requests_rate_record(red), SERVICE))], "reqps",
             steps(ORANGE, (red_traffic_floor(service, timing), GREEN))),
        stat(f"Error ratio ({red})", "The error ratio HighErrorRate and ErrorRateIncreased compare with their "
             "thresholds.", [prom(selector(service_rules.error_ratio_record(red), SERVICE))], "percentunit",
             alert_steps(service.thresholds.error_rate)),
        stat(f"p95 latency ({red})", "The p95 HighLatency and LatencyDegraded compare with their thresholds.",
             [prom(selector(p95_record(red), SERVICE))], "s", alert_steps(compared_latency_levels(service))),
        stat("All instances up", "Is every scrape target of the service up? ServiceDown fires after "
             f"{service.thresholds.down_for} down.", [prom(f"min(up{{{', '.join(scope)}}})")], "none",
             up_steps(), mappings=UP_MAPPINGS),
        stat("Health endpoint", "Does the health URL answer with a 2xx (probed by the obstack exporter)?",
             [prom(selector("obstack_http_up", SERVICE))], "none", up_steps(), mappings=UP_MAPPINGS),
    ]
    if service.process_start_metric:
        restarts, shared = timing.restart_window.duration, timing.shared_target_window.duration
        panels.append(stat(f"Restarts ({restarts})", f"Most restarts of one instance in the last {restarts}; "
                           "ServiceFlapping fires above the threshold.",
                           [prom(f"max(changes({selector(service.process_start_metric, *scope)}[{restarts}]))")],
                           "short", alert_steps(service.thresholds.restarts)))
        panels.append(stat(
            f"Start time going back ({shared})", "Steps back of a target's process start time: "
            "several processes answer its scrapes in turn (a PM2 cluster on one port), so its counters mix them. "
            "ScrapeTargetSharedByProcesses fires when this stays above 0.",
            [prom(f"max(resets({selector(service.process_start_metric, *scope)}[{shared}]))")],
            "short", steps(GREEN, (1, ORANGE))))
    return panels


def _instance_panels(service: Service, timing: Timing) -> list[Panel]:
    scope = (SERVICE, JOB, INSTANCE)
    panels = [timeseries("Instances up", "Which instances answer Prometheus' scrapes (1 up, 0 down)?",
                         [prom(selector("up", *scope), "{{instance}}")], "none", up_steps(), minimum=0, maximum=1)]
    if service.process_start_metric:
        restarts = timing.restart_window.duration
        panels.append(timeseries(
            f"Restarts per instance ({restarts})", "How often did each instance restart? Dashed: the "
            "ServiceFlapping threshold.",
            [prom(f"changes({selector(service.process_start_metric, *scope)}[{restarts}])", "{{instance}}")],
            "short", alert_steps(service.thresholds.restarts), minimum=0))
    if service.max_memory_restart is not None:
        limit = service.max_memory_restart
        panels.append(timeseries(
            f"Worker memory, share of max_memory_restart ({limit})", "Each worker's resident memory against the "
            "PM2 limit that reloads it. Dashed: the WorkerMemoryNearRestart threshold.",
            [prom(f"{selector(RESIDENT_MEMORY, *scope)} / {limit.bytes}", "{{instance}}")],
            "percentunit", steps(GREEN, (MEMORY_RESTART_SHARE, ORANGE)), minimum=0))
    return panels


def _slo_panels(service: Service, slo: Slo, timing: Timing) -> list[Panel]:
    scope = (SERVICE, f"slo={quoted(slo.name)}")
    budget = Decimal(1) - slo.objective.value
    windows = alertable_windows(slo, timing.burn_windows)
    burn = {w.long: (float(w.burn_rate(slo.window) * budget), RED if w.severity == "critical" else ORANGE)
            for w in windows}
    targets = [prom(selector(error_ratio_record(long), *scope), f"{long} window") for long in burn]
    return [
        stat(f"{slo.name}: SLI over {slo.window}", f"Share of good events over the SLO window; red below the "
             f"objective ({slo.objective}).", [prom(f"1 - {selector(error_ratio_record(slo.window), *scope)}")],
             "percentunit", steps(RED, (float(slo.objective.value), GREEN)), w=6),
        stat(f"{slo.name}: error budget remaining", "How much of the window's error budget is left (below 0: "
             "the SLO is missed).", [prom(selector("slo:error_budget_remaining:ratio", *scope))], "percentunit",
             steps(RED, *BUDGET_STEPS), w=6),
        timeseries(f"{slo.name}: error ratio per burn window", "How fast is the budget burning? Each line is the "
                   "error ratio over a burn-rate alert's long window; the dashed lines are the ErrorBudgetBurn "
                   "thresholds (red pages, orange tickets). An alert also needs its short window above the line.",
                   refs(*targets), "percentunit", steps(GREEN, *burn.values()), w=12, minimum=0),
    ]


def _event_panels(service: Service, slo: Slo, timing: Timing) -> list[Panel]:
    """An events SLO's events as its window SLI counts them: all of them (its total counter) and the
    bad ones, per second over the window SLI's input window."""
    if slo.kind != "events":
        return []
    scope = (SERVICE, f"slo={quoted(slo.name)}")
    bad = "bad events (errors)" if slo.errors is not None else "bad events (total minus good)"
    window_input = timing.slo_window_input.duration
    return [timeseries(f"{slo.name}: events per second ({window_input})",
                       f"The SLO's events as its window SLI sums them: all of them ({slo.total}) and the bad ones, "
                       "recorded once a minute.",
                       refs(prom(selector(window_total_events_record(window_input), *scope), "all events"),
                            prom(selector(window_bad_events_record(window_input), *scope), bad)), "cps", w=24,
                       minimum=0)]


def _explore_url() -> str:
    """Grafana Explore on Jaeger, searching the selected service's traces (Grafana replaces the
    variable in a link's URL, so it stays outside the encoding)."""
    state = {"datasource": JAEGER.uid, "queries": [{"refId": "A", "queryType": "search", "service": SELECTED}],
             "range": {"from": "now-1h", "to": "now"}}
    encoded = quote(json.dumps(state, separators=(",", ":"), sort_keys=True), safe="")
    return "/explore?left=" + encoded.replace(quote(SELECTED, safe=""), SELECTED)


def _links(spec: Spec, service: Service) -> list[G.DashboardLink]:
    result = [link("Alerts & SLOs", ids.alerts_dashboard(spec), "Firing alerts and every SLO's budget")]
    for dependency in service.depends_on:
        if any(s.name == dependency for s in spec.services):
            result.append(link(dependency, ids.service_dashboard(spec, dependency), f"Service {dependency}"))
        elif (store := spec.datastore(dependency)) is not None:
            target = ids.postgres_dashboard(spec) if store.kind == "postgres" else ids.redis_dashboard(spec)
            result.append(link(dependency, target, f"{store.kind} datastore {dependency}"))
        elif any(q.name == dependency for q in spec.queues):
            result.append(link(dependency, ids.queues_dashboard(spec), f"Queue {dependency}"))
    result = list({l.uri: l for l in result}.values())  # two datastores of one kind share a dashboard
    if spec.tracing.enabled:
        result.append(external_link("Traces", _explore_url(), "The selected service's traces in Jaeger"))
    return [*result, tagged_links(spec.project)]


def _service_variable(names: tuple[str, ...]) -> G.Template:
    """The ``service`` variable: the services of the dashboard's shape, the first selected."""
    return G.Template(name=SERVICE_VARIABLE, label="Service", type="custom", query=",".join(names),
                      default=names[0], hide=0, sort=0)  # in the spec's order


def _description(group: ServiceDashboardGroup) -> str:
    first = group.services[0]
    if len(group.services) == 1:
        return f"RED, SLOs, instances and restarts of {first.name} (team {first.team})."
    return (f"RED, SLOs, instances and restarts of {len(group.services)} services with the same thresholds, SLOs "
            "and dependencies; the service variable picks one.")


def service_dashboard(spec: Spec, group: ServiceDashboardGroup) -> G.Dashboard:
    """The dashboard of the services of ``group``, built from its first (they share their shape)."""
    service = group.services[0]
    timing = scaled_timing(spec.time_scale)
    panels: list[Panel] = [row("Now, as the alerts see it"), *_status_panels(service, timing),
                           row("Requests, errors, latency"), *_red_panels(service),
                           row("Instances"), *_instance_panels(service, timing)]
    for slo in service.slos:
        panels += [row(f"SLO {slo.name}: {slo.objective} over {slo.window}"), *_slo_panels(service, slo, timing),
                   *_event_panels(service, slo, timing)]
    if spec.logs.enabled:
        query = f"{spec.grafana.logs_service_field}:{quoted(SELECTED)}"
        panels += [row("Logs"), logs("Recent logs", f"The service's log lines from Elasticsearch ({query}).",
                                     ELASTICSEARCH, query)]
    if spec.tracing.enabled:
        panels += [row("Traces"), traces("Recent traces", "The service's latest traces in Jaeger; open one to "
                                          "see where the time went.", JAEGER, SELECTED)]
    return dashboard(group.dashboard, _description(group), [spec.project, "service"],
                     [_service_variable(group.names), *job_instance_variables(f"up{{{SERVICE}}}")],
                     panels, _links(spec, service))
