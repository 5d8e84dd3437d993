"""The Alerts & SLOs dashboard: what fires (ALERTS) by severity, every SLO's budget across services,
and whether the alerting path itself works; links to every service dashboard."""

from __future__ import annotations

import grafanalib.core as G

from obstack.alerts.stack_rules import SEND_ERROR_RATIO
from obstack.dashboards.panels import (
    GREEN,
    INSTANCE,
    JOB,
    ORANGE,
    RATE_INTERVAL,
    RED,
    UP_MAPPINGS,
    Panel,
    dashboard,
    job_instance_variables,
    link,
    prom,
    range_count,
    refs,
    row,
    selector,
    stat,
    steps,
    table,
    tagged_links,
    timeseries,
    up_steps,
)
from obstack.dashboards.service import BUDGET_STEPS
from obstack.stack.spec import dashboard_identities as ids
from obstack.stack.spec.model import ALERTMANAGER_JOB, EXPORTER_JOB, PROMETHEUS_JOB, Spec

STACK_JOBS = f'job=~"{PROMETHEUS_JOB}|{ALERTMANAGER_JOB}|{EXPORTER_JOB}"'


def _alert_panels() -> list[Panel]:
    def firing(severity: str) -> str:
        return f'count(ALERTS{{alertstate="firing", severity="{severity}"}}) or vector(0)'

    return [
        stat("Critical alerts firing", "Alerts paging someone right now.", [prom(firing("critical"))], "short",
             steps(GREEN, (1, RED)), w=6),
        stat("Warning alerts firing", "Alerts that open a ticket.", [prom(firing("warning"))], "short",
             steps(GREEN, (1, ORANGE)), w=6),
        stat("Pending alerts", "Conditions true but not yet for their hold time (they may fire soon).",
             [prom('count(ALERTS{alertstate="pending"}) or vector(0)')], "short", steps(GREEN, (1, ORANGE)), w=6),
        stat("Firing alert names", "Distinct alert names firing.",
             [prom('count(count by (alertname) (ALERTS{alertstate="firing"})) or vector(0)')], "short",
             steps(GREEN, (1, ORANGE)), w=6),
        timeseries("Firing alerts by severity", "How many alerts fired when, by severity?",
                   [prom('count by (severity) (ALERTS{alertstate="firing"})', "{{severity}}")], "short",
                   w=24, stacked=True, minimum=0),
        table("Firing alerts", "Every firing alert with its labels (the subject and owner).",
              [prom('ALERTS{alertstate="firing"}', instant=True, table=True)], "none", w=24),
    ]


def _slo_panels() -> list[Panel]:
    budget = "slo:error_budget_remaining:ratio"
    return [
        table("Error budget remaining per SLO", "Which SLOs still have budget? Below 0 the SLO is missed for its "
              "window.", [prom(budget, instant=True, table=True)], "percentunit", steps(RED, *BUDGET_STEPS), w=12),
        timeseries("Error budget remaining", "How each SLO's budget evolves across services.",
                   [prom(budget, "{{service}} {{slo}}")], "percentunit", steps(RED, *BUDGET_STEPS), w=12),
    ]


def _stack_panels() -> list[Panel]:
    scope = (JOB, INSTANCE)
    exporter_up = selector("up", f'job="{EXPORTER_JOB}"', *scope)
    evaluation_failures = selector("prometheus_rule_evaluation_failures_total", *scope)
    notifications_failed = selector("alertmanager_notifications_failed_total", *scope)
    missed_evaluations = selector("prometheus_rule_group_iterations_missed_total", *scope)
    any_is_an_alert = steps(GREEN, (1, RED))
    return [
        stat("Exporter up", "Is the obstack exporter scraped? Without it no datastore or queue alert can fire "
             "(ExporterDown).", [prom(f"min({exporter_up})")], "none",
             up_steps(), mappings=UP_MAPPINGS),
        stat("Prometheus config loaded", "Did Prometheus' last configuration reload succeed "
             "(PrometheusConfigReloadFailed)?",
             [prom(f"min({selector('prometheus_config_last_reload_successful', *scope)})")], "none", up_steps()),
        stat("Alertmanager config loaded", "Did Alertmanager's last configuration reload succeed "
             "(AlertmanagerConfigReloadFailed)?",
             [prom(f"min({selector('alertmanager_config_last_reload_successful', *scope)})")], "none", up_steps()),
        range_count("Failed rule evaluations", "Rule evaluations that failed in the selected time range; any is an "
                    "alert (PrometheusRuleEvaluationFailures).", evaluation_failures, any_is_an_alert),
        range_count("Failed notifications", "Notifications Alertmanager failed to deliver in the selected time "
                    "range; any is an alert (AlertmanagerNotificationsFailing).", notifications_failed,
                    any_is_an_alert),
        range_count("Missed rule evaluations", "Rule group iterations skipped in the selected time range; any is an "
                    "alert (PrometheusMissedRuleEvaluations).", missed_evaluations, any_is_an_alert),
        timeseries("Rule evaluation failures", "Rule evaluations failing per second, by group "
                   "(PrometheusRuleEvaluationFailures fires on any): the rules built on them cannot fire.",
                   [prom(f"sum by (rule_group) (rate({evaluation_failures}[{RATE_INTERVAL}]))", "{{rule_group}}")],
                   "cps", minimum=0),
        timeseries("Notifications", "Notifications Alertmanager sends and fails to deliver per second, per "
                   "integration (AlertmanagerNotificationsFailing fires on any failure): alerts fire but nobody hears.",
                   refs(prom(f"sum by (integration) (rate({notifications_failed}[{RATE_INTERVAL}]))",
                             "{{integration}} failed"),
                        prom(f"sum by (integration) (rate("
                             f"{selector('alertmanager_notifications_total', *scope)}[{RATE_INTERVAL}]))",
                             "{{integration}} sent")), "cps", minimum=0),
        timeseries("Alert delivery errors", "Share of alert batches Prometheus failed to send to each Alertmanager "
                   "(PrometheusErrorSendingAlerts): alerts fire but never reach routing.",
                   [prom(f"sum by (alertmanager) (rate({selector('prometheus_notifications_errors_total', *scope)}"
                         f"[{RATE_INTERVAL}]))\n/ sum by (alertmanager) (rate("
                         f"{selector('prometheus_notifications_sent_total', *scope)}[{RATE_INTERVAL}]))",
                         "{{alertmanager}}")], "percentunit", steps(GREEN, (SEND_ERROR_RATIO, RED)), minimum=0),
        timeseries("Missed rule evaluations", "Rule group iterations skipped per second because the previous one "
                   "overran its interval (PrometheusMissedRuleEvaluations fires on any): alerts are evaluated less "
                   "often than they assume.",
                   [prom(f"sum by (rule_group) (rate({missed_evaluations}[{RATE_INTERVAL}]))", "{{rule_group}}")],
                   "cps", minimum=0),
    ]


def alerts_dashboard(spec: Spec) -> G.Dashboard:
    panels: list[Panel] = [row("Alerts"), *_alert_panels()]
    if any(service.slos for service in spec.services):
        panels += [row("SLOs"), *_slo_panels()]
    panels += [row("Monitoring stack"), *_stack_panels()]
    links = [link(ids.services_label(group.names), group.dashboard, f"Service {group.names[0]}: RED and SLOs"
                  if len(group.names) == 1 else f"Services {', '.join(group.names[:3])}...: RED and SLOs")
             for group in ids.service_dashboards(spec).groups]
    return dashboard(ids.alerts_dashboard(spec), "Firing alerts by severity, every SLO's error budget across "
                     "services, and the health of the alerting path itself.", [spec.project, "alerts"],
                     job_instance_variables(f"up{{{STACK_JOBS}}}"), panels, [*links, tagged_links(spec.project)])
