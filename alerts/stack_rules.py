"""Alerts on the monitoring stack itself: a blind exporter, failing rules, undeliverable notifications.

Without these, every other alert can silently stop working.
"""

from __future__ import annotations

from alerts import scenarios
from alerts.annotations import go_template
from alerts.common import RuleContext
from alerts.model import AlertInstance, AlertRule, RuleGroup
from stack.spec.model import ALERTMANAGER_JOB, EXPORTER_JOB, PROMETHEUS_JOB
from stack.spec.values import Duration

RATE_WINDOW = Duration.parse("5m")


def _labels(context: RuleContext, job: str, target: str) -> dict[str, str]:
    return {"job": job, "instance": target, "team": context.spec.team}


def _instances(context: RuleContext, job: str, targets: list[str], metric: str, kind: str,
               extra: dict[str, str] | None = None) -> tuple[AlertInstance, ...]:
    """Instances for a 0/1 gauge (kind "down") or a counter that must not grow (kind "increase")."""
    result = []
    for target in targets:
        labels = {**_labels(context, job, target), **(extra or {})}
        if kind == "down":
            result.append(AlertInstance(labels, scenarios.DOWN, False, lambda level, labels=labels: scenarios.down(metric, labels, level), 0, 1))
        else:
            samples = RATE_WINDOW.seconds / context.scrape_interval.seconds
            result.append(AlertInstance(
                labels, 0, True,
                lambda level, labels=labels: scenarios.ramp(metric, labels, level, RATE_WINDOW, context.scrape_interval),
                samples, 0,
            ))
    return tuple(result)


def stack_rule_groups(context: RuleContext) -> list[RuleGroup]:
    spec = context.spec
    prometheus = [spec.prometheus.self_target]
    alertmanagers = list(spec.prometheus.alertmanager_targets)
    exporters = list(spec.exporter.targets)
    common = dict(dashboard_url=None, subject="instance")
    rules = [
        AlertRule(
            name="ExporterDown", expr=f'up{{job="{EXPORTER_JOB}"}} == 0', for_=Duration.parse("1m"),
            for_reason="as for services: one failed scrape is noise, a minute is an outage",
            severity="critical", summary="The obstack exporter is down: datastore and queue alerts are blind.",
            description=go_template("Prometheus cannot scrape the obstack exporter at {instance}; no datastore or "
                                    "queue alert can fire until it is back.", "none"),
            runbook_url=context.runbook("ExporterDown"), value_format="none", family="exporter-down",
            meaning="The exporter that probes Postgres, Redis, the queues and health URLs is not being scraped.",
            first_checks=("Is the exporter process running? Check its /livez and logs.",
                          "Can Prometheus reach it (network, TLS, basic auth)?"),
            instances=_instances(context, EXPORTER_JOB, exporters, "up", "down"), **common,
        ),
        AlertRule(
            name="PrometheusRuleEvaluationFailures",
            expr=f'increase(prometheus_rule_evaluation_failures_total{{job="{PROMETHEUS_JOB}"}}[{RATE_WINDOW}]) > 0',
            for_=Duration.parse("5m"), for_reason="a transient query timeout can fail one evaluation; 5m means a rule is broken",
            severity="warning", summary="Prometheus fails to evaluate some rules.",
            description=go_template("{instance} failed {value} rule evaluations in group {rule_group} over the last 5m.",
                                    "number"),
            runbook_url=context.runbook("PrometheusRuleEvaluationFailures"), value_format="number", family=None,
            meaning="Some recording or alerting rules error out: the alerts built on them cannot fire.",
            first_checks=("Look at /rules in the Prometheus UI for the failing rule and its error.",
                          "Did a metric change type or labels (many-to-many matching)?"),
            instances=_instances(context, PROMETHEUS_JOB, prometheus, "prometheus_rule_evaluation_failures_total",
                                 "increase", {"rule_group": "/etc/prometheus/rules/services.yml;service-alerts"}),
            **common,
        ),
        AlertRule(
            name="PrometheusConfigReloadFailed",
            expr=f'prometheus_config_last_reload_successful{{job="{PROMETHEUS_JOB}"}} == 0',
            for_=Duration.parse("10m"), for_reason="a reload is retried on the next deploy; 10m means the bad config stays",
            severity="warning", summary="Prometheus failed to reload its configuration.",
            description=go_template("{instance} runs an older configuration: its last reload failed.", "none"),
            runbook_url=context.runbook("PrometheusConfigReloadFailed"), value_format="none", family=None,
            meaning="The last configuration reload failed; Prometheus keeps serving the previous configuration and rules.",
            first_checks=("Run `obstack validate` on what was deployed.", "Read Prometheus' log for the reload error."),
            instances=_instances(context, PROMETHEUS_JOB, prometheus, "prometheus_config_last_reload_successful", "down"),
            **common,
        ),
        AlertRule(
            name="AlertmanagerConfigReloadFailed",
            expr=f'alertmanager_config_last_reload_successful{{job="{ALERTMANAGER_JOB}"}} == 0',
            for_=Duration.parse("10m"), for_reason="as for Prometheus: 10m means the bad configuration stays",
            severity="warning", summary="Alertmanager failed to reload its configuration.",
            description=go_template("{instance} routes with an older configuration: its last reload failed.", "none"),
            runbook_url=context.runbook("AlertmanagerConfigReloadFailed"), value_format="none", family=None,
            meaning="The last Alertmanager reload failed; it keeps routing with the previous configuration.",
            first_checks=("Run `amtool check-config` on what was deployed.", "Read Alertmanager's log for the error."),
            instances=_instances(context, ALERTMANAGER_JOB, alertmanagers, "alertmanager_config_last_reload_successful", "down"),
            **common,
        ),
        AlertRule(
            name="AlertmanagerNotificationsFailing",
            expr=f'increase(alertmanager_notifications_failed_total{{job="{ALERTMANAGER_JOB}"}}[{RATE_WINDOW}]) > 0',
            for_=Duration.parse("5m"), for_reason="one failed delivery is retried; 5m of failures means alerts are not arriving",
            severity="critical", summary="Alertmanager cannot deliver notifications.",
            description=go_template("{instance} failed {value} {integration} notifications over the last 5m.", "number"),
            runbook_url=context.runbook("AlertmanagerNotificationsFailing"), value_format="number", family=None,
            meaning="Notifications to a receiver fail: people are not being told about alerts.",
            first_checks=("Which integration fails? Check the receiver's URL, credentials and reachability.",
                          "Run `obstack drill` once it is fixed."),
            instances=_instances(context, ALERTMANAGER_JOB, alertmanagers, "alertmanager_notifications_failed_total",
                                 "increase", {"integration": "webhook"}),
            **common,
        ),
    ]
    return [RuleGroup("stack-alerts", tuple(rules))]
