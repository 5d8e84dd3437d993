"""docs/alerts.md: the alert catalog — what each alert means, its expression, hold time and
why, where it is routed, and a runbook stub of what to check first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from alerts.model import AlertRule, RuleFile
from alerts.routing import expected_receivers
from alerts.rule_files import rule_files
from stack.artifacts import Artifact
from stack.spec.model import Spec

ALERTS_DOC = PurePosixPath("docs/alerts.md")


def _by_name(files: Sequence[RuleFile]) -> dict[str, list[AlertRule]]:
    alerts: dict[str, list[AlertRule]] = {}
    for rule_file in files:
        for rule in rule_file.alert_rules:
            alerts.setdefault(rule.name, []).append(rule)
    return alerts


def _routing(spec: Spec, rules: list[AlertRule]) -> str:
    pairs = sorted({(r.name, r.severity, i.labels.get("team", spec.team)) for r in rules for i in r.instances})
    return "; ".join(f"{severity}, team {team} → " + ", ".join(f"`{receiver}`" for receiver in
                                                             expected_receivers(spec, name, severity, team))
                     for name, severity, team in pairs)


def _section(spec: Spec, name: str, rules: list[AlertRule]) -> list[str]:
    first = rules[0]
    severities = ", ".join(sorted({r.severity for r in rules}))
    lines = [f"## {name}", "", f"**Severity:** {severities} · **subject label:** `{first.subject}` · "
             f"**routing:** {_routing(spec, rules)}", "", first.meaning, ""]
    for rule in rules:
        labels = "".join(f", {k}={v}" for k, v in rule.static_labels.items())
        lines += [f"`for: {rule.for_}`{labels} — {rule.for_reason}.", ""]
        if rule.keep_firing_for is not None:
            lines += [f"`keep_firing_for: {rule.keep_firing_for}` — {rule.keep_firing_reason}.", ""]
        lines += ["```promql", rule.expr, "```", ""]
    lines += [f"Summary: {first.summary}", "", f"Runbook: <{first.runbook_url}>", "", "### What to check first", ""]
    lines += [f"{n}. {check}" for n, check in enumerate(first.first_checks, 1)]
    return lines + [""]


def alerts_markdown(spec: Spec, files: Sequence[RuleFile] | None = None) -> str:
    alerts = _by_name(rule_files(spec) if files is None else files)
    lines = [f"# Alerts of {spec.project}", "",
             "Every alert obstack generates from the spec, with its PromQL, how long the condition must hold "
             "(and why), where it is routed and what to check first. Each has generated promtool tests in "
             "`prometheus/tests/`: it fires past its hold time, stays quiet just inside its threshold and does "
             "not fire before the hold time.", "",
             "| alert | severity | subject | summary |", "|---|---|---|---|"]
    for name, rules in alerts.items():
        severities = ", ".join(sorted({r.severity for r in rules}))
        lines.append(f"| [{name}](#{name.lower()}) | {severities} | {rules[0].subject} | {rules[0].summary} |")
    lines.append("")
    for name, rules in alerts.items():
        lines += _section(spec, name, rules)
    return "\n".join(lines).rstrip() + "\n"


def alerts_doc_artifacts(spec: Spec, files: Sequence[RuleFile] | None = None) -> list[Artifact]:
    return [Artifact(ALERTS_DOC, alerts_markdown(spec, files), "docs")]
