"""The spec's optional ``deploy`` section: where `obstack deploy` and `obstack drill` reach the stack.

Every field may also be given on the command line (which wins). Secrets never live here: the
Grafana token comes from ``GRAFANA_TOKEN`` or the file ``grafana.token_file`` names, the ruler's
from ``RULER_TOKEN`` or ``ruler.token_file``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from .base import HttpUrl, SecretFile, StrictModel
from .values import Duration

# Mimir's tenant IDs: at most 150 of these characters, neither "." nor "..".
_TENANT_RE = re.compile(r"^[A-Za-z0-9!._*'()-]{1,150}$")
_NAMESPACE_RE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,255}$")


def tenant_id(value: str) -> str:
    if not _TENANT_RE.match(value) or value in (".", ".."):
        raise ValueError(f"'{value}' is not a ruler tenant ID (X-Scope-OrgID): use at most 150 letters, digits "
                         "or ! - _ . * ' ( )")
    return value


def ruler_namespace(value: str) -> str:
    if not _NAMESPACE_RE.match(value) or value in (".", ".."):
        raise ValueError(f"{value!r} is not a ruler namespace: use 1-255 characters without spaces or control characters")
    return value


TenantId = Annotated[str, AfterValidator(tenant_id)]
RulerNamespace = Annotated[str, AfterValidator(ruler_namespace)]


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


class RulerDeploy(StrictModel):
    """A Mimir/Cortex-compatible ruler that evaluates rule groups over the global view (its config API)."""

    url: HttpUrl | None = Field(
        None, description="The ruler's Prometheus API prefix, e.g. http://mimir:8080/prometheus (Cortex: .../api/prom)."
    )
    namespace: RulerNamespace | None = Field(
        None, description="Rule namespace obstack writes into (default: obstack-<project>); groups it did not write "
        "there are left alone."
    )
    tenant: TenantId | None = Field(
        None, description="Tenant sent as X-Scope-OrgID (multi-tenant Mimir/Cortex); none: no header."
    )
    token_file: SecretFile | None = Field(
        None, description="File holding a bearer token for the ruler (else the RULER_TOKEN environment variable; "
        "none: no Authorization header)."
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
    ruler: RulerDeploy = Field(default_factory=RulerDeploy)
    audit_log: str | None = Field(None, description="JSON-lines audit trail, one line per deploy. Default: "
                                  "$XDG_STATE_HOME/obstack/deploy-audit.jsonl (~/.local/state/obstack/deploy-audit.jsonl).")
    timeouts: DeployTimeouts = Field(default_factory=DeployTimeouts)
