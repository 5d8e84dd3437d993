"""Python twins of Prometheus' template functions humanize, humanizePercentage, humanizeDuration.

The generated promtool tests state the exact annotation text an alert renders, so the
expected text must be computed the way Prometheus' Go code formats it (``%.4g``).
"""

from __future__ import annotations

import math

_LARGE = ("k", "M", "G", "T", "P", "E", "Z", "Y")
_SMALL = ("m", "u", "n", "p", "f", "a", "z", "y")


def _g4(value: float) -> str:
    return "%.4g" % value


def humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    prefix = ""
    if abs(value) >= 1:
        for candidate in _LARGE:
            if abs(value) < 1000:
                break
            prefix, value = candidate, value / 1000
        return f"{_g4(value)}{prefix}"
    for candidate in _SMALL:
        if abs(value) >= 1:
            break
        prefix, value = candidate, value * 1000
    return f"{_g4(value)}{prefix}"


def humanize_percentage(value: float) -> str:
    return f"{_g4(value * 100)}%"


def humanize_duration(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return _g4(value)
    if value == 0:
        return f"{_g4(value)}s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        value = abs(value)
        whole = int(value)
        seconds, minutes, hours, days = whole % 60, (whole // 60) % 60, (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(value)}s"
    prefix = ""
    for candidate in _SMALL:
        if abs(value) >= 1:
            break
        prefix, value = candidate, value * 1000
    return f"{_g4(value)}{prefix}s"


# Template function name and Python twin per value format.
VALUE_FORMATS = {
    "percentage": ("humanizePercentage", humanize_percentage),
    "duration": ("humanizeDuration", humanize_duration),
    "number": ("humanize", humanize),
}
