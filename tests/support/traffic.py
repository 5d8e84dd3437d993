"""Request metrics as a real service under real traffic writes them, as promtool input series.

A seeded generator turns a list of ``Phase``s (how long, how many requests per second, which
share fails) into the counters Prometheus would scrape from several instances of a service:
requests arrive at random (Poisson: bursts and gaps), land on a random instance and route,
and fail one by one (Bernoulli), not every n-th. What client libraries do is kept: the 5xx
series of an instance appears only with its first error (prom-client creates labelled series
lazily), and an instance restart resets its counters to zero and drops that series until the
next error (a stale marker, as a scrape of the restarted process would leave).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

STALE = "stale"
MISSING = "_"


@dataclass(frozen=True)
class Phase:
    seconds: int
    rate: float  # requests per second, over all instances
    error_ratio: float  # probability that a request fails with a 5xx
    latency: float = 0.02  # seconds every request of the phase takes


@dataclass(frozen=True)
class Restart:
    instance: str
    at_seconds: int  # the first scrape that reads the restarted process


def _poisson(generator: random.Random, mean: float) -> int:
    """Arrivals in one scrape interval: exponential gaps summed until the interval is over."""
    count, elapsed = 0, generator.expovariate(1.0) if mean else float("inf")
    while elapsed < mean:
        count += 1
        elapsed += generator.expovariate(1.0)
    return count


def _value(number: float | None) -> str:
    return MISSING if number is None else f"{number:g}" if number != int(number) else str(int(number))


def request_series(phases: Sequence[Phase], *, labels: Mapping[str, str], instances: Sequence[str],
                   routes: Sequence[tuple[str, str]], buckets: Sequence[float], scrape_seconds: int,
                   seed: int, restarts: Sequence[Restart] = (), histogram: str = "http_request_duration_seconds"
                   ) -> list[dict[str, str]]:
    """promtool ``input_series`` (one sample per scrape) of ``histogram``'s ``_count`` and
    ``_bucket`` series, with status_code 200 or 500, for every instance and route."""
    generator = random.Random(seed)
    restart_at = {(r.instance, r.at_seconds // scrape_seconds) for r in restarts}
    bounds: tuple[float | None, ...] = (*buckets, None)  # None: the +Inf bucket, equal to _count
    # (instance, method, route, status) -> cumulative count per bucket bound, while the series exists
    state: dict[tuple[str, str, str, str], dict[float | None, float]] = {}
    # the same key -> one entry per scrape: a snapshot of its counts, or MISSING / STALE
    history: dict[tuple[str, str, str, str], list[dict[float | None, float] | str]] = {}
    samples = 0
    for phase in phases:
        for _ in range(phase.seconds // scrape_seconds):
            for key in [k for k in state if (k[0], samples) in restart_at]:
                if key[3] == "200":
                    state[key] = dict.fromkeys(bounds, 0.0)
                else:  # created lazily again, on the restarted process' first error
                    del state[key]
                    history[key].append(STALE)
            for _ in range(_poisson(generator, phase.rate * scrape_seconds)):
                instance = generator.choice(instances)
                method, route = generator.choice(routes)
                status = "500" if generator.random() < phase.error_ratio else "200"
                counts = state.setdefault((instance, method, route, status), dict.fromkeys(bounds, 0.0))
                for bound in bounds:
                    if bound is None or phase.latency <= bound:
                        counts[bound] += 1
            samples += 1
            for key in state:
                history.setdefault(key, [MISSING] * (samples - 1))
            for key, entries in history.items():
                if len(entries) < samples:
                    entries.append(dict(state[key]) if key in state else MISSING)
    series = []
    for (instance, method, route, status), entries in sorted(history.items()):
        own = {**labels, "instance": instance, "method": method, "route": route, "status_code": status}
        for metric, bound in [(f"{histogram}_count", None), *((f"{histogram}_bucket", b) for b in bounds)]:
            extra = {} if metric.endswith("_count") else {"le": "+Inf" if bound is None else f"{bound:g}"}
            values = " ".join(e if isinstance(e, str) else _value(e[bound]) for e in entries)
            series.append({"series": _selector(metric, {**own, **extra}), "values": values})
    return series


def _selector(metric: str, labels: Mapping[str, str]) -> str:
    return metric + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
