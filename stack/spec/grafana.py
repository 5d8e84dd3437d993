"""Grafana settings of the spec: where users open Grafana (dashboard links in alerts) and its folder."""

from __future__ import annotations

from pydantic import Field

from .base import HttpUrl, StrictModel


class GrafanaSettings(StrictModel):
    """Grafana as users reach it: alert annotations link to dashboards under this URL."""

    url: HttpUrl = Field("http://localhost:3000", description="Base URL users open Grafana at (dashboard links).")
    folder: str = Field("obstack", description="Grafana folder holding the generated dashboards.")
