"""The rule model: recording rules, alert rules with the scenarios that prove them, groups, files.

An ``AlertRule`` carries, beside its PromQL, one ``AlertInstance`` per subject it can fire
for: the labels the alert will carry and a ``Scenario`` builder that synthesizes input
series putting the measured value at any level. The promtool tests are built from these,
so a threshold changed in the spec changes the rule and its tests together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from obstack.stack.spec.values import Duration

ValueFormat = Literal["percentage", "duration", "number", "none"]
ENOUGH_WINDOW_LIMIT = Duration.parse("1h")
# The severity label of a generated alert: an AlertSeverity of the spec, or "none" for the Watchdog,
# which is no problem at all and routed apart from every severity.
SeverityLabel = Literal["critical", "warning", "info", "none"]


@dataclass(frozen=True)
class InputSeries:
    """One promtool input series: a selector and its values in promtool's expanding notation."""

    series: str
    values: str
    # A counter of the instance that restarts during the test (alerts.scenarios.restarted): it
    # drops back a scrape before the evaluation, as a recycled worker's counters do.
    restarts: bool = False


@dataclass(frozen=True)
class Scenario:
    series: tuple[InputSeries, ...]
    value: float  # what the alert expression evaluates to (its $value)
    ready_after: Duration  # from then on the expression holds ``value``
    holds_until: Duration | None = None  # the value is only guaranteed until then (windowed counts)
    measure: float | None = None  # what the rule compares, when it is not the alert's value (absent())
    facts: Mapping[str, str] = field(default_factory=dict)  # values of non-label placeholders ({probe_reason})
    request_rate: float | None = None  # requests/s the input serves, for alerts with a traffic guard

    @property
    def compared(self) -> float:
        return self.value if self.measure is None else self.measure


# level -> the series that put the measured value at (about) that level
ScenarioBuilder = Callable[[float], Scenario]


@dataclass(frozen=True)
class BurnWindows:
    """A burn-rate pair's windows, and the long window of the faster pair that blocks it (None: the
    fastest pair)."""

    long: Duration
    short: Duration
    faster_long: Duration | None = None
    # The requests each window must hold before the pair may fire (its traffic guards); None: no guard.
    long_floor: float | None = None
    short_floor: float | None = None


@dataclass(frozen=True)
class OtherFiring:
    """Another input the alert must fire on, and how the case names it ("fires <what>")."""

    what: str
    build: ScenarioBuilder


@dataclass(frozen=True)
class AlertInstance:
    """One subject an alert can fire for."""

    labels: Mapping[str, str]  # labels the firing alert carries besides the rule's static labels
    threshold: float  # the level the rule compares against (or 0 for a plain down/up condition)
    fires_above: bool
    scenario: ScenarioBuilder
    fire_level: float  # a level at which the alert must fire
    quiet_level: float | None  # a level just on the safe side, at which it must not (None: always fires)
    # Above this level the rule cannot fire (a slower burn-rate pair, while the faster pair's window burns).
    blocked_above: float | None = None
    # Traffic guard (requests/s, steady traffic): below it the rule stays quiet at any level.
    min_request_rate: float | None = None
    blocked_min_request_rate: float | None = None  # the faster pair blocks only on traffic it can fire on
    # The same levels on a given request rate (the "too little traffic" case); None: no traffic guard.
    sparse: Callable[[float, float], Scenario] | None = None
    # The longest window the traffic guard counts requests in: a count over a window still filling
    # reads low (rate() divides by the whole window), so "just enough traffic" is checked once it is full.
    guard_window: Duration | None = None
    # Hysteresis: once firing, the rule holds while the measure stays above this level (a page's
    # warning level); None: it resolves as soon as its condition clears.
    release_level: float | None = None
    # Counts of events in a window (changes()): the same count spread over time, one event every
    # ``gap`` ((level, gap) -> Scenario), and the window counted over; None: not an event count.
    spaced: Callable[[float, Duration], Scenario] | None = None
    count_window: Duration | None = None
    # The measure jumping from nothing to a level at one instant (ready_after), for a windowed
    # measure whose ordinary input crosses the threshold at a time not known exactly.
    onset: ScenarioBuilder | None = None
    # A burn-rate pair's windows: its input can burn one window and not the other.
    burn_windows: BurnWindows | None = None
    # The window of a measure a pause in its traffic leaves as it was until the window is empty (a
    # ratio of two counters, a quantile of a histogram's rates); None: not such a measure.
    lull_window: Duration | None = None
    # A second firing input, through another branch of the rule (``or``): another of the series
    # it watches missing, another sign of the same fault; None: one firing input covers the rule.
    other_firing: OtherFiring | None = None
    # A firing level the rule's ``unless`` rules out (a restart count read from several processes in
    # turn): it must stay quiet there; None: the rule has no such clause.
    masked: ScenarioBuilder | None = None

    def guarded(self, scenario: Scenario) -> bool:
        """The scenario serves too little traffic for this rule to fire."""
        return (self.min_request_rate is not None and scenario.request_rate is not None
                and scenario.request_rate < self.min_request_rate)

    def blocked(self, scenario: Scenario) -> bool:
        """A faster burn-rate pair covers this level (and has the traffic to fire on it)."""
        if self.blocked_above is None or scenario.compared <= self.blocked_above:
            return False
        return (self.blocked_min_request_rate is None or scenario.request_rate is None
                or scenario.request_rate >= self.blocked_min_request_rate)

    @property
    def sparse_rate(self) -> float | None:
        """A request rate just under the guard, for the "too little traffic" case."""
        return None if self.sparse is None or self.min_request_rate is None else self.min_request_rate * 0.9

    @property
    def fillable_guard_window(self) -> Duration | None:
        """The guard's window when a test can fill it (an hour at most: longer would need days of input)."""
        window = self.guard_window
        return window if window is not None and window <= ENOUGH_WINDOW_LIMIT else None

    @property
    def enough_rate(self) -> float | None:
        """A request rate just over the guard, for the "just enough traffic" case (checked once
        the guard's window is full, so only where a test can fill it)."""
        if self.sparse is None or self.min_request_rate is None or self.fillable_guard_window is None:
            return None
        return self.min_request_rate * 1.25

    @property
    def unblocked_rate(self) -> float | None:
        """A request rate this rule can fire on and the faster pair that blocks it cannot (its guard
        asks for more), for the "fires while the faster pair has too little traffic" case: just under
        the faster pair's guard, with a tenth to spare over this rule's. None where none exists."""
        if (self.sparse is None or self.blocked_level is None or self.min_request_rate is None
                or self.blocked_min_request_rate is None):
            return None
        rate = self.blocked_min_request_rate * 0.9
        return rate if rate >= self.min_request_rate * 1.1 else None

    @property
    def near_fire_level(self) -> float | None:
        """Twice the threshold, where ``fire_level`` sits further out than 2.5 times it (a slower
        burn pair's, just under the faster pair's threshold, so that a hold-back lowered by a fifth
        blocks it): a threshold raised 2.5 times still fires there, not at twice the threshold.
        None where the firing level is near enough already."""
        if not self.fires_above or self.threshold <= 0 or self.fire_level <= 2.5 * self.threshold:
            return None
        return 2 * self.threshold

    @property
    def blocked_level(self) -> float | None:
        """A level past ``blocked_above`` at which the rule must stay silent (None: nothing blocks it)."""
        if self.blocked_above is None:
            return None
        return min(self.blocked_above * 1.5, (self.blocked_above + 1) / 2)


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    for_: Duration
    for_reason: str  # why this hold time, shown next to the rule and in the docs
    severity: SeverityLabel
    subject: str  # the label naming the alert's subject: service, queue, datastore or instance
    summary: str  # a static sentence
    description: str  # a Go template
    runbook_url: str
    dashboard_url: str | None
    meaning: str  # what it means, in words, for docs/alerts.md
    first_checks: tuple[str, ...]  # the runbook stub: what to check first
    value_format: ValueFormat
    instances: tuple[AlertInstance, ...]
    static_labels: Mapping[str, str] = field(default_factory=dict)  # beyond severity (e.g. slo, windows)
    family: str | None = None  # critical and warning alerts of one family inhibit each other
    # A symptom a failing dependency explains (errors, latency, budget burn, health, job failures):
    # silenced while the down alert of something its subject depends on fires (spec: depends_on).
    symptom: bool = False
    # How long the alert stays firing after its condition clears, and why (None: it resolves at once).
    keep_firing_for: Duration | None = None
    keep_firing_reason: str | None = None
    # Annotations beyond the four above (spec: alerts.<name>.annotations), as Go templates.
    extra_annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        return {"severity": self.severity, **self.static_labels}

    @property
    def annotations(self) -> dict[str, str]:
        annotations = {"summary": self.summary, "description": self.description, "runbook_url": self.runbook_url}
        if self.dashboard_url:
            annotations["dashboard_url"] = self.dashboard_url
        return {**annotations, **self.extra_annotations}


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)


Rule = AlertRule | RecordingRule


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[Rule, ...]
    interval: Duration | None = None


@dataclass(frozen=True)
class RuleFile:
    path: PurePosixPath  # relative to the output directory
    groups: tuple[RuleGroup, ...]

    @property
    def alert_rules(self) -> list[AlertRule]:
        return [rule for group in self.groups for rule in group.rules if isinstance(rule, AlertRule)]
