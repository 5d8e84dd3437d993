"""The spec's ``alerts`` overrides and ``alert_labels``, applied to the rule model.

Applied once, in ``rule_files``, before anything reads the rules: the rule files, the promtool
tests, the Alertmanager routes and inhibit rules and docs/alerts.md all see the overridden
alerts, and a disabled alert is simply absent from all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from obstack.alerts.annotations import PROBE_REASON, go_template, placeholders
from obstack.alerts.humanize import VALUE_FORMATS
from obstack.alerts.rule_model import AlertRule, RuleFile
from obstack.alerts.stack_rules import WATCHDOG
from obstack.stack.spec.alert_overrides import AlertOverride
from obstack.stack.spec.errors import did_you_mean
from obstack.stack.spec.model import Spec
from obstack.stack.spec.positions import YamlPath

Issue = tuple[YamlPath, str]
# Annotations the rule model holds as fields; any other name is added beside them.
_FIELD_ANNOTATIONS = ("summary", "description", "runbook_url", "dashboard_url")


def _overridden(rule: AlertRule, override: AlertOverride, spec_path: str) -> AlertRule:
    changes: dict[str, object] = {}
    if override.severity is not None:
        changes["severity"] = override.severity
    if override.for_ is not None:
        changes.update(for_=override.for_, for_reason=f"set in the spec ({spec_path}.for)")
    extra = dict(rule.extra_annotations)
    for name, text in override.annotations.items():
        template = go_template(text, rule.value_format)
        if name in _FIELD_ANNOTATIONS:
            changes[name] = template
        else:
            extra[name] = template
    return replace(rule, **changes, static_labels={**rule.static_labels, **override.labels}, extra_annotations=extra)


def _with_overrides(spec: Spec, rule: AlertRule) -> AlertRule | None:
    override = spec.alerts.get(rule.name)
    if override is not None:
        if not override.enabled:
            return None
        rule = _overridden(rule, override, f"alerts.{rule.name}")
    if spec.alert_labels:
        rule = replace(rule, static_labels={**rule.static_labels, **spec.alert_labels})
    return rule


def apply_overrides(spec: Spec, files: Sequence[RuleFile]) -> list[RuleFile]:
    """``files`` with the spec's overrides applied; groups and files left without rules are dropped."""
    if not spec.alerts and not spec.alert_labels:
        return list(files)
    result = []
    for rule_file in files:
        groups = []
        for group in rule_file.groups:
            rules = [rule if not isinstance(rule, AlertRule) else _with_overrides(spec, rule) for rule in group.rules]
            kept = tuple(rule for rule in rules if rule is not None)
            if kept:
                groups.append(replace(group, rules=kept))
        if groups:
            result.append(replace(rule_file, groups=tuple(groups)))
    return result


def _carried_labels(spec: Spec, rules: Sequence[AlertRule]) -> set[str]:
    """Labels the alerts carry already, or Prometheus adds (external labels), or Alertmanager uses."""
    labels = {"alertname", "severity", "environment", *spec.prometheus.external_labels}
    for rule in rules:
        labels |= set(rule.labels) | {name for instance in rule.instances for name in instance.labels}
    return labels


def override_problems(spec: Spec, rules: Sequence[AlertRule]) -> list[Issue]:
    """Unknown alert names, labels an alert carries already, and placeholders it cannot fill."""
    issues: list[Issue] = []
    by_name: dict[str, list[AlertRule]] = {}
    for rule in rules:
        by_name.setdefault(rule.name, []).append(rule)
    everywhere = _carried_labels(spec, rules)
    for label in spec.alert_labels:
        if label in everywhere:
            issues.append((("alert_labels", label), f"'{label}' is a label the generated alerts carry already; "
                                                     "pick another name"))
    for name, override in spec.alerts.items():
        path: YamlPath = ("alerts", name)
        named = by_name.get(name)
        if named is None:
            issues.append((path, f"no generated alert is named '{name}'{did_you_mean(name, sorted(by_name))} "
                                 "(docs/alerts.md lists them)"))
            continue
        if name == WATCHDOG and (not override.enabled or override.severity is not None):
            issues.append((path, "the Watchdog is the heartbeat of the dead-man's switch and cannot be turned off or "
                                 "given a severity; set notifications.watchdog.receiver: null to send it nowhere"))
        carried = _carried_labels(spec, named)
        for label in override.labels:
            if label in carried:
                issues.append(((*path, "labels", label), f"'{label}' is a label {name} carries already; "
                                                         "use 'severity' for the severity, or pick another name"))
        own = {label for rule in named for label in rule.labels} | {
            label for rule in named for instance in rule.instances for label in instance.labels}
        for annotation, text in override.annotations.items():
            unknown = sorted(placeholders(text) - own) + ([PROBE_REASON] if "{" + PROBE_REASON + "}" in text else [])
            if "{value}" in text and any(rule.value_format not in VALUE_FORMATS for rule in named):
                issues.append(((*path, "annotations", annotation),
                               f"{name} has no value worth showing (it fires on a state, not a level); remove {{value}}"))
            if unknown:
                issues.append(((*path, "annotations", annotation),
                               f"{{{unknown[0]}}} is not a label of {name} (its labels: {', '.join(sorted(own))}; "
                               "{value} is its value)"))
    return issues
