"""What every window of a burn-rate pair reads when the error ratio changes once during a test.

The "only one window burns" cases feed an SLO's input at one level, then at another, from a
given sample on (``promtool_tests._then`` for counters, ``_then_gauges`` for ``up``). Which
pairs then fire is not a single comparison: each window averages a different stretch of the
input. This module computes it the way Prometheus does, sample by sample, with three-valued
answers: True, False, or None where a value sits too close to a threshold (or a recording's
one-evaluation lag could tip it) to call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from obstack.alerts.rule_model import AlertInstance, AlertRule
from obstack.stack.spec.values import Duration

# A window ratio within this share of a threshold is too close to call: the rate extrapolation,
# rounding to whole requests and the switch sample all move it slightly.
TOLERANCE = 0.03
# A threshold lowered by a fifth: the likeliest slip in one comparison of a pair.
LOWERED = 0.8

Verdict = bool | None


@dataclass(frozen=True)
class TwoLevels:
    """The error ratio (or, for availability, the share of failed scrapes) at ``first`` for
    samples before ``switch`` and at ``second`` from it on, at steady traffic. Counters: sample
    ``switch`` carries one interval of each level (how ``_then`` resumes a counter)."""

    first: float
    second: float
    switch: int  # index of the first sample of the second level
    sample_ms: int
    counter: bool

    def ratio(self, at_ms: int, window_ms: int) -> float | None:
        """What a ``[window]`` range (closed, as in Prometheus 2) reads at ``at_ms``: the ratio of two
        rates of counters, or avg_over_time of a gauge. None: no data in range."""
        last = at_ms // self.sample_ms
        first = max(0, math.ceil((at_ms - window_ms) / self.sample_ms))
        if self.counter:
            # Increments of samples first+1..last; each rate extrapolates both counters alike.
            lo, hi = first + 1, last
            if hi < lo:
                return None
            before = max(0, min(hi, self.switch - 1) - lo + 1)
            after = max(0, hi - max(lo, self.switch + 1) + 1)
            both = 1 if lo <= self.switch <= hi else 0
            return (self.first * (before + both) + self.second * (after + both)) / (before + after + 2 * both)
        if last < first:
            return None
        before = max(0, min(last, self.switch - 1) - first + 1)
        return (self.first * before + self.second * (last - first + 1 - before)) / (last - first + 1)


def above(value: float | None, threshold: float) -> Verdict:
    if value is None:
        return False  # no data: the comparison returns nothing
    if value > threshold * (1 + TOLERANCE):
        return True
    if value < threshold * (1 - TOLERANCE):
        return False
    return None


def both(a: Verdict, b: Verdict) -> Verdict:
    """Three-valued ``and``."""
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def negated(a: Verdict) -> Verdict:
    return None if a is None else not a


@dataclass(frozen=True)
class Pair:
    """A burn-rate pair as the simulation needs it: its threshold and windows, and the faster pair
    whose long window blocks it (its own threshold and window; None: the fastest pair)."""

    threshold: float
    long: Duration
    short: Duration
    hold: Duration
    blocked_above: float | None = None
    blocked_window: Duration | None = None

    def blocked(self, levels: TwoLevels, at_ms: int) -> Verdict:
        if self.blocked_above is None or self.blocked_window is None:
            return False
        return above(levels.ratio(at_ms, self.blocked_window.milliseconds), self.blocked_above)

    def condition(self, levels: TwoLevels, at_ms: int, windows: str = "both", lowered: str | None = None) -> Verdict:
        """The rule's condition at ``at_ms``; ``windows`` "long" or "short": with only that window
        compared (the rule with the other conjunct dropped); ``lowered`` "long" or "short": with
        that window compared to the threshold lowered by a fifth (the mutant a one-window case
        must reject)."""
        def threshold(window: str) -> float:
            return self.threshold * (LOWERED if lowered == window else 1.0)

        long = above(levels.ratio(at_ms, self.long.milliseconds), threshold("long"))
        short = above(levels.ratio(at_ms, self.short.milliseconds), threshold("short"))
        burning = {"both": both(long, short), "long": long, "short": short}[windows]
        return both(burning, negated(self.blocked(levels, at_ms)))


def pair(rule: AlertRule, instance: AlertInstance) -> Pair | None:
    """``instance`` of a burn-rate rule as a Pair; None for any other alert."""
    windows = instance.burn_windows
    if windows is None:
        return None
    return Pair(instance.threshold, windows.long, windows.short, rule.for_, instance.blocked_above,
                windows.faster_long)


def settled(condition: Callable[[int], Verdict], at_ms: int, step_ms: int) -> Verdict:
    """The condition at ``at_ms`` as a rule reading recordings up to one evaluation old sees it."""
    now, before = condition(at_ms), condition(at_ms - step_ms)
    return now if now == before else None


def firing(condition: Callable[[int], Verdict], at_ms: int, hold_ms: int, step_ms: int, margin_ms: int) -> Verdict:
    """Whether an alert on ``condition`` with ``for: hold`` fires at ``at_ms``: True when the condition
    surely held at every evaluation from ``hold`` (and a margin) before; False when it surely did
    not hold at some evaluation the hold must span (or the input is shorter than the hold); None
    otherwise."""
    if at_ms < hold_ms:
        return False
    spanned: Iterable[int] = range(at_ms, max(min(at_ms, at_ms - hold_ms + margin_ms), 0) - 1, -step_ms)
    if any(settled(condition, t, step_ms) is False for t in spanned):
        return False
    held: Iterable[int] = range(max(at_ms - hold_ms - margin_ms, 0), at_ms + 1, step_ms)
    return True if all(settled(condition, t, step_ms) is True for t in held) else None
