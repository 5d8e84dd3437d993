"""prometheus.yml: global settings, rule files, Alertmanagers and one scrape job per source.

Job names are the interface the rules rely on: ``prometheus``, ``alertmanager``, ``node``,
``obstack-exporter`` and one job per service (its ``job``). Service targets carry
``service`` and ``team`` labels so every series, and every alert built on it, names its
subject and owner without relabelling in each rule.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from obstack.alerts.common import re2_literal
from obstack.foundation.artifacts import Artifact, dump_yaml
from obstack.stack.spec.model import ALERTMANAGER_JOB, EXPORTER_JOB, PROMETHEUS_JOB, Service, Spec

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

CONFIG_PATH = PurePosixPath("prometheus/prometheus.yml")
# Rule files live beside the config; the glob is relative to the config file.
RULE_FILES_GLOB = "rules/*.yml"


def _static_job(name: str, targets: list[str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    static: dict[str, Any] = {"targets": list(targets)}
    if labels:
        static["labels"] = labels
    return {"job_name": name, "static_configs": [static]}


def _exporter_relabelling(spec: Spec) -> list[dict[str, Any]]:
    """Give exporter series the labels alerts and inhibitions match on: ``datastore``,
    ``service`` and the owning ``team`` of each subject (the exporter itself knows only ``target``)."""
    rules: list[dict[str, Any]] = [
        {"source_labels": ["__name__", "target"], "regex": "obstack_(postgres|redis)_.+;(.+)",
         "target_label": "datastore", "replacement": "$2"},
        {"source_labels": ["kind", "target"], "regex": "(postgres|redis);(.+)",
         "target_label": "datastore", "replacement": "$2"},
        {"source_labels": ["__name__", "target"], "regex": "obstack_http_.+;(.+)",
         "target_label": "service", "replacement": "$1"},
        {"source_labels": ["kind", "target"], "regex": "http;(.+)", "target_label": "service", "replacement": "$1"},
    ]
    for queue in spec.queues:
        rules.append({"source_labels": ["queue"], "regex": re2_literal(queue.name),
                      "target_label": "datastore", "replacement": queue.datastore})
    owners = [("datastore", d.name, d.team) for d in spec.datastores]
    owners += [("service", s.name, s.team) for s in spec.services]
    owners += [("queue", q.name, q.team) for q in spec.queues]
    for label, name, team in owners:
        if team != spec.team:  # the target label already says the spec's team
            rules.append({"source_labels": [label], "regex": re2_literal(name), "target_label": "team", "replacement": team})
    return rules


def service_scrape_job(service: Service) -> dict[str, Any]:
    """The scrape job of one service: its targets, labelled with the service and its team."""
    job = _static_job(service.job, service.targets, {"service": service.name, "team": service.team})
    return {
        "job_name": job["job_name"],
        "metrics_path": service.metrics_path,
        "scheme": service.scheme,
        "static_configs": job["static_configs"],
    }


def _external_labels(spec: Spec) -> dict[str, str]:
    return {"environment": spec.environment, **spec.prometheus.external_labels}


def prometheus_config(spec: Spec) -> dict[str, Any]:
    settings = spec.prometheus
    alertmanager_targets = [{"targets": list(settings.alertmanager_targets)}]
    return {
        "global": {
            "scrape_interval": str(settings.scrape_interval),
            "scrape_timeout": str(settings.scrape_timeout),
            "evaluation_interval": str(settings.evaluation_interval),
            "external_labels": _external_labels(spec),
        },
        "rule_files": [RULE_FILES_GLOB],
        "alerting": {"alertmanagers": [{"static_configs": alertmanager_targets}]},
        "scrape_configs": [
            _static_job(PROMETHEUS_JOB, [settings.self_target], {"team": spec.team}),
            _static_job(ALERTMANAGER_JOB, settings.alertmanager_targets, {"team": spec.team}),
            *([_static_job(spec.host.job, spec.host.node_exporter_targets, {"team": spec.host.team})]
              if spec.host is not None else []),
            {**_static_job(EXPORTER_JOB, spec.exporter.targets, {"team": spec.team}),
             "metric_relabel_configs": _exporter_relabelling(spec)},
            *(service_scrape_job(service) for service in spec.services),
        ],
    }


def prometheus_config_artifacts(model: StackModel) -> list[Artifact]:
    return [Artifact(CONFIG_PATH, dump_yaml(model.prometheus_config), "prometheus-config")]
