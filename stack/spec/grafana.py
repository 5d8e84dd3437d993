"""Grafana settings of the spec: where users open Grafana (dashboard links in alerts), its folder,
where Grafana reaches its datasources, where the logs live, and the dashboard lint's exclusions."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from .base import HttpUrl, StrictModel

_FOLDER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$")


def _folder(value: str) -> str:
    # The folder is a directory of the generated tree (Grafana's foldersFromFilesStructure reads it).
    if not _FOLDER_RE.match(value) or value.strip(".") == "":
        raise ValueError(f"'{value}' is not a folder name: use letters, digits, spaces, '.', '-' or '_' (no '/')")
    return value


FolderName = Annotated[str, AfterValidator(_folder)]


class GrafanaSettings(StrictModel):
    """Grafana as users reach it: alert annotations link to dashboards under this URL."""

    url: HttpUrl = Field("http://localhost:3000", description="Base URL users open Grafana at (dashboard links).")
    folder: FolderName = Field(
        "obstack", description="Grafana folder holding the generated dashboards (grafana/dashboards/<folder>/)."
    )
    prometheus_url: HttpUrl = Field(
        "http://prometheus:9090", description="Where Grafana's server reaches Prometheus (the Prometheus datasource)."
    )
    alertmanager_url: HttpUrl = Field(
        "http://alertmanager:9093", description="Where Grafana's server reaches Alertmanager (the Alertmanager datasource)."
    )
    jaeger_url: HttpUrl = Field(
        "http://jaeger:16686", description="Where Grafana's server reaches Jaeger's query API (when tracing is enabled)."
    )
    elasticsearch_url: HttpUrl = Field(
        "http://elasticsearch:9200", description="Where Grafana's server reaches Elasticsearch (when logs are enabled)."
    )
    logs_index: str = Field(
        "logs-*", description="Index pattern of the log documents Logstash writes (Logstash's data streams: logs-*)."
    )
    logs_service_field: str = Field(
        "service.name", description="Log document field naming the service (ECS: service.name); log panels filter on it."
    )
    extra_dashboards_dir: str | None = Field(
        None,
        description="Folder (relative to the spec) of dashboard JSON files of your own: each *.json is provisioned "
                    "beside the generated dashboards (in the same Grafana folder, named by its uid) and run "
                    "through the dashboard lint. Their uids must differ from the generated ones.",
    )
    lint_exclusions: str | None = Field(
        None,
        description="YAML file (relative to the spec) of dashboard lint exclusions; every entry needs a rule and a reason, "
                    "and may narrow it to a dashboard (dashboard, a uid) and a panel (panel, a title), each a name or glob.",
    )
