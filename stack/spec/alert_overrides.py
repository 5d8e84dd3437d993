"""Per-alert overrides and labels added to every alert (top-level ``alerts`` and ``alert_labels``).

The alert names, and which labels an alert already carries, are the alerting layer's; the
checks that need them are in ``alerts.overrides``, run with the spec's cross-reference checks.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from .base import LabelName, StrictModel
from .notifications import AlertSeverity
from .values import Duration


def _annotation_name(value: str) -> str:
    if not value.isidentifier() or not value.isascii():
        raise ValueError(f"'{value}' is not a valid annotation name (letters, digits and '_')")
    return value


AnnotationName = Annotated[str, AfterValidator(_annotation_name)]


class AlertOverride(StrictModel):
    """Changes to one generated alert, by name (every rule of that name: all its severities and windows)."""

    enabled: bool = Field(True, description="false: the alert is not generated (no rule, no tests, no inhibit rule naming it).")
    severity: AlertSeverity | None = Field(
        None, description="critical, warning or info: the severity label, which routes it (null: the generated one).")
    for_: Duration | None = Field(
        None, alias="for", description="How long the condition must hold before it fires (null: the generated one).")
    labels: dict[LabelName, str] = Field(
        default_factory=dict,
        description="Labels added to the alert; the ones it carries already (severity, its subject, slo, ...) "
                    "cannot be replaced.")
    annotations: dict[AnnotationName, str] = Field(
        default_factory=dict,
        description="Annotations set or added (summary, description, runbook_url, dashboard_url or new ones); "
                    "{value} is the alert's value and {label} one of its labels, as in the generated texts.")
