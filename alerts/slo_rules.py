"""SLO recording rules and multi-window, multi-burn-rate alerts (one alert rule per window pair).

Recording rules, per service (``slo:sli_events:rate<w>``, each window's request total), per events
SLO (``slo:sli_total_events:rate<w>``, each window's total of its own counter) and per SLO (labels
``service``, ``slo``, ``team``): ``slo:sli_error:ratio_rate<w>`` for every window,
``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:sli_error:ratio_rate<slo window>``
(from ``slo:window_bad_events:rate5m`` and ``slo:window_events:rate5m``) and
``slo:error_budget_remaining:ratio``. Thresholds are Decimal products, so they print as
clean decimals (``0.0144``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from functools import lru_cache

from obstack.alerts import event_inputs, request_inputs, scenarios
from obstack.alerts.annotations import go_template
from obstack.alerts.common import RuleContext, number, parenthesized
from obstack.alerts.rule_model import AlertInstance, AlertRule, BurnWindows, OtherFiring, RecordingRule, RuleGroup, Scenario
from obstack.alerts.service_rules import series_labels, traffic_floor, traffic_guard
from obstack.alerts.timing import BurnWindow, Timing
from obstack.stack.spec.base import promql_string
from obstack.stack.spec.model import Service, Slo
from obstack.stack.spec.values import Duration


def sli_windows(windows: tuple[BurnWindow, ...]) -> list[Duration]:
    return sorted({w.long for w in windows} | {w.short for w in windows})


def is_long(window: Duration, timing: Timing) -> bool:
    """Whether ``window`` is recorded in the slower group (timing: slo_long_window)."""
    return window >= timing.slo_long_window.duration


def error_ratio_record(window: Duration) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def events_record(window: Duration) -> str:
    """All requests per second over ``window``: each SLO ratio's denominator, recorded once per service."""
    return f"slo:sli_events:rate{window}"


def total_events_record(window: Duration) -> str:
    """An events SLO's events per second over ``window`` (its ``total`` counter), recorded per SLO."""
    return f"slo:sli_total_events:rate{window}"


def window_bad_events_record(window_input: Duration) -> str:
    return f"slo:window_bad_events:rate{window_input}"


def window_events_record(window_input: Duration) -> str:
    return f"slo:window_events:rate{window_input}"


def window_total_events_record(window_input: Duration) -> str:
    return f"slo:window_total_events:rate{window_input}"


def total_record(slo: Slo, window: Duration) -> str:
    """What the SLO's ratio divides by over ``window``: its own total (events SLOs) or the service's requests."""
    return total_events_record(window) if slo.kind == "events" else events_record(window)


def total_selector(service: Service, slo: Slo) -> str:
    """The matchers picking the SLO's total among the recordings of its name."""
    own = f', slo="{slo.name}"' if slo.kind == "events" else ""
    return f'service="{service.name}"{own}'


def _job(service: Service) -> tuple[str, str, str]:
    return ("job", "=", service.job)


def _total_expr(service: Service, window: Duration, slo: Slo | None = None) -> str:
    """Events per second over ``window``: the service's requests, or an events SLO's total counter."""
    counters = slo.event_counters if slo is not None else None
    counter = counters[2].render(_job(service)) if counters else \
        f'{service.request_metrics.request_counter}{{job="{service.job}"}}'
    return f"sum by (service, team) (rate({counter}[{window}]))"


def _events(service: Service, slo: Slo, window: Duration) -> str:
    return f"{total_record(slo, window)}{{{total_selector(service, slo)}}}"


def _bad_events_expr(service: Service, slo: Slo, window: Duration, events: str) -> str:
    """Bad requests (or events) per second, ``events`` the recorded total. A client library creates
    the 5xx series (a labelled counter's series) on the first 5xx, so a service that never failed has
    none: while requests are counted, that is zero, not nothing; and an events SLO that never
    counted a good event has all its events bad."""
    metrics = service.request_metrics
    job = f'job="{service.job}"'
    counters = slo.event_counters
    if counters is not None:
        form, counted, _ = counters
        rate = f"sum by (service, team) (rate({counted.render(_job(service))}[{window}]))"
        if form == "errors":
            return f"{rate}\nor on (service, team)\n0 * {events}"
        return f"(\n{events}\n- on (service, team)\n{rate}\n)\nor on (service, team)\n{events}"
    if slo.kind == "errors":
        errors = f'{metrics.status_label}=~{promql_string(metrics.error_status_regex)}'
        return f"sum by (service, team) (rate({metrics.request_counter}{{{job}, {errors}}}[{window}]))\nor\n0 * {events}"
    assert slo.threshold is not None
    good = f'le="{scenarios.le_text(slo.threshold.seconds)}"'
    return f"{events}\n-\nsum by (service, team) (rate({metrics.histogram}_bucket{{{job}, {good}}}[{window}]))"


def _error_ratio_expr(service: Service, slo: Slo, window: Duration) -> str:
    if slo.kind == "availability":
        return f'1 - avg by (service, team) (avg_over_time(up{{job="{service.job}"}}[{window}]))'
    events = _events(service, slo, window)
    # An events SLO's total carries its slo label, its bad events do not: matched on the service alone.
    divided = "/ on (service, team)" if slo.kind == "events" else "/"
    return f"(\n{_bad_events_expr(service, slo, window, events)}\n)\n{divided}\n{events}"


def _window_rules(service: Service, window_input: Duration) -> list[RecordingRule]:
    """The SLI over each SLO's whole window, from 5m rates sampled once a minute: bad events over
    all events, both summed over the window. Traffic-weighted: an idle 5m (0/0) adds nothing instead
    of making the window NaN, and a busy hour counts more than a quiet one. Availability counts
    time, not requests: its events are the samples themselves, so the SLI is the share of time down."""
    rules: list[RecordingRule] = []
    bad_events, all_events = window_bad_events_record(window_input), window_events_record(window_input)
    total_events = window_total_events_record(window_input)
    if any(slo.kind in ("errors", "latency") for slo in service.slos):
        rules.append(RecordingRule(all_events, _total_expr(service, window_input), {"service": service.name}))
    for slo in service.slos:
        labels = {"service": service.name, "slo": slo.name}
        selector = f'service="{service.name}", slo="{slo.name}"'
        budget = Decimal(1) - slo.objective.value
        if slo.kind == "events":
            rules.append(RecordingRule(total_events, _total_expr(service, window_input, slo), labels))
        events = f"{total_events if slo.kind == 'events' else all_events}{{{total_selector(service, slo)}}}"
        if slo.kind == "availability":
            bad = _error_ratio_expr(service, slo, window_input)
            ratio = f"avg_over_time({bad_events}{{{selector}}}[{slo.window}])"
        else:
            bad = _bad_events_expr(service, slo, window_input, events)
            ratio = (f"sum_over_time({bad_events}{{{selector}}}[{slo.window}])\n/ on (service, team)\n"
                     f"sum_over_time({events}[{slo.window}])")
        rules += [
            RecordingRule(bad_events, bad, labels),
            RecordingRule(error_ratio_record(slo.window), ratio, labels),
            RecordingRule("slo:objective:ratio", f"vector({number(slo.objective.value)})",
                          {"team": service.team, **labels}),
            RecordingRule("slo:error_budget:ratio", f"vector({number(budget)})", {"team": service.team, **labels}),
            RecordingRule("slo:error_budget_remaining:ratio",
                          f"1 - {error_ratio_record(slo.window)}{{{selector}}} / {number(budget)}", labels),
        ]
    return rules


def _request_slos(service: Service, window: Duration, windows: tuple[BurnWindow, ...]) -> bool:
    """Whether a SLO of the service counts its requests (errors and latency: the request total's
    readers) and reads ``window``."""
    return any(slo.kind in ("errors", "latency") and window in slo_windows(slo, windows) for slo in service.slos)


def slo_windows(slo: Slo, windows: tuple[BurnWindow, ...]) -> set[Duration]:
    """The windows the SLO's alerts read: both of each pair that can fire for it (a 7d SLO has no
    1d or 3d pair, so nothing would read its 2h, 1d and 3d ratios)."""
    return {each for pair in alertable_windows(slo, windows) for each in (pair.long, pair.short)}


def slo_recording_rules(service: Service, timing: Timing, long: bool) -> list[RecordingRule]:
    """The service's SLI recordings for its short windows (``long`` False) or its long ones and the
    window SLIs (True), each window for the SLOs whose alerts read it. Each window's request total
    is recorded once (``slo:sli_events:rate<w>``) and every request SLO of the service divides by
    it, in the same group and evaluation; an events SLO's total (``slo:sli_total_events:rate<w>``)
    is recorded just before its ratio."""
    windows = timing.burn_windows
    chosen = [w for w in sli_windows(windows) if is_long(w, timing) == long]
    rules: list[RecordingRule] = []
    for window in chosen:
        if _request_slos(service, window, windows):
            rules.append(RecordingRule(events_record(window), _total_expr(service, window), {"service": service.name}))
        for slo in (slo for slo in service.slos if window in slo_windows(slo, windows)):
            labels = {"service": service.name, "slo": slo.name}
            if slo.kind == "events":
                rules.append(RecordingRule(total_events_record(window), _total_expr(service, window, slo), labels))
            rules.append(RecordingRule(error_ratio_record(window), _error_ratio_expr(service, slo, window), labels))
    return rules + (_window_rules(service, timing.slo_window_input.duration) if long else [])


# Requests (or events) per scrape interval of a scenario with plenty of traffic.
BUSY_EVENTS = 100000
# The events of a service's other events SLOs beside an input: busy, and not as busy as it, so a
# rule that reads their total instead of its own (its slo matcher lost or negated) reads another
# ratio and another traffic guard.
OTHER_SLO_EVENTS = 3 * BUSY_EVENTS


def _slo_labels(service: Service, slo: Slo) -> dict[str, str]:
    return {"service": service.name, "team": service.team, "slo": slo.name}


def _scenario(context: RuleContext, service: Service, slo: Slo, level: float, rate: float | None = None) -> Scenario:
    """Every window sees the same error ratio ``level`` (on ``rate`` requests/s, or plenty)."""
    metrics = service.request_metrics
    interval = context.scrape_interval
    base = series_labels(service)
    if slo.kind == "availability":
        return scenarios.failed_scrapes(base, level, interval)
    per_interval = BUSY_EVENTS if rate is None else rate * interval.seconds
    if slo.kind == "events":
        return _event_scenario(context, service, slo, level, per_interval)
    if slo.kind == "errors":
        return request_inputs.error_ratio(metrics, base, level, interval, per_interval)
    assert slo.threshold is not None
    return request_inputs.slow_share(metrics, base, slo.threshold.seconds, level, interval, per_interval)


def _event_scenario(context: RuleContext, service: Service, slo: Slo, level: float, per_interval: float,
                    counted_missing: bool = False) -> Scenario:
    """An events SLO's input at ``level``, beside the inputs of the service's other events SLOs,
    healthy and three times as busy: their totals are recorded under the same name, told apart by
    the slo label alone, so a rule reading the SLO's total without it, or with the matcher negated,
    reads theirs (and its ratio, or its traffic guard, goes wrong). A series of theirs the SLO's
    own input holds is its own."""
    base, interval = series_labels(service), context.scrape_interval
    own = event_inputs.event_ratio(slo, base, level, interval, per_interval, counted_missing)
    taken = {each.series for each in event_inputs.event_ratio(slo, base, 0.0, interval, per_interval).series}
    others = [each for other in service.slos if other.kind == "events" and other.name != slo.name
              for each in event_inputs.event_ratio(other, base, 0.0, interval, OTHER_SLO_EVENTS).series
              if each.series not in taken]
    return replace(own, series=(*own.series, *dict.fromkeys(others)))


def _no_good_event(context: RuleContext, service: Service, slo: Slo) -> OtherFiring | None:
    """A good-events SLO fires when no good event was ever counted (its good counter has no series
    yet, every event is bad): the ``or`` branch of its bad events."""
    counters = slo.event_counters
    if counters is None or counters[0] != "good":
        return None
    return OtherFiring("with no good event counted yet",
                       lambda level: _event_scenario(context, service, slo, level, BUSY_EVENTS, counted_missing=True))


def burn_threshold(slo: Slo, window: BurnWindow) -> Decimal:
    """The error ratio at which ``window``'s pair burns the budget: burn rate x (1 - objective)."""
    return window.burn_rate(slo.window) * (Decimal(1) - slo.objective.value)


def alertable_windows(slo: Slo, windows: tuple[BurnWindow, ...]) -> tuple[BurnWindow, ...]:
    """The pairs that mean something for this SLO: a burn rate of at least 1 (below it the budget
    outlasts the window: a 3d pair of a 7d SLO would fire at 0.23x, well inside the budget; at 1x,
    the 30d table's slowest ticket, it runs out exactly at the window's end) and a threshold below
    a 100% error ratio (14.4x a 10% budget is 144% errors: it can never fire)."""
    return _alertable_windows(slo.window.milliseconds, slo.objective.value, windows)


@lru_cache(maxsize=256)  # asked for every window of every SLO of every service: a fleet has few distinct SLOs
def _alertable_windows(slo_window_ms: int, objective: Decimal, windows: tuple[BurnWindow, ...]
                       ) -> tuple[BurnWindow, ...]:
    slo_window, budget = Duration(slo_window_ms), Decimal(1) - objective
    return tuple(w for w in windows if (rate := w.burn_rate(slo_window)) >= 1 and rate * budget < 1)


def _pair_guard(service: Service, slo: Slo, window: BurnWindow, time_scale: int) -> str:
    """Both windows of a pair must hold enough requests (a ratio of requests needs requests, one of
    events events; availability is measured by scrapes and has no guard)."""
    if slo.kind == "availability":
        return ""
    selector = total_selector(service, slo)
    return "".join(f"\n{traffic_guard(selector, w, traffic_floor(service, w, time_scale), total_record(slo, w))}"
                   for w in (window.long, window.short))


def pair_floor(service: Service, slo: Slo, window: BurnWindow, time_scale: int = 1) -> float | None:
    """The pair's traffic guard as a steady request rate (requests/s); None for availability."""
    if slo.kind == "availability":
        return None
    return max(traffic_floor(service, w, time_scale) / w.seconds for w in (window.long, window.short))


def _burn_term(service: Service, slo: Slo, window: BurnWindow, faster: BurnWindow | None, time_scale: int) -> str:
    threshold = burn_threshold(slo, window)
    selector = f'service="{service.name}", slo="{slo.name}"'
    term = (f"{error_ratio_record(window.long)}{{{selector}}} > {number(threshold)}\n"
            f"and {error_ratio_record(window.short)}{{{selector}}} > {number(threshold)}"
            f"{_pair_guard(service, slo, window, time_scale)}")
    if faster is not None:
        # A burn the faster pair's long window still sees above its own threshold, on traffic it can
        # fire on, is that pair's incident: it paged (or pages) for it. Without this, the slower pair
        # would start paging once the fast pair resolves, for an incident that is over. On traffic
        # too thin for the faster pair, the slower pair is the one that can page.
        faster_term = (f"{error_ratio_record(faster.long)}{{{selector}}} > {number(burn_threshold(slo, faster))}"
                       f"{_pair_guard(service, slo, faster, time_scale)}")
        term += "\nunless on (service, slo)\n" + (parenthesized(faster_term) if slo.kind != "availability"
                                                   else faster_term)
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
                name="ErrorBudgetBurn", expr=_burn_term(service, slo, window, faster, context.timing.time_scale),
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
                              "Look at the service's error, latency and availability panels for the same period "
                              "(an events SLO: its events per second panel, and the counters it names).",
                              "If a deploy caused it, roll back; the budget remaining says how much room is left."),
                family="slo-burn", symptom=True,
                instances=(_burn_instance(context, service, slo, window, faster),),
            ))
    return rules


def _burn_instance(context: RuleContext, service: Service, slo: Slo, window: BurnWindow,
                   faster: BurnWindow | None) -> AlertInstance:
    threshold = float(burn_threshold(slo, window))
    # Every window sees the same ratio in the scenarios, so the faster pair's long window blocks
    # this pair above the faster pair's threshold: the firing level sits just under it (where a
    # hold-back threshold lowered by a fifth would block it).
    blocked = float(burn_threshold(slo, faster)) if faster is not None else None
    fire = min((threshold + 1) / 2, threshold * 2 if blocked is None else blocked * 0.9)
    time_scale = context.timing.time_scale
    floor = pair_floor(service, slo, window, time_scale)
    return AlertInstance(
        _slo_labels(service, slo), threshold, True, lambda level: _scenario(context, service, slo, level),
        fire, threshold * 0.9, blocked_above=blocked, min_request_rate=floor,
        blocked_min_request_rate=pair_floor(service, slo, faster, time_scale) if faster is not None else None,
        sparse=(lambda level, rate: _scenario(context, service, slo, level, rate)) if floor is not None else None,
        guard_window=window.long if floor is not None else None,
        other_firing=_no_good_event(context, service, slo) if faster is None else None,
        burn_windows=BurnWindows(window.long, window.short, faster.long if faster is not None else None,
                                 *((traffic_floor(service, window.long, time_scale),
                                    traffic_floor(service, window.short, time_scale))
                                   if floor is not None else (None, None))),
    )


def slo_rule_groups(context: RuleContext, service: Service) -> list[RuleGroup]:
    """Two groups per service with SLOs: ``slo-<service>`` at the evaluation interval (the short
    windows' recordings, then the burn-rate alerts) and ``slo-<service>-long`` every slo_slow_interval
    (the 6h, 1d and 3d windows, the window SLIs and budgets). Each service's groups are a rule file
    of their own (rule_files.py), so its tests load its rules alone.

    Groups are evaluated concurrently, so the cost per evaluation does not pile up in one serial
    group as services are added; within a group rules run in order, so each ratio divides by the
    total recorded just before it. An alert reading the slower group sees values up to a minute
    old: only the slow pairs do, and they hold 15m or more.
    """
    if not service.slos:
        return []
    timing = context.timing
    return [RuleGroup(f"slo-{service.name}", (*slo_recording_rules(service, timing, long=False),
                                              *burn_rate_alerts(context, service, timing.burn_windows))),
            RuleGroup(f"slo-{service.name}-long", tuple(slo_recording_rules(service, timing, long=True)),
                      timing.slo_slow_interval.duration)]
