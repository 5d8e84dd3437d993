"""Routing and inhibition as data we can check: where every generated alert must be routed,
and which firing alerts the generated inhibit rules silence (Alertmanager's semantics in Python).

Owns the matcher syntax (``label="v"``, ``=~``, ``!=``, ``!~``) that the Alertmanager config
is written in, so the generator and the evaluator can never disagree about it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from obstack.alerts.rule_model import AlertInstance, AlertRule
from obstack.alerts.stack_rules import WATCHDOG
from obstack.stack.spec.model import Spec

Operator = Literal["=", "!=", "=~", "!~"]
# Labels naming what an alert is about: Alertmanager groups by them, and inhibit rules relate
# or name subjects through them.
SUBJECT_LABELS: tuple[str, ...] = ("service", "queue", "datastore", "instance", "job")
Labels = Mapping[str, str]

# Characters RE2 (Alertmanager) and Python's re both treat as special.
_REGEX_SPECIALS = set(".+*?()[]{}|^$\\")
_MATCHER_RE = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')


# ---------------------------------------------------------------------------------------------
# Matchers


@dataclass(frozen=True)
class Matcher:
    """One Alertmanager label matcher; a missing label matches as the empty string."""

    name: str
    op: Operator
    value: str

    def matches(self, labels: Labels) -> bool:
        actual = labels.get(self.name, "")
        if self.op in ("=", "!="):
            return (actual == self.value) == (self.op == "=")
        # Alertmanager anchors every regex: ^(?:re)$
        found = re.fullmatch(f"(?:{self.value})", actual) is not None
        return found == (self.op == "=~")

    def __str__(self) -> str:
        return format_matcher(self.name, self.op, self.value)


def format_matcher(name: str, op: Operator, value: str) -> str:
    """``name op "value"`` with the value quoted the way Alertmanager 0.25 parses it."""
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}{op}"{quoted}"'


def regex_alternation(values: Iterable[str]) -> str:
    """A regex matching exactly ``values`` (in the given order, deduplicated, metacharacters escaped)."""
    return "|".join("".join("\\" + c if c in _REGEX_SPECIALS else c for c in v) for v in dict.fromkeys(values))


def one_of(name: str, values: Iterable[str], *, ordered: bool = False) -> str:
    """``name="v"`` for one value, ``name=~"a|b"`` for several (sorted unless ``ordered``)."""
    distinct = list(dict.fromkeys(values)) if ordered else sorted(set(values))
    if len(distinct) == 1:
        return format_matcher(name, "=", distinct[0])
    return format_matcher(name, "=~", regex_alternation(distinct))


def parse_matcher(text: str) -> Matcher:
    """Parse the matcher forms the generator writes; anything else is a ValueError."""
    match = _MATCHER_RE.match(text)
    if match is None:
        raise ValueError(f"not a matcher of the form label=\"value\" (=, !=, =~, !~): {text!r}")
    name, op, raw = match.groups()
    value = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), raw)
    return Matcher(name, op, value)  # type: ignore[arg-type]


def matches_all(matchers: Sequence[Matcher], labels: Labels) -> bool:
    return all(m.matches(labels) for m in matchers)


# ---------------------------------------------------------------------------------------------
# Routing expectations


def alert_labels(rule: AlertRule, instance: AlertInstance) -> dict[str, str]:
    """The labels a firing alert of ``rule`` carries for ``instance`` (as Alertmanager sees them)."""
    return {"alertname": rule.name, **rule.labels, **instance.labels}


# The Watchdog's receiver when the spec wires none: a receiver without integrations (its name is no
# valid spec name, so it cannot clash with one).
WATCHDOG_DISCARD_RECEIVER = "obstack.watchdog-unwired"
# Alerts about the notification path itself go to every receiver alerts are routed to, so the one
# path that fails is never the only one that could tell.
FAN_OUT_ALERTS: tuple[str, ...] = ("AlertmanagerNotificationsFailing",)


def watchdog_receiver(spec: Spec) -> str:
    return spec.notifications.watchdog.receiver or WATCHDOG_DISCARD_RECEIVER


def fan_out_receivers(spec: Spec) -> list[str]:
    """Every receiver a route or the fallback sends to, in route order (the heartbeat excluded)."""
    notifications = spec.notifications
    return list(dict.fromkeys([*(r.receiver for r in notifications.routes), notifications.fallback_receiver]))


def expected_receivers(spec: Spec, alertname: str, severity: str, team: str | None) -> list[str]:
    """Where the generated route tree sends an alert, in amtool's order."""
    if alertname == WATCHDOG:
        return [watchdog_receiver(spec)]
    if alertname in FAN_OUT_ALERTS:
        return fan_out_receivers(spec)
    return [receiver_for(spec, severity, team)]


def receiver_for(spec: Spec, severity: str, team: str | None) -> str:
    """The receiver the spec routes an alert to: first matching route wins, else the fallback."""
    for route in spec.notifications.routes:
        if route.severity not in (None, severity):
            continue
        if route.team is not None and route.team != team:
            continue
        return route.receiver
    return spec.notifications.fallback_receiver


@dataclass(frozen=True)
class RoutingExpectation:
    alertname: str
    severity: str
    team: str
    receiver: str  # several comma-separated, in order, as amtool prints them (a fan-out route)

    @property
    def labels(self) -> dict[str, str]:
        return {"alertname": self.alertname, "severity": self.severity, "team": self.team}


def routing_expectations(spec: Spec, rules: Sequence[AlertRule]) -> list[RoutingExpectation]:
    """One expectation per alert name, severity and owning team among the rules' instances."""
    seen: dict[tuple[str, str, str], RoutingExpectation] = {}
    for rule in rules:
        for instance in rule.instances:
            team = instance.labels.get("team", spec.team)
            key = (rule.name, rule.severity, team)
            if key not in seen:
                receivers = expected_receivers(spec, rule.name, rule.severity, team)
                seen[key] = RoutingExpectation(rule.name, rule.severity, team, ",".join(receivers))
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# Inhibition


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InhibitRule:
        return cls(tuple(parse_matcher(m) for m in data.get("source_matchers", [])),
                   tuple(parse_matcher(m) for m in data.get("target_matchers", [])),
                   tuple(data.get("equal", [])))

    def silences(self, source: Labels, target: Labels) -> bool:
        """Whether firing ``source`` silences ``target`` under this rule (Alertmanager's inhibit.go)."""
        if not matches_all(self.target, target) or not matches_all(self.source, source):
            return False
        if any(source.get(name, "") != target.get(name, "") for name in self.equal):
            return False
        # An alert matching both sides must not be silenced by another that also matches both,
        # or two such alerts would silence each other (and an alert itself).
        two_sided = matches_all(self.source, target)
        return not (two_sided and matches_all(self.target, source))


def inhibited_alerts(rules: Sequence[Mapping[str, Any]], firing: Sequence[Labels]) -> list[Labels]:
    """The alerts of ``firing`` some other firing alert silences, in ``firing`` order."""
    parsed = [InhibitRule.from_dict(rule) for rule in rules]
    return [target for target in firing
            if any(rule.silences(source, target) for rule in parsed for source in firing)]


@dataclass(frozen=True)
class InhibitionScenario:
    """Alerts firing together and whether ``target`` must end up silenced."""

    rule_index: int
    description: str
    firing: tuple[dict[str, str], ...]
    target: dict[str, str]
    expect_inhibited: bool


def _candidates(matchers: Sequence[Matcher], rules: Sequence[AlertRule]) -> list[tuple[AlertRule, dict[str, str]]]:
    labelled = [(rule, alert_labels(rule, instance)) for rule in rules for instance in rule.instances]
    return [(rule, alert) for rule, alert in labelled if matches_all(matchers, alert)]


def _pair(rule: InhibitRule, sources: list[tuple[AlertRule, dict[str, str]]],
          targets: list[tuple[AlertRule, dict[str, str]]]) -> tuple[AlertRule, dict[str, str], dict[str, str]]:
    """A source (with its rule) and a target about the same subject: a real pair when the rules
    have one, else the first target moved onto the first source's subject."""
    for source_rule, source in sources:
        for _, target in targets:
            if source != target and all(source.get(n, "") == target.get(n, "") for n in rule.equal):
                return source_rule, source, target
    source_rule, source = sources[0]
    target = dict(targets[0][1])
    for name in rule.equal:
        if name in source:
            target[name] = source[name]
        else:
            target.pop(name, None)
    return source_rule, source, target


def inhibition_scenarios(rules: Sequence[Mapping[str, Any]],
                         alert_rules: Sequence[AlertRule]) -> tuple[list[InhibitionScenario], list[str]]:
    """Per inhibit rule: the target is silenced by a source on the same subject, is not silenced
    alone, and is not silenced once it is about another subject: the source rule's subject label
    (so a wrong ``equal`` list shows) or any one ``equal`` label changed.
    Also returns problems: inhibit rules that no generated alert can trigger or be silenced by."""
    scenarios: list[InhibitionScenario] = []
    problems: list[str] = []
    for index, data in enumerate(rules):
        rule = InhibitRule.from_dict(data)
        sources, targets = _candidates(rule.source, alert_rules), _candidates(rule.target, alert_rules)
        if not sources or not targets:
            side = "source" if not sources else "target"
            problems.append(f"inhibit rule {index}: no generated alert matches its {side} matchers")
            continue
        source_rule, source, target = _pair(rule, sources, targets)
        what = f"{source['alertname']} -> {target['alertname']}"
        scenarios.append(InhibitionScenario(index, f"{what}: same subject", (source, target), target, True))
        scenarios.append(InhibitionScenario(index, f"{what}: target alone", (target,), target, False))
        # A rule naming its targets' subjects (service=~"a|b") must silence no other subject; one
        # relating source and target by equal labels must not when the source's subject differs.
        named = [m.name for m in rule.target if m.name in SUBJECT_LABELS and m.op in ("=", "=~")]
        for name in dict.fromkeys([*(named or [source_rule.subject]), *rule.equal]):
            if name in target:
                other = {**target, name: f"other-{target[name]}"}
                scenarios.append(InhibitionScenario(index, f"{what}: different {name}", (source, other), other, False))
    return scenarios, problems


def scenario_disagreements(rules: Sequence[Mapping[str, Any]], scenarios: Sequence[InhibitionScenario]) -> list[str]:
    """Every scenario where the evaluator's verdict differs from the expected one. Each scenario
    is judged by its own rule alone: another rule may rightly silence the same target."""
    problems = []
    for scenario in scenarios:
        silenced = scenario.target in inhibited_alerts([rules[scenario.rule_index]], scenario.firing)
        if silenced != scenario.expect_inhibited:
            verdict = "silenced" if silenced else "not silenced"
            problems.append(f"inhibit rule {scenario.rule_index}: {scenario.description}: target {verdict}, expected "
                            f"{'silenced' if scenario.expect_inhibited else 'not silenced'}")
    return problems
