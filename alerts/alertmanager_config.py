"""alertmanager/alertmanager.yml and its notification templates, derived from the spec and the rules.

Owns the route tree, the receivers, the inhibit rules and ``templates/obstack.tmpl``. Everything
stays within what Alertmanager 0.25 (the floor) loads: ``matchers`` lists in the classic
``label="value"`` syntax, secrets only through the ``*_file`` fields 0.25 has (Slack
``api_url_file``, PagerDuty ``routing_key_file``, e-mail ``auth_password_file``, Opsgenie and
VictorOps ``api_key_file``, a bearer ``credentials_file`` for webhooks, whose ``url_file`` came
after 0.25, and for the Webex bot token); SNS signs with AWS credentials Alertmanager finds itself.

Choices, with the reasons docs/alertmanager.md spells out:

- Routes are the spec's routes in order, each ``continue: false``: the first match wins, the
  root's receiver (``fallback_receiver``) takes the rest. Timers live on the root and are the
  spec's ``group_wait`` (batch one incident's alerts, which arrive over an evaluation cycle or
  two), ``group_interval`` (follow-ups of an open incident at most this often) and
  ``repeat_interval`` (remind about what still fires).
- ``group_by`` is the alert name, the external labels (environment, cluster: one environment
  never merges with another, and the title names it) and the subject labels but ``instance``
  (service, queue, datastore, job): one notification per problem and subject, not one per replica
  or host. ``slo`` is deliberately not a grouping label: one service burning several SLOs is one
  incident, and each alert's labels still name its SLO.
- Inhibit rules are derived from the rules, never listed by hand: (a) within a family, a more
  severe alert silences the less severe ones on the same subject (and filesystem);
  (b) a faster burn-rate window pair silences the slower pairs of the same service and SLO;
  (c) a down datastore silences its connection-saturation alert and the alerts of the queues in
  it; (d, e) from the spec's ``depends_on`` graph, a down datastore or ``ServiceDown`` silences the
  symptoms (errors, latency, budget burn, health, job failures) of what depends on it
  (``alerts.dependency_inhibition``). ExporterDown silences nothing: when the exporter is blind its
  alerts vanish rather than fire.
  Every ``equal`` list starts with the external label names, so a shared Alertmanager never
  lets one environment silence another.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from obstack.alerts.common import RuleContext, grouped
from obstack.alerts.datastore_rules import down_rules
from obstack.alerts.dependency_inhibition import dependency_inhibit_rules
from obstack.alerts.routing import (
    FAN_OUT_ALERTS,
    SUBJECT_LABELS,
    WATCHDOG_DISCARD_RECEIVER,
    fan_out_receivers,
    format_matcher,
    one_of,
    watchdog_receiver,
)
from obstack.alerts.rule_model import AlertRule, RuleFile
from obstack.alerts.stack_rules import WATCHDOG
from obstack.foundation.artifacts import Artifact, dump_yaml
from obstack.stack.spec.model import Spec
from obstack.stack.spec.notifications import (
    EmailReceiver,
    OpsgenieReceiver,
    PagerdutyReceiver,
    SlackReceiver,
    SnsReceiver,
    VictoropsReceiver,
    WebexReceiver,
    WebhookReceiver,
)

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

CONFIG_PATH = PurePosixPath("alertmanager/alertmanager.yml")
TEMPLATES_PATH = PurePosixPath("alertmanager/templates/obstack.tmpl")
# Relative: Alertmanager (and amtool check-config) resolve it against the config file's
# directory, so the generated tree validates as-is and can be mounted anywhere.
TEMPLATES_GLOB = "templates/*.tmpl"

# Grouped by what an incident is about, never by the replica or host reporting it: the alerts of
# one service's instances (ServiceInstancesDown, restarts, per-worker memory) or of several hosts
# are one notification listing each, not a page per instance. The external labels lead, so a
# shared Alertmanager never merges two environments, and every title names its environment.
GROUP_BY_SUBJECTS: tuple[str, ...] = tuple(label for label in SUBJECT_LABELS if label != "instance")


def group_by(spec: Spec) -> list[str]:
    """alertname, the external labels (environment, cluster, ...), then the subjects but instance."""
    return ["alertname", *_external_label_names(spec), *GROUP_BY_SUBJECTS]
# Labels naming a part of a subject (a filesystem of a host): a critical alert about one part
# must not silence the warning about another. Missing on both sides counts as equal.
PART_LABELS: tuple[str, ...] = ("mountpoint",)
# Alerts about a datastore that a down datastore explains (besides every queue in it).
SATURATION_FAMILIES: tuple[str, ...] = ("connections",)
# Lower is more severe; a family's alert silences the ones ranked below it.
SEVERITY_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}
# Static label that marks the window pairs of a burn-rate alert (ordered by speed, not severity).
BURN_WINDOW_LABEL = "long_window"


def _template(name: str) -> str:
    return '{{ template "' + name + '" . }}'


# ---------------------------------------------------------------------------------------------
# Route tree


def stack_routes(spec: Spec) -> list[dict[str, Any]]:
    """Routes ahead of the spec's: the Watchdog to its heartbeat receiver alone, re-sent every
    ``watchdog.repeat_interval``; notification failures to every receiver (continue: true), so a
    broken receiver is reported through the others."""
    heartbeat = spec.notifications.watchdog.repeat_interval
    routes: list[dict[str, Any]] = [{
        "receiver": watchdog_receiver(spec), "matchers": [format_matcher("alertname", "=", WATCHDOG)],
        "group_wait": "0s", "group_interval": str(heartbeat), "repeat_interval": str(heartbeat), "continue": False,
    }]
    fan_out = fan_out_receivers(spec)
    for index, receiver in enumerate(fan_out):
        routes.append({"receiver": receiver, "matchers": [one_of("alertname", FAN_OUT_ALERTS)],
                       "continue": index < len(fan_out) - 1})
    return routes


def route_tree(spec: Spec) -> dict[str, Any]:
    notifications = spec.notifications
    children = stack_routes(spec)
    for route in notifications.routes:
        matchers = [format_matcher(label, "=", value)
                    for label, value in (("severity", route.severity), ("team", route.team)) if value is not None]
        children.append({"receiver": route.receiver, "matchers": matchers, "continue": False})
    tree: dict[str, Any] = {
        "receiver": notifications.fallback_receiver,
        "group_by": group_by(spec),
        "group_wait": str(notifications.group_wait),
        "group_interval": str(notifications.group_interval),
        "repeat_interval": str(notifications.repeat_interval),
    }
    if children:
        tree["routes"] = children
    return tree


# ---------------------------------------------------------------------------------------------
# Receivers


def _webhook(receiver: WebhookReceiver) -> dict[str, Any]:
    config: dict[str, Any] = {"url": receiver.url, "send_resolved": receiver.send_resolved}
    if receiver.bearer_token_file:
        config["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": receiver.bearer_token_file}}
    return {"webhook_configs": [config]}


def _slack(receiver: SlackReceiver) -> dict[str, Any]:
    return {"slack_configs": [{
        "api_url_file": receiver.api_url_file, "channel": receiver.channel, "send_resolved": receiver.send_resolved,
        "color": _template("obstack.slack.color"), "title": _template("obstack.title"),
        "text": _template("obstack.slack.text"),
    }]}


def _pagerduty(receiver: PagerdutyReceiver) -> dict[str, Any]:
    return {"pagerduty_configs": [{
        "routing_key_file": receiver.routing_key_file, "send_resolved": receiver.send_resolved,
        "severity": _template("obstack.pagerduty.severity"), "description": _template("obstack.title"),
        # Merged with Alertmanager's default details (firing, resolved, num_firing, num_resolved).
        "details": {"alerts": _template("obstack.text")},
    }]}


def _email(receiver: EmailReceiver) -> dict[str, Any]:
    config: dict[str, Any] = {"to": receiver.to, "from": receiver.from_, "smarthost": receiver.smarthost}
    if receiver.auth_username is not None:
        config["auth_username"] = receiver.auth_username
    if receiver.auth_password_file is not None:
        config["auth_password_file"] = receiver.auth_password_file
    config.update({
        "require_tls": receiver.require_tls, "send_resolved": receiver.send_resolved,
        "headers": {"Subject": _template("obstack.title")},
        "html": _template("obstack.email.html"), "text": _template("obstack.text"),
    })
    return {"email_configs": [config]}


# Opsgenie priorities and VictorOps message types by the group's severity (inline: one field each).
_OPSGENIE_PRIORITY = ('{{ if eq .CommonLabels.severity "critical" }}P1{{ else if eq .CommonLabels.severity "warning" }}'
                      'P3{{ else }}P5{{ end }}')
_VICTOROPS_TYPE = ('{{ if eq .Status "firing" }}{{ if eq .CommonLabels.severity "critical" }}CRITICAL{{ else }}'
                   'WARNING{{ end }}{{ else }}RECOVERY{{ end }}')


def _opsgenie(receiver: OpsgenieReceiver) -> dict[str, Any]:
    config: dict[str, Any] = {"api_key_file": receiver.api_key_file}
    if receiver.api_url is not None:
        config["api_url"] = receiver.api_url
    config.update({"send_resolved": receiver.send_resolved, "message": _template("obstack.title"),
                   "description": _template("obstack.text"), "priority": _OPSGENIE_PRIORITY})
    if receiver.responder_team is not None:
        config["responders"] = [{"name": receiver.responder_team, "type": "team"}]
    return {"opsgenie_configs": [config]}


def _victorops(receiver: VictoropsReceiver) -> dict[str, Any]:
    return {"victorops_configs": [{
        "api_key_file": receiver.api_key_file, "routing_key": receiver.routing_key,
        "send_resolved": receiver.send_resolved, "message_type": _VICTOROPS_TYPE,
        "entity_display_name": _template("obstack.title"), "state_message": _template("obstack.text"),
    }]}


def _webex(receiver: WebexReceiver) -> dict[str, Any]:
    return {"webex_configs": [{
        "room_id": receiver.room_id, "send_resolved": receiver.send_resolved,
        "http_config": {"authorization": {"type": "Bearer", "credentials_file": receiver.bot_token_file}},
        "message": _template("obstack.title") + "\n" + _template("obstack.text"),
    }]}


def _sns(receiver: SnsReceiver) -> dict[str, Any]:
    sigv4 = {key: value for key, value in (("region", receiver.region), ("profile", receiver.profile),
                                           ("role_arn", receiver.role_arn)) if value is not None}
    return {"sns_configs": [{
        "topic_arn": receiver.topic_arn, "sigv4": sigv4, "send_resolved": receiver.send_resolved,
        "subject": _template("obstack.title"), "message": _template("obstack.text"),
    }]}


def receivers(spec: Spec) -> list[dict[str, Any]]:
    builders = {"webhook": _webhook, "slack": _slack, "pagerduty": _pagerduty, "email": _email,
                "opsgenie": _opsgenie, "victorops": _victorops, "webex": _webex, "sns": _sns}
    result = [{"name": r.name, **builders[r.type](r)} for r in spec.notifications.receivers]  # type: ignore[operator]
    if spec.notifications.watchdog.receiver is None:
        result.append({"name": WATCHDOG_DISCARD_RECEIVER})  # no integration: the heartbeat goes nowhere
    return result


# ---------------------------------------------------------------------------------------------
# Inhibit rules


def _external_label_names(spec: Spec) -> list[str]:
    """Labels Prometheus adds to every alert (see alerts.prometheus_config)."""
    return sorted({"environment", *spec.prometheus.external_labels})


def _inhibit(source: list[str], target: list[str], equal: list[str]) -> dict[str, Any]:
    return {"source_matchers": source, "target_matchers": target, "equal": equal}


def _identity(rule: AlertRule) -> list[str]:
    return [format_matcher("alertname", "=", rule.name), format_matcher("severity", "=", rule.severity)]


def family_inhibit_rules(spec: Spec, rules: Sequence[AlertRule]) -> list[dict[str, Any]]:
    """(a) A family's more severe alert silences its less severe ones on the same subject."""
    families = [r for r in rules if r.family is not None and BURN_WINDOW_LABEL not in r.static_labels]
    result = []
    for _, members in grouped(families, lambda r: r.family):
        distinct = list({(r.name, r.severity): r for r in members}.values())
        for source in distinct:
            for target in distinct:
                if SEVERITY_RANK[source.severity] >= SEVERITY_RANK[target.severity]:
                    continue
                parts = [p for p in PART_LABELS
                         if any(p in i.labels for r in (source, target) for i in r.instances)]
                subjects = list(dict.fromkeys([source.subject, target.subject]))
                result.append(_inhibit(_identity(source), _identity(target),
                                       [*_external_label_names(spec), *subjects, *parts]))
    return result


def burn_window_inhibit_rules(spec: Spec, rules: Sequence[AlertRule]) -> list[dict[str, Any]]:
    """(b) A faster window pair silences the slower pairs of the same service and SLO: the slow
    pairs confirm what the fast one already said, and keep firing after it resolves."""
    result = []
    burns = [r for r in rules if BURN_WINDOW_LABEL in r.static_labels]
    for name, members in grouped(burns, lambda r: r.name):
        present = {r.static_labels[BURN_WINDOW_LABEL] for r in members}
        speeds = [str(w.long) for w in RuleContext(spec).timing.burn_windows if str(w.long) in present]
        if len(speeds) != len(set(speeds)):
            raise ValueError("burn-rate window pairs must have distinct long windows to inhibit each other")
        subjects = list(dict.fromkeys(r.subject for r in members))
        for index, fast in enumerate(speeds[:-1]):
            result.append(_inhibit(
                [format_matcher("alertname", "=", name), format_matcher(BURN_WINDOW_LABEL, "=", fast)],
                [format_matcher("alertname", "=", name), one_of(BURN_WINDOW_LABEL, speeds[index + 1:], ordered=True)],
                [*_external_label_names(spec), *subjects, "slo"],
            ))
    return result


def datastore_down_inhibit_rules(spec: Spec, rules: Sequence[AlertRule]) -> list[dict[str, Any]]:
    """(c) A down datastore silences what it explains: its connection saturation and its queues."""
    down = {r.name for r in down_rules(RuleContext(spec))}
    targets = {r.name for r in rules
               if (r.subject == "queue" or r.family in SATURATION_FAMILIES)
               and any("datastore" in i.labels for i in r.instances)}
    sources = {r.name for r in rules if r.name in down}
    if not sources or not targets:
        return []
    return [_inhibit([one_of("alertname", sources)], [one_of("alertname", targets)],
                     [*_external_label_names(spec), "datastore"])]


def inhibit_rules(spec: Spec, rules: Sequence[AlertRule]) -> list[dict[str, Any]]:
    return (family_inhibit_rules(spec, rules) + burn_window_inhibit_rules(spec, rules)
            + datastore_down_inhibit_rules(spec, rules)
            + dependency_inhibit_rules(spec, rules, _external_label_names(spec)))


def all_alert_rules(files: Sequence[RuleFile]) -> list[AlertRule]:
    return [rule for rule_file in files for rule in rule_file.alert_rules]


# ---------------------------------------------------------------------------------------------
# The config and its templates


def alertmanager_config(spec: Spec, files: Sequence[RuleFile]) -> dict[str, Any]:
    """The config for the spec's rule files (inhibition follows their alert families)."""
    rules = all_alert_rules(files)
    return {
        "route": route_tree(spec),
        "receivers": receivers(spec),
        "inhibit_rules": inhibit_rules(spec, rules),
        "templates": [TEMPLATES_GLOB],
    }


# Alertmanager 0.25's template functions are few (toUpper, toLower, title, join, match, safeHtml,
# reReplaceAll, stringSlice; no trimSpace, no since): these templates use nothing else.
# Each alert block: status, severity, summary, description, then runbook and dashboard links
# when the annotation exists. Every block ranges over .Alerts so a mixed group shows each status.
OBSTACK_TEMPLATES = r"""
{{ define "obstack.subject" -}}
{{ range .GroupLabels.SortedPairs }}{{ if ne .Name "alertname" }} {{ .Name }}={{ .Value }}{{ end }}{{ end }}
{{- end }}

{{ define "obstack.title" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ or .GroupLabels.alertname .CommonLabels.alertname "alerts" }}{{ template "obstack.subject" . }}
{{- end }}

{{ define "obstack.labels" -}}
{{ range $i, $p := (.Labels.Remove (stringSlice "alertname" "severity")).SortedPairs }}{{ if $i }} {{ end }}{{ $p.Name }}={{ $p.Value }}{{ end }}
{{- end }}

{{ define "obstack.alert.text" -}}
[{{ .Status | toUpper }}] {{ .Labels.alertname }} ({{ or .Labels.severity "no severity" }})
{{ if .Annotations.summary }}Summary: {{ .Annotations.summary }}
{{ end }}{{ if .Annotations.description }}Description: {{ .Annotations.description }}
{{ end }}Labels: {{ template "obstack.labels" . }}
Since: {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}
{{ if .Annotations.runbook_url }}Runbook: {{ .Annotations.runbook_url }}
{{ end }}{{ if .Annotations.dashboard_url }}Dashboard: {{ .Annotations.dashboard_url }}
{{ end }}
{{- end }}

{{ define "obstack.text" -}}
{{ range .Alerts }}{{ template "obstack.alert.text" . }}
{{ end }}
{{- end }}

{{ define "obstack.slack.color" -}}
{{ if eq .Status "firing" }}{{ if eq .CommonLabels.severity "critical" }}danger{{ else }}warning{{ end }}{{ else }}good{{ end }}
{{- end }}

{{ define "obstack.slack.text" -}}
{{ range .Alerts }}*[{{ .Status | toUpper }}] {{ .Labels.alertname }}* ({{ or .Labels.severity "no severity" }})
{{ if .Annotations.summary }}>{{ .Annotations.summary }}
{{ end }}{{ if .Annotations.description }}{{ .Annotations.description }}
{{ end }}`{{ template "obstack.labels" . }}`
{{ if .Annotations.runbook_url }}<{{ .Annotations.runbook_url }}|Runbook> {{ end }}{{ if .Annotations.dashboard_url }}<{{ .Annotations.dashboard_url }}|Dashboard>{{ end }}
{{ end }}
{{- end }}

{{ define "obstack.pagerduty.severity" -}}
{{ if match "^(critical|warning|info)$" .CommonLabels.severity }}{{ .CommonLabels.severity }}{{ else }}error{{ end }}
{{- end }}

{{ define "obstack.email.html" -}}
<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{{ template "obstack.title" . }}</title></head>
<body style="font-family: sans-serif">
<h2>{{ template "obstack.title" . }}</h2>
{{ range .Alerts }}
<table style="border-collapse: collapse; margin-bottom: 1em" cellpadding="4">
<tr><th align="left">Status</th><td>{{ .Status | toUpper }}</td></tr>
<tr><th align="left">Alert</th><td>{{ .Labels.alertname }} ({{ or .Labels.severity "no severity" }})</td></tr>
{{ if .Annotations.summary }}<tr><th align="left">Summary</th><td>{{ .Annotations.summary }}</td></tr>{{ end }}
{{ if .Annotations.description }}<tr><th align="left">Description</th><td>{{ .Annotations.description }}</td></tr>{{ end }}
<tr><th align="left">Labels</th><td>{{ template "obstack.labels" . }}</td></tr>
<tr><th align="left">Since</th><td>{{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}</td></tr>
{{ if .Annotations.runbook_url }}<tr><th align="left">Runbook</th><td><a href="{{ .Annotations.runbook_url }}">{{ .Annotations.runbook_url }}</a></td></tr>{{ end }}
{{ if .Annotations.dashboard_url }}<tr><th align="left">Dashboard</th><td><a href="{{ .Annotations.dashboard_url }}">{{ .Annotations.dashboard_url }}</a></td></tr>{{ end }}
</table>
{{ end }}
</body>
</html>
{{- end }}
""".lstrip()

# How each named template is rendered: as text or HTML (the e-mail body), and what its dot is:
# the whole notification, or one alert (the per-alert blocks the others range over).
TEMPLATE_KINDS: dict[str, str] = {"obstack.email.html": "html"}
ALERT_TEMPLATES: frozenset[str] = frozenset({"obstack.labels", "obstack.alert.text"})
# Helpers that are legitimately empty (a group keyed by alertname alone, an alert with no labels
# beyond alertname and severity); every other template must render something.
MAY_RENDER_EMPTY: frozenset[str] = frozenset({"obstack.subject", "obstack.labels"})


def alertmanager_artifacts(model: StackModel) -> list[Artifact]:
    return [
        Artifact(CONFIG_PATH, dump_yaml(model.alertmanager_config), "alertmanager-config"),
        Artifact(TEMPLATES_PATH, OBSTACK_TEMPLATES, "alertmanager-templates"),
    ]
