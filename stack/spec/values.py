"""Value types of the spec: Prometheus durations, ratios written as percentages, versions.

Each type parses the user's text once, keeps an exact value (integer milliseconds,
Decimal ratio) and renders back canonically, so a threshold flows unchanged from the
spec to every artifact (``5%`` stays ``0.05``, never ``0.05000000000000001``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

# Unit table of Prometheus' duration format, largest first (as model.Duration prints it).
_DURATION_UNITS: tuple[tuple[str, int], ...] = (
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
)
_DURATION_PATTERN = r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$"
_DURATION_RE = re.compile(_DURATION_PATTERN)
_MAX_DURATION_MS = 2**63  # Prometheus keeps durations in int64 milliseconds
_DURATION_PART_RE = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")


def _core_schema_for(parse: Any) -> core_schema.CoreSchema:
    return core_schema.no_info_plain_validator_function(
        parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
    )


class _SpecValue:
    """A spec value pydantic validates with the class's own ``parse`` and writes as its text;
    ``JSON_SCHEMA`` is what the spec's JSON schema says of it."""

    JSON_SCHEMA: ClassVar[dict[str, Any]]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return _core_schema_for(cls.parse)  # type: ignore[attr-defined]

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return dict(cls.JSON_SCHEMA)


@dataclass(frozen=True, order=True)
class Duration(_SpecValue):
    """A Prometheus duration such as ``30s``, ``1h30m`` or ``500ms``."""

    JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "string", "pattern": _DURATION_PATTERN.replace("^(", "^(?=.)("), "examples": ["30s", "5m", "1h30m"],
    }

    milliseconds: int

    @classmethod
    def parse(cls, value: Any) -> Duration:
        if isinstance(value, Duration):
            return value
        if isinstance(value, bool) or not isinstance(value, str):
            raise ValueError(
                f"a duration must be a string with a unit, such as '30s', '5m' or '500ms' (got {value!r})"
            )
        text = value.strip()
        if not text or not _DURATION_RE.match(text):
            raise ValueError(
                f"'{value}' is not a duration; use Prometheus units in order y, w, d, h, m, s, ms "
                "(e.g. '30s', '1h30m', '500ms')"
            )
        unit_ms = dict(_DURATION_UNITS)
        total = sum(int(n) * unit_ms[u] for n, u in _DURATION_PART_RE.findall(text))
        if total >= _MAX_DURATION_MS:
            raise ValueError(f"'{value}' is too long; Prometheus durations end at about 292 years")
        return cls(total)

    @classmethod
    def of_seconds(cls, seconds: float) -> Duration:
        return cls(round(seconds * 1000))

    @property
    def seconds(self) -> float:
        return self.milliseconds / 1000

    def __str__(self) -> str:
        return _duration_text(self.milliseconds)


@lru_cache(maxsize=4096)
def _duration_text(milliseconds: int) -> str:
    """Prometheus's duration text (generation writes a few hundred distinct ones a million times)."""
    if milliseconds == 0:
        return "0s"
    parts, rest = [], milliseconds
    for unit, size in _DURATION_UNITS:
        if unit in ("y", "w") and rest % size:
            continue  # 30d reads better than 4w2d; Prometheus parses both
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)



_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True, order=True)
class Ratio(_SpecValue):
    """A fraction in [0, 1], written ``'5%'`` or ``0.05`` in the spec."""

    JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"},
            {"type": "number", "minimum": 0, "maximum": 1},
        ],
        "examples": ["5%", "99.9%", 0.05],
    }

    value: Decimal

    @classmethod
    def parse(cls, value: Any) -> Ratio:
        if isinstance(value, Ratio):
            return value
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a percentage; write e.g. '5%' or 0.05")
        if isinstance(value, str):
            match = _PERCENT_RE.match(value)
            if not match:
                raise ValueError(f"'{value}' is not a percentage; write e.g. '5%' or 0.05")
            ratio = Decimal(match.group(1)) / 100
        elif isinstance(value, (int, float)):
            try:
                ratio = Decimal(str(value))
            except InvalidOperation:  # nan, inf
                raise ValueError(f"{value!r} is not a percentage; write e.g. '5%' or 0.05") from None
        else:
            raise ValueError(f"{value!r} is not a percentage; write e.g. '5%' or 0.05")
        if not ratio.is_finite() or not Decimal(0) <= ratio <= Decimal(1):
            hint = f"; did you mean '{value}%'?" if isinstance(value, (int, float)) and 1 < value <= 100 else ""
            raise ValueError(f"{value!r} is outside 0%..100% (a bare number is a fraction: 0.05 = 5%){hint}")
        return cls(_clean(ratio))

    @classmethod
    def of(cls, text: str) -> Ratio:
        return cls.parse(text)

    @property
    def percent(self) -> str:
        """The value as a percentage string without trailing zeros: ``'99.9%'``."""
        return f"{_plain(self.value * 100)}%"

    def decimal_text(self) -> str:
        """The value as a clean decimal for PromQL: ``'0.001'``."""
        return _plain(self.value)

    def __str__(self) -> str:
        return self.percent



# PM2's max_memory_restart (pm2 lib/API/schema.json and lib/tools/Config.js, 7.0.4): a number of
# bytes, or digits with K, M or G, each a power of 1024.
_BYTE_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}
_BYTE_SIZE_RE = re.compile(r"^(\d+)([KMG])?$")


@dataclass(frozen=True, order=True)
class ByteSize(_SpecValue):
    """A memory size in PM2's notation: ``500M``, ``1G``, ``512K`` (powers of 1024) or bytes."""

    JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "anyOf": [{"type": "string", "pattern": r"^\d+[KMG]?$"}, {"type": "integer", "minimum": 1}],
        "examples": ["500M", "1G"],
    }

    bytes: int

    @classmethod
    def parse(cls, value: Any) -> ByteSize:
        if isinstance(value, ByteSize):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return cls(value)
        match = _BYTE_SIZE_RE.match(value.strip()) if isinstance(value, str) else None
        if match is None or int(match.group(1)) == 0:
            raise ValueError(f"'{value}' is not a memory size; write it as PM2 does: digits with K, M or G "
                             "(powers of 1024), e.g. '500M', or a number of bytes")
        return cls(int(match.group(1)) * _BYTE_UNITS.get(match.group(2) or "", 1))

    def __str__(self) -> str:
        for unit in ("G", "M", "K"):
            if self.bytes % _BYTE_UNITS[unit] == 0:
                return f"{self.bytes // _BYTE_UNITS[unit]}{unit}"
        return str(self.bytes)



def _clean(number: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation."""
    normalized = number.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral() else normalized


def _plain(number: Decimal) -> str:
    return format(_clean(number), "f")


_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True, order=True)
class Version(_SpecValue):
    """A release version such as ``2.42`` or ``0.25.0`` (patch optional)."""

    JSON_SCHEMA: ClassVar[dict[str, Any]] = {"type": "string", "pattern": r"^v?\d+\.\d+(\.\d+)?$",
                                             "examples": ["2.42", "0.25.0"]}

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, value: Any) -> Version:
        if isinstance(value, Version):
            return value
        # A bare YAML number is refused: 2.40 would silently read as 2.4.
        match = _VERSION_RE.match(value.strip()) if isinstance(value, str) else None
        if not match:
            raise ValueError(f"{value!r} is not a version; write it as a quoted string like '2.42' or '2.42.0'")
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (f".{self.patch}" if self.patch else "")
