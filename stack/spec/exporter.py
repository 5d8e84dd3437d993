"""Settings of the obstack exporter: where Prometheus scrapes it, where it listens, its deadlines."""

from __future__ import annotations

from pydantic import Field

from .base import AbsolutePath, NonEmptyTargets, StrictModel, Target
from .values import Duration


class Exporter(StrictModel):
    """The obstack exporter that probes datastores, queues and health URLs."""

    targets: NonEmptyTargets = Field(
        default_factory=lambda: ["obstack-exporter:9477"], description="Where Prometheus scrapes the obstack exporter."
    )
    listen: Target = Field("127.0.0.1:9477", description="Address the exporter listens on.")
    scrape_timeout_offset: Duration = Field(
        Duration.parse("500ms"),
        description="Probes must finish this long before Prometheus' scrape timeout (X-Prometheus-Scrape-Timeout-Seconds), "
                    "leaving time to render and send the answer.",
    )
    default_timeout: Duration = Field(
        Duration.parse("10s"), description="Probe deadline for requests without a scrape-timeout header (/health, curl)."
    )
    idle_timeout: Duration = Field(
        Duration.parse("30s"),
        description="A client connection that sends nothing for this long (an idle keep-alive connection, a request "
                    "sent slowly) is closed; Prometheus reconnects on its next scrape. 0s: never.",
    )
    web_config_file: AbsolutePath | None = Field(
        None,
        description="exporter-toolkit web config (tls_server_config, basic_auth_users with bcrypt hashes) "
                    "for TLS and basic auth; `obstack exporter --web-config` overrides it.",
    )
