"""Settings of the obstack exporter: where Prometheus scrapes it and where it listens."""

from __future__ import annotations

from pydantic import Field

from .base import NonEmptyTargets, StrictModel, Target


class Exporter(StrictModel):
    """The obstack exporter that probes datastores, queues and health URLs."""

    targets: NonEmptyTargets = Field(
        default_factory=lambda: ["obstack-exporter:9477"], description="Where Prometheus scrapes the obstack exporter."
    )
    listen: Target = Field("127.0.0.1:9477", description="Address the exporter listens on.")
