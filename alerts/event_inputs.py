"""Inputs of an events SLO for the generated tests: series its own selectors pick (``errors`` or
``good``, and ``total``), labelled so that each selector reads what it must, plus series its
negative matchers leave out. The spec check (``event_slo_counters``) refuses selectors no such
series fit, so the labels here always exist."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from obstack.alerts import scenarios
from obstack.alerts.rule_model import Scenario
from obstack.stack.spec.model import Slo
from obstack.stack.spec.selector_examples import example_labels, regex_example
from obstack.stack.spec.selectors import CounterSelector
from obstack.stack.spec.values import Duration

# Events a negative matcher leaves out, per interval, as a multiple of all of the SLO's events: bad
# (or good) events that would double the counted ones, and ten times the total, so that a rule
# counting them reads another ratio on either side of a threshold.
EXCLUDED_COUNTED = 1.0
EXCLUDED_TOTAL = 10.0


def _excluded(selector: CounterSelector, labels: Mapping[str, str], others: tuple[CounterSelector, ...]
              ) -> list[dict[str, str]]:
    """``labels`` with one negative matcher's label set to a value it refuses, for each such matcher
    where the value exists and no selector of the SLO picks the series."""
    found = []
    for label, op, value in selector.matchers:
        if op not in ("!=", "!~"):
            continue
        refused = value if op == "!=" else regex_example(value)
        if refused is None:
            continue
        moved = {**labels, label: refused} if refused else {k: v for k, v in labels.items() if k != label}
        if not any(each.selects(selector.metric, moved) for each in (selector, *others)):
            found.append(moved)
    return found


@functools.lru_cache(maxsize=256)
def event_counters(form: str, counted: CounterSelector, total: CounterSelector) -> scenarios.EventCounters:
    """The series of an events SLO: on two metrics, one series each (the total counts every event); on
    one metric, a series both selectors pick (the counted events) and one only ``total`` picks."""
    apart = counted.metric != total.metric
    if apart:
        counted_labels, other_labels = example_labels([counted]), example_labels([total])
    else:
        counted_labels, other_labels = example_labels([counted, total]), example_labels([total], counted)
    assert counted_labels is not None and other_labels is not None, "refused by the spec check"
    both = (counted, total)
    excluded = [(counted.metric, labels, EXCLUDED_COUNTED) for labels in _excluded(counted, counted_labels, both)]
    excluded += [(total.metric, labels, EXCLUDED_TOTAL) for labels in _excluded(total, other_labels, both)]
    return scenarios.EventCounters(form, (counted.metric, counted_labels), (total.metric, other_labels), apart,
                                   tuple(excluded))


def event_ratio(slo: Slo, series: Mapping[str, str], level: float, interval: Duration, per_interval: float,
                counted_missing: bool = False) -> Scenario:
    """An events SLO's counters with a ``level`` share of bad events (``counted_missing``: no good
    event counted yet, every event bad)."""
    counters = slo.event_counters
    assert counters is not None
    return scenarios.event_ratio(event_counters(*counters), series, level, interval, per_interval, counted_missing)
