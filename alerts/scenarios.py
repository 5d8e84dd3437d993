"""Input series that put a measured value at a chosen level, for the generated promtool tests.

Each builder returns the series (values in promtool's notation, ``{n}`` standing for the
number of samples the test needs) and the value the expression will evaluate to,
computed the way PromQL does, so the expected annotation text is exact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from obstack.alerts.rule_model import InputSeries, Scenario
from obstack.stack.spec.base import promql_string
from obstack.stack.spec.values import Duration

ZERO = Duration(0)
# Threshold of a 0/1 health condition: level 0 (down) is below it, level 1 (up) above.
DOWN = 0.5


def selector(metric: str, labels: Mapping[str, str]) -> str:
    inner = ", ".join(f"{key}={promql_string(value)}" for key, value in labels.items())
    return f"{metric}{{{inner}}}"


def sample_text(value: float) -> str:
    return repr(round(value, 9)).removesuffix(".0") if value != int(value) else str(int(value))


def constant(metric: str, labels: Mapping[str, str], level: float) -> Scenario:
    """A gauge holding ``level``."""
    return Scenario((InputSeries(selector(metric, labels), f"{sample_text(level)}x{{n}}"),), float(level), ZERO)


def down(metric: str, labels: Mapping[str, str], level: float) -> Scenario:
    """A 0/1 health gauge: level 0 is down (the alert's value), anything else is up."""
    value = 0.0 if level == 0 else 1.0
    return Scenario((InputSeries(selector(metric, labels), f"{sample_text(value)}x{{n}}"),), value, ZERO)


def failed_probe(up_metric: str, labels: Mapping[str, str], failure: Mapping[str, str], level: float,
                 reason: str = "timeout") -> Scenario:
    """An exporter probe's 0/1 gauge; when down (level 0) also ``obstack_probe_failure`` with ``reason``
    (``failure``: its labels but the reason), which the alert's description reads as {probe_reason}."""
    up = down(up_metric, labels, level)
    if level:
        return up
    series = up.series + constant("obstack_probe_failure", {**failure, "reason": reason}, 1).series
    return Scenario(series, up.value, up.ready_after, facts={"probe_reason": reason})


def _requests(share: float, per_interval: float) -> float:
    """``share`` of ``per_interval`` requests: whole requests when the total is whole (counters of a
    busy service), the exact share when it is a fraction (a trickle: 0.9 requests per scrape)."""
    return round(share * per_interval) if isinstance(per_interval, int) else share * per_interval


# Request scenarios run on this many instances of the service (PM2 workers, pods), unevenly
# loaded: an aggregation that keeps the instance, or takes max/min/avg where the rule sums,
# then reads another value than the rule does, and the generated tests reject it.
REPLICAS = 3
OK_SHARES = (0.5, 0.3, 0.2)  # successful (or fast) requests per instance


def replicas(labels: Mapping[str, str], count: int = REPLICAS) -> list[dict[str, str]]:
    """``labels`` of ``count`` instances of one service: the first keeps its instance label."""
    host, _, port = labels["instance"].rpartition(":")
    others = [f"{host}-{index}:{port}" if host else f"{labels['instance']}-{index}" for index in range(2, count + 1)]
    return [dict(labels), *({**labels, "instance": other} for other in others)]


# One instance serves two routes of the service, unevenly: the failing (or slow) requests on the
# first, the good ones shared out. A rule that keeps the route (``by (service, route)``) reads
# each route's own share, and the generated tests reject it. (One instance, not all: each route
# adds a copy of the instance's series, and promtool's time grows with them.)
ROUTE_SHARES = (0.5, 0.5)  # of the instance's good (or fast) requests
ROUTED = 0  # the instance (by position) that serves both routes


def routes(labels: Mapping[str, str], route_label: str | None, routed: bool = True) -> list[dict[str, str]]:
    """``labels`` on each route: the first keeps its route, the second is a route under it
    (``/api/bookmarks/:id``). One route where the labels carry none, or ``routed`` is false."""
    if not routed or route_label is None or route_label not in labels:
        return [dict(labels)]
    return [dict(labels), {**labels, route_label: f"{labels[route_label].rstrip('/')}/:id"}]


def _route_shares(count: int) -> tuple[float, ...]:
    return ROUTE_SHARES if count == len(ROUTE_SHARES) else (1.0,)


# Of a job's failed scrapes, the share on its first target (the rest on a second): uneven, so a
# rule reading the worst target (min), the best (max) or one target reads another share.
FAILED_SCRAPES_FIRST = 0.75


def failed_scrapes(labels: Mapping[str, str], level: float, interval: Duration) -> Scenario:
    """``up`` of two targets of a job, a ``level`` share of all their scrapes failing: each target's
    ``up`` a fractional constant standing for its share of successful scrapes (what
    avg_over_time(up[w]) reads), most failures on the first (all of its scrapes at most)."""
    first = min(1.0, 2 * FAILED_SCRAPES_FIRST * level)
    ups = [round(1 - share, 6) for share in (first, 2 * level - first)]
    series = tuple(InputSeries(selector("up", target), f"{sample_text(up)}x{{n}}")
                   for up, target in zip(ups, replicas(labels, len(ups))))
    return Scenario(series, 1 - sum(ups) / len(ups), interval)


# Of a request scenario's instances, the one whose process restarts during the test (a PM2
# worker recycled at max_memory_restart, a pod rescheduled): its counters drop back.
RESTARTING = 1


def _restarting(series: list[InputSeries], instance: int, restarting: int = RESTARTING) -> list[InputSeries]:
    return [replace(s, restarts=True) for s in series] if instance == restarting else series


_NUMBER = r"\d+(?:\.\d+)?(?:e[+-]?\d+)?"
_SEGMENT = re.compile(rf"^(-?{_NUMBER})(?:([+-])({_NUMBER})x(\d+))?$")


def restarted(values: str, at: int) -> str:
    """A counter's promtool ``values`` (expanded counts, no placeholders) as if its process
    restarted just before sample ``at``: from there on it counts from zero again, the sample at
    ``at`` holding only the increase since the one before. rate() and increase() read the same
    as before (Prometheus adds a reset counter's new value); delta() and deriv() read the drop.

    Unchanged when the drop would not read as a reset: a counter still at zero, or one that grew
    more in its last step than in all the steps before it.
    """
    segments: list[tuple[float, float, int]] = []  # start, step, number of samples
    for token in values.split():
        match = _SEGMENT.match(token)
        if match is None:
            raise ValueError(f"restarted(): {token!r} is not a counter segment")
        start, sign, step, count = match.groups()
        segments.append((float(start), float(f"{sign}{step}") if sign else 0.0, int(count) + 1 if count else 1))

    def value(index: int) -> float:
        for start, step, count in segments:
            if index < count:
                return start + step * index
            index -= count
        raise ValueError(f"restarted(): no sample {at} in {values!r}")
    if at < 1:
        return values
    before, increase = value(at - 1), value(at) - value(at - 1)
    if not 0 <= increase < before:
        return values
    parts, position = [], 0
    for start, step, count in segments:
        pieces = [(start, count)] if position + count <= at or position >= at else \
            [(start, at - position), (start + step * (at - position), count - (at - position))]
        for first, length in pieces:
            shifted = first - before if position >= at else first
            parts.append(sample_text(shifted) if length == 1 else
                         f"{sample_text(shifted)}{'-' if step < 0 else '+'}{sample_text(abs(step))}x{length - 1}")
            position += length
    return " ".join(parts)


CLIENT_ERROR_STATUS = "404"
CLIENT_ERROR_SHARE = 0.1  # of the requests that are not server errors


def client_error_status(error_regex: str, status: str = CLIENT_ERROR_STATUS) -> str | None:
    """A 4xx ``status`` the service's error regex does not count (None when it counts it too): request
    inputs carry some, so a rule counting client errors as failures reads another share."""
    return None if re.fullmatch(error_regex, status) else status


def error_ratio(count_metric: str, labels: Mapping[str, str], status_label: str, level: float, interval: Duration,
                per_interval: float = 10000, error_status: str = "500",
                client_error: str | None = CLIENT_ERROR_STATUS, route_label: str | None = None,
                ok_status: str = "200") -> Scenario:
    """Request counters on REPLICAS instances (one of them serving two routes, where ``route_label``
    names the labels' route) whose 5xx share, all together, is ``level`` (rounded to whole requests):
    errors spread evenly over the instances, on the first route; successes unevenly; and a tenth of
    the rest answered with ``client_error`` (a 4xx, not an error) where given."""
    errors = _requests(level, per_interval)
    ok = per_interval - errors
    series: list[InputSeries] = []
    for position, (share, instance) in enumerate(zip(OK_SHARES, replicas(labels))):
        served = routes(instance, route_label, position == ROUTED)
        instance_series = []
        for route, route_share in zip(served, _route_shares(len(served))):
            good = ok * share * route_share
            answered = {ok_status: good}
            if client_error is not None:
                answered = {ok_status: good * (1 - CLIENT_ERROR_SHARE), client_error: good * CLIENT_ERROR_SHARE}
            if route is served[0]:
                answered[error_status] = errors / REPLICAS
            instance_series += [InputSeries(selector(count_metric, {**route, status_label: status}),
                                            f"0+{sample_text(count)}x{{n}}") for status, count in answered.items()]
        series += _restarting(instance_series, position)
    seconds = interval.seconds
    value = (errors / seconds) / ((ok / seconds) + (errors / seconds))
    return Scenario(tuple(series), value, interval, request_rate=per_interval / seconds)


@dataclass(frozen=True)
class RequestCounter:
    """A request counter kept apart from the latency histogram (prometheus-fastapi-instrumentator's
    http_requests_total): latency inputs count their requests on it too, as answered with ``status``."""

    name: str
    status_label: str
    status: str


def histogram(metric: str, labels: Mapping[str, str], buckets: tuple[float, ...], counts: Mapping[float, float],
              total: float, counter: RequestCounter | None = None) -> tuple[InputSeries, ...]:
    """Bucket and count series of a histogram receiving ``counts[bucket bound]`` requests per interval
    (``total`` in all; any not in ``counts`` land in the +Inf bucket), and the same requests on
    ``counter`` where the service counts them apart."""
    series: list[InputSeries] = []
    cumulative = 0
    for bound in buckets:
        cumulative += counts.get(bound, 0)
        series.append(InputSeries(selector(f"{metric}_bucket", {**labels, "le": le_text(bound)}),
                                  f"0+{sample_text(cumulative)}x{{n}}"))
    series.append(InputSeries(selector(f"{metric}_bucket", {**labels, "le": "+Inf"}), f"0+{sample_text(total)}x{{n}}"))
    series.append(InputSeries(selector(f"{metric}_count", labels), f"0+{sample_text(total)}x{{n}}"))
    if counter is not None:
        series.append(InputSeries(selector(counter.name, {**labels, counter.status_label: counter.status}),
                                  f"0+{sample_text(total)}x{{n}}"))
    return tuple(series)


def le_text(bound: float) -> str:
    """Bucket bounds as prom-client writes them (1 -> "1", 0.1 -> "0.1")."""
    return sample_text(bound)


def latency_quantile(metric: str, labels: Mapping[str, str], buckets: tuple[float, ...], quantile: float,
                     level: float, interval: Duration, per_interval: float = 1000,
                     route_label: str | None = None, counter: RequestCounter | None = None) -> Scenario:
    """A histogram whose ``quantile`` (by histogram_quantile's linear interpolation) is about ``level``.

    Requests go to the bucket holding ``level``, plus enough "fast" ones in the first bucket
    to move the quantile's rank to ``level`` within it. The slow ones on the first route, the fast
    ones shared over both (where ``route_label`` names the labels' route).
    """
    index = next((i for i, bound in enumerate(buckets) if bound >= level), len(buckets) - 1)
    upper = buckets[index]
    lower = buckets[index - 1] if index else 0.0
    position = (level - lower) / (upper - lower)
    fast = _requests((quantile - position) / (1 - position), per_interval) if index and position < quantile else 0
    value = lower + (upper - lower) * ((quantile * per_interval - fast) / (per_interval - fast))
    # The slow requests on the first instance, the fast ones on the others: only the histogram of
    # all instances together has this quantile.
    # The restarting instance is one with requests: a fast one, or the slow one when all are slow.
    first, *rest = replicas(labels)
    slow = per_interval - fast
    restarting = RESTARTING if fast else 0
    series = _restarting(list(histogram(metric, first, buckets, {upper: slow}, slow, counter)), 0, restarting)
    for position, instance in enumerate(rest, 1):
        served = routes(instance, route_label, position == 1)  # the first with fast requests
        instance_series: list[InputSeries] = []
        for route, route_share in zip(served, _route_shares(len(served))):
            part = fast / len(rest) * route_share
            instance_series += histogram(metric, route, buckets, {buckets[0]: part} if part else {}, part, counter)
        series += _restarting(instance_series, position, restarting)
    return Scenario(tuple(series), value, interval, request_rate=per_interval / interval.seconds)


def slow_share(metric: str, labels: Mapping[str, str], buckets: tuple[float, ...], threshold: float, level: float,
               interval: Duration, per_interval: float = 10000, route_label: str | None = None,
               counter: RequestCounter | None = None) -> Scenario:
    """A histogram where a ``level`` share of requests is slower than ``threshold`` (a bucket bound)."""
    slow = _requests(level, per_interval)
    above = next((bound for bound in buckets if bound > threshold), None)
    good = per_interval - slow
    series: list[InputSeries] = []
    # Slow requests spread evenly over the instances, on the first route; fast ones unevenly.
    for position, (share, instance) in enumerate(zip(OK_SHARES, replicas(labels))):
        served = routes(instance, route_label, position == ROUTED)
        instance_series: list[InputSeries] = []
        for route, route_share in zip(served, _route_shares(len(served))):
            fast = good * share * route_share
            late = slow / REPLICAS if route is served[0] else 0
            counts = {threshold: fast, **({above: late} if above is not None and late else {})}
            instance_series += histogram(metric, route, buckets, counts, fast + late, counter)
        series += _restarting(instance_series, position)
    return Scenario(tuple(series), slow / per_interval, interval, request_rate=per_interval / interval.seconds)


@dataclass(frozen=True)
class EventCounters:
    """The series of an events SLO's test input: ``counted`` (metric, labels) counts its bad events
    (``form`` "errors") or its good ones ("good"); ``other`` counts every event (``apart``: the total
    is a counter of its own) or, on one metric, the rest of them. ``excluded``: series its selectors
    leave out (a negative matcher's value), each with its count per interval as a multiple of all
    events: a rule that lost the matcher counts them too."""

    form: str
    counted: tuple[str, Mapping[str, str]]
    other: tuple[str, Mapping[str, str]]
    apart: bool
    excluded: tuple[tuple[str, Mapping[str, str], float], ...] = ()


def event_ratio(counters: EventCounters, labels: Mapping[str, str], level: float, interval: Duration,
                per_interval: float = 10000, counted_missing: bool = False) -> Scenario:
    """Event counters on REPLICAS instances (``labels``: the first one's scrape labels) whose bad
    events, all together, are a ``level`` share of all (rounded to whole events): bad events spread
    evenly over the instances, good ones unevenly, one instance restarting. ``counted_missing``: the
    counted series do not exist (no good event counted yet: every event is bad, ``level`` aside)."""
    errors = per_interval if counted_missing else _requests(level, per_interval)
    ok = per_interval - errors
    series: list[InputSeries] = []
    for position, (share, instance) in enumerate(zip(OK_SHARES, replicas(labels))):
        bad, good = errors / REPLICAS, ok * share
        counted = bad if counters.form == "errors" else good
        counts = [] if counted_missing else [(counters.counted, counted)]
        counts.append((counters.other, bad + good if counters.apart else bad + good - counted))
        if position == 0:
            counts += [((metric, excluded), multiple * per_interval) for metric, excluded, multiple in counters.excluded]
        instance_series = [InputSeries(selector(metric, {**instance, **own}), f"0+{sample_text(count)}x{{n}}")
                           for (metric, own), count in counts]
        series += _restarting(instance_series, position)
    value = 1.0 if counted_missing else (errors / interval.seconds) / (per_interval / interval.seconds)
    return Scenario(tuple(series), value, interval, request_rate=per_interval / interval.seconds)


def ramp(metric: str, labels: Mapping[str, str], level: float, window: Duration, interval: Duration,
         counter: bool = False) -> Scenario:
    """A series growing linearly so that delta/increase over ``window`` is ``level``; a
    ``counter`` (read with rate/increase) restarts during the test (``restarted``)."""
    samples = window.milliseconds / interval.milliseconds
    step = level / samples
    series = InputSeries(selector(metric, labels), f"0+{sample_text(step)}x{{n}}", restarts=counter)
    return Scenario((series,), step * samples, window)


def steps(metric: str, labels: Mapping[str, str], changes: int, window: Duration, interval: Duration) -> Scenario:
    """A gauge that changes value ``changes`` times at the start (changes() over ``window``)."""
    values = " ".join(str(1000 + i) for i in range(changes + 1))
    ready = Duration(interval.milliseconds * changes)
    return Scenario(
        (InputSeries(selector(metric, labels), f"{values} {1000 + changes}x{{n}}"),), float(changes), ready, window
    )


def spaced_steps(metric: str, labels: Mapping[str, str], changes: int, gap: Duration, interval: Duration) -> Scenario:
    """A gauge that changes value ``changes`` times, one every ``gap`` (the first after one gap):
    restarts spread over time, for changes() over a window."""
    samples = gap.milliseconds // interval.milliseconds
    values = " ".join(f"{1000 + i}x{samples - 1}" for i in range(changes))
    ready = Duration(gap.milliseconds * changes)
    return Scenario((InputSeries(selector(metric, labels), f"{values} {1000 + changes}x{{n}}"),), float(changes), ready)


# Round-robin inputs cycle this long (in samples) before holding: longer than any test of them.
ROUND_ROBIN_SAMPLES = 240


def _cycle(values: list[str], hold: str) -> str:
    """``values`` repeated for ROUND_ROBIN_SAMPLES samples, then ``hold`` for the rest of the test."""
    repeated = (values * (ROUND_ROBIN_SAMPLES // len(values) + 1))[:ROUND_ROBIN_SAMPLES]
    return " ".join(repeated) + f" {hold}x{{n}}"


def round_robin(metric: str, labels: Mapping[str, str], processes: int, interval: Duration) -> Scenario:
    """A process start-time gauge read from ``processes`` processes in turn, as a PM2 cluster (or a
    load balancer) answers scrapes of one port: it goes back each time the turn comes round again,
    which no restart does (a restart only moves it on)."""
    # The last process first, so the first step back comes with the second sample at any test step.
    starts = [sample_text(1000 + 10 * ((p - 1) % processes)) for p in range(processes)]
    return Scenario((InputSeries(selector(metric, labels), _cycle(starts, "1000")),), 1.0, interval, measure=1.0)


def shared_target(start: str, counter: str, labels: Mapping[str, str], counters: Sequence[Mapping[str, str]],
                  sign: str, interval: Duration, worker_label: str = "worker") -> Scenario:
    """A target's start time and request counters (two series: ``counters``, their labels) as
    several processes answering it in turn leave them, or one process restarting (``sign``):

    - "start-times": start times of two processes in turn; the counters alike (none has served a
      request);
    - "counters": start times alike (PM2 starts its workers within the same second, and prom-client
      reports whole seconds); the first counter of two processes in turn, going back at every turn,
      the second only in one of them, so read every other scrape and never going back;
    - "restart": one process restarting every few scrapes: its start time moves on, and both
      counters start again from zero at the same scrape (a counter reset with a restart is no sign
      of sharing; two series reset by one restart are one restart).

    "start-times" and "restart" also hold a second, steady worker's series behind the same target
    (an aggregating endpoint keeping workers apart by ``worker_label``): the target's signs are
    the worst worker's, not a sum or an average over them.
    """
    def worker(each: Mapping[str, str], name: str) -> dict[str, str]:
        return {**each, worker_label: name}

    first, second = (selector(counter, worker(each, "0")) for each in counters)
    start_series = selector(start, worker(labels, "0"))
    steady = (InputSeries(selector(start, worker(labels, "1")), "900x{n}"),
              *(InputSeries(selector(counter, worker(each, "1")), "0+7x{n}") for each in counters))
    if sign == "start-times":
        series = (InputSeries(start_series, _cycle(["1010", "1000"], "1000")),
                  InputSeries(first, "0x{n}"), InputSeries(second, "0x{n}"), *steady)
        return Scenario(series, 1.0, interval, measure=1.0)
    if sign == "counters":
        series = (InputSeries(start_series, "1000x{n}"), InputSeries(first, _cycle(["500", "20"], "500")),
                  InputSeries(second, " ".join(f"{30 + i} _" for i in range(ROUND_ROBIN_SAMPLES // 2)) + " 0x{n}"))
        return Scenario(series, 1.0, interval, measure=1.0)
    every = 4  # samples between restarts, the first at the second sample: one in any window of the test
    restarts = range(1, ROUND_ROBIN_SAMPLES // every)
    series = (InputSeries(start_series, "1000 " + " ".join(f"{1000 + 60 * r}x{every - 1}" for r in restarts)
                          + " 1000x{n}"),
              InputSeries(first, "500 " + " ".join(f"0+50x{every - 1}" for _ in restarts) + " 0x{n}"),
              InputSeries(second, "50 " + " ".join(f"0+5x{every - 1}" for _ in restarts) + " 0x{n}"), *steady)
    return Scenario(series, 0.0, ZERO, measure=0.0)


def jump(metric: str, labels: Mapping[str, str], level: float, lead: Duration, interval: Duration) -> Scenario:
    """A gauge at 0 for ``lead``, then at ``level`` at once: delta() over a window of at most
    ``lead`` reads ``level`` from the jump on (a sudden batch of failures)."""
    samples = lead.milliseconds // interval.milliseconds
    return Scenario((InputSeries(selector(metric, labels), f"0x{samples - 1} {sample_text(level)}x{{n}}"),),
                    float(level), Duration(samples * interval.milliseconds))
