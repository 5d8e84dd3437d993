"""Annotation text written once, rendered twice: as a Go template for Prometheus, and as the
exact string Prometheus will produce, for the generated promtool tests.

Placeholders: ``{value}`` is the alert's value, humanized per the rule's value format;
``{name}`` is the alert's label ``name``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from alerts.humanize import VALUE_FORMATS

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def go_template(text: str, value_format: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "value":
            return "{{ $value | %s }}" % VALUE_FORMATS[value_format][0]
        return "{{ $labels.%s }}" % name

    return _PLACEHOLDER.sub(replace, text)


def rendered(text: str, labels: Mapping[str, str], value: float, value_format: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "value":
            return VALUE_FORMATS[value_format][1](value)
        return labels.get(name, "<no value>")

    return _PLACEHOLDER.sub(replace, text)


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text)) - {"value"}
