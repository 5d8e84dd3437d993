"""docs/spec-reference.md, rendered from the model itself so the docs cannot drift from the code.

Run ``python -m obstack.stack.spec.reference > docs/spec-reference.md`` (``make docs``); a test
fails when the checked-in file differs.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from .model import Spec
from .values import Duration, Ratio, Version

_SIMPLE_TYPES: dict[Any, str] = {
    str: "string", int: "integer", float: "number", bool: "boolean",
    Duration: "duration", Ratio: "percentage", Version: "version",
}
# Constrained string types, recognised by their validator's function name.
_VALIDATOR_TYPES = {
    "_name": "name", "_queue_name": "queue name", "_label_name": "label name", "_metric_name": "metric name",
    "_env_name": "env var name", "_target": "host:port", "_absolute_path": "absolute path",
    "_secret_file": "absolute path (secret file)", "_re2_regex": "RE2 regex", "_url_path": "URL path",
    "_http_url": "http(s) URL", "_email": "e-mail", "_smarthost": "host:port",
    "_counter_selector": "counter selector (PromQL)",
}


def _type_name(annotation: Any, metadata: list[Any] = ()) -> str:  # type: ignore[assignment]
    for item in metadata:
        function = getattr(item, "func", None)
        if function is not None and function.__name__ in _VALIDATOR_TYPES:
            return _VALIDATOR_TYPES[function.__name__]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0], list(args[1:]))
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        members = [a for a in args if a is not type(None)]
        if all(isinstance(a, type) and issubclass(a, BaseModel) for a in members) and len(members) > 1:
            return "entry"
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return _SIMPLE_TYPES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    if name in getattr(model, "derived_fields", ()):
        return "derived"
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return "the plan's (see the default spec)"
    if value is None:
        return "null"
    if isinstance(value, (Duration, Ratio, Version)):
        return f"`{value}`"
    text = json.dumps(to_jsonable_python(value), separators=(", ", ": "))
    return f"`{text}`" if len(text) <= 80 else "see the default spec"


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """The mapping types inside an annotation (through lists, unions and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_of(arg)]


def spec_rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str, str]]:
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}{key}"
        yield path, _type_name(field.annotation, field.metadata), _default(model, name, field), _describe(field)
        origin = typing.get_origin(field.annotation)
        entry = f"{path}[]" if origin in (list, tuple) else f"{path}.<name>" if origin is dict else path
        for sub in _models_of(field.annotation):
            nested.append((entry, sub))
    for path, sub in nested:
        variant = _variant(sub)
        yield from spec_rows(sub, f"{path}{variant}.")


def _describe(field: FieldInfo) -> str:
    if field.description:
        return field.description
    models = _models_of(field.annotation)
    return (models[0].__doc__ or "").strip().splitlines()[0] if models and models[0].__doc__ else ""


def _variant(model: type[BaseModel]) -> str:
    for tag in ("kind", "type"):
        field = model.model_fields.get(tag)
        if field is not None and typing.get_origin(field.annotation) is typing.Literal and len(typing.get_args(field.annotation)) == 1:
            return f"({tag}={typing.get_args(field.annotation)[0]})"
    return ""


def render_reference() -> str:
    lines = [
        "# Spec reference",
        "",
        "Every key of `stack.yaml`, its type and default. Generated from the model by",
        "`make docs`; `obstack schema` prints the same as JSON Schema.",
        "",
        "Types: *duration* is a Prometheus duration (`30s`, `5m`, `1h30m`, `500ms`); *percentage* is",
        "`'5%'` or a fraction `0.05`; *version* is a quoted `'2.42'`; *name* is 1-63 lower-case",
        "letters, digits, `-`, `_`. *derived* defaults are computed from other keys (see the",
        "description). `services[](kind=...)` marks the keys of one variant of a list entry.",
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
    ]
    for path, type_name, default, description in spec_rows(Spec, ""):
        cells = (f"`{path}`", type_name, default, description)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
