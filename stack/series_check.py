"""Do the series the generated rules and panels read exist? A check of a service's real metrics
(a live Prometheus' series, or a scrape captured from the service) against its spec.

Pure: the spec, the expressions obstack generated and a list of series in; findings out, each one
line naming the spec key to fix. A wrong ``request_metrics`` does not fail loudly anywhere else:
every RED and SLO alert of the service just reads nothing and stays silent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import promql_parser as promql

from obstack.alerts.promql_tree import match_op, walk
from obstack.foundation.findings import Finding
from obstack.foundation.lint import LintRule, LintRules
from obstack.foundation.series_catalog import RESIDENT_MEMORY, SCRAPE_LABELS, SERVICE_TARGET_LABELS
from obstack.stack.spec.model import Service, Spec
from obstack.stack.spec.request_presets import STATUS_EXAMPLES
from obstack.stack.spec.selectors import passes

Series = Mapping[str, str]  # one series' labels, its metric name under __name__
# Labels Prometheus puts on every target of a service: present whatever the library emits.
TARGET_LABELS = frozenset({*SCRAPE_LABELS, *SERVICE_TARGET_LABELS})
# Grafana template variables ($job, ${instance}) stand for any value of their label.
_VARIABLE = re.compile(r"\$\{?\w+\}?")
_RANGE_VARIABLE = re.compile(r"\[\$\{?\w+\}?\]")  # [$__rate_interval]: any range will do
_STATUS_SHAPES = {fmt: re.compile(r"\d{3}" if fmt == "code" else r"\dxx") for fmt in STATUS_EXAMPLES}


VALIDATOR = "verify"

# What `obstack verify` finds; messages name the spec key to fix, untagged (they are printed after it).
LINT_RULES = LintRules(VALIDATOR, (
    LintRule("job-down", "Every target of a service's job is down, so nothing it exposes can be checked."),
    LintRule("job-not-scraped", "No series of a service's job at all: it is not scraped, or under another job name."),
    LintRule("series-missing", "A metric the rules or panels read is not exposed by the service."),
    LintRule("label-missing", "A label the rules or panels read or group by is not on the service's series."),
    LintRule("buckets-differ", "The histogram's bucket bounds are not the ones the spec declares."),
    LintRule("status-format", "The status label's values are not of the spec's status_format."),
    LintRule("worker-label-missing", "An aggregated PM2 endpoint does not keep the workers' series apart."),
    LintRule("target-shared", "A target is answered by several processes in turn (a PM2 cluster on one port)."),
), tagged=False)


@dataclass(frozen=True, order=True)
class _Gap:
    """One problem before it is a finding: the spec key to fix, what is wrong there, the rule."""

    key: str
    problem: str
    rule: str = field(compare=False)


@dataclass(frozen=True)
class Read:
    """One selector a rule or panel reads, with the labels it aggregates by."""

    reader: str  # the rule's or panel's name
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value), __name__ left out
    grouping: tuple[str, ...]


def series_from_exposition(text: str, target: Mapping[str, str]) -> list[dict[str, str]]:
    """The series Prometheus holds after one scrape (Prometheus text format) of ``target``: the
    samples with the target's labels added, and the scrape's own ``up``."""
    from prometheus_client.parser import text_string_to_metric_families

    return [{"__name__": sample.name, **sample.labels, **target}
            for family in text_string_to_metric_families(text) for sample in family.samples] + [
        {"__name__": "up", **target}]


def reads(exprs: Iterable[tuple[str, str]]) -> list[Read]:
    """Every selector of the ``(reader, expr)`` pairs; template variables match anything."""
    found: list[Read] = []
    for reader, expr in exprs:
        tree = promql.parse(_VARIABLE.sub(".*", _RANGE_VARIABLE.sub("[5m]", expr)))
        grouping: dict[tuple[str | int, ...], tuple[str, ...]] = {}
        for path, node in walk(tree):
            kind = type(node).__name__
            inherited = next((grouping[path[:i]] for i in range(len(path), -1, -1) if path[:i] in grouping), ())
            if kind == "AggregateExpr":
                modifier = node.modifier
                by = tuple(modifier.labels) if modifier is not None and modifier.type == promql.AggModifierType.By else ()
                grouping[path] = (*inherited, *by)
            selector = node.vector_selector if kind == "MatrixSelector" else node if kind == "VectorSelector" else None
            if selector is not None and selector.name:
                matchers = tuple((m.name, match_op(m.op), m.value) for m in selector.matchers.matchers
                                 if m.name != "__name__")
                found.append(Read(reader, selector.name, matchers, inherited))
    return found


def rule_exprs(rule_files: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(rule name, expr) of every rule in rule-file documents."""
    return [(rule.get("alert") or rule.get("record"), rule["expr"])
            for document in rule_files for group in document.get("groups", []) for rule in group.get("rules", [])]


def _with_options(expr: str, dashboard: Mapping[str, Any]) -> str:
    """``expr`` with each ``label="$var"`` of a custom variable (a fixed list: the service dashboard's
    ``service``) as ``label=~"<its options>"``: the series the panel reads, whichever is picked."""
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") != "custom":
            continue
        options = "|".join(str(option.get("value")) for option in variable.get("options") or [])
        name = re.escape(str(variable.get("name")))
        expr = re.sub(rf'=\s*"\$(?:{name}|\{{{name}\}})"', lambda _: f'=~"{options}"', expr)
    return expr


def dashboard_exprs(dashboards: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(panel title, expr) of every query of every panel, rows' nested panels included."""
    pairs = []
    for dashboard in dashboards:
        panels = list(dashboard.get("panels", []))
        while panels:
            panel = panels.pop()
            panels.extend(panel.get("panels", []))
            pairs += [(f"{dashboard.get('title')} / {panel.get('title')}", _with_options(target["expr"], dashboard))
                      for target in panel.get("targets", []) if target.get("expr")]
    return pairs


def _belongs(read: Read, service: Service) -> bool:
    """The read selects this service's series (its job or service label, where it names one)."""
    labels = {"job": service.job, "service": service.name}
    return all(passes(labels[name], op, value) for name, op, value in read.matchers if name in labels)


def exposed_metrics(service: Service) -> tuple[str, ...]:
    """The metric names the spec says the service exposes (rules and panels may read any of them)."""
    return tuple(_Keys(service, 0).metrics)


class _Keys:
    """Which spec key decides each metric and label name of a service."""

    def __init__(self, service: Service, index: int) -> None:
        base = f"services[{index}]"
        metrics = service.request_metrics
        self.metrics = {f"{metrics.histogram}{suffix}": f"{base}.request_metrics.histogram"
                        for suffix in ("_bucket", "_count", "_sum")}
        if metrics.requests:
            self.metrics[metrics.requests] = f"{base}.request_metrics.requests"
        if service.process_start_metric:
            self.metrics[service.process_start_metric] = f"{base}.process_start_metric"
        if service.max_memory_restart is not None:
            self.metrics[RESIDENT_MEMORY] = f"{base}.max_memory_restart"
        named = {"method_label": metrics.method_label, "route_label": metrics.route_label,
                 "status_label": metrics.status_label}
        self.labels = {label: f"{base}.request_metrics.{key}" for key, label in named.items() if label}
        self.buckets = f"{base}.request_metrics.buckets"
        self.status_format = f"{base}.request_metrics.status_format"


def service_findings(spec: Spec, exprs: Iterable[tuple[str, str]], series: Sequence[Series],
                     down_jobs: frozenset[str] = frozenset(),
                     shared_targets: frozenset[tuple[str, str]] = frozenset(),
                     spec_name: str = "stack.yaml") -> list[Finding]:
    """What the service's rules and panels (``exprs``) read that ``series`` do not hold: missing
    metrics and labels, buckets other than the spec's, status values of another format, a PM2
    worker label the aggregated layout needs. A job in ``down_jobs`` (every target down) is one
    finding: nothing it exposes can be checked. ``shared_targets`` ((job, instance) whose start
    time went back) are targets several processes answer in turn. Each finding is located at the
    spec key to fix (in ``spec_name``)."""
    all_reads = reads(exprs)
    findings: set[_Gap] = set()
    for index, service in enumerate(spec.services):
        keys = _Keys(service, index)
        if service.job in down_jobs:
            findings.add(_Gap(f"services[{index}].targets", f"every target of job {service.job} is down (up == 0), "
                              f"so nothing {service.name} exposes can be checked: start it, or fix its targets",
                              "job-down"))
            continue
        mine = [s for s in series if s.get("job") == service.job]
        if not mine:
            findings.add(_Gap(f"services[{index}].job", f"no series of job {service.job} at all (not even up): "
                              f"{service.name} is not scraped, or under another job name; every rule of it "
                              f"selects job=\"{service.job}\"", "job-not-scraped"))
            continue
        by_metric: dict[str, list[Series]] = {}
        for each in mine:
            by_metric.setdefault(each.get("__name__", ""), []).append(each)
        readers: dict[tuple[str, str, str], list[str]] = {}
        for read in all_reads:
            if read.metric in keys.metrics and _belongs(read, service):
                for gap in _gaps(read, by_metric.get(read.metric, []), keys, service):
                    readers.setdefault(gap, []).append(read.reader)
        findings.update(_Gap(key, f"{problem}; read by {_named(names)}", rule)
                        for (rule, key, problem), names in readers.items())
        findings.update(_bucket_findings(service, by_metric, keys))
        findings.update(_status_findings(service, by_metric, keys))
        findings.update(_worker_findings(service, index, by_metric, keys))
        findings.update(_Gap(f"services[{index}].targets", f"{instance} answers scrapes from several processes in "
                             f"turn (its {service.process_start_metric} or request counter goes back): a PM2 "
                             "cluster balancing one port over its workers; scrape each worker on its own port "
                             "(pm2.layout: worker-ports)", "target-shared")
                        for job, instance in sorted(shared_targets) if job == service.job)
    return [LINT_RULES.finding(gap.rule, spec_name, gap.key, gap.problem) for gap in sorted(findings)]


def _worker_findings(service: Service, index: int, by_metric: Mapping[str, list[Series]], keys: _Keys) -> list[_Gap]:
    """An aggregated PM2 endpoint must keep each worker's series apart by the worker label."""
    if service.pm2 is None or service.pm2.layout != "aggregated":
        return []
    label = service.pm2.worker_label
    unlabelled = sorted(metric for metric in keys.metrics
                        if any(label not in each for each in by_metric.get(metric, [])))
    if not unlabelled:
        return []
    return [_Gap(f"services[{index}].pm2.worker_label", f"the {', '.join(unlabelled)} series of {service.name} "
                 f"carry no label '{label}': the aggregating endpoint sums the workers' counters, which drop at "
                 "every worker restart (set it with register.setDefaultLabels in each worker)", "worker-label-missing")]


def _named(readers: list[str]) -> str:
    unique = list(dict.fromkeys(readers))
    return unique[0] if len(unique) == 1 else f"{unique[0]} (and {len(unique) - 1} more)"


def _gaps(read: Read, candidates: list[Series], keys: _Keys, service: Service) -> list[tuple[str, str, str]]:
    """(rule, spec key, problem) for what ``read`` needs that ``candidates`` (its metric's series) lack."""
    if not candidates:
        return [("series-missing", keys.metrics[read.metric],
                 f"{service.name} exposes no series named {read.metric} (job {service.job})")]
    gaps = []
    carried = {label for each in candidates for label in each}
    for label in (*[name for name, _, _ in read.matchers], *read.grouping):
        if label in TARGET_LABELS or label == "le" or label in carried:
            continue
        seen = ", ".join(sorted(carried - TARGET_LABELS - {"__name__"}))
        gaps.append(("label-missing", keys.labels.get(label, keys.metrics[read.metric]),
                     f"the {read.metric} series of {service.name} carry no label '{label}' (theirs: {seen or 'none'})"))
    return gaps


def _bucket_findings(service: Service, by_metric: Mapping[str, list[Series]], keys: _Keys) -> list[_Gap]:
    metrics = service.request_metrics
    bounds = {float(each["le"]) for each in by_metric.get(f"{metrics.histogram}_bucket", [])
              if each.get("le") not in (None, "+Inf")}
    if not bounds:
        return []
    declared = set(metrics.buckets)
    if _same(bounds, declared):
        return []
    thresholds = [slo.threshold.seconds for slo in service.slos if slo.threshold is not None]
    missing = [t for t in thresholds if not any(abs(t - b) < 1e-9 for b in bounds)]
    problem = (f"declares buckets {_bounds(declared)} but {metrics.histogram} of {service.name} has "
               f"{_bounds(bounds)}")
    if missing:
        problem += f"; the latency SLO threshold {_bounds(set(missing))} is no bucket bound of it"
    return [_Gap(keys.buckets, problem, "buckets-differ")]


def _same(left: set[float], right: set[float]) -> bool:
    return len(left) == len(right) and all(any(abs(a - b) < 1e-9 for b in right) for a in left)


def _bounds(values: set[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in sorted(values)) + "]"


def _status_findings(service: Service, by_metric: Mapping[str, list[Series]], keys: _Keys) -> list[_Gap]:
    metrics = service.request_metrics
    values = {each[metrics.status_label] for each in by_metric.get(metrics.request_counter, [])
              if metrics.status_label in each}
    shape = _STATUS_SHAPES[metrics.status_format]
    odd = sorted(v for v in values if not shape.fullmatch(v))
    if not odd:
        return []
    return [_Gap(keys.status_format, f"is '{metrics.status_format}' but {metrics.request_counter} of "
                                     f"{service.name} has {metrics.status_label} values {', '.join(odd)}",
                 "status-format")]
