"""prometheus-operator objects: PrometheusRule per rule file, ServiceMonitor per service in the cluster
and for the exporter, the additional scrape configs of services on external hosts, and the shards.

The rule groups are the very groups of ``prometheus/rules/*.yml`` (sharded: their per-target
rules, see ``prometheus_rules``); the ServiceMonitors give
series the labels ``prometheus.yml`` gives them (job, service, team), so the same rules and
dashboards work unchanged under kube-prometheus-stack. A service that runs on an external host
(``runs_on: external``) has no Kubernetes Service to select: its ``prometheus.yml`` job itself
goes into a Secret the Prometheus resource names in ``additionalScrapeConfigs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from obstack.alerts.shard_safety import split_rule_files
from obstack.compose.k8s_common import dump_documents, metadata, object_name
from obstack.foundation.artifacts import dump_yaml
from obstack.stack.spec.model import EXPORTER_JOB, Service, Spec

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

MONITORING_API = "monitoring.coreos.com/v1"
EXPORTER_PORT_NAME = "metrics"
# The key of the additional scrape configs Secret (the name prometheus-operator's documentation uses).
ADDITIONAL_SCRAPE_CONFIGS_KEY = "prometheus-additional.yaml"

# prometheus.yml's snake_case relabel keys -> the operator's camelCase RelabelConfig fields.
_RELABEL_KEYS = {"source_labels": "sourceLabels", "target_label": "targetLabel", "regex": "regex",
                 "replacement": "replacement", "action": "action", "separator": "separator", "modulus": "modulus"}


def _prometheus_rule(spec: Spec, stem: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": MONITORING_API, "kind": "PrometheusRule",
            "metadata": metadata(spec, object_name(spec.project, stem)), "spec": body}


def prometheus_rules(model: StackModel) -> list[dict[str, Any]]:
    """One PrometheusRule per generated rule file, then one per rule file of your own. Sharded
    (kubernetes.prometheus.shards > 1), every shard loads them all, so they carry only the
    per-target rules (alerts/shard_safety.py); the others go to ruler/rules/."""
    spec, bodies = model.spec, model.rule_bodies()
    if spec.kubernetes.prometheus.sharded:
        bodies = split_rule_files(bodies).local
    return [_prometheus_rule(spec, stem, body) for stem, body in bodies]


def prometheus_rules_text(model: StackModel) -> str:
    """``prometheus_rules`` as one YAML stream. Unsharded, each object's ``spec`` is its rule
    file's text (``StackModel.rule_texts``) indented under it rather than written again: block
    YAML nests by indentation, so the text means the same. Only where a line runs past the
    writer's width does it fold at another space than a fresh dump would."""
    spec = model.spec
    if spec.kubernetes.prometheus.sharded:
        return dump_documents(prometheus_rules(model))
    return "---\n".join(
        dump_yaml({key: value for key, value in _prometheus_rule(spec, document.path.stem, {}).items() if key != "spec"})
        + "spec:\n" + _indented(model.rule_texts[document.path]) for document in model.loaded_rule_documents)


def _indented(text: str, by: str = "  ") -> str:
    """Every non-empty line of ``text`` indented ``by`` (an empty line of a literal block stays empty)."""
    return "".join(by + line if line != "\n" else line for line in text.splitlines(keepends=True))


def prometheus_shards(spec: Spec) -> list[dict[str, Any]]:
    """The operator's ``spec.shards`` on your Prometheus object, when the spec sets it: only the
    name, namespace and that one field, for server-side apply to own no other field (no labels:
    the chart's ``app.kubernetes.io/managed-by: Helm`` would conflict)."""
    settings = spec.kubernetes.prometheus
    if settings.shards is None:
        return []
    return [{"apiVersion": MONITORING_API, "kind": "Prometheus",
             "metadata": {"name": settings.name, "namespace": spec.kubernetes.namespace},
             "spec": {"shards": settings.shards}}]


def _set_label(label: str, value: str) -> dict[str, Any]:
    return {"action": "replace", "targetLabel": label, "replacement": value}


def _endpoint(spec: Spec, port: str, path: str, scheme: str, relabelings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "port": port,
        "path": path,
        "scheme": scheme,
        "interval": str(spec.prometheus.scrape_interval),
        "scrapeTimeout": str(spec.prometheus.scrape_timeout),
        "relabelings": relabelings,
    }


def _service_monitor(spec: Spec, name: str, selector: dict[str, str], endpoint: dict[str, Any],
                     namespace: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"matchLabels": selector}, "endpoints": [endpoint]}
    if namespace is not None and namespace != spec.kubernetes.namespace:
        body["namespaceSelector"] = {"matchNames": [namespace]}
    return {"apiVersion": MONITORING_API, "kind": "ServiceMonitor", "metadata": metadata(spec, name), "spec": body}


def service_monitor(spec: Spec, service: Service) -> dict[str, Any]:
    # The operator names the job after the Kubernetes Service; the rules expect the spec's job.
    relabelings = [_set_label("job", service.job), _set_label("service", service.name), _set_label("team", service.team)]
    endpoint = _endpoint(spec, spec.kubernetes.service_port_name, service.metrics_path, service.scheme, relabelings)
    # 'bookmark-api' in project 'bookmark' stays 'bookmark-api', not 'bookmark-bookmark-api'.
    prefix = "" if service.name.startswith(f"{spec.project}-") else spec.project
    return _service_monitor(spec, object_name(prefix, service.name), {"app.kubernetes.io/name": service.name},
                            endpoint, spec.kubernetes.app_namespace)


def _scrape_jobs(model: StackModel, names: set[str]) -> list[dict[str, Any]]:
    """The prometheus.yml jobs of these names, in its order."""
    return [job for job in model.prometheus_config["scrape_configs"] if job["job_name"] in names]


def _exporter_metric_relabelings(model: StackModel) -> list[dict[str, Any]]:
    """The exporter job's metric_relabel_configs from prometheus.yml, in the operator's spelling."""
    job = _scrape_jobs(model, {EXPORTER_JOB})[0]
    return [{_RELABEL_KEYS[key]: value for key, value in rule.items()} for rule in job.get("metric_relabel_configs", [])]


def exporter_selector(spec: Spec) -> dict[str, str]:
    return {"app.kubernetes.io/name": EXPORTER_JOB, "app.kubernetes.io/instance": spec.project}


def exporter_service_monitor(model: StackModel) -> dict[str, Any]:
    spec = model.spec
    endpoint = _endpoint(spec, EXPORTER_PORT_NAME, "/metrics", "http", [_set_label("job", EXPORTER_JOB), _set_label("team", spec.team)])
    endpoint["metricRelabelings"] = _exporter_metric_relabelings(model)
    return _service_monitor(spec, object_name(spec.project, EXPORTER_JOB), exporter_selector(spec), endpoint, None)


def service_monitors(model: StackModel) -> list[dict[str, Any]]:
    """A ServiceMonitor per service that runs in the cluster (compose and kubernetes: the Kubernetes
    output stands in for compose), and the exporter's."""
    in_cluster = (service for service in model.spec.services if service.runs_on != "external")
    return [*(service_monitor(model.spec, service) for service in in_cluster), exporter_service_monitor(model)]


def additional_scrape_configs(model: StackModel) -> list[dict[str, Any]]:
    """The Secret holding the prometheus.yml jobs of the services on external hosts, or nothing
    when every service runs in the cluster."""
    spec = model.spec
    jobs = _scrape_jobs(model, {service.job for service in spec.services if service.runs_on == "external"})
    if not jobs:
        return []
    return [{
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, spec.kubernetes.additional_scrape_configs_secret),
        "type": "Opaque",
        "stringData": {ADDITIONAL_SCRAPE_CONFIGS_KEY: dump_yaml(jobs)},
    }]
