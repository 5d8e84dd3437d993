"""SLO recording rules and multi-window, multi-burn-rate alerts (one alert rule per window pair).

Recording rules, per service and SLO (labels ``service``, ``slo``, ``team``):
``slo:sli_error:ratio_rate<w>`` for every window, ``slo:objective:ratio``,
``slo:error_budget:ratio``, ``slo:sli_error:ratio_rate<slo window>`` and
``slo:error_budget_remaining:ratio``. Thresholds are Decimal products, so they print as
clean decimals (``0.0144``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

import yaml

from alerts import scenarios
from alerts.annotations import go_template
from alerts.common import RuleContext, number
from alerts.model import AlertInstance, AlertRule, RecordingRule, RuleGroup, Scenario
from alerts.service_rules import requests_rate_record
from stack.spec.model import Service, Slo
from stack.spec.values import Duration


@dataclass(frozen=True)
class BurnWindow:
    severity: str
    long: Duration
    short: Duration
    budget_consumed: Decimal
    for_: Duration

    def burn_rate(self, slo_window: Duration) -> Decimal:
        return self.budget_consumed * Decimal(slo_window.milliseconds) / Decimal(self.long.milliseconds)


@functools.cache
def burn_windows() -> tuple[BurnWindow, ...]:
    """The window pairs of alerts/burn_rate_windows.yaml (package data: read and parsed once)."""
    text = resources.files("alerts").joinpath("burn_rate_windows.yaml").read_text(encoding="utf-8")
    return tuple(
        BurnWindow(w["severity"], Duration.parse(w["long"]), Duration.parse(w["short"]),
                   Decimal(str(w["budget_consumed"])), Duration.parse(w["for"]))
        for w in yaml.safe_load(text)["windows"]
    )


def sli_windows(windows: tuple[BurnWindow, ...]) -> list[Duration]:
    return sorted({w.long for w in windows} | {w.short for w in windows})


def error_ratio_record(window: Duration) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def bad_events_record(window: Duration) -> str:
    return f"slo:sli_bad_events:rate{window}"


def events_record(window: Duration) -> str:
    return f"slo:sli_events:rate{window}"


def _total_expr(service: Service, window: Duration) -> str:
    job = f'job="{service.job}"'
    return f"sum by (service, team) (rate({service.request_metrics.histogram}_count{{{job}}}[{window}]))"


def _bad_events_expr(service: Service, slo: Slo, window: Duration) -> str:
    """Bad requests per second. A client library creates the 5xx series on the first 5xx, so a
    service that never failed has none: while requests are counted, that is zero, not nothing."""
    metrics = service.request_metrics
    job = f'job="{service.job}"'
    total = _total_expr(service, window)
    if slo.kind == "errors":
        errors = f'{metrics.status_label}=~"{metrics.error_status_regex}"'
        return f"sum by (service, team) (rate({metrics.histogram}_count{{{job}, {errors}}}[{window}]))\nor\n0 * {total}"
    assert slo.threshold is not None
    good = f'le="{scenarios.le_text(slo.threshold.seconds)}"'
    return f"{total}\n-\nsum by (service, team) (rate({metrics.histogram}_bucket{{{job}, {good}}}[{window}]))"


def _error_ratio_expr(service: Service, slo: Slo, window: Duration) -> str:
    if slo.kind == "availability":
        return f'1 - avg by (service, team) (avg_over_time(up{{job="{service.job}"}}[{window}]))'
    return f"(\n{_bad_events_expr(service, slo, window)}\n)\n/\n{_total_expr(service, window)}"


def _window_ratio_rules(service: Service, slo: Slo, windows: tuple[BurnWindow, ...]) -> list[RecordingRule]:
    """The SLI over the SLO's whole window. Request SLOs weigh each 5m by its traffic (bad events
    over all events, both summed over the window): an idle 5m (0/0) adds nothing instead of
    making the window NaN, and a busy hour counts more than a quiet one. Availability, measured
    from scrapes, is a plain average over time."""
    labels = {"service": service.name, "slo": slo.name}
    selector = f'service="{service.name}", slo="{slo.name}"'
    short = min(w.short for w in windows)
    if slo.kind == "availability":
        return [RecordingRule(error_ratio_record(slo.window),
                              f"avg_over_time({error_ratio_record(short)}{{{selector}}}[{slo.window}])", labels)]
    return [
        RecordingRule(bad_events_record(short), _bad_events_expr(service, slo, short), labels),
        RecordingRule(events_record(short), _total_expr(service, short), labels),
        RecordingRule(error_ratio_record(slo.window),
                      f"sum_over_time({bad_events_record(short)}{{{selector}}}[{slo.window}])\n/\n"
                      f"sum_over_time({events_record(short)}{{{selector}}}[{slo.window}])", labels),
    ]


def slo_recording_rules(service: Service, slo: Slo, windows: tuple[BurnWindow, ...]) -> list[RecordingRule]:
    labels = {"service": service.name, "slo": slo.name}
    budget = Decimal(1) - slo.objective.value
    selector = f'service="{service.name}", slo="{slo.name}"'
    rules = [RecordingRule(error_ratio_record(w), _error_ratio_expr(service, slo, w), labels) for w in sli_windows(windows)]
    static = {"team": service.team, **labels}
    rules += [
        RecordingRule("slo:objective:ratio", f"vector({number(slo.objective.value)})", static),
        RecordingRule("slo:error_budget:ratio", f"vector({number(budget)})", static),
        *_window_ratio_rules(service, slo, windows),
        RecordingRule("slo:error_budget_remaining:ratio",
                      f"1 - {error_ratio_record(slo.window)}{{{selector}}} / {number(budget)}", labels),
    ]
    return rules


def _slo_labels(service: Service, slo: Slo) -> dict[str, str]:
    return {"service": service.name, "team": service.team, "slo": slo.name}


def _scenario(context: RuleContext, service: Service, slo: Slo, level: float) -> Scenario:
    """Every window sees the same error ratio ``level``."""
    metrics = service.request_metrics
    interval = context.scrape_interval
    base = {"job": service.job, "instance": service.targets[0], "service": service.name, "team": service.team}
    if slo.kind == "availability":
        # avg_over_time(up) is the share of successful scrapes; a fractional constant stands for that share.
        up = scenarios.constant("up", base, round(1 - level, 6))
        return Scenario(up.series, 1 - round(1 - level, 6), interval)
    request = {**base, metrics.method_label: "GET", metrics.route_label: "/api/bookmarks"}
    if slo.kind == "errors":
        return scenarios.error_ratio(f"{metrics.histogram}_count", request, metrics.status_label, level, interval,
                                     per_interval=100000)
    assert slo.threshold is not None
    return scenarios.slow_share(metrics.histogram, request, metrics.buckets, slo.threshold.seconds, level, interval,
                                per_interval=100000)


def burn_threshold(slo: Slo, window: BurnWindow) -> Decimal:
    """The error ratio at which ``window``'s pair burns the budget: burn rate x (1 - objective)."""
    return window.burn_rate(slo.window) * (Decimal(1) - slo.objective.value)


def alertable_windows(slo: Slo, windows: tuple[BurnWindow, ...]) -> tuple[BurnWindow, ...]:
    """The pairs that mean something for this SLO: a burn rate of at least 1 (below it the budget
    outlasts the window: a 3d pair of a 7d SLO would fire at 0.23x, well inside the budget; at 1x,
    the 30d table's slowest ticket, it runs out exactly at the window's end) and a threshold below
    a 100% error ratio (14.4x a 10% budget is 144% errors: it can never fire)."""
    return tuple(w for w in windows if w.burn_rate(slo.window) >= 1 and burn_threshold(slo, w) < 1)


def _burn_term(service: Service, slo: Slo, window: BurnWindow, faster: BurnWindow | None) -> str:
    threshold = burn_threshold(slo, window)
    selector = f'service="{service.name}", slo="{slo.name}"'
    term = (f"{error_ratio_record(window.long)}{{{selector}}} > {number(threshold)}\n"
            f"and {error_ratio_record(window.short)}{{{selector}}} > {number(threshold)}")
    if slo.kind != "availability":  # a ratio of requests needs requests; availability is measured by scrapes
        term += (f"\nand on (service, team)\n{requests_rate_record(str(window.long))}{{service=\"{service.name}\"}}"
                 f" > {number(service.thresholds.min_request_rate)}")
    if faster is not None:
        # A burn the faster pair's long window still sees above its own threshold is that pair's
        # incident: it paged (or pages) for it. Without this, the slower pair would start paging
        # once the fast pair resolves, for an incident that is over.
        term += (f"\nunless on (service, slo)\n{error_ratio_record(faster.long)}{{{selector}}}"
                 f" > {number(burn_threshold(slo, faster))}")
    return term


def burn_rate_alerts(context: RuleContext, service: Service, windows: tuple[BurnWindow, ...]) -> list[AlertRule]:
    """One rule per SLO of ``service`` and window pair."""
    rules = []
    for slo in service.slos:
        pairs = alertable_windows(slo, windows)
        for index, window in enumerate(pairs):
            faster = pairs[index - 1] if index else None
            kind = "page" if window.severity == "critical" else "ticket"
            speed = f" at more than {number(window.burn_rate(slo.window))}x the sustainable rate"
            rules.append(AlertRule(
                name="ErrorBudgetBurn", expr=_burn_term(service, slo, window, faster),
                for_=window.for_, for_reason=f"the short window ({window.short}) already confirms the burn; "
                                              f"{window.for_} more keeps a single spike from raising a {kind}",
                severity=window.severity,  # type: ignore[arg-type]
                subject="service",
                # service: the series carry it already; as a static label it tells the services' rules apart
                # (promtool's duplicate-rule lint compares names and labels).
                static_labels={"service": service.name, "slo": slo.name, "long_window": str(window.long),
                               "short_window": str(window.short)},
                summary="A service is burning its error budget too fast.",
                description=go_template(
                    "{service} {slo} SLO: error ratio {value} over " f"{window.long} (and over {window.short}) "
                    f"burns the error budget{speed}.", "percentage"),
                runbook_url=context.runbook("ErrorBudgetBurn"), dashboard_url=None, value_format="percentage",
                meaning="The SLO's error budget is being consumed faster than it can last: at 14.4x over 1h, 2% of a "
                        "30d budget is gone in an hour. Fast burns page, slow burns open a ticket.",
                first_checks=("Which SLO and window? The long_window label says how fast the budget burns.",
                              "Look at the service's error, latency and availability panels for the same period.",
                              "If a deploy caused it, roll back; the budget remaining says how much room is left."),
                family="slo-burn", symptom=True,
                instances=(_burn_instance(context, service, slo, window, faster),),
            ))
    return rules


def _burn_instance(context: RuleContext, service: Service, slo: Slo, window: BurnWindow,
                   faster: BurnWindow | None) -> AlertInstance:
    threshold = float(burn_threshold(slo, window))
    # Every window sees the same ratio in the scenarios, so the faster pair's long window blocks
    # this pair above the faster pair's threshold: the firing level sits between the two.
    blocked = float(burn_threshold(slo, faster)) if faster is not None else None
    fire = min(threshold * 2, (threshold + 1) / 2, *([(threshold + blocked) / 2] if blocked is not None else []))
    return AlertInstance(
        _slo_labels(service, slo), threshold, True, lambda level: _scenario(context, service, slo, level),
        fire, threshold * 0.9, blocked_above=blocked,
    )


def slo_rule_groups(context: RuleContext) -> list[RuleGroup]:
    """One group per service: its SLO recordings, then its burn-rate alerts.

    Groups are evaluated concurrently, so the SLO cost per evaluation no longer grows with the
    number of services in one serial group; within a group rules run in order, so each alert
    reads the recordings of the same evaluation (no one-interval lag).
    """
    windows = burn_windows()
    return [
        RuleGroup(f"slo-{service.name}",
                  (*(rule for slo in service.slos for rule in slo_recording_rules(service, slo, windows)),
                   *burn_rate_alerts(context, service, windows)))
        for service in context.spec.services if service.slos
    ]
