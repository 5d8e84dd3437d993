"""The spec's optional ``deploy`` section: where `obstack deploy` and `obstack drill` reach the stack.

Every field may also be given on the command line (which wins). Secrets never live here: the
Grafana token comes from ``GRAFANA_TOKEN`` or the file ``grafana.token_file`` names.
"""

from __future__ import annotations

from pydantic import Field

from .base import HttpUrl, SecretFile, StrictModel
from .values import Duration


class PrometheusDeploy(StrictModel):
    """The Prometheus that loads the generated rule files."""

    url: HttpUrl | None = Field(None, description="Prometheus base URL (started with --web.enable-lifecycle).")
    rules_dir: str | None = Field(
        None, description="Directory Prometheus loads rule files from (its rule_files glob); obstack writes only its own files there."
    )


class AlertmanagerDeploy(StrictModel):
    """The Alertmanager that loads the generated config and templates."""

    url: HttpUrl | None = Field(None, description="Alertmanager base URL.")
    config_path: str | None = Field(
        None, description="Path of the config file Alertmanager loads (--config.file); templates go beside it in templates/."
    )


class GrafanaDeploy(StrictModel):
    """The Grafana that receives the generated dashboards and datasources."""

    url: HttpUrl | None = Field(None, description="Grafana base URL for the HTTP API.")
    token_file: SecretFile | None = Field(
        None, description="File holding a Grafana service-account token (else the GRAFANA_TOKEN environment variable)."
    )


class DeployTimeouts(StrictModel):
    """How long deploy waits for servers, and how often it retries."""

    request: Duration = Field(
        Duration.parse("10s"), description="Total time of each HTTP request attempt (connect, headers and body, not per read)."
    )
    retries: int = Field(3, ge=0, le=10, description="Retries of a request after a connection error or a 5xx answer (exponential backoff with jitter).")
    verify: Duration = Field(
        Duration.parse("60s"), description="How long to wait for a reloaded server to serve and evaluate the new files."
    )
    deploy: Duration = Field(
        Duration.parse("5m"),
        description="Total time of one deploy from the first server check to the last verification; past it the "
        "deploy fails and rolls back (the rollback gets as long again).",
    )


class DeploySettings(StrictModel):
    """Deploy targets, the audit log and timeouts (all optional; the command line overrides each)."""

    prometheus: PrometheusDeploy = Field(default_factory=PrometheusDeploy)
    alertmanager: AlertmanagerDeploy = Field(default_factory=AlertmanagerDeploy)
    grafana: GrafanaDeploy = Field(default_factory=GrafanaDeploy)
    audit_log: str = Field(".obstack/deploy-audit.jsonl", description="JSON-lines audit trail, one line per deploy.")
    timeouts: DeployTimeouts = Field(default_factory=DeployTimeouts)
