"""Annotation text written once, rendered twice: as a Go template for Prometheus, and as the
exact string Prometheus will produce, for the generated promtool tests.

Placeholders: ``{value}`` is the alert's value, humanized per the rule's value format;
``{name}`` is the alert's label ``name``; ``{probe_reason}`` is the bounded reason of the exporter's
last failed probe of the alert's subject, read from ``obstack_probe_failure`` when Prometheus
renders the annotation (a label would restart the alert's ``for`` whenever the reason changes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from obstack.alerts.humanize import VALUE_FORMATS

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
PROBE_REASON = "probe_reason"
# What {probe_reason} says when the exporter reported no reason series for the failed probe.
UNKNOWN_REASON = "unknown"
_GO_ACTION = re.compile(r'\{\{ with printf "obstack_probe_failure.*?\{\{ end \}\}|'
                        r"\{\{ \$(?:labels\.([a-z_]+)|value \| \w+) \}\}")


def probe_reason_template(kind: str, label: str) -> str:
    """Go template: the reason label of the exporter's failure series for the probe of ``kind`` whose
    target is the alert's label ``label`` (%q quotes the value for PromQL)."""
    query = 'printf "obstack_probe_failure{kind=\\"%s\\", target=%%q}" $labels.%s' % (kind, label)
    return "{{ with %s | query }}{{ . | first | label \"reason\" }}{{ else }}%s{{ end }}" % (query, UNKNOWN_REASON)


def go_template(text: str, value_format: str, probe: tuple[str, str] | None = None) -> str:
    """``text`` as a Prometheus annotation template; ``probe`` = (kind, label) for {probe_reason}."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "value":
            return "{{ $value | %s }}" % VALUE_FORMATS[value_format][0]
        if name == PROBE_REASON:
            if probe is None:
                raise ValueError("{probe_reason} needs the probe's kind and subject label")
            return probe_reason_template(*probe)
        return "{{ $labels.%s }}" % name

    return _PLACEHOLDER.sub(replace, text)


def source_text(template: str) -> str:
    """A template made by ``go_template`` turned back into its placeholder text."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0).startswith("{{ with"):
            return "{" + PROBE_REASON + "}"
        return "{" + (match.group(1) or "value") + "}"

    return _GO_ACTION.sub(replace, template)


def rendered(text: str, labels: Mapping[str, str], value: float, value_format: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "value":
            return VALUE_FORMATS[value_format][1](value)
        return labels.get(name, "<no value>")

    return _PLACEHOLDER.sub(replace, text)


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text)) - {"value", PROBE_REASON}
