"""Alerts on the monitoring stack itself: a blind exporter, failing rules, undeliverable notifications.

Without these, every other alert can silently stop working.
"""

from __future__ import annotations

from obstack.alerts import scenarios
from obstack.alerts.annotations import go_template
from obstack.alerts.common import RuleContext
from obstack.alerts.rule_model import AlertInstance, AlertRule, RuleGroup, Scenario, SeverityLabel
from obstack.alerts.service_rules import scrape_job
from obstack.alerts.target_rules import DownTexts, ScrapeJob, all_down_rules, missing_job_rule, some_down_rules
from obstack.stack.spec.model import ALERTMANAGER_JOB, EXPORTER_JOB, PROMETHEUS_JOB, Spec
from obstack.stack.spec.values import Duration

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
            window = context.timing.stack_counter_window.duration
            samples = window.seconds / context.scrape_interval.seconds
            result.append(AlertInstance(
                labels, 0, True,
                lambda level, labels=labels: scenarios.ramp(metric, labels, level, window, context.scrape_interval,
                                                            counter=True),
                samples, 0,
            ))
    return tuple(result)


def stack_jobs(context: RuleContext) -> list[tuple[ScrapeJob, str, SeverityLabel, DownTexts]]:
    """Each scrape job of the monitoring stack with the alert for all its targets down: the
    table says what goes blind with it, and so how severe its loss is."""
    spec = context.spec
    team = {"team": spec.team}
    hold = context.timing.stack_job_down_hold.duration
    exporter, *others = [
        (ScrapeJob(EXPORTER_JOB, tuple(spec.exporter.targets), team, hold), "ExporterDown", "critical", DownTexts(
            summary="The obstack exporter is down: datastore and queue alerts are blind.",
            description="Prometheus cannot scrape the obstack exporter (job {job}); no datastore, queue or health "
                        "check alert can fire until it is back.",
            meaning="The exporter that probes Postgres, Redis, the queues and health URLs is not being scraped: "
                    "every datastore and queue alert is silent.",
            first_checks=("Is the exporter process running? Check its /livez and logs.",
                          "Can Prometheus reach it (network, TLS, basic auth)?"),
            for_reason="as for services: one failed scrape is noise, a minute is an outage")),
        (ScrapeJob(ALERTMANAGER_JOB, tuple(spec.prometheus.alertmanager_targets), team, hold), "AlertmanagerDown",
         "critical", DownTexts(
            summary="Alertmanager is down: notifications cannot be delivered.",
            description="No Alertmanager of job {job} answers Prometheus' scrapes; alerts may reach nobody.",
            meaning="Every Alertmanager is unreachable, so this alert itself may not be delivered: the Watchdog's "
                    "heartbeat stopping at the external dead-man's switch is what reports it.",
            first_checks=("Is the Alertmanager process running? Check its logs and /-/ready.",
                          "Did a configuration change make it exit (amtool check-config)?"),
            for_reason="as for services: one failed scrape is noise, a minute is an outage")),
        (ScrapeJob(PROMETHEUS_JOB, (spec.prometheus.self_target,), team, hold), "PrometheusSelfScrapeDown", "warning",
         DownTexts(
            summary="Prometheus cannot scrape itself: alerts on the stack's own health are blind.",
            description="Prometheus' scrape of itself (job {job}) fails; rule-failure and notification alerts "
                        "read nothing.",
            meaning="The rules and alerts on Prometheus' own metrics (rule evaluation failures, missed "
                    "iterations, errors sending alerts) read nothing while its self-scrape fails.",
            first_checks=("Does prometheus.self_target in the spec match where Prometheus listens?",
                          "Is Prometheus' web listener behind TLS or auth the scrape does not use?"),
            for_reason="rule and notification health move slowly; a minute is enough to know")),
    ]
    return [exporter, *_node_exporter_job(spec, hold), *others]


def _node_exporter_job(spec: Spec, hold: Duration) -> list[tuple[ScrapeJob, str, SeverityLabel, DownTexts]]:
    """node-exporter's job, when the spec watches hosts (host: null watches none)."""
    if spec.host is None:
        return []
    return [
        (ScrapeJob(spec.host.job, tuple(spec.host.node_exporter_targets), {"team": spec.host.team}, hold),
         "NodeExporterDown", "critical", DownTexts(
            summary="node-exporter is down: host memory and disk alerts are blind.",
            description="Prometheus cannot scrape node-exporter (job {job}); memory and disk alerts cannot fire "
                        "until it is back.",
            meaning="No node-exporter target answers: HighMemoryUsage, DiskSpaceLow and the host dashboard read "
                    "nothing.",
            first_checks=("Is node-exporter running on the host (systemctl status prometheus-node-exporter)?",
                          "Can Prometheus reach port 9100 (firewall, network policy)?"),
            for_reason="as for the exporter: a minute without host metrics is an outage of the host alerts")),
    ]


PARTIAL_TEXTS = DownTexts(
    summary="Some targets of a monitoring job are down.",
    description="Only {value} of the targets of job {job} answer scrapes.",
    meaning="Some, not all, targets of one of the stack's own jobs (exporter, node-exporter, Alertmanager) are "
            "down: what they watch is partly blind, or the stack runs without its redundancy.",
    first_checks=("Which targets are down (Status → Targets)?", "Is the process on that host running?"),
    for_reason="a restarting replica is not worth a ticket before the job's down_for has passed")


def watcher_rules(context: RuleContext) -> list[AlertRule]:
    """A watcher for every scrape job: all targets down, some down, and the job missing altogether."""
    table = stack_jobs(context)
    rules: list[AlertRule] = []
    for job, name, severity, texts in table:
        rules += all_down_rules(context, name, severity, "job", [job], texts, family=f"{job.job}-down")
    rules += some_down_rules(context, "ScrapeTargetsDown", "job", [job for job, *_ in table], PARTIAL_TEXTS)
    services = [scrape_job(s) for s in context.spec.services]
    rules.append(missing_job_rule(context, [job for job, *_ in table] + services))
    return rules


WATCHDOG = "Watchdog"


def watchdog_rule(context: RuleContext) -> AlertRule:
    """Always firing: the heartbeat that proves rule evaluation, Prometheus -> Alertmanager and
    Alertmanager -> receiver all work. Its absence at an external dead-man's switch is the page."""
    return AlertRule(
        name=WATCHDOG, expr="vector(1)", for_=context.timing.watchdog_hold.duration,
        for_reason=context.timing.watchdog_hold.reason,
        severity="none", subject="job", summary="The alerting pipeline is alive (always firing; not a problem).",
        description="This alert always fires. It is routed to the dead-man's switch, which pages when it stops.",
        runbook_url=context.runbook(WATCHDOG), dashboard_url=None, value_format="none", family=None,
        meaning="Always firing, routed only to the watchdog receiver (notifications.watchdog): an external "
                "heartbeat service that pages when the notifications stop, i.e. when Prometheus, its rule "
                "evaluation, Alertmanager or the path between them is dead.",
        first_checks=("It stopped arriving: is Prometheus up and evaluating (Status → Rules)?",
                      "Is Alertmanager up, and can Prometheus reach it (PrometheusErrorSendingAlerts)?",
                      "Can Alertmanager reach the heartbeat service (AlertmanagerNotificationsFailing)?"),
        # vector(1) has no labels: the team (the spec's, the stack's owner) comes from the rule.
        static_labels={"team": context.spec.team},
        instances=(AlertInstance({"team": context.spec.team}, 0, True, lambda level: Scenario((), 1.0, Duration(0)),
                                 1, None),),
    )


# Share of alert batches Prometheus fails to deliver to an Alertmanager before it is worth a page:
# one failed POST in a hundred is a retry, more is a path that is breaking.
SEND_ERROR_RATIO = 0.01


def _send_error_instance(context: RuleContext, target: str, alertmanager: str) -> AlertInstance:
    labels = {"job": PROMETHEUS_JOB, "instance": target, "team": context.spec.team,
              "alertmanager": f"http://{alertmanager}/api/v2/alerts"}

    window = context.timing.stack_counter_window.duration

    def build(level: float) -> Scenario:
        interval = context.scrape_interval
        sent = scenarios.ramp("prometheus_notifications_sent_total", labels, 1000, window, interval, counter=True)
        errors = scenarios.ramp("prometheus_notifications_errors_total", labels, 1000 * level, window, interval,
                                counter=True)
        return Scenario(sent.series + errors.series, errors.value / sent.value, window)
    # Twice the threshold and 90% of it: a threshold moved either way by mistake changes the outcome.
    return AlertInstance(labels, SEND_ERROR_RATIO, True, build, SEND_ERROR_RATIO * 2, SEND_ERROR_RATIO * 0.9,
                         lull_window=window)


def stack_rule_groups(context: RuleContext) -> list[RuleGroup]:
    spec = context.spec
    prometheus = [spec.prometheus.self_target]
    alertmanagers = list(spec.prometheus.alertmanager_targets)
    common = dict(dashboard_url=None, subject="instance")
    timing = context.timing
    window = timing.stack_counter_window.duration
    rules = [
        watchdog_rule(context),
        *watcher_rules(context),
        AlertRule(
            name="PrometheusErrorSendingAlerts",
            expr=f'rate(prometheus_notifications_errors_total{{job="{PROMETHEUS_JOB}"}}[{window}])\n'
                 f'/ rate(prometheus_notifications_sent_total{{job="{PROMETHEUS_JOB}"}}[{window}])\n'
                 f"> {SEND_ERROR_RATIO}",
            for_=timing.alert_sending_hold.duration, for_reason=timing.alert_sending_hold.reason,
            severity="critical", summary="Prometheus fails to send alerts to an Alertmanager.",
            description=go_template("{instance} failed to send {value} of its alert batches to {alertmanager} "
                                    f"over the last {window}.", "percentage"),
            runbook_url=context.runbook("PrometheusErrorSendingAlerts"), value_format="percentage", family=None,
            meaning="Prometheus cannot deliver alerts to this Alertmanager (down, unreachable, rejecting). With a "
                    "second Alertmanager this reaches you through it; with only one, the Watchdog's silence does.",
            first_checks=("Is the Alertmanager up, and reachable from Prometheus (network, TLS)?",
                          "Read Prometheus' log for the notifier's error."),
            instances=tuple(_send_error_instance(context, prometheus[0], am) for am in alertmanagers),
            **common,
        ),
        AlertRule(
            name="PrometheusMissedRuleEvaluations",
            expr=f'increase(prometheus_rule_group_iterations_missed_total{{job="{PROMETHEUS_JOB}"}}[{window}]) > 0',
            for_=timing.missed_evaluations_hold.duration, for_reason=timing.missed_evaluations_hold.reason,
            severity="warning", summary="Prometheus skips rule evaluations: a rule group is slower than its interval.",
            description=go_template("{instance} missed {value} evaluations of group {rule_group} over the last " f"{window}.",
                                    "number"),
            runbook_url=context.runbook("PrometheusMissedRuleEvaluations"), value_format="number", family=None,
            meaning="A rule group took longer than its interval, so Prometheus skipped iterations: its alerts are "
                    "evaluated less often than their hold times assume, and recordings have gaps.",
            first_checks=("Status → Rules: which group's last evaluation takes longest?",
                          "Is Prometheus CPU-starved, or did a recording's range grow (rate over days)?"),
            instances=_instances(context, PROMETHEUS_JOB, prometheus, "prometheus_rule_group_iterations_missed_total",
                                 "increase", {"rule_group": "/etc/prometheus/rules/services.yml;service-alerts"}),
            **common,
        ),
        AlertRule(
            name="PrometheusRuleEvaluationFailures",
            expr=f'increase(prometheus_rule_evaluation_failures_total{{job="{PROMETHEUS_JOB}"}}[{window}]) > 0',
            for_=timing.evaluation_failures_hold.duration, for_reason=timing.evaluation_failures_hold.reason,
            severity="warning", summary="Prometheus fails to evaluate some rules.",
            description=go_template("{instance} failed {value} rule evaluations in group {rule_group} over the last " f"{window}.",
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
            for_=timing.prometheus_reload_hold.duration, for_reason=timing.prometheus_reload_hold.reason,
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
            for_=timing.alertmanager_reload_hold.duration, for_reason=timing.alertmanager_reload_hold.reason,
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
            expr=f'increase(alertmanager_notifications_failed_total{{job="{ALERTMANAGER_JOB}"}}[{window}]) > 0',
            for_=timing.notifications_failing_hold.duration, for_reason=timing.notifications_failing_hold.reason,
            severity="critical", summary="Alertmanager cannot deliver notifications.",
            description=go_template("{instance} failed {value} {integration} notifications over the last " f"{window}.",
                                    "number"),
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
