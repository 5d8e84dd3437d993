"""promtool unit tests for every alert, synthesized from the same spec values as the rules.

For each alert rule three test groups: every subject fires with the expected labels and
annotations once its condition has held past ``for``; every subject stays quiet just on
the safe side of its threshold; none fires before ``for`` has elapsed. Subjects whose input
series cannot interfere share a group, so the tests grow linearly with the spec. Other
rules of the same alert name (e.g. slower burn windows) are expected exactly when they
must fire.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from obstack.alerts import burn_profile
from obstack.alerts.annotations import rendered, source_text
from obstack.alerts.humanize import VALUE_FORMATS
from obstack.alerts.neighbours import Neighbourhood, Recording, Recordings, metric_filters, neighbours, selected
from obstack.alerts.renamed_files import (SHARED_SERVICE_FILE, SharedServices, renamed_files, service_of,
                                          shared_services_document)
from obstack.alerts.rule_files import RuleDocument
from obstack.alerts.rule_model import AlertInstance, AlertRule, BurnWindows, InputSeries, RecordingRule, RuleFile, Scenario
from obstack.alerts.scenarios import restarted, sample_text
from obstack.foundation.artifacts import Artifact, dump_yaml
from obstack.stack.spec.model import Spec
from obstack.stack.spec.values import Duration

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

TESTS_DIR = PurePosixPath("prometheus/tests")
CaseKind = Literal["fires", "quiet", "before-for", "blocked", "sparse", "enough", "holds", "releases", "recovers",
                   "spike", "spread", "spread-wide", "onset", "short-burns", "long-burns", "young-quiet",
                   "young-fires", "unblocked", "trickle", "trickle-fires", "released",
                   "held", "near-fires", "idle", "vanishes", "appears", "other-firing",
                   "masked"]
# Cases in which the alert under test must stay silent (its siblings may fire).
SILENT_KINDS: frozenset[str] = frozenset({"quiet", "blocked", "sparse", "spike", "spread-wide", "onset",
                                          "short-burns", "long-burns", "young-quiet", "trickle", "held", "appears",
                                          "masked"})


class SynthesisError(Exception):
    """A test cannot be built unambiguously (a generator bug, never a user error)."""


@dataclass(frozen=True)
class Timing:
    evaluation: Duration
    sample: Duration
    scrape: Duration | None = None  # the spec's scrape interval, which scenarios size their counters for

    @property
    def sample_ratio(self) -> float:
        """Test samples per scrape the scenarios were sized for (a 2m step on 15s scrapes: 8)."""
        return 1.0 if self.scrape is None else self.sample.milliseconds / self.scrape.milliseconds

    @property
    def margin_ms(self) -> int:
        # An alert's condition starts within two evaluations of its data being ready
        # (recording rules read by alerts may lag one evaluation).
        return 2 * max(self.evaluation.milliseconds, self.sample.milliseconds)

    def round_up(self, milliseconds: int) -> int:
        step = self.evaluation.milliseconds
        return math.ceil(milliseconds / step) * step


def _holds(instance: AlertInstance, scenario: Scenario) -> bool:
    measured = scenario.compared
    if instance.guarded(scenario) or instance.blocked(scenario):
        return False
    return measured > instance.threshold if instance.fires_above else measured < instance.threshold


def _guard_filling(instance: AlertInstance, scenario: Scenario, at_ms: int) -> bool | None:
    """Whether the traffic guard still holds the rule back at ``at_ms`` because its window is not
    full yet (rate() divides the requests seen so far by the whole window); None: too close to call."""
    if instance.guard_window is None or instance.min_request_rate is None or scenario.request_rate is None:
        return False
    filled = scenario.request_rate * min(1.0, at_ms / instance.guard_window.milliseconds)
    if filled >= instance.min_request_rate * 1.1:
        return False
    return True if filled < instance.min_request_rate * 0.9 else None


def _state(rule: AlertRule, instance: AlertInstance, scenario: Scenario, at_ms: int, timing: Timing) -> bool | None:
    """Firing (True), surely not (False) or too close to call (None) at ``at_ms``."""
    if not _holds(instance, scenario):
        return False
    filling = _guard_filling(instance, scenario, at_ms)
    if filling is None:
        return None
    if filling:
        return False
    if at_ms < rule.for_.milliseconds:
        return False
    if at_ms >= scenario.ready_after.milliseconds + rule.for_.milliseconds + timing.margin_ms:
        return True
    return None


SiblingIndex = dict[tuple[str, frozenset[tuple[str, str]]], list[tuple[AlertRule, AlertInstance]]]


def sibling_index(rules: list[AlertRule]) -> SiblingIndex:
    """(alert name, subject labels) -> every (rule, instance) that can fire as that alert."""
    index: SiblingIndex = {}
    for rule in rules:
        for instance in rule.instances:
            index.setdefault((rule.name, frozenset(instance.labels.items())), []).append((rule, instance))
    return index


def expected_alert(rule: AlertRule, labels: Mapping[str, str], value: float,
                   facts: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What promtool must see of ``rule`` firing for the instance with ``labels`` at ``value``:
    its labels, and its annotations as Prometheus renders their templates."""
    annotations = {name: rendered(source_text(text), {**labels, **(facts or {})}, value, rule.value_format)
                   if "{{" in text else text for name, text in rule.annotations.items()}
    return {"exp_labels": {**rule.labels, **labels}, "exp_annotations": annotations}


def _expected(siblings: list[tuple[AlertRule, AlertInstance]], scenario: Scenario, at_ms: int,
              timing: Timing) -> list[dict[str, Any]] | None:
    alerts = []
    for rule, instance in siblings:
        state = _state(rule, instance, scenario, at_ms, timing)
        if state is None:
            return None
        if state:
            alerts.append(expected_alert(rule, instance.labels, scenario.value, scenario.facts))
    return alerts


def _series_of(instance: AlertInstance) -> set[str]:
    levels = [level for level in (instance.fire_level, instance.quiet_level) if level is not None]
    return {s.series for level in levels for s in instance.scenario(level).series}


def _compatible_sets(rule: AlertRule) -> list[list[AlertInstance]]:
    """Instances whose input series never overlap, so one test group can hold them all (linear test size)."""
    sets: list[tuple[list[AlertInstance], set[str], set[str]]] = []
    for instance in rule.instances:
        series, subject = _series_of(instance), instance.labels.get(rule.subject, "")
        for members, used, subjects in sets:
            if not series & used and subject not in subjects:
                members.append(instance)
                used |= series
                subjects.add(subject)
                break
        else:
            sets.append(([instance], set(series), {subject}))
    return [members for members, _, _ in sets]


@dataclass(frozen=True)
class _Member:
    instance: AlertInstance
    level: float
    scenario: Scenario


def _rendered_exactly(rule: AlertRule, value: float) -> bool:
    """Whether the humanized value is the same a hair either side: PromQL computes it with other
    float operations (rates, interpolation), so a value on a rounding tie (343.75ms shown with four
    digits) may print either way."""
    if rule.value_format not in VALUE_FORMATS:
        return True
    render = VALUE_FORMATS[rule.value_format][1]
    return render(value * (1 + 1e-9)) == render(value * (1 - 1e-9))


GUARD_MARGIN = 1.1  # a guard read as met holds this much more than its floor


def _guards_met(instance: AlertInstance, rate: float) -> Duration:
    """When steady traffic at ``rate`` from a zero counter has filled every window of a burn pair
    past its guard: each window holds rate x min(age, window) requests (rate() does not extrapolate
    a counter past its zero), and ``rate`` fills even the short window's floor before it is full."""
    windows = instance.burn_windows
    assert windows is not None and windows.long_floor is not None and windows.short_floor is not None
    return Duration(math.ceil(1000 * GUARD_MARGIN * max(windows.long_floor, windows.short_floor) / rate))


def _filled(scenario: Scenario, window: Duration | None) -> Scenario:
    """The scenario read only once ``window`` is full of its samples."""
    if window is None or window <= scenario.ready_after:
        return scenario
    return replace(scenario, ready_after=window)


def _members(rule: AlertRule, instances: list[AlertInstance], kind: CaseKind, timing: Timing,
             index: SiblingIndex) -> list[_Member]:
    members = []
    for instance in instances:
        level = {"quiet": instance.quiet_level, "blocked": instance.blocked_level,
                 "near-fires": instance.near_fire_level}.get(kind, instance.fire_level)
        assert level is not None, "case_kinds() asks for quiet and blocked cases only where every member has one"
        build = instance.scenario
        if kind == "other-firing":
            assert instance.other_firing is not None
            build = instance.other_firing.build
        elif kind == "masked":
            assert instance.masked is not None
            build = instance.masked
        elif kind == "unblocked":
            level, rate = instance.blocked_level, instance.unblocked_rate
            assert level is not None and rate is not None and instance.sparse is not None
            build = lambda at, sparse=instance.sparse, rate=rate, ready=_guards_met(instance, rate): replace(  # noqa: E731
                sparse(at, rate * timing.sample_ratio), request_rate=rate, ready_after=ready)
        elif kind in ("sparse", "enough"):
            sparse, rate = instance.sparse, instance.sparse_rate if kind == "sparse" else instance.enough_rate
            assert sparse is not None and rate is not None
            ready = instance.fillable_guard_window
            # Counters are sized per scrape interval; a coarser test step spaces the same
            # increments further apart, so they grow by as much more to keep ``rate``.
            build = lambda at, sparse=sparse, rate=rate, ready=ready: _filled(  # noqa: E731
                replace(sparse(at, rate * timing.sample_ratio), request_rate=rate), ready)
        scenario = build(level)
        # Where something fires (this alert, the faster siblings of a blocked case, a faster pair or
        # the warning beside a quiet level), descriptions are compared to the letter: move off a
        # rounding tie, away from the threshold's side the case must stay on.
        step = 1.001 if instance.fires_above else 0.999
        described = kind != "quiet" or any(_holds(other, scenario) for sibling, other in
                                           index[(rule.name, frozenset(instance.labels.items()))] if sibling is not rule)
        if kind == "quiet":
            step = 1 / step
        for _ in range(20):
            if not described or _rendered_exactly(rule, scenario.value):
                break
            level *= step
            scenario = build(level)
        if _holds(instance, scenario) == (kind in SILENT_KINDS):
            raise SynthesisError(f"{rule.name} {dict(instance.labels)}: the {kind} level {level} lands on the wrong side")
        members.append(_Member(instance, level, scenario))
    return members


_COUNTER = re.compile(r"^0\+(\S+)x\{n\}$")


def _then(first: Scenario, second: Scenario, samples: int) -> Scenario:
    """``first``'s input for ``samples`` scrapes, then ``second``'s rates (counters carry on)."""
    series = []
    for a, b in zip(first.series, second.series, strict=True):
        before, after = _COUNTER.match(a.values), _COUNTER.match(b.values)
        if a.series != b.series or before is None or after is None:
            raise SynthesisError(f"{a.series}: only counters of the same series can change rate mid-test")
        step, next_step = float(before.group(1)), float(after.group(1))
        resumed = sample_text(step * samples + next_step)
        series.append(replace(a, values=f"0+{before.group(1)}x{samples - 1} {resumed}+{after.group(1)}x{{n}}"))
    return replace(second, series=tuple(series))


def _two_phase_case(rule: AlertRule, instances: list[AlertInstance], kind: CaseKind, timing: Timing,
                    baseline: list[InputSeries]) -> CaseGroup:
    """Hysteresis: fire, then ease to between the release level and the threshold ("holds": still
    firing once the window reads only the eased input) or to under the release level ("releases":
    resolved once keep_firing_for has passed too)."""
    members, expected = [], []
    firing = [instance.scenario(instance.fire_level) for instance in instances]
    switch_ms = max(timing.round_up(f.ready_after.milliseconds + rule.for_.milliseconds + timing.margin_ms)
                    for f in firing)
    at_ms = 0
    for instance, fired in zip(instances, firing):
        assert instance.release_level is not None and instance.guard_window is not None
        if kind == "holds":
            # A quarter of the way up from the release level: well inside the hold, and under any
            # release level moved up by mistake.
            level = instance.release_level + (instance.threshold - instance.release_level) / 4
        else:
            level = instance.release_level * 0.9
        eased = instance.scenario(level)
        scenario = _then(fired, eased, switch_ms // timing.sample.milliseconds + 1)
        drained = switch_ms + instance.guard_window.milliseconds + timing.margin_ms
        if kind == "releases":
            drained += (rule.keep_firing_for.milliseconds if rule.keep_firing_for else 0)
        at_ms = max(at_ms, timing.round_up(drained))
        members.append(_Member(instance, level, scenario))
    for member in members:
        if kind == "holds":
            expected.append(expected_alert(rule, member.instance.labels, member.scenario.value))
    return _group(rule, members, kind, at_ms, expected, timing, baseline)


NEIGHBOUR_SUBJECTS = 3  # subjects of a test group given neighbour series
# Cases given neighbour series, and the level of the neighbours' input: the other side of the threshold.
# A burn pair quiet while only one window burns has neighbours burning both: a window's rule that
# lost its filter reads them and the pair fires.
_NEIGHBOUR_LEVELS: dict[str, str] = {"fires": "quiet", "before-for": "quiet", "quiet": "fire",
                                     "short-burns": "fire", "long-burns": "fire"}


def _neighbour_series(instances: list[AlertInstance], kind: CaseKind, hood: Neighbourhood) -> list[InputSeries]:
    """The subjects' input at the contrasting level, each filtered label moved outside its filter
    (alerts.neighbours): a rule that lost a filter reads them and fires, or stops firing."""
    contrast = _NEIGHBOUR_LEVELS.get(kind)
    if contrast is None or not instances:
        return []
    # The first few subjects' neighbours only: in a group of many subjects the others already
    # stand beside each one (a rule that lost its subject filter reads them), so copies for all
    # would only grow the tests with the spec.
    series: list[InputSeries] = []
    for instance in instances[:NEIGHBOUR_SUBJECTS]:
        level = instance.quiet_level if contrast == "quiet" else instance.fire_level
        if level is not None:
            series += neighbours(instance.scenario(level).series, hood)
    return series


_GAUGE = re.compile(r"^([^\s+]+)x\{n\}$")


def _gauges(scenario: Scenario) -> bool:
    return all(_GAUGE.match(s.values) for s in scenario.series)


def _recoverable(instance: AlertInstance) -> bool:
    """Fires and recovers on gauges (a target down then up): the value it fired with is exact."""
    return instance.quiet_level is not None and _gauges(instance.scenario(instance.fire_level)) \
        and _gauges(instance.scenario(instance.quiet_level))


def _then_gauges(first: Scenario, second: Scenario, samples: int) -> tuple[InputSeries, ...]:
    """``first``'s gauges for ``samples`` scrapes, then ``second``'s; a series only in ``first``
    ends (a stale marker), one only in ``second`` starts then."""
    before = {s.series: _GAUGE.match(s.values).group(1) for s in first.series}  # type: ignore[union-attr]
    after = {s.series: _GAUGE.match(s.values).group(1) for s in second.series}  # type: ignore[union-attr]
    return tuple(InputSeries(name, f"{before[name] if name in before else '_'}x{samples - 1} "
                             + (f"{after[name]}x{{n}}" if name in after else "stale"))
                 for name in dict.fromkeys([*before, *after]))


def _recovery_case(rule: AlertRule, instances: list[AlertInstance], timing: Timing,
                   baseline: list[InputSeries]) -> CaseGroup:
    """keep_firing_for: fire, then recover (the quiet level); still firing, with the value it fired
    with, once the condition has surely cleared; resolved once keep_firing_for has passed."""
    assert rule.keep_firing_for is not None
    firing = [instance.scenario(instance.fire_level) for instance in instances]
    switch_ms = max(timing.round_up(f.ready_after.milliseconds + rule.for_.milliseconds + timing.margin_ms)
                    for f in firing)
    samples = switch_ms // timing.sample.milliseconds + 1
    cleared_ms = samples * timing.sample.milliseconds  # the first recovered sample
    keep = rule.keep_firing_for.milliseconds
    held_ms = timing.round_up(cleared_ms + max(timing.margin_ms, keep // 2))
    if held_ms + timing.evaluation.milliseconds >= cleared_ms + keep:
        raise SynthesisError(f"{rule.name}: keep_firing_for ({rule.keep_firing_for}) is too short to test")
    resolved_ms = timing.round_up(cleared_ms + keep + 2 * timing.margin_ms)
    members, expected = [], []
    for instance, fired in zip(instances, firing):
        assert instance.quiet_level is not None
        recovered = instance.scenario(instance.quiet_level)
        members.append(_Member(instance, instance.fire_level,
                               replace(recovered, series=_then_gauges(fired, recovered, samples))))
        expected.append(expected_alert(rule, instance.labels, fired.value, fired.facts))
    group = _group(rule, members, "recovers", resolved_ms, [], timing, baseline)
    held = {"eval_time": str(Duration(held_ms)), "alertname": rule.name, "exp_alerts": expected}
    group.document["alert_rule_test"] = [held, *group.document["alert_rule_test"]]
    return group


@dataclass(frozen=True)
class _Lull:
    """Traffic at a firing level until the alert fires, then none at all (a lull, a client gone).

    The guard's window still holds the busy requests for a while: the rule reads the same ratio
    (numerator and denominator lose their traffic together) and keeps firing; once the window is
    empty it reads nothing and the alert resolves, after ``keep_firing_for`` where it has one.
    Times are from the test's start; ``stopped_ms`` is the last sample with new requests.
    """

    stopped_ms: int
    lull_ms: int  # still firing: the window is half busy (a halved window reads no traffic)
    # The window is empty (and a rule reading half of it would have let go): firing only for
    # keep_firing_for (None: the rule has none).
    kept_ms: int | None
    empty_ms: int  # resolved


def _lull(rule: AlertRule, instance: AlertInstance, timing: Timing, fired: Scenario | None = None) -> _Lull | None:
    """The times of a lull case for ``instance`` firing on ``fired`` (default: its firing level), or
    None where its measure is not one a pause leaves unchanged (``lull_window``), its input is not
    counters, or its busy traffic would not hold its traffic guard through half a window."""
    window = instance.lull_window
    if window is None or instance.burn_windows is not None or not instance.fires_above:
        return None
    fired = fired or instance.scenario(instance.fire_level)
    if not all(_COUNTER.match(s.values) for s in fired.series):
        return None
    sample, evaluation = timing.sample.milliseconds, timing.evaluation.milliseconds
    switch_ms = timing.round_up(fired.ready_after.milliseconds + rule.for_.milliseconds + timing.margin_ms)
    stopped_ms = (switch_ms // sample + 1) * sample
    lull_ms = timing.round_up(stopped_ms + window.milliseconds // 2 + timing.margin_ms)
    # The condition surely holds while the window keeps an increase: two samples (and, under a
    # traffic guard, the requests it needs, with a margin).
    held_until = stopped_ms + window.milliseconds - 2 * sample
    if instance.min_request_rate is not None:
        if fired.request_rate is None:
            return None
        needed = GUARD_MARGIN * instance.min_request_rate * window.seconds
        held_until -= math.ceil(1000 * needed / fired.request_rate)
    if held_until < lull_ms + evaluation:
        return None
    empty_ms = timing.round_up(stopped_ms + window.milliseconds + timing.margin_ms)
    keep = rule.keep_firing_for
    if keep is None:
        return _Lull(stopped_ms, lull_ms, None, empty_ms)
    # Kept firing for keep_firing_for after the condition last held. Checked once the window is
    # empty, and once a rule reading half the window would have resolved after its keep_firing_for.
    last_held = held_until - held_until % evaluation
    kept_ms = max(empty_ms, timing.round_up(stopped_ms + window.milliseconds // 2 + keep.milliseconds
                                            + 2 * timing.margin_ms))
    if kept_ms + evaluation > last_held + keep.milliseconds:
        return None
    return _Lull(stopped_ms, lull_ms, kept_ms, timing.round_up(stopped_ms + window.milliseconds + keep.milliseconds
                                                               + 2 * timing.margin_ms))


def _lull_case(rule: AlertRule, instances: list[AlertInstance], index: SiblingIndex, timing: Timing,
               baseline: list[InputSeries]) -> CaseGroup | None:
    """Fires, then the traffic stops: still firing (with the value it fired with) while its window
    holds half busy, half silent samples; resolved once the window is empty (a ``keep_firing_for``
    holds it that much longer). A rule reading a shorter window than it says loses its traffic
    early; a longer one keeps it too long; one without its keep_firing_for resolves too soon."""
    fired = _members(rule, instances, "fires", timing, index)  # off any rounding tie
    lulls = [_lull(rule, m.instance, timing, m.scenario) for m in fired]
    firing = [_described(rule, m.instance, m.scenario) for m in fired]
    if not all(lulls) or not all(firing):
        return None
    # One set of times for every member: the latest member's (the others' checks have slack:
    # their traffic stopped no later, and a later lull check only needs less of their window).
    lull = max((lull for lull in lulls if lull), key=lambda lull: lull.stopped_ms)
    if any(other and (other.stopped_ms != lull.stopped_ms or other.kept_ms != lull.kept_ms) for other in lulls):
        return None
    samples = lull.stopped_ms // timing.sample.milliseconds
    members = []
    for member in fired:
        silent = replace(member.scenario, series=tuple(replace(s, values="0+0x{n}") for s in member.scenario.series))
        members.append(replace(member, scenario=_then(member.scenario, silent, samples)))
    group = _group(rule, members, "idle", lull.empty_ms, [], timing, baseline)
    checks = [(lull.lull_ms, firing)] + ([(lull.kept_ms, firing)] if lull.kept_ms is not None else [])
    group.document["alert_rule_test"] = [{"eval_time": str(Duration(at)), "alertname": rule.name,
                                          "exp_alerts": expected} for at, expected in checks] + group.document["alert_rule_test"]
    return group


def _vanishing(instance: AlertInstance) -> bool:
    """The alert fires on the absence of series its quiet input holds (``absent()``, ``unless``):
    both inputs gauges, the firing one lacking a series of the quiet one."""
    if instance.quiet_level is None:
        return False
    fired, quiet = instance.scenario(instance.fire_level), instance.scenario(instance.quiet_level)
    return _gauges(fired) and _gauges(quiet) and bool({s.series for s in quiet.series} - {s.series for s in fired.series})


def _vanish_case(rule: AlertRule, instances: list[AlertInstance], kind: CaseKind, index: SiblingIndex,
                 timing: Timing, baseline: list[InputSeries]) -> CaseGroup | None:
    """Series that go away or come late, as a real Prometheus sees them.

    "vanishes": the quiet input (a job's targets, a service's request series), then a stale
    marker: the target left discovery, the process stopped exposing the metric. Still pending
    an evaluation before ``for`` has passed since, firing once it has.
    "appears": the firing input first (nothing yet), then the series arrive half-way to ``for``
    (a process that serves its first request a minute after it starts, a job whose discovery
    finds targets late): pending an evaluation before they arrive, and quiet once ``for`` has
    passed (the pending alert was reset).
    """
    sample, evaluation = timing.sample.milliseconds, timing.evaluation.milliseconds
    if any(len(index[(rule.name, frozenset(i.labels.items()))]) != 1 for i in instances):
        return None  # another rule of the name fires for the subject too: not this case's to time
    hold = rule.for_.milliseconds
    if kind == "vanishes":
        lead = max(timing.margin_ms, hold)  # quiet long enough to be settled
    else:
        lead = hold // 2 // sample * sample
        if lead < evaluation + sample or lead + timing.margin_ms >= hold:
            return None  # too short a for to tell pending from reset
    samples = lead // sample
    members, firing = [], []
    for instance in instances:
        assert instance.quiet_level is not None
        fired, quiet = instance.scenario(instance.fire_level), instance.scenario(instance.quiet_level)
        first, then = (quiet, fired) if kind == "vanishes" else (fired, quiet)
        members.append(_Member(instance, instance.fire_level, replace(then, series=_then_gauges(first, then, samples))))
        firing.append(_described(rule, instance, fired))
    if not all(firing):
        return None
    changed_ms = samples * sample  # the stale marker, or the first sample of the new series
    if kind == "vanishes":
        checks = [(timing.round_up(changed_ms + hold) - evaluation, []),
                  (timing.round_up(changed_ms + hold + timing.margin_ms), firing)]
    else:
        last_before = (changed_ms - 1) // evaluation * evaluation  # the last evaluation before they arrive
        checks = [(last_before, []), (timing.round_up(hold + timing.margin_ms), [])]
    group = _group(rule, members, kind, checks[-1][0], checks[-1][1], timing, baseline)
    group.document["alert_rule_test"] = [{"eval_time": str(Duration(at)), "alertname": rule.name,
                                          "exp_alerts": expected} for at, expected in checks[:-1]] + group.document["alert_rule_test"]
    return group


SPIKE_TRAFFIC_GROWTH = 100  # the plateau's traffic over the spike's: the spike leaves the window's ratio at once


def _spike_case(rule: AlertRule, instances: list[AlertInstance], timing: Timing,
                baseline: list[InputSeries]) -> CaseGroup:
    """Hysteresis holds only a *firing* alert: a burst past the threshold for half of ``for``, then
    a plateau above the release level on far more traffic (so the window drops under the
    threshold at once). The alert was pending, resets, and stays quiet."""
    sample = timing.sample.milliseconds
    spike_samples = rule.for_.milliseconds // 2 // sample + 1
    members = []
    for instance in instances:
        assert instance.sparse is not None and instance.min_request_rate is not None
        assert instance.release_level is not None
        rate = instance.min_request_rate * 30
        burst = instance.sparse(instance.fire_level, rate * timing.sample_ratio)
        level = instance.release_level + (instance.threshold - instance.release_level) / 4
        plateau = instance.sparse(level, rate * SPIKE_TRAFFIC_GROWTH * timing.sample_ratio)
        members.append(_Member(instance, level, _then(burst, plateau, spike_samples)))
    at_ms = timing.round_up(spike_samples * sample + rule.for_.milliseconds + 2 * timing.margin_ms)
    return _group(rule, members, "spike", at_ms, [], timing, baseline)


def _spikeable(rule: AlertRule, instance: AlertInstance, timing: Timing) -> bool:
    """A spike of half of ``for`` spans two samples and clears ``for`` by two evaluations."""
    sample, hold = timing.sample.milliseconds, rule.for_.milliseconds
    return (instance.release_level is not None and instance.sparse is not None
            and instance.min_request_rate is not None and hold // 2 >= sample
            and (hold // 2 // sample + 1) * sample + timing.margin_ms < hold)


def _after_family(rule: AlertRule, members: list[_Member], kind: CaseKind, index: SiblingIndex, timing: Timing,
                  ready: int, until: int | None, expected: list[dict[str, Any]]) -> int | None:
    """For a quiet case of a rule with hysteresis: a second, later check, once every alert of its
    family (the warning the level is above) has had time to fire. The hold must be the rule's own
    firing alert, not any alert of the subject. None where it does not apply."""
    if kind != "quiet" or expected or until is not None or rule.family is None:
        return None
    if any(m.instance.release_level is None for m in members):
        return None
    holds = [r.for_.milliseconds for entries in index.values() for r, _ in entries if r.family == rule.family]
    return timing.round_up(ready + max(holds) + rule.for_.milliseconds + 2 * timing.margin_ms)


def _spread_gap(rule: AlertRule, instance: AlertInstance, kind: CaseKind, timing: Timing) -> Duration | None:
    """The time between events of a spread case, on the sample grid; None where it cannot be built.

    "spread": the firing count, one event every gap, all still inside the window when the alert
    is checked (``for`` after the last); a window of half the length then holds fewer than the
    threshold. "spread-wide": the same count, so far apart that no window holds more than the
    threshold (a window of twice the length holds them all)."""
    window, level, sample = instance.count_window, instance.fire_level, timing.sample.milliseconds
    if window is None or instance.spaced is None or level < 2:
        return None
    if kind == "spread":
        # Room for for, the margin and a few samples, so the first event stays clear of the window's edge.
        room = window.milliseconds - rule.for_.milliseconds - 2 * timing.margin_ms - 4 * sample
        gap = room // (int(level) - 1)
        gap -= gap % sample
        # The last events within half a window of the check: at most the threshold of them.
        recent = (window.milliseconds // 2 - rule.for_.milliseconds - timing.margin_ms) // max(gap, 1) + 1
        return Duration(gap) if gap >= 2 * sample and recent <= instance.threshold else None
    gap = -(-window.milliseconds // int(instance.threshold)) + sample
    gap += -gap % sample
    return Duration(gap) if gap * int(level) + rule.for_.milliseconds < 2 * window.milliseconds else None


def _events_firing(rule: AlertRule, instance: AlertInstance, gap: int, events: int, at_ms: int,
                   timing: Timing) -> bool | None:
    """Whether a rule counting events in a window fires at ``at_ms`` on ``events`` events one every
    ``gap`` ms: its count above its threshold at every evaluation through its ``for`` (True), not
    above it at ``at_ms`` (False), or too close to call (an event at a window's edge: None)."""
    window, sample = instance.count_window, timing.sample.milliseconds
    if window is None:
        return None

    def count(at: int) -> int | None:
        times = [gap * i for i in range(1, events + 1)]
        start = at - window.milliseconds
        if any(start - sample <= t <= start + 2 * sample for t in times):
            return None  # changes() needs the samples either side of an event inside the range
        return sum(start < t <= at for t in times)
    now = count(at_ms)
    if now is None:
        return None
    if now <= instance.threshold:
        return False
    step = timing.evaluation.milliseconds
    held = [count(at_ms - k * step) for k in range((rule.for_.milliseconds + timing.margin_ms) // step + 1)]
    if any(c is None for c in held):
        return None
    return True if all(c is not None and c > instance.threshold for c in held) else None


def _spread_case(rule: AlertRule, instances: list[AlertInstance], kind: CaseKind, index: SiblingIndex,
                 timing: Timing, baseline: list[InputSeries]) -> CaseGroup | None:
    """Events spread over time: the firing count one every gap (_spread_gap). "spread" fires, with
    the whole count, ``for`` after the last event; "spread-wide" stays quiet then. Other rules of
    the name (the other severity) are expected as their own thresholds say; None where that is
    too close to call."""
    members, gaps, at_ms = [], [], 0
    for instance in instances:
        gap = _spread_gap(rule, instance, kind, timing)
        assert gap is not None and instance.spaced is not None
        scenario = instance.spaced(instance.fire_level, gap)
        at_ms = max(at_ms, timing.round_up(scenario.ready_after.milliseconds + rule.for_.milliseconds
                                           + timing.margin_ms))
        members.append(_Member(instance, instance.fire_level, scenario))
        gaps.append(gap.milliseconds)
    expected = []
    for member, gap in zip(members, gaps):
        for sibling, other in index[(rule.name, frozenset(member.instance.labels.items()))]:
            firing = _events_firing(sibling, other, gap, int(member.level), at_ms, timing)
            if firing is None or (sibling.labels == rule.labels and firing != (kind == "spread")):
                return None
            if firing:
                expected.append(expected_alert(sibling, other.labels, member.scenario.value))
    return _group(rule, members, kind, at_ms, expected, timing, baseline)


def _onset_case(rule: AlertRule, instances: list[AlertInstance], timing: Timing,
                baseline: list[InputSeries]) -> CaseGroup:
    """``for`` counted from the moment the condition starts: the measure jumps past the threshold
    at one instant; one evaluation before ``for`` has passed since, the alert is still pending."""
    members = []
    for instance in instances:
        assert instance.onset is not None
        members.append(_Member(instance, instance.fire_level, instance.onset(instance.fire_level)))
    jumped = max(m.scenario.ready_after.milliseconds for m in members)
    at_ms = timing.round_up(jumped) + rule.for_.milliseconds - timing.evaluation.milliseconds
    return _group(rule, members, "onset", at_ms, [], timing, baseline)


# Tried in turn for the "only one window burns" cases: the burst's level, as a multiple of the
# pair's threshold (at most a 100% error ratio); "short-burns": the input's length, in bursts
# (the long window, and the slower pairs' windows, must read the burst diluted; the shortest
# input that does is the cheapest to evaluate); "long-burns": the burst's length, as a share of
# the long window.
SHORT_BURNS = tuple((multiple, length) for length in (1.5, 2, 2.5, 3, 4, 6, 8, 12, 16, 20, 24, 32)
                    for multiple in (1.1, 1.25, 1.5))
LONG_BURNS = tuple((multiple, share) for multiple in (6.0, 3.0, 12.0)
                   for share in (1 / 32, 1 / 16, 0.125, 0.25, 0.5, 0.75))


# "short-burns" also tries the burst at the level that has the long window read this share of the
# threshold at the check: a pair whose long comparison was lowered by a fifth fires on it.
CLOSE_SHARE = 0.93


# After a long window's burst the ratio settles just under the threshold, not at nothing: the short
# window reads it under, and a rule reading it high (the worst target, min for avg) or comparing
# it with a threshold lowered by a fifth fires.
SETTLED_SHARE = 0.9


@dataclass(frozen=True)
class _OneWindow:
    multiple: float  # the burst's level over the pair's threshold
    switch: int  # the first sample of the second level
    at_ms: int
    # Requests/s of traffic that starts with the input (None: plenty): enough for the pair's guards,
    # too little for a slower pair's long one, which then stays quiet however its windows read.
    rate: float | None = None
    base: float = 0.0  # "short-burns": the level before the burst, as a share of the threshold

    def traffic(self) -> _YoungTraffic | None:
        return None if self.rate is None else _YoungTraffic(self.at_ms, self.rate)

    def level(self, instance: AlertInstance) -> float:
        return min(self.multiple * instance.threshold, 1.0)

    def levels(self, instance: AlertInstance, kind: CaseKind) -> tuple[float, float]:
        """The ratio before and after the switch."""
        if kind == "short-burns":
            return self.base * instance.threshold, self.level(instance)
        return self.level(instance), SETTLED_SHARE * instance.threshold


def _one_window_holds(rule: AlertRule, instance: AlertInstance, counter: bool, kind: CaseKind, design: _OneWindow,
                      index: SiblingIndex, timing: Timing, close: bool) -> bool:
    """The design has teeth for ``instance`` (the pair comparing only the burning window would
    fire; with ``close``, so would the pair comparing the quiet window with its threshold lowered
    by a fifth: the quiet window reads close under it) and every pair of its subject surely stays
    quiet. ``counter``: its input is counters (request ratios), not gauges (``up``)."""
    own = burn_profile.pair(rule, instance)
    if own is None:
        return False
    first, second = design.levels(instance, kind)
    levels = burn_profile.TwoLevels(first, second, design.switch, timing.sample.milliseconds, counter)
    step, margin = timing.evaluation.milliseconds, timing.margin_ms
    burning, quiet = ("short", "long") if kind == "short-burns" else ("long", "short")
    if burn_profile.firing(lambda t: own.condition(levels, t, burning), design.at_ms, own.hold.milliseconds,
                           step, margin) is not True:
        return False
    if close and burn_profile.firing(lambda t: own.condition(levels, t, lowered=quiet), design.at_ms,
                                     own.hold.milliseconds, step, margin) is not True:
        return False
    traffic = design.traffic()
    # Young traffic only grows: guards met at the start of the hold are met through it.
    early = None if traffic is None else replace(traffic, at_ms=design.at_ms - own.hold.milliseconds - margin - step)
    if early is not None and _pair_guards_met(instance, early, GUARD_MARGIN) is not True:
        return False
    for sibling, other in index[(rule.name, frozenset(instance.labels.items()))]:
        pair = burn_profile.pair(sibling, other)
        if pair is None:
            return False
        if early is not None:
            if _pair_guards_met(other, traffic) is False:
                continue  # a guard surely unmet at the check: quiet, whatever its windows read
            faster = _faster_pair(other, index, rule.name)
            if (_pair_guards_met(other, early) is not True
                    or faster is not None and _pair_guards_met(faster, early) is not True):
                return False  # the ratios alone do not tell
        if burn_profile.firing(lambda t, p=pair: p.condition(levels, t), design.at_ms,
                               pair.hold.milliseconds, step, margin) is not False:
            return False
    return True


def _pair_guards_met(instance: AlertInstance, traffic: _YoungTraffic, margin: float = 1 + burn_profile.TOLERANCE
                ) -> burn_profile.Verdict:
    """Whether both of a pair's guards are met on ``traffic`` at its check: True with ``margin`` to
    spare, False where one surely is not, None too close to call."""
    windows = instance.burn_windows
    if windows is None or windows.long_floor is None or windows.short_floor is None:
        return None
    seen = [(traffic.requests(window), floor) for window, floor in ((windows.long, windows.long_floor),
                                                                    (windows.short, windows.short_floor))]
    if any(requests < floor * (1 - burn_profile.TOLERANCE) for requests, floor in seen):
        return False
    return True if all(requests >= floor * margin for requests, floor in seen) else None


def _limited(design: _OneWindow, pair: BurnWindows, rule: AlertRule, kind: CaseKind,
             timing: Timing) -> list[_OneWindow]:
    """``design`` on traffic starting with the input, just enough for the pair's guards ``for``
    and a margin before the check (with room to spare); "short-burns" also with the ratio at
    ``LIMITED_BASE`` of the threshold before the burst, for a burst that cannot go higher (a
    100% error ratio) to lift the long window close to the threshold. Nothing for a pair without
    guards, or a check too early for them."""
    if pair.long_floor is None or pair.short_floor is None:
        return []
    earliest = design.at_ms - rule.for_.milliseconds - 2 * timing.margin_ms - timing.evaluation.milliseconds
    if earliest <= pair.short.milliseconds:
        return []
    rate = LIMITED_SPARE * GUARD_MARGIN * max(pair.long_floor / (min(earliest, pair.long.milliseconds) / 1000),
                                              pair.short_floor / (pair.short.milliseconds / 1000))
    limited = replace(design, rate=rate)
    return [limited] + ([replace(limited, base=LIMITED_BASE)] if kind == "short-burns" else [])


# The limited traffic's spare over a guard's margin.
LIMITED_SPARE = 1.05
# The share of the threshold the ratio holds before a limited "short-burns" burst.
LIMITED_BASE = 0.85


def _one_window_candidates(rule: AlertRule, pair: BurnWindows, kind: CaseKind, timing: Timing) -> list[_OneWindow]:
    sample, hold = timing.sample.milliseconds, rule.for_.milliseconds
    # The short window needs ``for`` and a margin after a burst has filled it (short-burns), or
    # after one has left it (long-burns); a long burst may also have to leave the faster pair's
    # long window, or that pair blocks this one whatever its windows say.
    settle = pair.short.milliseconds + hold + 2 * timing.margin_ms + 2 * sample
    designs = []
    if kind == "short-burns":
        for multiple, length in SHORT_BURNS:
            at_ms = timing.round_up(settle * length)
            designs.append(_OneWindow(multiple, (at_ms - settle) // sample, at_ms))
            # The burst at the level that has the long window read it just under the threshold.
            close = CLOSE_SHARE * min(at_ms, pair.long.milliseconds) / settle
            if close >= min(m for m, _ in SHORT_BURNS):
                designs.append(_OneWindow(close, (at_ms - settle) // sample, at_ms))
        return designs
    gaps = {settle, max(settle, (pair.faster_long or Duration(0)).milliseconds + hold + 2 * timing.margin_ms)}
    for multiple, share in LONG_BURNS:
        burst = math.ceil(pair.long.milliseconds * share / sample) * sample
        designs += [_OneWindow(multiple, burst // sample, timing.round_up(burst + gap)) for gap in sorted(gaps)]
    return designs


def _one_window_design(rule: AlertRule, instances: list[AlertInstance], kind: CaseKind, index: SiblingIndex,
                       timing: Timing) -> _OneWindow | None:
    """"short-burns": a burst that keeps the short window past the threshold through ``for``, at
    the end of an input long enough that the long window (and the slower pairs') reads it diluted
    under the threshold. "long-burns": a burst at the start that keeps the long window past the
    threshold after it has left the short window. The shortest input that works for every member
    (the cheapest to evaluate), preferring one where the quiet window reads close under the
    threshold (a pair comparing it with a threshold lowered by a fifth fires); None if none does."""
    windows = {instance.burn_windows for instance in instances}
    if len(windows) != 1 or None in windows:
        return None
    (pair,) = windows
    assert pair is not None
    counters = [not _gauges(instance.scenario(instance.fire_level)) for instance in instances]
    designs = sorted(_one_window_candidates(rule, pair, kind, timing), key=lambda d: d.at_ms)
    limited = ([each for design in designs for each in _limited(design, pair, rule, kind, timing)]
               if all(instance.sparse is not None for instance in instances) else [])
    for close, tried in ((True, designs), (True, limited), (False, designs)):
        for design in tried:
            if all(_one_window_holds(rule, instance, counter, kind, design, index, timing, close)
                   for instance, counter in zip(instances, counters)):
                return design
    return None


def _one_window_case(rule: AlertRule, instances: list[AlertInstance], kind: CaseKind, index: SiblingIndex,
                     timing: Timing, baseline: list[InputSeries]) -> CaseGroup | None:
    """A burn-rate pair stays quiet while only one of its windows burns (``_one_window_design``);
    so do the other pairs of the subject. None where no burst tells the cases apart."""
    design = _one_window_design(rule, instances, kind, index, timing)
    if design is None:
        return None
    members = []
    for instance in instances:
        level = design.level(instance)
        first, second = design.levels(instance, kind)
        if design.rate is not None:
            assert instance.sparse is not None
            before, after = (instance.sparse(each, design.rate * timing.sample_ratio) for each in (first, second))
        else:
            before, after = instance.scenario(first), instance.scenario(second)
        scenario = (replace(after, series=_then_gauges(before, after, design.switch)) if _gauges(before)
                    else _then(before, after, design.switch))
        members.append(_Member(instance, level, scenario))
    return _group(rule, members, kind, design.at_ms, [], timing, baseline)


# Traffic that started a while ago: the long window's guard reads this share of its floor in the
# quiet case (a guard lowered by a fifth lets the pair fire), and twice its floor at the check in
# the firing case, having crossed it halfway (a guard raised 2.5 times is never reached).
YOUNG_QUIET_SHARE = 0.9
YOUNG_FIRING_SHARE = 2.0
# The short window's guard is read with this much to spare.
YOUNG_SHORT_MARGIN = 1.1
YOUNG_LOWERED = 0.8  # the long guard's share a mutant lowers it to, to be crossed ``for`` before the check


@dataclass(frozen=True)
class _YoungTraffic:
    at_ms: int  # the check, this long after the traffic started
    rate: float  # requests/s

    def requests(self, window: Duration) -> float:
        """The requests a window ending at the check holds (counters start at zero)."""
        return self.rate * min(self.at_ms, window.milliseconds) / 1000


def _young_traffic(rule: AlertRule, windows: BurnWindows, kind: CaseKind,
                   timing: Timing) -> _YoungTraffic | _Trickle | None:
    """When and at which steady rate to check a pair on traffic younger than its long window: its
    counters start at zero, so the long window's guard reads rate x age exactly (rate() does not
    extrapolate a counter past its zero), while the short window is full and holds enough. None
    where no such time exists before the long window fills."""
    assert windows.long_floor is not None and windows.short_floor is not None
    hold = rule.for_.milliseconds + timing.margin_ms + timing.evaluation.milliseconds
    short_ms = windows.short.milliseconds
    if kind == "young-quiet":
        # The short guard met ``for`` before the check; if it can be, so is a long guard lowered
        # by a fifth (crossed at 0.8/0.9 of the age). Else a burst slowing to a trickle, else
        # (no teeth against a lowered long guard) the earliest check the short guard allows.
        long_floor, short_floor = windows.long_floor, windows.short_floor

        def short_guard_met(at_ms: int) -> bool:
            rate = YOUNG_QUIET_SHARE * long_floor / (at_ms / 1000)
            return rate * min(at_ms - hold, short_ms) / 1000 >= YOUNG_SHORT_MARGIN * short_floor

        with_teeth = timing.round_up(max(short_ms + hold, hold / (1 - YOUNG_LOWERED / YOUNG_QUIET_SHARE)))
        if not short_guard_met(with_teeth) and (slowing := _young_slowing(windows, hold, timing)) is not None:
            return slowing
        at_ms = with_teeth if short_guard_met(with_teeth) else timing.round_up(short_ms + hold)
        rate = YOUNG_QUIET_SHARE * windows.long_floor / (at_ms / 1000)
        met_ms = at_ms - hold
    else:  # the long guard is crossed halfway to the check, ``for`` and a margin before it
        at_ms = timing.round_up(max(2 * hold, short_ms))
        rate = YOUNG_FIRING_SHARE * windows.long_floor / (at_ms / 1000)
        met_ms = at_ms // 2
    if at_ms + timing.evaluation.milliseconds >= windows.long.milliseconds:
        return None
    if rate * min(met_ms, short_ms) / 1000 < YOUNG_SHORT_MARGIN * windows.short_floor:
        return None
    return _YoungTraffic(at_ms, rate)


# The long guard's share a young burst meets, ``for`` before the check: a fifth lowered, with margin.
YOUNG_LOWERED_MET = YOUNG_LOWERED * 1.05


def _young_slowing(windows: BurnWindows, hold: int, timing: Timing) -> _Trickle | None:
    """"young-quiet" where a short window's guard asks for more traffic than its long one's (a
    steady rate meeting the short guard meets a lowered long one too late to tell): a burst as long
    as the short window brings the long window to 84% of its floor, then a trickle brings it to 90%
    at the check, ``for`` later. A long guard lowered by a fifth was met throughout; the short
    window holds enough all along. None where it does not."""
    assert windows.long_floor is not None and windows.short_floor is not None
    sample = timing.sample.milliseconds
    switch_ms = math.ceil(windows.short.milliseconds / sample) * sample
    at_ms = timing.round_up(switch_ms + hold)
    if at_ms + timing.evaluation.milliseconds >= windows.long.milliseconds:
        return None
    burst = YOUNG_LOWERED_MET * windows.long_floor
    trickle = (YOUNG_QUIET_SHARE - YOUNG_LOWERED_MET) * windows.long_floor
    traffic = _Trickle(switch_ms, at_ms, burst / (switch_ms / 1000), trickle / ((at_ms - switch_ms) / 1000))
    if any(replace(traffic, at_ms=when).requests(windows.short) < YOUNG_SHORT_MARGIN * windows.short_floor
           for when in range(at_ms - hold, at_ms + 1, timing.evaluation.milliseconds)):
        return None
    return traffic


def _surely_quiet(instance: AlertInstance, level: float, traffic: _YoungTraffic | _Trickle) -> bool:
    """Whether a burn pair surely stays quiet on ``traffic`` at ``level``: its burn threshold is
    above the level, or one of its windows holds too few requests for its guard."""
    if level < instance.threshold * (1 - burn_profile.TOLERANCE):
        return True
    return _pair_guards_met(instance, traffic) is False


def _others_surely_quiet(rule: AlertRule, siblings: list[tuple[AlertRule, AlertInstance]], level: float,
                         traffic: _YoungTraffic | _Trickle, own_too: bool = False,
                         besides: AlertInstance | None = None) -> bool:
    """Whether every other pair of the subject's SLO (and its own, with ``own_too``), but
    ``besides``, surely stays quiet on ``traffic`` at ``level``."""
    return all(_surely_quiet(instance, level, traffic) for sibling, instance in siblings
               if (own_too or _pair_labels(sibling) != _pair_labels(rule)) and instance is not besides)


def _pair_labels(rule: AlertRule) -> dict[str, str]:
    """A rule's static labels but its subject's: the same for one pair of every service."""
    return {key: value for key, value in rule.labels.items() if key != rule.subject}


def _own(rule: AlertRule, siblings: list[tuple[AlertRule, AlertInstance]]) -> AlertRule:
    """The subject's own rule among its siblings (``rule`` may stand for one pair of several services)."""
    return next(other for other, _ in siblings if _pair_labels(other) == _pair_labels(rule))


def _described(rule: AlertRule, instance: AlertInstance, scenario: Scenario) -> dict[str, Any] | None:
    """The firing alert ``rule`` raises for ``instance`` on ``scenario``, as promtool expects it;
    None where its value sits on a rounding tie (it may print either way)."""
    if not _rendered_exactly(rule, scenario.value):
        return None
    return expected_alert(rule, instance.labels, scenario.value, scenario.facts)


def _young_case(rule: AlertRule, instances: list[AlertInstance], kind: CaseKind, index: SiblingIndex,
                timing: Timing, baseline: list[InputSeries]) -> CaseGroup | None:
    """A burn pair on traffic younger than its long window, burning at its firing level: quiet
    while the long window holds too few requests (``young-quiet``), firing once it holds enough
    (``young-fires``); every other pair of the subject quiet. None where no time tells."""
    members, expected, at_ms = [], [], None
    for instance in instances:
        windows, sparse = instance.burn_windows, instance.sparse
        assert windows is not None and sparse is not None
        traffic = _young_traffic(rule, windows, kind, timing)
        if traffic is None or at_ms not in (None, traffic.at_ms):
            return None
        at_ms = traffic.at_ms
        level = instance.fire_level
        scenario = replace(sparse(level, traffic.rate * timing.sample_ratio), request_rate=traffic.rate)
        if isinstance(traffic, _Trickle):
            slowed = sparse(level, traffic.trickle * timing.sample_ratio)
            scenario = _then(scenario, slowed, traffic.switch_ms // timing.sample.milliseconds)
        # The subject's own rule (``rule`` may stand for the same pair of several services) and
        # the other pairs of its SLO.
        siblings = index[(rule.name, frozenset(instance.labels.items()))]
        own = _own(rule, siblings)
        if not _others_surely_quiet(rule, siblings, level, traffic):
            return None
        if kind == "young-fires":
            if (alert := _described(own, instance, scenario)) is None:
                return None
            expected.append(alert)
        members.append(_Member(instance, level, scenario))
    if at_ms is None:
        return None
    return _group(rule, members, kind, at_ms, expected, timing, baseline)


# Traffic that fell to a trickle: before it, the long window's guard gets this multiple of its
# floor; after, the short window's guard reads this share of its floor (a guard lowered by a fifth
# lets the pair fire).
TRICKLE_BEFORE = 1.5
TRICKLE_SHARE = 0.9
TRICKLE_ENOUGH = 1.25  # the firing variant: a short guard raised 2.5 times is not met


@dataclass(frozen=True)
class _Trickle:
    switch_ms: int  # when the traffic falls
    at_ms: int  # the check
    rate: float  # requests/s before the fall
    trickle: float  # requests/s after it

    def requests(self, window: Duration) -> float:
        """The requests a window ending at the check holds (counters start at zero)."""
        start = self.at_ms - window.milliseconds
        before = max(0, self.switch_ms - max(start, 0))
        after = self.at_ms - max(start, self.switch_ms)
        return (self.rate * before + self.trickle * after) / 1000


def _trickle(rule: AlertRule, windows: BurnWindows, timing: Timing, share: float = TRICKLE_SHARE) -> _Trickle | None:
    """Traffic for a short window's guard: plenty for a short window's length, then a trickle
    until the short window holds only the trickle. None where a pair without the short window's
    guard would not have fired by then (``for`` not passed since the long guard was met)."""
    assert windows.long_floor is not None and windows.short_floor is not None
    sample = timing.sample.milliseconds
    switch_ms = math.ceil(windows.short.milliseconds / sample) * sample
    at_ms = timing.round_up(switch_ms + windows.short.milliseconds + timing.margin_ms + 2 * sample)
    traffic = _Trickle(switch_ms, at_ms, TRICKLE_BEFORE * windows.long_floor / (switch_ms / 1000),
                       share * windows.short_floor / (windows.short.milliseconds / 1000))
    met_ms = switch_ms / TRICKLE_BEFORE  # the long guard met (the short one sooner)
    if at_ms - met_ms < rule.for_.milliseconds + timing.margin_ms + timing.evaluation.milliseconds:
        return None
    if traffic.requests(windows.long) < GUARD_MARGIN * windows.long_floor:
        return None
    return traffic


def _trickle_case(rule: AlertRule, instances: list[AlertInstance], kind: CaseKind, index: SiblingIndex,
                  timing: Timing, baseline: list[InputSeries], hood: Neighbourhood) -> CaseGroup | None:
    """A burn pair at its firing level whose traffic fell to a trickle: the long window holds plenty
    of requests, the short one 90% of its guard's ("trickle": quiet; a pair that lost its short
    window's guard, or lowered it by a fifth, still fires) or 125% ("trickle-fires": firing; one
    whose short guard was raised 2.5 times has stopped). Every other pair of the subject quiet. At
    steady traffic both guards bind at the same rate, so "too little traffic" alone cannot tell a
    pair missing its short window's guard. None where no input tells."""
    windows = {instance.burn_windows for instance in instances}
    if len(windows) != 1 or rule.keep_firing_for is not None:
        return None
    (pair,) = windows
    assert pair is not None
    traffic = _trickle(rule, pair, timing, TRICKLE_SHARE if kind == "trickle" else TRICKLE_ENOUGH)
    if traffic is None:
        return None
    switch = traffic.switch_ms // timing.sample.milliseconds
    members, expected = [], []
    for instance in instances:
        sparse, level = instance.sparse, instance.fire_level
        assert sparse is not None
        siblings = index[(rule.name, frozenset(instance.labels.items()))]
        own = _own(rule, siblings)
        if not _others_surely_quiet(rule, siblings, level, traffic, own_too=kind == "trickle"):
            return None
        busy = sparse(level, traffic.rate * timing.sample_ratio)
        quiet = sparse(level, traffic.trickle * timing.sample_ratio)
        if kind == "trickle-fires":
            if (alert := _described(own, instance, busy)) is None:
                return None
            expected.append(alert)
        members.append(_Member(instance, level, _then(busy, quiet, switch)))
    if kind == "trickle":
        # The same traffic again from a neighbour: a short guard that lost its filter counts both.
        baseline = neighbours([s for m in members[:NEIGHBOUR_SUBJECTS] for s in m.scenario.series], hood) + baseline
    return _group(rule, members, kind, traffic.at_ms, expected, timing, baseline)


def _faster_pair(instance: AlertInstance, index: SiblingIndex, name: str) -> AlertInstance | None:
    """The pair that holds this slower one back (its long window is ``faster_long``), or None."""
    windows = instance.burn_windows
    if windows is None or windows.faster_long is None:
        return None
    return next((other for _, other in index[(name, frozenset(instance.labels.items()))]
                 if other.burn_windows is not None and other.burn_windows.long == windows.faster_long), None)


def _released(rule: AlertRule, pair: BurnWindows, faster: BurnWindows, timing: Timing,
              share: float = TRICKLE_SHARE) -> _Trickle | None:
    """Traffic for a hold-back's guard: plenty for the faster pair's short window's length (the
    slower pair's long guard gets 1.5 times its requests), then a trickle at ``share`` of the faster
    pair's short guard. Checked ``for`` and a margin after the faster pair's short window holds only
    the trickle, while every window of the slower pair (and the faster pair's long one) still holds
    1.1 times its guard's requests from then on. None where the windows do not allow it."""
    assert pair.long_floor is not None and pair.short_floor is not None
    assert faster.long_floor is not None and faster.short_floor is not None
    sample = timing.sample.milliseconds
    switch_ms = math.ceil(faster.short.milliseconds / sample) * sample
    released_ms = switch_ms + faster.short.milliseconds + sample
    at_ms = timing.round_up(released_ms + rule.for_.milliseconds + timing.margin_ms + timing.evaluation.milliseconds)
    traffic = _Trickle(switch_ms, at_ms, TRICKLE_BEFORE * pair.long_floor / (switch_ms / 1000),
                       share * faster.short_floor / (faster.short.milliseconds / 1000))
    for when in (released_ms, at_ms):
        seen = replace(traffic, at_ms=when)
        if (seen.requests(pair.long) < GUARD_MARGIN * pair.long_floor
                or seen.requests(pair.short) < GUARD_MARGIN * pair.short_floor
                or seen.requests(faster.long) < GUARD_MARGIN * faster.long_floor):
            return None
    return traffic


def _released_case(rule: AlertRule, instances: list[AlertInstance], kind: CaseKind, index: SiblingIndex,
                   timing: Timing, baseline: list[InputSeries]) -> CaseGroup | None:
    """A slower burn pair at a burn its faster pair covers, once the traffic has fallen so far that
    the faster pair's short window holds 90% of its guard's requests ("released": the faster pair
    cannot fire, so it no longer holds the slower one back, which fires; a hold-back clause that
    lost the faster pair's short guard, or lowered it by a fifth, keeps holding it) or 125% ("held":
    the faster pair fires and holds the slower one back; a hold-back whose guard was raised 2.5
    times lets it fire too). Every other pair of the subject surely quiet. None where no input tells."""
    members, expected, at_ms = [], [], None
    for instance in instances:
        pair, faster = instance.burn_windows, _faster_pair(instance, index, rule.name)
        level = instance.blocked_level
        if (pair is None or faster is None or faster.burn_windows is None or level is None
                or pair.long_floor is None or faster.burn_windows.short_floor is None or instance.sparse is None):
            return None
        traffic = _released(rule, pair, faster.burn_windows, timing,
                            TRICKLE_SHARE if kind == "released" else TRICKLE_ENOUGH)
        if traffic is None or at_ms not in (None, traffic.at_ms):
            return None
        at_ms = traffic.at_ms
        siblings = index[(rule.name, frozenset(instance.labels.items()))]
        own = _own(rule, siblings)
        firing, fires = (own, instance) if kind == "released" else next(
            (sibling, other) for sibling, other in siblings if other is faster)
        if not _others_surely_quiet(rule, siblings, level, traffic, besides=fires):
            return None
        busy = instance.sparse(level, traffic.rate * timing.sample_ratio)
        scenario = _then(busy, instance.sparse(level, traffic.trickle * timing.sample_ratio),
                         traffic.switch_ms // timing.sample.milliseconds)
        if (alert := _described(firing, fires, busy)) is None:
            return None
        expected.append(alert)
        members.append(_Member(instance, level, scenario))
    if at_ms is None:
        return None
    return _group(rule, members, kind, at_ms, expected, timing, baseline)


def _case(rule: AlertRule, instances: list[AlertInstance], kind: CaseKind, index: SiblingIndex, timing: Timing,
          baseline: list[InputSeries], hood: Neighbourhood | None = None) -> CaseGroup | None:
    if kind == "other-firing":
        instances = [i for i in instances if i.other_firing is not None]
    if kind in ("holds", "releases"):
        return _two_phase_case(rule, instances, kind, timing, baseline)
    if kind == "recovers":
        return _recovery_case(rule, instances, timing, baseline)
    if kind == "spike":
        return _spike_case(rule, instances, timing, baseline)
    if kind == "idle":
        return _lull_case(rule, instances, index, timing, baseline)
    if kind in ("vanishes", "appears"):
        return _vanish_case(rule, instances, kind, index, timing, baseline)
    if kind in ("spread", "spread-wide"):
        return _spread_case(rule, instances, kind, index, timing, baseline)  # None: skipped, too close to call
    if kind == "onset":
        return _onset_case(rule, instances, timing, baseline)
    if kind in ("short-burns", "long-burns"):
        neighbours_burning = _neighbour_series(instances, kind, hood or Neighbourhood({}))
        return _one_window_case(rule, instances, kind, index, timing, neighbours_burning + baseline)
    if kind in ("young-quiet", "young-fires"):
        return _young_case(rule, instances, kind, index, timing, baseline)
    if kind in ("trickle", "trickle-fires"):
        return _trickle_case(rule, instances, kind, index, timing, baseline, hood or Neighbourhood({}))
    if kind in ("released", "held"):
        return _released_case(rule, instances, kind, index, timing, baseline)
    members = _members(rule, instances, kind, timing, index)
    hood = hood or Neighbourhood({})
    baseline = _neighbour_series(instances, kind, hood) + baseline
    if kind == "sparse":
        # Traffic just under the guard, and as much again from a neighbour: a guard that lost
        # its filter counts both and lets the rule fire.
        baseline = neighbours([s for m in members[:NEIGHBOUR_SUBJECTS] for s in m.scenario.series], hood) + baseline
    ready = max(m.scenario.ready_after.milliseconds for m in members)
    until = min((m.scenario.holds_until.milliseconds for m in members if m.scenario.holds_until), default=None)
    if kind == "before-for":
        start, step = rule.for_.milliseconds - timing.evaluation.milliseconds, -timing.evaluation.milliseconds
    else:
        start = timing.round_up(ready + rule.for_.milliseconds + timing.margin_ms)
        step = timing.evaluation.milliseconds
    for attempt in range(200):
        at_ms = start + attempt * step
        if at_ms < 0 or (until is not None and at_ms >= until):
            break
        expected: list[dict[str, Any]] | None = []
        for member in members:
            siblings = index[(rule.name, frozenset(member.instance.labels.items()))]
            found = _expected(siblings, member.scenario, at_ms, timing)
            if found is None:
                expected = None
                break
            expected += found
        if expected is not None:
            later = _after_family(rule, members, kind, index, timing, ready, until, expected)
            if later is None:
                return _group(rule, members, kind, at_ms, expected, timing, baseline)
            group = _group(rule, members, kind, later, [], timing, baseline)
            first = {"eval_time": str(Duration(at_ms)), "alertname": rule.name, "exp_alerts": expected}
            group.document["alert_rule_test"] = [first, *group.document["alert_rule_test"]]
            return group
    raise SynthesisError(f"{rule.name}: no unambiguous time for the {kind} case")


@dataclass
class CaseGroup:
    """One promtool test group as a case builds it: the wording of what it checks (the group's
    name says it after the alert's name), how many samples its input series hold, and the group
    in promtool's format. Groups fed the same input are merged from these fields, not by reading
    the format back."""

    what: str
    samples: int
    document: dict[str, Any]


def _group(rule: AlertRule, members: list[_Member], kind: CaseKind, at_ms: int, expected: list[dict[str, Any]],
           timing: Timing, baseline: list[InputSeries]) -> CaseGroup:
    samples = at_ms // timing.sample.milliseconds + 2
    restart = at_ms // timing.sample.milliseconds - 1  # a scrape before the (last) evaluation
    own = [{"series": s.series, "values": restarted(s.values.format(n=samples), restart) if s.restarts
            else s.values.format(n=samples)} for m in members for s in m.scenario.series]
    taken = {entry["series"] for entry in own}
    others = [{"series": b.series, "values": b.values.format(n=samples)}
              for b in {b.series: b for b in baseline}.values() if b.series not in taken]
    subjects = sorted({m.instance.labels.get(rule.subject, "") for m in members})
    shown = ", ".join(subjects[:5]) + (f" and {len(subjects) - 5} more" if len(subjects) > 5 else "")
    what = {"fires": "fires", "quiet": "stays quiet just inside the threshold", "before-for": "does not fire before for",
            "blocked": "stays quiet while a faster window pair covers the burn",
            "sparse": "stays quiet on too little traffic", "enough": "fires on just enough traffic",
            "holds": "holds while above its release level", "releases": "resolves under its release level",
            "recovers": "keeps firing for keep_firing_for after it recovers",
            "spike": "stays quiet after a spike shorter than for",
            "spread": "fires on events spread over its window",
            "spread-wide": "stays quiet on events spread wider than its window",
            "onset": "does not fire before for after a sudden jump",
            "short-burns": "stays quiet while only its short window [{short}] burns",
            "long-burns": "stays quiet while only its long window [{long}] burns",
            "young-quiet": "stays quiet while its long window [{long}] has seen too few requests",
            "young-fires": "fires once its long window [{long}] has seen enough requests",
            "unblocked": "fires while the faster pair has too little traffic",
            "trickle": "stays quiet while its short window [{short}] has seen too few requests",
            "trickle-fires": "fires while its short window [{short}] has seen just enough requests",
            "released": "fires once the faster pair's short window has seen too few requests",
            "held": "stays quiet while the faster pair's short window has seen just enough requests",
            "near-fires": "fires at twice its threshold",
            "idle": "keeps firing while traffic stops, until its window [{window}] is empty",
            "vanishes": "fires once its series have been gone past for", "appears": "stays quiet when its series appear late",
            "other-firing": "fires {other}",
            "masked": "stays quiet at a firing level its unless clause rules out"}[kind]
    windows = members[0].instance.burn_windows if members else None
    if kind == "other-firing":
        other = members[0].instance.other_firing
        assert other is not None
        what = what.format(other=other.what)
    elif windows is not None:
        what = what.format(short=windows.short, long=windows.long)
    elif kind == "idle":
        what = what.format(window=members[0].instance.lull_window)
    levels = sorted({f"{m.level:g}" for m in members})
    slo = f"slo {rule.labels['slo']}; " if "slo" in rule.labels else ""  # one rule an SLO: say which
    return CaseGroup(what, samples, {
        "name": f"{rule.name} {what} ({rule.subject} {shown}; {slo}level {', '.join(levels[:3])})",
        "interval": str(timing.sample),
        "input_series": own + others,
        "alert_rule_test": [{"eval_time": str(Duration(at_ms)), "alertname": rule.name, "exp_alerts": expected}],
    })


def _quiet_series(instance: AlertInstance) -> tuple[InputSeries, ...]:
    """The instance's input at its quiet level (an absent()-style rule's: its series present)."""
    return instance.scenario(instance.quiet_level).series  # type: ignore[arg-type]


def _baseline(rule: AlertRule, members: list[AlertInstance], rules: list[AlertRule],
              neighbours_of_file: Sequence[AlertRule] = (), recordings: Recordings | None = None,
              quiet: Callable[[AlertInstance], tuple[InputSeries, ...]] = _quiet_series) -> list[InputSeries]:
    """Healthy series for the other subjects of absent()-style rules of this name, so that only
    the subjects under test can fire; and for every subject of the absent()-style rules of other
    names in the same file (``neighbours_of_file``) that no selector of the rule may select
    (through ``recordings``): ExporterDown reads ``up{job="obstack-exporter"}`` and gets the
    other jobs' ``up``. Without them, ScrapeJobMissing fires for every job in every other test
    group of its file, and promtool keeps and renders a hundred alerts at each step of each
    (three quarters of the stack tests' time at 100 services). ``quiet``: an instance's healthy
    series (``_Suite.quiet_series``, built once for every group of a file)."""
    subjects = {m.labels.get(rule.subject) for m in members}
    series: list[InputSeries] = []
    for other_rule in rules:
        if other_rule.name != rule.name or "absent(" not in other_rule.expr:
            continue
        for other in other_rule.instances:
            if other.labels.get(rule.subject) not in subjects:
                series += quiet(other)
    absent_elsewhere = [r for r in neighbours_of_file if r.name != rule.name and "absent(" in r.expr]
    read = metric_filters(rule.expr, recordings) if absent_elsewhere and recordings is not None else {}
    for other_rule in absent_elsewhere:
        series += [each for other in other_rule.instances if other.quiet_level is not None
                   for each in quiet(other) if not selected(each.series, read)]
    return list({s.series: s for s in series}.values())


@dataclass(frozen=True)
class HoldClass:
    """Alerts holding at least ``min_hold`` are tested in their own file at ``step``.

    promtool evaluates every loaded rule at every step of every test group, so an alert that
    holds an hour, tested at the 15s evaluation interval, costs 240 evaluations of the whole rule
    set. A coarser step keeps the same rules, thresholds and hold times; it only samples them
    less often (the step stays well below the hold and the alert's shortest window)."""

    min_hold: Duration
    step: Duration | None  # None: the spec's evaluation and scrape intervals

    def timing(self, spec: Spec) -> Timing:
        evaluation, sample = spec.prometheus.evaluation_interval, spec.prometheus.scrape_interval
        if self.step is None:
            return Timing(evaluation, sample, sample)
        return Timing(max(evaluation, self.step), max(sample, self.step), sample)


HOLD_CLASSES: tuple[HoldClass, ...] = (
    HoldClass(Duration(0), None),
    HoldClass(Duration.parse("10m"), Duration.parse("2m")),  # RED warnings, missing request metrics
    HoldClass(Duration.parse("15m"), Duration.parse("3m")),  # slow burn pages and tickets
    HoldClass(Duration.parse("1h"), Duration.parse("5m")),  # the slowest burn ticket (3d/6h windows)
)


def hold_class(rule: AlertRule) -> HoldClass:
    return max((c for c in HOLD_CLASSES if rule.for_ >= c.min_hold), key=lambda c: c.min_hold)


@dataclass
class _Suite:
    """What every test file of one spec reads, built once from the model: every alert rule and its
    siblings, the recorded series, the file recording each, and each alert's neighbourhood
    (cached by name and the files a test loads)."""

    spec: Spec
    rules: list[AlertRule]
    index: SiblingIndex
    recordings: Recordings
    recorded_series: Mapping[str, tuple[PurePosixPath, ...]]  # record name -> the files recording it
    files: list[RuleFile]
    hoods: dict[tuple[str, tuple[PurePosixPath, ...]], Neighbourhood]
    quiet: dict[int, tuple[InputSeries, ...]] = field(default_factory=dict)  # id(instance) -> its quiet input

    def quiet_series(self, instance: AlertInstance) -> tuple[InputSeries, ...]:
        """``_quiet_series``, once per instance: every test group of ScrapeJobMissing's file feeds
        every job's ``up`` (a thousand series each at a thousand services)."""
        if id(instance) not in self.quiet:
            self.quiet[id(instance)] = _quiet_series(instance)
        return self.quiet[id(instance)]

    @classmethod
    def of(cls, model: StackModel) -> _Suite:
        files = list(model.rule_files)
        rules = [rule for f in files for rule in f.alert_rules]
        records: dict[str, list[Recording]] = {}
        for f in files:
            for group in f.groups:
                for recording in group.rules:
                    if isinstance(recording, RecordingRule):
                        records.setdefault(recording.record, []).append((recording.expr, recording.labels))
        return cls(model.spec, rules, sibling_index(rules), Recordings(records), model.recorded_series, files, {})

    def hood(self, name: str, loaded: Sequence[RuleFile]) -> Neighbourhood:
        """The selectors of the alerts named ``name`` among the rule files a test loads: only those
        can fire in it (the other services' rules are not loaded, and do not widen the neighbourhood)."""
        key = (name, tuple(f.path for f in loaded))
        if key not in self.hoods:
            rules = [r for f in loaded for r in f.alert_rules if r.name == name]
            self.hoods[key] = Neighbourhood.of(metric_filters(r.expr, self.recordings) for r in rules)
        return self.hoods[key]

    def needed_files(self, rule_file: RuleFile, fed: frozenset[str]) -> list[RuleFile]:
        """The file itself and every file recording a series its rules read (fewer rules, faster
        tests); of the per-service files (``service-<name>.yml``), those of the services in ``fed``
        only: promtool evaluates every loaded rule at every step, and another service's
        recordings, fed nothing, record nothing."""
        # Every name-like token of the expressions: parsing them all costs 20 times as much, and a
        # label value that happens to be a recorded series' name only adds a file, never drops one.
        read = {name for group in rule_file.groups for rule in group.rules for name in _NAME.findall(rule.expr)}
        paths = {rule_file.path} | {path for name in read for path in self.recorded_series.get(name, ())
                                    if (service := service_of(path)) is None or service in fed}
        return [f for f in self.files if f.path in paths]


_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def promtool_test_file(rule_file: RuleFile, suite: _Suite, hold: HoldClass = HOLD_CLASSES[0],
                       untested: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The promtool test file of ``rule_file``'s alerts in hold class ``hold``; services in
    ``untested`` get no cases (each is a tested service renamed: renamed_files.SharedServices)."""
    timing = hold.timing(suite.spec)
    own = service_of(rule_file.path)
    fed = frozenset({own} if own is not None else {s.name for s in suite.spec.services} - untested)
    loaded = suite.needed_files(rule_file, fed)
    tests = []
    rules = [_without_services(r, untested) for r in rule_file.alert_rules if hold_class(r) == hold]
    for rule in _tested_together([r for r in rules if r.instances]):
        for members in _compatible_sets(rule):
            baseline = _baseline(rule, members, suite.rules, rule_file.alert_rules, suite.recordings,
                                 suite.quiet_series)
            cases = [_case(rule, members, kind, suite.index, timing, baseline, suite.hood(rule.name, loaded))
                     for kind in case_kinds(rule, members, timing)]
            tests += _shared_input([case for case in cases if case is not None])
    return {
        "rule_files": [f"../rules/{f.path.name}" for f in loaded],
        "evaluation_interval": str(timing.evaluation),
        "tests": tests,
    }


def _without_services(rule: AlertRule, services: frozenset[str]) -> AlertRule:
    if rule.subject != "service" or not services:
        return rule
    return replace(rule, instances=tuple(i for i in rule.instances if i.labels.get("service") not in services))


def _renamed_services(documents: Sequence[RuleDocument]) -> frozenset[str]:
    """The services of services.yml whose cases a first service of their shape stands for."""
    by_name = {document.path.name: document.body for document in documents}
    if SHARED_SERVICE_FILE not in by_name:
        return frozenset()
    firsts = SharedServices.of(shared_services_document(by_name)).representatives()
    return frozenset(service for service, first in firsts.items() if first != service)


def case_kinds(rule: AlertRule, members: list[AlertInstance], timing: Timing) -> list[CaseKind]:
    """The cases an alert is tested with: it fires; it stays quiet just inside its threshold (unless
    it always fires, like the Watchdog); a slower burn pair stays quiet at a burn its faster pair
    covers, and fires at that burn on traffic too thin for the faster pair, steady or fallen; a
    burn pair stays quiet while only one of its windows burns (where a burst shows it), and while
    either window has seen too few requests; a traffic-guarded alert stays quiet at a firing level
    on traffic just under its guard; it does not fire before ``for`` (unless it has none)."""
    kinds: list[CaseKind] = ["fires"]
    if all(m.quiet_level is not None for m in members):
        kinds.append("quiet")
    if all(m.blocked_level is not None for m in members):
        kinds.append("blocked")
    if all(m.near_fire_level is not None for m in members):
        kinds.append("near-fires")
    if all(m.sparse_rate is not None for m in members):
        kinds.append("sparse")
    if all(m.enough_rate is not None for m in members):
        kinds.append("enough")
    if all(m.release_level is not None and m.guard_window is not None for m in members):
        kinds += ["holds", "releases"]
    if rule.keep_firing_for is not None and all(_recoverable(m) for m in members):
        kinds.append("recovers")
    if all(_spikeable(rule, m, timing) for m in members):
        kinds.append("spike")
    if all(_lull(rule, m, timing) is not None for m in members):
        kinds.append("idle")
    if rule.for_.milliseconds and all(_vanishing(m) for m in members):
        kinds += ["vanishes", "appears"]
    if any(m.other_firing is not None for m in members):
        kinds.append("other-firing")  # for the members with such an input (_case)
    if all(m.masked is not None for m in members):
        kinds.append("masked")
    kinds += [kind for kind in ("spread", "spread-wide")
              if all(_spread_gap(rule, m, kind, timing) is not None for m in members)]
    if rule.for_.milliseconds > timing.margin_ms + timing.evaluation.milliseconds and all(m.onset for m in members):
        kinds.append("onset")
    if all(m.burn_windows is not None for m in members):
        kinds += ["short-burns", "long-burns"]
    if all(m.burn_windows is not None and m.burn_windows.long_floor is not None and m.sparse is not None
           for m in members):
        kinds += ["young-quiet", "young-fires", "trickle", "trickle-fires"]
        if all(m.blocked_level is not None for m in members):
            kinds += ["released", "held"]
    if all(m.unblocked_rate is not None for m in members):
        kinds.append("unblocked")
    if rule.for_.milliseconds:
        if rule.for_.milliseconds <= timing.evaluation.milliseconds:
            raise SynthesisError(f"{rule.name}: for ({rule.for_}) must exceed the evaluation interval to be tested")
        kinds.append("before-for")
    return kinds


def _shared_input(groups: list[CaseGroup]) -> list[dict[str, Any]]:
    """Groups fed the same input (up to its length) as one group checked at each of their times:
    "fires" and "does not fire before for" use the same firing input, so promtool evaluates the
    rules once for both. The longer input is kept: it extends the shorter one."""
    merged: dict[str, CaseGroup] = {}
    for group in groups:
        document = group.document
        shape = [(s["series"], _REPEAT.sub("x#", s["values"])) for s in document["input_series"]]
        key = repr((document["interval"], shape))
        first = merged.get(key)
        if first is None:
            merged[key] = CaseGroup(group.what, group.samples, dict(document))
            continue
        first.document["name"] = f"{first.document['name']}; {group.what}"
        first.document["alert_rule_test"] = first.document["alert_rule_test"] + document["alert_rule_test"]
        if group.samples > first.samples:
            first.document["input_series"] = document["input_series"]
            first.samples = group.samples
    return [group.document for group in merged.values()]


_REPEAT = re.compile(r"x\d+$")  # the length of the last run: how long the input lasts


def _tested_together(rules: list[AlertRule]) -> list[AlertRule]:
    """Rules that differ only in their subjects (one per service's group) as one rule with all their
    instances, so their subjects share test groups and the tests stay linear in the spec."""
    together: dict[tuple[object, ...], list[AlertRule]] = {}
    for rule in rules:
        labels = tuple(sorted((k, v) for k, v in rule.labels.items() if k != rule.subject))
        together.setdefault((rule.name, labels, rule.for_, rule.subject), []).append(rule)
    return [group[0] if len(group) == 1 else
            replace(group[0], instances=tuple(i for rule in group for i in rule.instances))
            for group in together.values()]


def promtool_test_path(rule_file: RuleFile, hold: HoldClass = HOLD_CLASSES[0]) -> PurePosixPath:
    """``services.test.yml``; alerts of a coarser hold class: ``slo-api.5m-step.test.yml``."""
    step = "" if hold.step is None else f".{hold.step}-step"
    return TESTS_DIR / f"{rule_file.path.stem}{step}.test.yml"


def promtool_test_artifacts(model: StackModel, rule_texts: Mapping[PurePosixPath, str]) -> list[Artifact]:
    """A test file per rule file and hold class; none for a per-service file renamed from another
    (renamed_files.py): the other's tests test it. ``rule_texts`` are the rule files as written
    (the renaming is a byte-for-byte argument on them)."""
    renamed = renamed_files([f.path for f in model.rule_files], rule_texts)
    suite = _Suite.of(model)
    untested = _renamed_services(model.rule_documents)
    return [
        Artifact(promtool_test_path(f, hold),
                 dump_yaml(promtool_test_file(f, suite, hold, untested if f.path.name == SHARED_SERVICE_FILE
                                              else frozenset())), "prometheus-tests")
        for f in model.rule_files if f.path not in renamed
        for hold in HOLD_CLASSES if any(hold_class(r) == hold for r in f.alert_rules)
    ]
