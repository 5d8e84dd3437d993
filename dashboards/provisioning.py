"""Grafana provisioning: the datasources (stable uids the dashboards reference) and a file provider
for the dashboards, in Grafana's documented provisioning format (apiVersion 1)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from obstack.dashboards.datasources import (
    ALERTMANAGER,
    ELASTICSEARCH,
    JAEGER,
    PROMETHEUS,
    enabled_datasources,
)
from obstack.foundation.artifacts import Artifact, dump_yaml
from obstack.stack.spec.model import Spec

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

PROVISIONING_DIR = PurePosixPath("grafana/provisioning")
KIND = "grafana-provisioning"
# Where the container finds grafana/dashboards/ (the provider's path; compose mounts the directory
# there). The dashboards sit in grafana/dashboards/<grafana.folder>/, so foldersFromFilesStructure
# files them under the spec's folder.
DASHBOARDS_ROOT = "/etc/grafana/dashboards"
# ECS field names of the log documents (Logstash renames our JSON log fields to them).
LOG_MESSAGE_FIELD, LOG_LEVEL_FIELD, LOG_TRACE_ID_FIELD = "message", "log.level", "trace.id"


def _prometheus(spec: Spec) -> dict[str, Any]:
    versions = spec.prometheus.target_versions
    return {
        "name": PROMETHEUS.name, "type": PROMETHEUS.type, "uid": PROMETHEUS.uid, "access": "proxy",
        "url": spec.grafana.prometheus_url, "isDefault": True, "editable": False,
        "jsonData": {
            "httpMethod": "POST", "prometheusType": "Prometheus", "prometheusVersion": f"{versions.prometheus}.0",
            # $__rate_interval is max(4 x this, step + this): it must be the real scrape interval.
            "timeInterval": str(spec.prometheus.scrape_interval),
            "alertmanagerUid": ALERTMANAGER.uid,
        },
    }


def _alertmanager(spec: Spec) -> dict[str, Any]:
    return {
        "name": ALERTMANAGER.name, "type": ALERTMANAGER.type, "uid": ALERTMANAGER.uid, "access": "proxy",
        "url": spec.grafana.alertmanager_url, "editable": False,
        "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
    }


def _jaeger(spec: Spec) -> dict[str, Any]:
    source: dict[str, Any] = {"name": JAEGER.name, "type": JAEGER.type, "uid": JAEGER.uid, "access": "proxy",
                              "url": spec.grafana.jaeger_url, "editable": False}
    if spec.logs.enabled:
        # From a span to the log lines carrying its trace id.
        source["jsonData"] = {"tracesToLogsV2": {"datasourceUid": ELASTICSEARCH.uid, "filterByTraceID": True,
                                                 "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m"}}
    return source


def _elasticsearch(spec: Spec) -> dict[str, Any]:
    json_data: dict[str, Any] = {"index": spec.grafana.logs_index, "timeField": "@timestamp",
                                 "logMessageField": LOG_MESSAGE_FIELD, "logLevelField": LOG_LEVEL_FIELD}
    if spec.tracing.enabled:
        # From a log line's trace id to the trace in Jaeger ($$: Grafana expands ${...} in provisioning files).
        json_data["dataLinks"] = [{"field": LOG_TRACE_ID_FIELD, "datasourceUid": JAEGER.uid, "url": "$${__value.raw}"}]
    return {"name": ELASTICSEARCH.name, "type": ELASTICSEARCH.type, "uid": ELASTICSEARCH.uid, "access": "proxy",
            "url": spec.grafana.elasticsearch_url, "editable": False, "jsonData": json_data}


_BUILDERS = {PROMETHEUS.uid: _prometheus, ALERTMANAGER.uid: _alertmanager, JAEGER.uid: _jaeger,
             ELASTICSEARCH.uid: _elasticsearch}


def datasources_config(spec: Spec) -> dict[str, Any]:
    return {"apiVersion": 1, "datasources": [_BUILDERS[source.uid](spec) for source in enabled_datasources(spec)]}


def dashboards_config(spec: Spec) -> dict[str, Any]:
    return {"apiVersion": 1, "providers": [{
        "name": "obstack", "orgId": 1, "type": "file", "disableDeletion": False,
        # The files are generated: edits in the UI would be lost on the next generate.
        "allowUiUpdates": False, "updateIntervalSeconds": 30,
        "options": {"path": DASHBOARDS_ROOT, "foldersFromFilesStructure": True},
    }]}


def provisioning_artifacts(model: StackModel) -> list[Artifact]:
    """``grafana/provisioning/datasources/datasources.yml`` and ``.../dashboards/dashboards.yml``."""
    return [
        Artifact(PROVISIONING_DIR / "datasources" / "datasources.yml", dump_yaml(datasources_config(model.spec)), KIND),
        Artifact(PROVISIONING_DIR / "dashboards" / "dashboards.yml", dump_yaml(model.dashboard_providers), KIND),
    ]
