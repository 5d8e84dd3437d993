"""Down alerts for scrape jobs, by the share of a job's targets that are down.

Every job the generated ``prometheus.yml`` configures has a watcher, so no data source can
vanish silently: all of a job's targets down is one alert about the job (a service's
``ServiceDown``, the exporter's ``ExporterDown``, ...); some of them down is a warning naming the
share (generated only where a job has more than one target, as it cannot fire otherwise); a job
with no ``up`` series at all, gone from Prometheus' configuration, is ``ScrapeJobMissing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from obstack.alerts import scenarios
from obstack.alerts.annotations import go_template
from obstack.alerts.common import RuleContext, any_of, grouped, hold_labels, matcher
from obstack.alerts.rule_model import AlertInstance, AlertRule, Scenario, SeverityLabel
from obstack.stack.spec.values import Duration

UP = "up"


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job as the rules see it: its targets and the static labels its series carry."""

    job: str
    targets: tuple[str, ...]
    labels: Mapping[str, str]  # target labels: service and/or team
    down_for: Duration

    @property
    def alert_labels(self) -> dict[str, str]:
        return {"job": self.job, **self.labels}

    def up_series(self, up: list[int]) -> Scenario:
        """``up`` of each target (in order) as input series; the value is the highest one. Values
        past the job's targets go to replicas of its last one (the job scaled out)."""
        extra = tuple(f"{self.targets[-1]}-replica{index}" for index in range(2, len(up) - len(self.targets) + 2))
        series = tuple(s for target, value in zip(self.targets + extra, up)
                       for s in scenarios.constant(UP, {**self.alert_labels, "instance": target}, value).series)
        return Scenario(series, float(max(up)), Duration(0))


@dataclass(frozen=True)
class DownTexts:
    """What a job-down alert says: its summary, description (a template), meaning and checks."""

    summary: str
    description: str  # placeholders: labels, {value}, and {down_for} (the rule's hold)
    meaning: str
    first_checks: tuple[str, ...]
    for_reason: str


def _by_hold(jobs: list[ScrapeJob]) -> list[tuple[Duration, list[ScrapeJob]]]:
    return grouped(jobs, lambda j: j.down_for)


def _aggregation_labels(jobs: list[ScrapeJob]) -> str:
    names = dict.fromkeys(["job", *(name for j in jobs for name in j.labels)])
    return ", ".join(names)


def all_down_rules(context: RuleContext, name: str, severity: SeverityLabel, subject: str, jobs: list[ScrapeJob],
                   texts: DownTexts, family: str | None = None,
                   keep_firing: tuple[Duration, str] | None = None) -> list[AlertRule]:
    """``name`` fires for a job none of whose targets answers (``max(up) == 0``); ``keep_firing``:
    (duration, reason) for a cause whose symptoms outlive it."""
    holds = [j.down_for for j in jobs]
    rules = []
    for down_for, group in _by_hold(jobs):
        terms = [f"max by ({_aggregation_labels(members)}) ({UP}{{{matcher('job', [j.job for j in members])}}}) == 0"
                 for _, members in grouped(group, lambda j: tuple(j.labels))]

        def instance(job: ScrapeJob) -> AlertInstance:
            # Quiet: one target still answering keeps the job alive (max, not min). A job of one
            # target is tested scaled out to two, so that a rule taking the least target shows.
            targets = max(2, len(job.targets))

            def build(level: float) -> Scenario:
                return job.up_series([0] * targets if level == 0 else [1] + [0] * (targets - 1))
            return AlertInstance(job.alert_labels, scenarios.DOWN, False, build, 0, 1)

        rules.append(AlertRule(
            name=name, expr=any_of(terms), for_=down_for, for_reason=texts.for_reason, severity=severity,
            subject=subject, summary=texts.summary,
            description=go_template(texts.description.replace("{down_for}", str(down_for)), "none"),
            runbook_url=context.runbook(name), dashboard_url=None, meaning=texts.meaning,
            first_checks=texts.first_checks, value_format="none", family=family,
            static_labels=hold_labels(holds, down_for), instances=tuple(instance(j) for j in group),
            keep_firing_for=keep_firing[0] if keep_firing else None,
            keep_firing_reason=keep_firing[1] if keep_firing else None,
        ))
    return rules


def some_down_rules(context: RuleContext, name: str, subject: str, jobs: list[ScrapeJob], texts: DownTexts,
                    family: str | None = None) -> list[AlertRule]:
    """``name`` (a warning) fires for a job with some, not all, of its targets down; its value is
    the share still up. Jobs with a single target cannot be partly down and get no term."""
    several = [j for j in jobs if len(j.targets) > 1]
    holds = [j.down_for for j in several]
    rules = []
    for down_for, group in _by_hold(several):
        terms = [f"avg by ({_aggregation_labels(members)}) ({UP}{{{matcher('job', [j.job for j in members])}}})"
                 " < 1 > 0"
                 for _, members in grouped(group, lambda j: tuple(j.labels))]

        def instance(job: ScrapeJob) -> AlertInstance:
            def build(level: float) -> Scenario:
                up = round(level * len(job.targets))
                series = job.up_series([0] * (len(job.targets) - up) + [1] * up).series
                return Scenario(series, up / len(job.targets), Duration(0))
            return AlertInstance(job.alert_labels, 1, False, build, 1 - 1 / len(job.targets), 1)

        rules.append(AlertRule(
            name=name, expr=any_of(terms), for_=down_for, for_reason=texts.for_reason, severity="warning",
            subject=subject, summary=texts.summary, description=go_template(texts.description, "percentage"),
            runbook_url=context.runbook(name), dashboard_url=None, meaning=texts.meaning,
            first_checks=texts.first_checks, value_format="percentage", family=family,
            static_labels=hold_labels(holds, down_for), instances=tuple(instance(j) for j in group),
        ))
    return rules


OR_CHUNK = 32


def or_chain(terms: list[str]) -> str:
    """``a\nor\nb\nor\n...``; past OR_CHUNK terms, in parenthesised runs of OR_CHUNK, so the
    expression nests about OR_CHUNK + n / OR_CHUNK deep instead of n (`or` is associative): a
    thousand jobs made a chain a thousand deep, and every PromQL tree walk over it quadratic
    (rule lint ran out of 12 GB)."""
    if len(terms) <= OR_CHUNK:
        return "\nor\n".join(terms)
    runs = ["(\n" + "\nor\n".join(terms[i:i + OR_CHUNK]) + "\n)" for i in range(0, len(terms), OR_CHUNK)]
    return "\nor\n".join(runs)


def missing_job_rule(context: RuleContext, jobs: list[ScrapeJob]) -> AlertRule:
    """``ScrapeJobMissing``: no ``up`` series at all for a job the stack expects (removed from the
    configuration, relabelled away, or a discovery that finds nothing)."""
    terms = [f"absent({scenarios.selector(UP, j.alert_labels)})" for j in jobs]

    def instance(job: ScrapeJob) -> AlertInstance:
        def build(level: float) -> Scenario:
            if level == 0:  # no series at all: absent() is 1
                return Scenario((), 1.0, Duration(0), measure=0.0)
            return job.up_series([1] * len(job.targets))
        return AlertInstance(job.alert_labels, scenarios.DOWN, False, build, 0, 1)

    return AlertRule(
        name="ScrapeJobMissing", expr=or_chain(terms), for_=context.timing.scrape_job_missing_hold.duration,
        for_reason=context.timing.scrape_job_missing_hold.reason,
        severity="critical", subject="job", summary="A scrape job the stack expects has no targets in Prometheus.",
        description=go_template("Prometheus has no target for job {job}: everything read from it is blind "
                                "(is the job still in prometheus.yml, and does its discovery find targets?).", "none"),
        runbook_url=context.runbook("ScrapeJobMissing"), dashboard_url=None,
        meaning="Prometheus has no `up` series for the job: it was removed from the configuration, relabelled "
                "away or its service discovery finds nothing. Every alert reading its series is silent.",
        first_checks=("Is the job in the running configuration (Status → Configuration)?",
                      "Does Status → Targets list it, and does its discovery return targets?",
                      "Was the last configuration reload successful (PrometheusConfigReloadFailed)?"),
        value_format="none", family=None, instances=tuple(instance(j) for j in jobs),
    )
