"""Shared building blocks of the spec model: the strict base model and name types."""

from __future__ import annotations

import re
import re._parser as sre_parser  # type: ignore[import-not-found]  # the stdlib's regex parser (3.11+)
from collections.abc import Iterator
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit
from typing import Annotated, Any, ClassVar

import promql_parser
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .errors import one_line

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


# Query parameters that carry a credential (webhook tokens, signed URLs, API keys).
_CREDENTIAL_PARAM_RE = re.compile(
    r"(token|secret|passw(or)?d|pwd|api[_-]?key|apikey|access[_-]?key|auth|sig(nature)?|credential|session|^key$|^code$)",
    re.IGNORECASE,
)
_CREDENTIALS_HINT = ("they would be copied into generated files; keep the secret in a file and use the key's "
                     "*_file alternative (a webhook's bearer_token_file, a Slack receiver's api_url_file)")


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parameters = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    except ValueError:
        raise ValueError("is not an http(s) URL (it does not parse)") from None
    # Never echo the value: the user part of a URL and a token parameter are credentials.
    if "@" in parts.netloc:
        raise ValueError(f"must not carry credentials in the URL (user:password@); {_CREDENTIALS_HINT}")
    secret_parameter = next((name for name in parameters if _CREDENTIAL_PARAM_RE.search(name)), None)
    if secret_parameter is not None:
        raise ValueError(f"must not carry credentials in the URL (query parameter '{secret_parameter}' looks like "
                         f"one; the URL is not shown); {_CREDENTIALS_HINT}")
    if not _HTTP_URL_RE.match(value):
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"'{value}' must be an absolute path (it is read inside the container or host)")
    return value


def _secret_file(value: str) -> str:
    if not value.startswith("/") or any(char.isspace() for char in value) or "://" in value:
        # Never echo the value: people paste the secret itself where its file belongs.
        raise ValueError("must be an absolute path to a file holding the secret, e.g. /run/secrets/name; "
                         "the value given is not one and is not shown (it may be the secret itself)")
    return value


# Perl constructs Python's re has and RE2 (Go's regexp, which Prometheus uses) has not.
_NOT_RE2 = {
    "ASSERT": "a lookaround ((?=...), (?<=...))",
    "ASSERT_NOT": "a lookaround ((?!...), (?<!...))",
    "GROUPREF": "a backreference (\\1, (?P=name))",
    "GROUPREF_EXISTS": "a conditional group ((?(1)...))",
    "ATOMIC_GROUP": "an atomic group ((?>...))",
    "POSSESSIVE_REPEAT": "a possessive quantifier (*+, ++, ?+)",
}


def _opcodes(parsed: Any) -> Iterator[str]:
    for opcode, argument in parsed:
        yield str(opcode)
        for part in argument if isinstance(argument, (tuple, list)) else ():
            if isinstance(part, sre_parser.SubPattern):
                yield from _opcodes(part)
            elif isinstance(part, list):  # BRANCH: (None, [alternatives])
                for alternative in part:
                    if isinstance(alternative, sre_parser.SubPattern):
                        yield from _opcodes(alternative)


def re2_problem(value: str) -> str | None:
    """What keeps ``value`` from being a regex Prometheus can use (it does not parse, or has
    something RE2 lacks), as a sentence about it; None when it is usable."""
    try:
        parsed = sre_parser.parse(value)
    except re.error as error:
        return f"'{value}' is not a valid regex: {error.msg} at position {error.pos}"
    unsupported = next((_NOT_RE2[code] for code in _opcodes(parsed) if code in _NOT_RE2), None)
    if unsupported is None:
        try:  # promql-parser compiles matcher regexes with Rust's regex crate, RE2's syntax
            promql_parser.parse(f"up{{x=~{promql_string(value)}}}")
        except ValueError:
            unsupported = "syntax Go's regexp does not accept"
    if unsupported is not None:
        return f"'{value}' uses {unsupported}; Prometheus regexes are RE2 (Go's regexp): rewrite it without it"
    return None


def _re2_regex(value: str) -> str:
    """A regex Prometheus can use: it parses, and has nothing RE2 lacks."""
    problem = re2_problem(value)
    if problem is not None:
        example = "" if "is not a valid regex" in problem else ", e.g. '5..' or '5[0-9][0-9]'"
        raise ValueError(problem + example)
    return value


@lru_cache(maxsize=1 << 16)  # label values: asked for every selector of every test input, a few thousand distinct
def promql_string(value: str) -> str:
    """``value`` as a PromQL double-quoted string literal (Go's strconv.Unquote reads it back):
    backslash and quote escaped, control characters as escapes (``\\n``: none stands raw in a rule
    file), and a Go template delimiter (``{{``, ``}}``) split by an escape, so that no value puts one
    into a generated file. A label value may hold any text; the value read back is the same."""
    text = one_line(value.replace("\\", "\\\\").replace('"', '\\"'))
    return '"' + text.replace("{{", "{\\x7b").replace("}}", "}\\x7d") + '"'


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
SecretFile = Annotated[str, AfterValidator(_secret_file)]
Re2Regex = Annotated[str, AfterValidator(_re2_regex)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
UrlPath = Annotated[str, AfterValidator(_url_path)]
NonEmptyTargets = Annotated[list[Target], Field(min_length=1)]
