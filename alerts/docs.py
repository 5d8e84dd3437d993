"""docs/alerts.md: the alert catalog — what each alert means, what it reads, its expression, hold
time and why, where it is routed, what silences it and what it silences (read back from the
generated inhibit rules, so the words cannot drift from the config), and a runbook stub of what
to check first; then what watches the monitoring stack itself."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import re

import promql_parser as promql

from obstack.alerts.promql_labels import metric_names
from obstack.alerts.routing import InhibitRule, Matcher, expected_receivers
from obstack.alerts.rule_model import AlertRule, RuleFile
from obstack.foundation.artifacts import Artifact
from obstack.stack.spec.model import Service, Slo, Spec

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

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


_MATCHERS = re.compile(r"\{[^{}]*\}")


def _shape(expr: str) -> str:
    """``expr`` with its label matchers blanked and repeated top-level ``or`` terms dropped: one
    term per subject (``absent(up{job="a"}) or absent(up{job="b"}) ...``) reads the same series."""
    terms = _MATCHERS.sub('{x=""}', expr).split("\nor\n")
    return "\nor\n".join(dict.fromkeys(terms))


def _reads(rules: list[AlertRule]) -> str:
    """The series the alert's expressions select, in first-seen order. Rules of one name differ
    mostly in their label matchers (one per service), and promql_parser's walk materialises every
    subtree, which is quadratic in a long ``or`` chain: each distinct shape is parsed once, so the
    docs stay linear in the number of services."""
    shapes = dict.fromkeys(_shape(rule.expr) for rule in rules)
    names: list[str] = []
    for shape in shapes:
        nodes: list[promql.Expr] = []
        promql.walk(promql.parse(shape), pre_visit=nodes.append)
        names += [n for node in nodes if isinstance(node, promql.VectorSelector) for n in metric_names(node)]
    return ", ".join(f"`{name}`" for name in dict.fromkeys(names)) or "nothing (it always fires)"


def _names(matchers: tuple[Matcher, ...], alertname: str) -> bool:
    return any(m.name == "alertname" for m in matchers) and all(
        m.matches({"alertname": alertname}) for m in matchers if m.name == "alertname")


def _described(matchers: tuple[Matcher, ...], alertname: str | None = None) -> str:
    """Matchers in words: the alert names, then the other conditions."""
    names = [str(m.value) for m in matchers if m.name == "alertname"]
    rest = [str(m) for m in matchers if m.name != "alertname"]
    shown = " or ".join(f"`{n}`" for n in "|".join(names).split("|") if n != alertname) if names else "any alert"
    return shown + (f" ({', '.join(f'`{r}`' for r in rest)})" if rest else "")


def _inhibition(name: str, rules: list[InhibitRule]) -> list[str]:
    silenced_by = [f"{_described(r.source)} — equal on {', '.join(r.equal)}" for r in rules if _names(r.target, name)]
    silences = [f"{_described(r.target)} — equal on {', '.join(r.equal)}" for r in rules if _names(r.source, name)]
    lines = []
    if silenced_by:
        lines += ["**Silenced while these fire:** " + "; ".join(dict.fromkeys(silenced_by)) + ".", ""]
    if silences:
        lines += ["**Silences, while it fires:** " + "; ".join(dict.fromkeys(silences)) + ".", ""]
    return lines


def _section(spec: Spec, name: str, rules: list[AlertRule], inhibitions: list[InhibitRule]) -> list[str]:
    first = rules[0]
    severities = ", ".join(sorted({r.severity for r in rules}))
    lines = [f"## {name}", "", f"**Severity:** {severities} · **subject label:** `{first.subject}` · "
             f"**routing:** {_routing(spec, rules)}", "", first.meaning, "", f"**Reads:** {_reads(rules)}.", "",
             *_inhibition(name, inhibitions)]
    for rule in rules:
        labels = "".join(f", {k}={v}" for k, v in rule.static_labels.items())
        lines += [f"`for: {rule.for_}`{labels} — {rule.for_reason}.", ""]
        if rule.keep_firing_for is not None:
            lines += [f"`keep_firing_for: {rule.keep_firing_for}` — {rule.keep_firing_reason}.", ""]
        lines += ["```promql", rule.expr, "```", ""]
    lines += [f"Summary: {first.summary}", "", f"Runbook: <{first.runbook_url}>", "", "### What to check first", ""]
    lines += [f"{n}. {check}" for n, check in enumerate(first.first_checks, 1)]
    return lines + [""]


# The alerts on the monitoring stack itself, in the order a reader should meet them, with what each
# one catches that no other alert can.
WATCHERS: tuple[tuple[str, str], ...] = (
    ("Watchdog", "Prometheus, its rule evaluation, Alertmanager or the path between them is dead: the "
                 "heartbeat stops reaching the external dead-man's switch, which pages. Nothing inside the stack "
                 "can report its own death"),
    ("AlertmanagerDown", "no Alertmanager answers; it cannot deliver itself, so the Watchdog's silence does"),
    ("PrometheusErrorSendingAlerts", "Prometheus cannot hand alerts to an Alertmanager (reaches you through "
                                     "another Alertmanager, or as the Watchdog's silence)"),
    ("AlertmanagerNotificationsFailing", "a receiver fails; routed to every receiver, so a broken pager is "
                                         "reported through chat and the other way round"),
    ("PrometheusRuleEvaluationFailures", "rules error out, so the alerts built on them cannot fire"),
    ("PrometheusMissedRuleEvaluations", "a rule group overruns its interval and alerts are evaluated late"),
    ("PrometheusConfigReloadFailed", "a deploy did not take: Prometheus runs the previous rules"),
    ("AlertmanagerConfigReloadFailed", "a deploy did not take: Alertmanager routes with the previous config"),
    ("PrometheusSelfScrapeDown", "the metrics of the alerts above are not collected"),
    ("ExporterDown", "every datastore, queue and health-check alert is blind"),
    ("NodeExporterDown", "the host memory and disk alerts are blind"),
    ("ScrapeTargetsDown", "part of a monitoring job is down: partly blind, or without its redundancy"),
    ("ScrapeJobMissing", "a job is gone from Prometheus (configuration, relabelling, discovery): every alert "
                         "reading it is silent"),
    ("QueueProbeFailing", "the exporter runs but cannot read a queue: its backlog and failure alerts are blind"),
    ("HealthCheckFailing", "a service says it is unwell (the exporter's probe of its health URL fails)"),
    ("RequestMetricsMissing", "a service is scraped but exposes no request histogram: its RED and SLO alerts "
                              "are blind"),
)


def _watchers(present: dict[str, list[AlertRule]]) -> list[str]:
    lines = ["## What watches the watchers", "",
             "Every alert above is only as good as the path that evaluates and delivers it. These alerts watch that "
             "path and every data source; each names what would otherwise fail silently:", ""]
    lines += [f"- [{name}](#{name.lower()}): {what}." for name, what in WATCHERS if name in present]
    return lines + [""]


def _code(text: str) -> str:
    """``text`` as a code span inside a table cell: fenced by more backticks than it holds in a row,
    its pipes escaped (a pipe ends a cell even inside a code span)."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}"


def _good_events(service: Service, slo: Slo) -> str:
    """What an SLO counts as its good events, in words and the series it reads."""
    metrics = service.request_metrics
    counters = slo.event_counters
    if counters is not None:
        form, counted, total = counters
        if form == "errors":
            return f"{_code(total.render())} less {_code(counted.render())}"
        return f"{_code(counted.render())} (of {_code(total.render())})"
    if slo.kind == "availability":
        return f"scrapes of job {_code(service.job)} that succeed ({_code('up')})"
    if slo.kind == "errors":
        return (f"requests without a server error ({metrics.status_label} not matching "
                f"{_code(metrics.error_status_regex)}) of {_code(metrics.request_counter)}")
    assert slo.threshold is not None
    return f"requests faster than {slo.threshold} ({_code(metrics.histogram + '_bucket')})"


def _slo_table(spec: Spec) -> list[str]:
    """Every SLO ErrorBudgetBurn watches: what it counts as good, and its objective."""
    rows = [f"| {service.name} | {slo.name} | {slo.kind} | {slo.objective} over {slo.window} | "
            f"{_good_events(service, slo)} |" for service in spec.services for slo in service.slos]
    if not rows:
        return []
    return ["## SLOs", "", "The SLOs `ErrorBudgetBurn` watches (its `slo` label), each over its service's job "
            "(`job` added to every selector).", "", "| service | slo | kind | objective | good events |",
            "|---|---|---|---|---|", *rows, ""]


def alerts_markdown(model: StackModel) -> str:
    spec = model.spec
    alerts = _by_name(model.rule_files)
    inhibitions = [InhibitRule.from_dict(rule) for rule in model.alertmanager_config["inhibit_rules"]]
    lines = [f"# Alerts of {spec.project}", "",
             "Every alert obstack generates from the spec, with its PromQL, how long the condition must hold "
             "(and why), where it is routed, what silences it and what it silences, and what to check first. "
             "Each has generated promtool tests in `prometheus/tests/`: it fires past its hold time, stays quiet "
             "just inside its threshold and does not fire before the hold time (the always-firing Watchdog: it "
             "fires); a slower burn-rate pair also stays quiet at a burn its faster pair covers.", "",
             "| alert | severity | subject | summary |", "|---|---|---|---|"]
    for name, rules in alerts.items():
        severities = ", ".join(sorted({r.severity for r in rules}))
        lines.append(f"| [{name}](#{name.lower()}) | {severities} | {rules[0].subject} | {rules[0].summary} |")
    lines.append("")
    lines += _watchers(alerts)
    for name, rules in alerts.items():
        lines += _section(spec, name, rules, inhibitions)
    lines += _slo_table(spec)
    return "\n".join(lines).rstrip() + "\n"


def alerts_doc_artifacts(model: StackModel) -> list[Artifact]:
    return [Artifact(ALERTS_DOC, alerts_markdown(model), "docs")]
