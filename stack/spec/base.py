"""Shared building blocks of the spec model: the strict base model and name types."""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$")
_QUEUE_NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$")
_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_HTTP_URL_RE = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_TARGET_RE = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$")


def _optional_derived_fields(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Fields filled in from other fields before validation are optional to the user."""
    derived = getattr(model, "derived_fields", ())
    if derived and "required" in schema:
        schema["required"] = [name for name in schema["required"] if name not in derived]
        if not schema["required"]:
            del schema["required"]


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must never be silently ignored); values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_optional_derived_fields)
    derived_fields: ClassVar[tuple[str, ...]] = ()


def _name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"'{value}' is not a valid name: use 1-63 lower-case letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    return value


def _queue_name(value: str) -> str:
    if not _QUEUE_NAME_RE.match(value):
        raise ValueError(f"'{value}' is not a valid queue name: use letters, digits, '.', '-' or '_'")
    return value


def _label_name(value: str) -> str:
    if not _LABEL_NAME_RE.match(value) or value.startswith("__"):
        raise ValueError(f"'{value}' is not a valid Prometheus label name")
    return value


def _metric_name(value: str) -> str:
    if not _METRIC_NAME_RE.match(value):
        raise ValueError(f"'{value}' is not a valid Prometheus metric name")
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME_RE.match(value):
        # Never echo the value: people paste the connection string itself here.
        raise ValueError(
            "must name an environment variable (upper-case letters, digits, '_', e.g. BOOKMARK_PG_DSN), "
            "not hold the value itself"
        )
    return value


def _target(value: str) -> str:
    match = _TARGET_RE.match(value)
    if not match or not 0 < int(match.group(3)) < 65536:
        raise ValueError(f"'{value}' is not a scrape target; write host:port, e.g. 'bookmark-api:3001'")
    return value


def _http_url(value: str) -> str:
    if "@" in urlsplit(value).netloc:
        # Never echo the value: the user part of a URL is a credential.
        raise ValueError("must not carry credentials in the URL (they would leak into generated files)")
    if not _HTTP_URL_RE.match(value):
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"'{value}' must be an absolute path (it is read inside the container or host)")
    return value


def _url_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"'{value}' must start with '/'")
    return value


Name = Annotated[str, AfterValidator(_name)]
QueueName = Annotated[str, AfterValidator(_queue_name)]
LabelName = Annotated[str, AfterValidator(_label_name)]
MetricName = Annotated[str, AfterValidator(_metric_name)]
EnvVarName = Annotated[str, AfterValidator(_env_name)]
Target = Annotated[str, AfterValidator(_target)]
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
UrlPath = Annotated[str, AfterValidator(_url_path)]
NonEmptyTargets = Annotated[list[Target], Field(min_length=1)]
