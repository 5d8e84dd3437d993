"""Service alerts (RED and liveness) and the per-service recording rules they read.

Recording rules (``service:*``) aggregate by ``service`` and ``team`` so every alert built
on them names its subject and owner; the scrape config puts both labels on the series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from obstack.alerts import request_inputs, scenarios
from obstack.alerts.annotations import go_template
from obstack.alerts.common import RuleContext, any_of, grouped, matcher, number, parenthesized, threshold_note
from obstack.alerts.rule_model import AlertInstance, AlertRule, OtherFiring, RecordingRule, RuleGroup, Scenario
from obstack.alerts.target_rules import DownTexts, ScrapeJob, all_down_rules, some_down_rules
from obstack.alerts.timing import TIMING, Timing
from obstack.foundation.series_catalog import RESIDENT_MEMORY
from obstack.stack.spec.base import promql_string
from obstack.stack.spec.model import EXPORTER_JOB, RequestMetrics, Service
from obstack.stack.spec.thresholds import LatencyLevels
from obstack.stack.spec.values import Duration

KEEP_FIRING_RED_REASON = (
    "once firing, the page holds while the measure stays above the warning level (hysteresis in the expression), "
    f"so its warning never outlives it; keep_firing_for bridges a dip under that level on random traffic (the "
    f"{TIMING.red_window.duration} window plus two evaluations for the recording rule), so a steady fault pages once")


# The request rate is recorded over the RED window alone: the RED traffic guards read it. The SLO
# rules record their own windows' totals (slo:sli_events:rate<w>, from the burn-rate pairs), each
# window only where an alert reads it.
def requests_rate_record(window: Duration) -> str:
    return f"service:http_requests:rate{window}"


def error_ratio_record(window: Duration) -> str:
    return f"service:http_request_errors:ratio_rate{window}"


def p95_record(window: Duration) -> str:
    return f"service:http_request_duration_seconds:p95_rate{window}"


def service_recording_rules(service: Service, window: Duration) -> list[RecordingRule]:
    """The request rate, error ratio and p95 of ``service`` over ``window`` (the RED window)."""
    metrics = service.request_metrics
    job = f'job="{service.job}"'
    count = metrics.request_counter
    # The static service label keeps one service's recordings apart from another's (promtool's duplicate lint).
    labels = {"service": service.name}
    errors = f'{metrics.status_label}=~{promql_string(metrics.error_status_regex)}'
    return [
        RecordingRule(requests_rate_record(window), f"sum by (service, team) (rate({count}{{{job}}}[{window}]))", labels),
        RecordingRule(
            error_ratio_record(window),
            f"sum by (service, team) (rate({count}{{{job}, {errors}}}[{window}]))\n"
            f"/\nsum by (service, team) (rate({count}{{{job}}}[{window}]))",
            labels,
        ),
        RecordingRule(
            p95_record(window),
            f"histogram_quantile(0.95, sum by (service, team, le) (rate({metrics.histogram}_bucket{{{job}}}[{window}])))",
            labels,
        ),
    ]


def traffic_floor(service: Service, window: Duration, time_scale: int = 1) -> float:
    """Requests a ratio over ``window`` needs before an alert may read it: the stricter of the
    spec's min_requests (a count) and min_request_rate (a rate, times the window).

    min_requests counts requests in a production window; on a clock ``time_scale`` times faster
    the window holds that much less time, so the count shrinks with it: the guard asks for the
    request rate production asks for."""
    thresholds = service.thresholds
    return max(thresholds.min_requests / time_scale, thresholds.min_request_rate * window.seconds)


def traffic_guard(selector: str, window: Duration, floor: float, record: str | None = None) -> str:
    """``and``-term keeping an alert quiet while ``window`` holds fewer than ``floor`` requests
    (``record``: the recorded request rate over ``window``)."""
    record = record or requests_rate_record(str(window))
    return f"and on (service, team)\n{record}{{{selector}}} * {number(window.seconds)} >= {number(round(floor, 6))}"


def _labels(service: Service) -> dict[str, str]:
    return {"service": service.name, "team": service.team}


def series_labels(service: Service) -> dict[str, str]:
    return {"job": service.job, "instance": service.targets[0], **_labels(service)}


def scrape_job(service: Service) -> ScrapeJob:
    return ScrapeJob(service.job, tuple(service.targets), _labels(service), service.thresholds.down_for)


SERVICE_DOWN_TEXTS = DownTexts(
    summary="A service is down: none of its targets answers.",
    description="No target of {service} (job {job}) has answered a scrape for {down_for}.",
    meaning="Prometheus cannot scrape any of the service's targets: every process is down, hung or unreachable. "
            "The service's own RED and SLO alerts are silenced while this fires (it is their cause).",
    first_checks=("Is the process running, and listening on the scrape port?",
                  "Did a deploy just happen? Check the rollout and the service's logs.",
                  "Can Prometheus reach the targets (network, DNS, TLS)? See Status → Targets."),
    for_reason="the plan's 'service down longer than' (spec: thresholds.down_for); shorter pages on one failed scrape",
)
INSTANCES_DOWN_TEXTS = DownTexts(
    summary="Some of a service's targets are down.",
    description="Only {value} of the targets of {service} (job {job}) answer scrapes.",
    meaning="Some, not all, of the service's targets cannot be scraped: the service still answers through the "
            "others, with less capacity. All of them down is ServiceDown instead.",
    first_checks=("Which targets are down (Status → Targets)? Same host, same zone, same version?",
                  "Are the remaining targets saturated by the extra load?"),
    for_reason="as ServiceDown (spec: thresholds.down_for): a replica restarting during a rollout is not worth a ticket",
)


def service_down_rules(context: RuleContext, services: list[Service]) -> list[AlertRule]:
    """ServiceDown (critical) once every target of a service is down; ServiceInstancesDown (warning)
    while some, not all, are."""
    jobs = [scrape_job(s) for s in services]
    return (all_down_rules(context, "ServiceDown", "critical", "service", jobs, SERVICE_DOWN_TEXTS, "service-down",
                           keep_firing=(cause_keep_firing(context), CAUSE_KEEP_FIRING_REASON))
            + some_down_rules(context, "ServiceInstancesDown", "service", jobs, INSTANCES_DOWN_TEXTS, "service-down"))


def _request_series(metrics: RequestMetrics) -> tuple[str, ...]:
    """The series a service's requests must show up in: the request counter, and the latency
    histogram's count where requests are counted apart from it."""
    return tuple(dict.fromkeys((metrics.request_counter, f"{metrics.histogram}_count")))


def request_metrics_missing_rules(context: RuleContext, services: list[Service]) -> list[AlertRule]:
    """A target that is scraped (``up == 1``) but lacks its request series (the histogram, and the
    request counter where apart): every RED and SLO alert of the service reads nothing and stays silent."""
    terms = []
    for metrics, group in grouped(services, lambda s: _request_series(s.request_metrics)):
        jobs = matcher("job", [s.job for s in group])
        terms += [f"up{{{jobs}}} == 1\nunless on (job, instance)\n{metric}{{{jobs}}}" for metric in metrics]

    def instance(service: Service, target: str) -> AlertInstance:
        labels = {"job": service.job, "instance": target, **_labels(service)}

        request = request_inputs.request_labels(service.request_metrics, labels)
        wanted = _request_series(service.request_metrics)

        def exposing(metrics: tuple[str, ...], level: float) -> Scenario:
            up = scenarios.constant("up", labels, 1).series
            counts = tuple(series for metric in metrics for series in scenarios.constant(metric, request, 5).series)
            return Scenario(up + counts, 1.0, Duration(0), measure=level)

        def build(level: float) -> Scenario:
            # Firing: scraped, without the request counter (the histogram, where apart, still there).
            return exposing(wanted[1:], 1.0) if level else exposing(wanted, 0.0)

        def histogram_missing(level: float) -> Scenario:
            return exposing(wanted[:1], 1.0)

        return AlertInstance(labels, scenarios.DOWN, True, build, 1, 0,
                             other_firing=OtherFiring("when the histogram is missing and the request counter there",
                                                      histogram_missing) if len(wanted) > 1 else None)

    hold = context.timing.request_metrics_missing_hold
    return [AlertRule(
        name="RequestMetricsMissing", expr=any_of(terms), for_=hold.duration,
        for_reason=hold.reason, severity="warning", subject="service", value_format="none",
        summary="A service is scraped but exposes no request metrics: its RED and SLO alerts are blind.",
        description=go_template("{instance} of {service} answers scrapes but lacks its request series: "
                                "renamed metric, new middleware, or a wrong request_metrics in the spec.", "none"),
        meaning="The target is up, but the request series the RED and SLO rules read are absent (the request "
                "histogram; the request counter too, where the library keeps one apart), so none of them can "
                "fire. Client libraries create the series on the first request, so a process that has served "
                "nothing since it started also shows here.",
        runbook_url=context.runbook("RequestMetricsMissing"), dashboard_url=None, family=None,
        first_checks=("curl the target's metrics path: which request metric does it expose, with which labels?",
                      "Does services[].request_metrics in the spec name it (its preset, or histogram and requests)? "
                      "`obstack verify --prometheus URL` names every key that does not match.",
                      "Did a deploy change the instrumentation (middleware, metric prefix)?"),
        instances=tuple(instance(s, t) for s in services for t in s.targets),
    )]


def health_check_rules(context: RuleContext, services: list[Service]) -> list[AlertRule]:
    """HealthCheckFailing: the exporter's probe of the service's health URL fails (non-2xx, refused,
    timeout). Usually a dependency the health check reads is down, which silences it."""
    def instance(service: Service) -> AlertInstance:
        labels = context.exporter_series(target=service.name, service=service.name, team=service.team)
        failure = context.exporter_series(kind="http", target=service.name, service=service.name, team=service.team)
        return AlertInstance(labels, scenarios.DOWN, False,
                             lambda level: scenarios.failed_probe("obstack_http_up", labels, failure, level), 0, 1)

    hold = context.timing.health_check_hold
    return [AlertRule(
        name="HealthCheckFailing",
        expr=f'obstack_http_up{{job="{EXPORTER_JOB}", {matcher("service", [s.name for s in services])}}} == 0',
        for_=hold.duration, for_reason=hold.reason, severity="critical", subject="service", value_format="none",
        summary="A service's health check fails.",
        description=go_template("The health check of {service} fails: {probe_reason} (the reason 'other' is a "
                                "non-2xx answer; obstack_http_probe_status_code has the status).", "none",
                                probe=("http", "service")),
        meaning="The exporter's request to the service's health URL fails or answers non-2xx: the service says it "
                "cannot serve, and load balancers stop sending it traffic. A down dependency of the service, or "
                "the service itself being down, explains it and silences it.",
        runbook_url=context.runbook("HealthCheckFailing"), dashboard_url=None, family=None, symptom=True,
        first_checks=("What does the health URL answer (curl it): which check in it fails?",
                      "Are the service's dependencies up (its datastores and queues in the spec's depends_on)?"),
        instances=tuple(instance(s) for s in services),
    )]


def _red_rule(context: RuleContext, name: str, severity: str, entries: list[tuple[object, object, list[Service]]],
              record: str, value_format: str, what: str, release: Callable[[Service], float | None] = lambda s: None,
              **text: object) -> AlertRule:
    """One rule over every service; entries are (threshold as shown, threshold as PromQL number, services).

    ``release``: the level a firing alert must fall under before it can resolve (the service's
    warning level, for a critical alert): hysteresis. A 10% error ratio over a window of a few
    hundred random requests wanders; without it the page would resolve on a dip under 5% and
    leave its warning (1%) to reach chat as the incident's tail, or re-page on the next rise.
    """
    terms = []
    timing = context.timing
    window = timing.red_window.duration
    for _, limit, services in entries:
        for (floor, low), group in grouped(services, lambda s: (traffic_floor(s, window, timing.time_scale), release(s))):
            selector = matcher("service", [s.name for s in group])
            above = f"{record}{{{selector}}} > {number(limit)}"
            if low is not None:
                firing = f'ALERTS{{alertname="{name}", alertstate="firing", {selector}}}'
                above = parenthesized(f"{above}\nor\n{record}{{{selector}}} > {number(low)}\n"
                                      f"and on (service, team)\n{firing}")
            terms.append(f"{above}\n{traffic_guard(selector, window, floor)}")
    critical = severity == "critical"
    hold = timing.red_critical_hold if critical else timing.red_warning_hold
    return AlertRule(
        name=name, expr=any_of(terms), for_=hold.duration, for_reason=hold.reason,
        severity=severity, subject="service", runbook_url=context.runbook(name), dashboard_url=None,  # type: ignore[arg-type]
        value_format=value_format,  # type: ignore[arg-type]
        keep_firing_for=_red_keep_firing(context) if critical else None, symptom=True,
        keep_firing_reason=KEEP_FIRING_RED_REASON if critical else None,
        description=go_template(what + threshold_note([shown for shown, _, _ in entries]) + ".", value_format),
        **text,  # type: ignore[arg-type]
    )


def _red_keep_firing(context: RuleContext) -> Duration:
    """The rate window plus two evaluations: the warning of the family is surely clear by then."""
    return Duration(context.timing.red_window.duration.milliseconds + 2 * context.evaluation_interval.milliseconds)


CAUSE_KEEP_FIRING_REASON = (
    "the symptoms it silences outlive it: an error ratio over 5m needs 5m to drain after the dependency is back, "
    "and a critical RED alert then keeps firing for its own keep_firing_for; the cause stays up that long so no "
    "symptom pages as the incident's tail (its resolved notification comes that much later)")


def cause_keep_firing(context: RuleContext) -> Duration:
    """How long a cause (a down datastore, ServiceDown) keeps firing after it clears: the RED
    window plus the critical RED alert's keep_firing_for, the longest tail of a symptom it silences
    (slow burn-rate pairs excepted: their budget was really spent, and they say so)."""
    return Duration(context.timing.red_window.duration.milliseconds + _red_keep_firing(context).milliseconds)


def error_rate_rules(context: RuleContext, services: list[Service]) -> list[AlertRule]:
    rules = []
    for name, severity in [("HighErrorRate", "critical"), ("ErrorRateIncreased", "warning")]:
        entries = [s for s in services if getattr(s.thresholds.error_rate, severity) is not None]
        if not entries:
            continue
        groups = [(t, t.value, g) for t, g in grouped(entries, lambda s: getattr(s.thresholds.error_rate, severity))]
        critical = severity == "critical"
        window = context.timing.red_window.duration
        rules.append(_red_rule(
            context, name, severity, groups, error_ratio_record(window), "percentage",
            f"{{service}} answers {{value}} of requests with a 5xx status over {window}",
            release=error_release if critical else lambda s: None,
            summary="A service answers too many requests with a server error." if critical
            else "A service's server-error rate has risen.",
            meaning=f"The share of the service's requests that failed with a 5xx over {window} is above its "
                    f"{severity} threshold, while it had traffic.",
            first_checks=("Which routes fail? Break the error ratio down by route and status code.",
                          "Did a deploy or config change just happen? Roll back first, investigate after.",
                          "Are its dependencies (database, cache, queue) healthy?"),
            family="error-rate",
            instances=tuple(_ratio_instance(context, s, float(getattr(s.thresholds.error_rate, severity).value),
                                            error_release(s) if critical else None)
                            for s in entries),
        ))
    return rules


def red_traffic_floor(service: Service, timing: Timing) -> float:
    """The RED traffic guard as a steady request rate (requests/s)."""
    window = timing.red_window.duration
    return traffic_floor(service, window, timing.time_scale) / window.seconds


def _below(low: float | None, high: float | None) -> float | None:
    """``low`` when it is below ``high``: a release level that means something."""
    return low if low is not None and high is not None and low < high else None


def error_release(service: Service) -> float | None:
    """Where a firing HighErrorRate lets go: the warning level, when it is below the critical one."""
    levels = service.thresholds.error_rate
    return _below(levels.warning and float(levels.warning.value), levels.critical and float(levels.critical.value))


def latency_release(service: Service) -> float | None:
    """Where a firing HighLatency lets go: the warning's bucket bound, when it is below the critical one's."""
    warning, critical = latency_edge(service, "warning"), latency_edge(service, "critical")
    return _below(warning and warning.seconds, critical and critical.seconds)


def _ratio_instance(context: RuleContext, service: Service, threshold: float,
                    release: float | None = None) -> AlertInstance:
    metrics = service.request_metrics
    interval = context.scrape_interval

    def build(level: float, rate: float | None = None) -> Scenario:
        per_interval = 10000 if rate is None else rate * interval.seconds
        return request_inputs.error_ratio(metrics, series_labels(service), level, interval, per_interval)

    return AlertInstance(_labels(service), threshold, True, build, min(threshold * 2, (threshold + 1) / 2),
                         threshold * 0.9, min_request_rate=red_traffic_floor(service, context.timing), sparse=build,
                         guard_window=context.timing.red_window.duration, release_level=release,
                         lull_window=context.timing.red_window.duration)


def latency_edge(service: Service, severity: str) -> Duration | None:
    """Where the service's p95 threshold of ``severity`` is compared: the threshold itself when it is
    a bucket bound of the histogram, else the next bound up. Inside a bucket histogram_quantile
    interpolates (latencies of 1.2-1.8 s read as a p95 of 2.4 s in a 1-2.5 s bucket), so only a p95
    above a bound is certain; validate reports each rounding ([latency-threshold-off-bucket])."""
    threshold = getattr(service.thresholds.latency_p95, severity)
    if threshold is None:
        return None
    edge = service.request_metrics.edge_at_or_above(threshold.seconds)
    return threshold if edge is None or service.request_metrics.has_edge(threshold.seconds) else Duration.of_seconds(edge)


def compared_latency_levels(service: Service) -> LatencyLevels:
    """The service's p95 levels where the alerts compare them (bucket bounds, see latency_edge)."""
    return service.thresholds.latency_p95.model_copy(
        update={level: latency_edge(service, level) for level in ("critical", "warning")})


def latency_rules(context: RuleContext, services: list[Service]) -> list[AlertRule]:
    rules = []
    for name, severity in [("HighLatency", "critical"), ("LatencyDegraded", "warning")]:
        entries = [s for s in services if latency_edge(s, severity) is not None]
        if not entries:
            continue
        groups = [(t, t.seconds, g) for t, g in grouped(entries, lambda s: latency_edge(s, severity))]
        critical = severity == "critical"
        window = context.timing.red_window.duration
        rules.append(_red_rule(
            context, name, severity, groups, p95_record(window), "duration",
            f"{{service}} p95 latency is {{value}} over {window}",
            release=latency_release if critical else lambda s: None,
            summary="A service responds too slowly." if critical else "A service has slowed down.",
            meaning=f"The 95th percentile of the service's request duration over {window} is above its "
                    f"{severity} threshold, while it had traffic.",
            first_checks=("Which routes are slow? Break p95 down by route.",
                          "Is a dependency slow (database queries, locks, cache misses)?",
                          "Is the service saturated (CPU, event-loop lag, connection pool)?"),
            family="latency",
            instances=tuple(_latency_instance(context, s, latency_edge(s, severity).seconds,  # type: ignore[union-attr]
                                              latency_release(s) if critical else None)
                            for s in entries),
        ))
    return rules


def _latency_instance(context: RuleContext, service: Service, threshold: float,
                      release: float | None = None) -> AlertInstance:
    metrics = service.request_metrics
    interval = context.scrape_interval

    def build(level: float, rate: float | None = None) -> Scenario:
        per_interval = 1000 if rate is None else rate * interval.seconds
        return request_inputs.latency_quantile(metrics, series_labels(service), 0.95, level, interval, per_interval)

    # histogram_quantile reports at most the highest bucket bound (the spec keeps thresholds below it).
    fire = min(threshold * 2, max(metrics.buckets))
    return AlertInstance(_labels(service), threshold, True, build, fire, threshold * 0.9,
                         min_request_rate=red_traffic_floor(service, context.timing), sparse=build,
                         guard_window=context.timing.red_window.duration, release_level=release,
                         lull_window=context.timing.red_window.duration)


def flapping_rules(context: RuleContext, services: list[Service]) -> list[AlertRule]:
    return [rule for severity in ("critical", "warning") for rule in _flapping_rules(context, services, severity)]


def _flapping_rules(context: RuleContext, services: list[Service], severity: str) -> list[AlertRule]:
    entries = [s for s in services if s.process_start_metric and getattr(s.thresholds.restarts, severity) is not None]
    if not entries:
        return []
    window = context.timing.restart_window.duration
    groups = grouped(entries, lambda s: (s.process_start_metric, getattr(s.thresholds.restarts, severity)))
    # A start time that went back is not a restart: several processes answer the target in turn
    # (ScrapeTargetSharedByProcesses), and every turn would count as one.
    terms = [f"changes({metric}{{{jobs}}}[{window}]) > {threshold}\nunless\nresets({metric}{{{jobs}}}[{window}]) > 0"
             for (metric, threshold), group in groups for jobs in [matcher("job", [s.job for s in group])]]

    def instance(service: Service, target: str) -> AlertInstance:
        labels = {"job": service.job, "instance": target, **_labels(service)}
        threshold = getattr(service.thresholds.restarts, severity)
        assert threshold is not None and service.process_start_metric is not None
        metric = service.process_start_metric
        interval = context.scrape_interval
        return AlertInstance(labels, threshold, True,
                             lambda level: scenarios.steps(metric, labels, int(level), window, interval),
                             threshold + 2, threshold, count_window=window,
                             spaced=lambda level, gap: scenarios.spaced_steps(metric, labels, int(level), gap, interval),
                             masked=lambda level: _round_robin_restarts(metric, labels, threshold, interval))

    hold = context.timing.flapping_hold
    return [AlertRule(
        name="ServiceFlapping", expr=any_of(terms), for_=hold.duration, for_reason=hold.reason,
        severity=severity, subject="service", summary="A service keeps restarting.",  # type: ignore[arg-type]
        description=go_template("{service} at {instance} restarted {value} times in the last " f"{window}"
                                + threshold_note([t for (_, t), _ in groups]) + ".", "number"),
        runbook_url=context.runbook("ServiceFlapping"), dashboard_url=None, value_format="number",
        meaning=f"The process restarted more often than its threshold within {window}: a crash loop, OOM kills or a "
                "failing health check.",
        first_checks=("Why did it exit? Check the logs just before each restart and the exit codes.",
                      "Is it killed for memory (OOM) or by a liveness probe?"),
        family="restarts", instances=tuple(instance(s, t) for s in entries for t in s.targets),
    )]


# Processes answering one target in turn in the generated inputs (a PM2 cluster of three workers).
SHARING_PROCESSES = 3


def _round_robin_restarts(metric: str, labels: dict[str, str], threshold: int, interval: Duration) -> Scenario:
    """Start times read from several processes in turn: more changes than ``threshold`` (ready once
    the count has passed it), none of them a restart, so the restart count must stay quiet."""
    scenario = scenarios.round_robin(metric, labels, SHARING_PROCESSES, interval)
    return replace(scenario, measure=0.0, ready_after=Duration(interval.milliseconds * (threshold + 2)))


def shared_target_expr(start: str, counter: str, jobs: str, window: Duration) -> str:
    """Targets (job, instance, service, team) several processes answer in turn: the start time went
    back, or the request counter went back more often than the process restarted."""
    by = "max by (job, instance, service, team)"
    return (f"{by} (resets({start}{{{jobs}}}[{window}])) > 0\nor\n"
            f"{by} (resets({counter}{{{jobs}}}[{window}]))\n> {by} (changes({start}{{{jobs}}}[{window}]))")


def shared_target_rules(context: RuleContext, services: list[Service]) -> list[AlertRule]:
    """ScrapeTargetSharedByProcesses: several processes answer one target's scrapes in turn (PM2's
    cluster mode balancing one port over its workers, a load balancer in front of replicas). Its
    start time goes back, which no restart does; or, where the processes started within the same
    second, its request counter goes back more often than it restarted. The target's counters jump
    between processes' values: its rates, ratios and restarts are wrong."""
    entries = [s for s in services if s.process_start_metric]
    if not entries:
        return []
    groups = grouped(entries, lambda s: (s.process_start_metric, s.request_metrics.request_counter))
    window = context.timing.shared_target_window.duration
    terms = [shared_target_expr(start, counter, matcher("job", [s.job for s in group]), window)
             for (start, counter), group in groups]

    def instance(service: Service, target: str) -> AlertInstance:
        labels = {"job": service.job, "instance": target, **_labels(service)}
        metrics = service.request_metrics
        start = service.process_start_metric
        assert start is not None
        request = request_inputs.request_labels(metrics, labels)
        counters = [{**request, metrics.status_label: metrics.status_example(status)} for status in ("ok", "client_error")]
        interval = context.scrape_interval

        def sign(name: str) -> Scenario:
            return scenarios.shared_target(start, metrics.request_counter, labels, counters, name, interval)

        return AlertInstance(labels, scenarios.DOWN, True, lambda level: sign("start-times" if level else "restart"), 1, 0,
                             other_firing=OtherFiring("on request counters going back while the start times are alike",
                                                      lambda level: sign("counters")))

    hold = context.timing.shared_target_hold
    return [AlertRule(
        name="ScrapeTargetSharedByProcesses", expr=any_of(terms), for_=hold.duration,
        for_reason=hold.reason, severity="warning", subject="service", value_format="none",
        summary="Several processes answer one scrape target in turn: its rates and restart counts are wrong.",
        description=go_template("{instance} of {service} answers scrapes from several processes in turn (its "
                                "start time or request counter goes back): scrape each worker on its own port.",
                                "none"),
        meaning="The target's process start time went back, which no restart does, or its request counter went "
                "back more often than the process restarted: a PM2 cluster balancing one port over its workers, "
                "or a load balancer in front of replicas, hands each scrape to another process. Its counters jump between the processes' values, so request rates and error ratios "
                "read from it are wrong, and restarts cannot be counted (ServiceFlapping ignores the target).",
        runbook_url=context.runbook("ScrapeTargetSharedByProcesses"), dashboard_url=None, family=None,
        first_checks=("Is the service a PM2 cluster scraped on its shared port? Have each worker serve metrics "
                      "on PORT + NODE_APP_INSTANCE and list every worker port as a target "
                      "(docs/instrumenting.md, PM2 cluster mode).",
                      "Is the target a load-balanced address? Scrape the replicas themselves."),
        instances=tuple(instance(s, t) for s in entries for t in s.targets),
    )]


# A worker's resident memory over this share of PM2's max_memory_restart: the reload is near.
MEMORY_RESTART_SHARE = 0.9


def memory_restart_rules(context: RuleContext, services: list[Service]) -> list[AlertRule]:
    """WorkerMemoryNearRestart: a worker's resident memory past 90% of the service's PM2
    ``max_memory_restart``. PM2 compares the two every 30 s and reloads the worker over it: its
    in-flight requests fail, its counters start again from zero."""
    entries = [s for s in services if s.max_memory_restart is not None]
    if not entries:
        return []
    groups = grouped(entries, lambda s: s.max_memory_restart)
    terms = [f"{RESIDENT_MEMORY}{{{matcher('job', [s.job for s in group])}}} / {limit.bytes} > "
             f"{number(MEMORY_RESTART_SHARE)}" for limit, group in groups]

    def instance(service: Service, target: str) -> AlertInstance:
        labels = {"job": service.job, "instance": target, **_labels(service)}
        assert service.max_memory_restart is not None
        limit = service.max_memory_restart.bytes

        def build(level: float) -> Scenario:
            resident = round(limit * level)
            return replace(scenarios.constant(RESIDENT_MEMORY, labels, resident), value=resident / limit)
        return AlertInstance(labels, MEMORY_RESTART_SHARE, True, build, (MEMORY_RESTART_SHARE + 1) / 2,
                             MEMORY_RESTART_SHARE * 0.9)

    hold = context.timing.memory_restart_hold
    return [AlertRule(
        name="WorkerMemoryNearRestart", expr=any_of(terms), for_=hold.duration,
        for_reason=hold.reason, severity="warning", subject="service",
        summary="A worker's memory is close to PM2's max_memory_restart: PM2 will reload it.",
        description=go_template("{instance} of {service} uses {value} of its max_memory_restart"
                                + (f" ({groups[0][0]})" if len(groups) == 1 else "")
                                + "; PM2 reloads it past the limit.", "percentage"),
        runbook_url=context.runbook("WorkerMemoryNearRestart"), dashboard_url=None, value_format="percentage",
        meaning="The worker's resident memory is above 90% of the service's max_memory_restart (spec: "
                "services[].max_memory_restart, as in its PM2 ecosystem file). PM2 checks every 30 s and reloads a "
                "worker over the limit: its in-flight requests fail and its counters start again.",
        first_checks=("Is it one worker growing (a leak) or all of them (load, a larger working set)?",
                      "Take a heap snapshot before the reload loses it; compare with a fresh worker."),
        family=None, instances=tuple(instance(s, t) for s in entries for t in s.targets),
    )]


def service_rule_groups(context: RuleContext) -> list[RuleGroup]:
    services = list(context.spec.services)
    if not services:
        return []
    alerts = (*service_down_rules(context, services), *request_metrics_missing_rules(context, services),
              *health_check_rules(context, services),
              *error_rate_rules(context, services),
              *latency_rules(context, services), *flapping_rules(context, services),
              *memory_restart_rules(context, services), *shared_target_rules(context, services))
    return [RuleGroup("service-alerts", tuple(alerts))]


def service_recording_groups(context: RuleContext, service: Service) -> list[RuleGroup]:
    """``service``'s RED recordings, in a group (and a file, ``service-<name>.yml``) of its own:
    groups are evaluated concurrently, so their cost per evaluation does not pile up in one serial
    group as services are added, and a promtool test of services.yml loads the files of the
    services it feeds and no other."""
    window = context.timing.red_window.duration
    return [RuleGroup(f"service-{service.name}-recording", tuple(service_recording_rules(service, window)))]
