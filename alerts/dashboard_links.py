"""The dashboard links of alerts, set in one pass over the generated rules (as the mixins do).

An alert links the dashboard of its subject. A service's link selects it on its shape's dashboard
(``?var-service=<name>``); a rule covering several services of one shape selects the firing one
through a template (``{{ $labels.service }}``); a rule whose subjects live on different
dashboards links the Alerts & SLOs dashboard, which shows them all.
"""

from __future__ import annotations

from dataclasses import replace

from obstack.alerts.rule_model import AlertRule
from obstack.stack.spec.dashboard_identities import alerts_dashboard, dashboard_url, service_dashboards
from obstack.stack.spec.model import Spec

_SUBJECT_KINDS = {"service": "service", "datastore": "datastore", "queue": "queue"}


def _kind(spec: Spec, rule: AlertRule) -> str | None:
    if rule.subject in _SUBJECT_KINDS:
        return _SUBJECT_KINDS[rule.subject]
    if spec.host is not None and all(instance.labels.get("job") == spec.host.job for instance in rule.instances):
        return "host"
    return None  # the monitoring stack itself: the Alerts & SLOs dashboard shows its health


def _link(spec: Spec, rule: AlertRule) -> str:
    base = spec.grafana.url.rstrip("/")
    kind = _kind(spec, rule)
    if kind is None:
        return base + alerts_dashboard(spec).path()
    names = sorted({instance.labels.get(rule.subject, "") for instance in rule.instances})
    if kind == "service":  # the names come from the spec's own services
        groups = service_dashboards(spec).by_service
        shown_on = {groups[name].dashboard for name in names} if set(names) <= groups.keys() else set()
        if len(shown_on) != 1:  # an unknown service, or services of several dashboards
            return base + alerts_dashboard(spec).path()
        selected = names[0] if len(names) == 1 else "{{ $labels.service }}"
        return base + replace(shown_on.pop(), service=selected).path()
    urls = {dashboard_url(spec, kind, name) for name in names}  # type: ignore[arg-type]
    return urls.pop() if len(urls) == 1 else base + alerts_dashboard(spec).path()


def with_dashboard_links(spec: Spec, rules: tuple[AlertRule, ...]) -> tuple[AlertRule, ...]:
    return tuple(replace(rule, dashboard_url=_link(spec, rule)) for rule in rules)
