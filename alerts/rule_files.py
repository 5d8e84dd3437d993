"""All rule files of a spec, rendered in Prometheus' rule-file format.

Layout: ``prometheus/rules/services.yml`` (the service alerts), one ``service-<service>.yml`` per
service (its RED recordings), one ``slo-<service>.yml`` per service with SLOs, ``datastores.yml``,
``queues.yml``, ``host.yml``, ``stack.yml`` (only those with rules). A service's recordings and its
SLO rules stand alone in their files, so a promtool test loads the files of the services it feeds
and nothing else, and services whose files are the same rules under another name share one set
of tests (promtool_tests.py, "renamed files"). The YAML stays what Prometheus 2.42
accepts (no group labels, no query_offset); each hold time's reason is in docs/alerts.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from obstack.alerts.common import RuleContext
from obstack.alerts.dashboard_links import with_dashboard_links
from obstack.alerts.datastore_rules import datastore_rule_groups
from obstack.alerts.host_rules import host_rule_groups
from obstack.alerts.overrides import apply_overrides
from obstack.alerts.queue_rules import queue_rule_groups
from obstack.alerts.rule_model import AlertRule, RecordingRule, RuleFile, RuleGroup
from obstack.alerts.service_rules import service_recording_groups, service_rule_groups
from obstack.alerts.shape_templates import ShapeTemplates
from obstack.alerts.slo_rules import slo_rule_groups
from obstack.alerts.stack_rules import stack_rule_groups
from obstack.foundation.artifacts import Artifact
from obstack.stack.spec.model import Service, Spec

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

RULES_DIR = PurePosixPath("prometheus/rules")
# Each generated rule file (its name without .yml) and the rule groups in it, in this order.
RULE_FILE_BUILDERS: dict[str, Callable[[RuleContext], list[RuleGroup]]] = {
    "services": service_rule_groups, "datastores": datastore_rule_groups,
    "queues": queue_rule_groups, "host": host_rule_groups, "stack": stack_rule_groups,
}
# Files of one service each (``service-<service>.yml``, ``slo-<service>.yml``), written after the
# file named here.
PER_SERVICE_BUILDERS: dict[str, tuple[str, Callable[[RuleContext, Service], list[RuleGroup]]]] = {
    "service": ("services", service_recording_groups),
    "slo": ("services", slo_rule_groups),
}


def rule_files(spec: Spec) -> list[RuleFile]:
    """The spec's rule files, its alert overrides applied (spec: alerts, alert_labels)."""
    return apply_overrides(spec, generated_rule_files(spec))


def generated_rule_files(spec: Spec) -> list[RuleFile]:
    """The rule files as generated, before the spec's alert overrides."""
    context = RuleContext(spec)
    files: list[tuple[str, list[RuleGroup]]] = []
    for name, build in RULE_FILE_BUILDERS.items():
        files.append((name, build(context)))
        for prefix, (after, build_one) in PER_SERVICE_BUILDERS.items():
            if after == name:
                build = ShapeTemplates(partial(build_one, context))  # once per shape of service, then renamed
                files += [(f"{prefix}-{service.name}", build(service)) for service in spec.services]
    return [RuleFile(RULES_DIR / f"{name}.yml", tuple(_linked(spec, g) for g in groups)) for name, groups in files if groups]


def _linked(spec: Spec, group: RuleGroup) -> RuleGroup:
    """Alert rules get their dashboard_url here, in one pass, from the dashboards' uids."""
    alerts = with_dashboard_links(spec, tuple(r for r in group.rules if isinstance(r, AlertRule)))
    by_identity = {id(old): new for old, new in zip((r for r in group.rules if isinstance(r, AlertRule)), alerts)}
    return RuleGroup(group.name, tuple(by_identity.get(id(rule), rule) for rule in group.rules), group.interval)


def _rule_dict(rule: AlertRule | RecordingRule) -> dict[str, Any]:
    if isinstance(rule, RecordingRule):
        entry: dict[str, Any] = {"record": rule.record, "expr": rule.expr}
        if rule.labels:
            entry["labels"] = dict(rule.labels)
        return entry
    entry = {"alert": rule.name, "expr": rule.expr, "for": str(rule.for_)}
    if rule.keep_firing_for is not None:
        entry["keep_firing_for"] = str(rule.keep_firing_for)
    return {**entry, "labels": rule.labels, "annotations": rule.annotations}


def _group_dict(group: RuleGroup) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": group.name}
    if group.interval is not None:
        entry["interval"] = str(group.interval)
    entry["rules"] = [_rule_dict(rule) for rule in group.rules]
    return entry


def rule_file_dict(rule_file: RuleFile) -> dict[str, Any]:
    return {"groups": [_group_dict(group) for group in rule_file.groups]}


@dataclass(frozen=True)
class RuleDocument:
    """A rule file as Prometheus reads it: its path in the tree and its ``{"groups": [...]}`` body."""

    path: PurePosixPath
    body: Mapping[str, Any]


def rule_documents(files: Sequence[RuleFile]) -> tuple[RuleDocument, ...]:
    return tuple(RuleDocument(f.path, rule_file_dict(f)) for f in files)


def rule_file_artifacts(model: StackModel) -> list[Artifact]:
    """The generated rule files (your own are copied as written: user_rules.py)."""
    return [Artifact(document.path, model.rule_texts[document.path], "prometheus-rules")
            for document in model.rule_documents]
