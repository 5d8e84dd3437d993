"""Helpers shared by the rule generators: selectors over several subjects, runbook links,
grouping subjects that share a threshold into one rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from decimal import Decimal
from typing import TypeVar

from obstack.alerts.timing import Timing, scaled_timing
from obstack.stack.spec.base import promql_string
from obstack.stack.spec.model import Spec
from obstack.stack.spec.values import Duration

T = TypeVar("T")
K = TypeVar("K")

# Label matchers of the series the exporter and node-exporter expose, as Prometheus sees them.
EXPORTER_JOB_MATCHER = 'job="obstack-exporter"'


@dataclass(frozen=True)
class RuleContext:
    """What every generator needs besides one subject: the spec and its timing."""

    spec: Spec

    @cached_property
    def timing(self) -> Timing:
        """The table of holds and windows (alerts/timing.py) on the spec's clock (read by every
        rule of every service: the spec's clock is a pydantic private attribute, slow to read)."""
        return scaled_timing(self.spec.time_scale)

    @property
    def scrape_interval(self) -> Duration:
        return self.spec.prometheus.scrape_interval

    @property
    def evaluation_interval(self) -> Duration:
        return self.spec.prometheus.evaluation_interval

    def exporter_series(self, **labels: str) -> dict[str, str]:
        """Labels of an exporter series as Prometheus stores it (job, instance, then ``labels``)."""
        return {"job": "obstack-exporter", "instance": self.spec.exporter.targets[0], **labels}

    def runbook(self, alert: str) -> str:
        return self.spec.runbook_url.format(project=self.spec.project, alert=alert, alert_lower=alert.lower())


def re2_literal(value: str) -> str:
    """``value`` as an RE2 pattern matching exactly it (relabel regexes, matcher values)."""
    return "".join("\\" + char if char in ".+*?()[]{}|^$\\" else char for char in value)


def promql_regex(values: Iterable[str]) -> str:
    """An anchored RE2 alternation matching exactly ``values``, escaped for a PromQL string
    (whose own escaping doubles every backslash)."""
    return promql_string("|".join(re2_literal(value) for value in sorted(set(values))))[1:-1]


def matcher(label: str, values: Iterable[str]) -> str:
    """``label="a"`` for one value, ``label=~"a|b"`` for several."""
    values = sorted(set(values))
    if len(values) == 1:
        return f"{label}={promql_string(values[0])}"
    return f'{label}=~"{promql_regex(values)}"'


def grouped(items: Iterable[T], key: Callable[[T], K]) -> list[tuple[K, list[T]]]:
    """Items grouped by ``key`` in first-seen order (subjects sharing a threshold share a rule)."""
    groups: dict[K, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return list(groups.items())


def number(value: object) -> str:
    """A threshold as PromQL text: Decimal/float/int without exponent or float noise."""
    decimal = value if isinstance(value, Decimal) else Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    text = format(decimal.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parenthesized(term: str) -> str:
    """``term`` in parentheses, one level indented, for a multi-line expression."""
    return f"(\n  {term.replace(chr(10), chr(10) + '  ')}\n)"


def any_of(terms: list[str]) -> str:
    """One expression firing for any term: subjects with different thresholds share one rule."""
    if len(terms) == 1:
        return terms[0]
    return "\nor\n".join(parenthesized(term) for term in terms)


def threshold_note(thresholds: list[object]) -> str:
    """' (threshold 5%)' when every subject shares one threshold; '' when they differ (the spec says each)."""
    distinct = {str(t) for t in thresholds}
    return f" (threshold {distinct.pop()})" if len(distinct) == 1 else ""


def hold_labels(holds: list[object], hold: object) -> dict[str, str]:
    """Rules split only by their hold time need a label to tell them apart (promtool's duplicate lint)."""
    return {"hold": str(hold)} if len({str(h) for h in holds}) > 1 else {}
