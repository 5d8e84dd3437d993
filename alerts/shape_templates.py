"""A service's rules built once per shape and renamed for every other service of it.

A fleet's services mostly differ in their names alone: at a thousand services, building each
one's SLO rules (54 rules, a scenario builder for every alert) was a quarter of generation. So
the rules are built once for a stand-in: the service with its name replaced by ``STAND_IN`` in
every field of its spec entry (its job, targets, health URL). Every service whose entry is the
stand-in's with ``STAND_IN`` replaced by its own name gets the stand-in's rules with the same
replacement in every string they hold, and scenario builders that make the replacement in
what they build.

That equals building them for the service itself when the builder uses the name only by
writing it into text, never by its length, its letters or its place among other names: true of
the rule builders this serves (``slo_rules``), and held by tests/test_shape_templates.py, which
generates fleets of awkward names both ways and compares every artifact. A service whose
entry holds the stand-in's word, whose name a number's characters could spell, whose renamed
entry the spec refuses, or whose stand-in the builder fails on (its error then names the
service) is built on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

from obstack.alerts.renamed_files import spelt_like_a_number
from obstack.stack.spec.model import Service
from obstack.stack.spec.values import Duration

STAND_IN = "obstackshapestandin"  # no rule builder's own text holds it
_KEPT = (int, float, Decimal, bool, type(None), Duration)

Renamer = Callable[[str], Any]


def renamer(value: Any, old: str) -> Renamer | None:
    """A function from a name to ``value`` (plain data or the rule model's frozen dataclasses) with
    ``old`` replaced by that name in every string, scenario builders replacing it in what they
    build; None where ``value`` holds no ``old`` (it is shared as it is). Worked out once per
    template, so renaming touches only what holds the name."""
    if isinstance(value, str):
        if old not in value:
            return None
        parts = value.split(old)
        return parts[0].__add__ if len(parts) == 2 and not parts[1] else lambda new: new.join(parts)
    if isinstance(value, _KEPT):
        return None
    if isinstance(value, (tuple, list)):
        return _sequence_renamer(value, old)
    if isinstance(value, dict):
        pairs = [(renamer(key, old), renamer(item, old), key, item) for key, item in value.items()]
        if not any(key or item for key, item, _, _ in pairs):
            return None
        return lambda new: {(key(new) if key else k): (item(new) if item else v) for key, item, k, v in pairs}
    if dataclasses.is_dataclass(value):
        fields = {name: getattr(value, name) for name in _field_names(type(value))}
        changed = [(name, each) for name, item in fields.items() if (each := renamer(item, old)) is not None]
        if not changed:
            return None
        cls = type(value)

        def rebuilt(new: str) -> Any:
            copy = object.__new__(cls)  # frozen: its fields set as dataclasses' own __init__ sets them
            copy.__dict__.update(fields)
            copy.__dict__.update({name: each(new) for name, each in changed})
            return copy
        return rebuilt
    if callable(value):
        return lambda new: _Renaming(value, old, new)
    raise TypeError(f"cannot rename a {type(value).__name__}")


def _sequence_renamer(items: tuple[Any, ...] | list[Any], old: str) -> Renamer | None:
    changed = [(index, each) for index, item in enumerate(items) if (each := renamer(item, old)) is not None]
    if not changed:
        return None
    kind = type(items)

    def rebuilt(new: str) -> Any:
        copy = list(items)
        for index, each in changed:
            copy[index] = each(new)
        return kind(copy)
    return rebuilt


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


@dataclasses.dataclass(frozen=True)
class _Renaming:
    """A scenario builder of the stand-in, renaming what it builds."""

    build: Callable[..., Any]
    old: str
    new: str

    def __call__(self, *args: Any) -> Any:
        rename = renamer(result := self.build(*args), self.old)
        return result if rename is None else rename(self.new)


def _shape(service: Service) -> str | None:
    """The service's spec entry as JSON with its name replaced by ``STAND_IN``; None when it must be
    built on its own. A name a number's characters could spell could sit in a JSON number. A name
    after an escaped backslash is an ordinary occurrence; one overlapping an escape (``\\n``
    before a name starting with n, the digits of ``\\u001b``) leaves ``\\o`` or ``\\u00o``, no
    escape at all, since ``STAND_IN`` starts with a letter that is neither an escape's nor a hex
    digit: the JSON is refused (``ShapeTemplates``), never read as something else."""
    name = service.name
    if spelt_like_a_number(name):
        return None
    entry = service.model_dump_json()
    return None if STAND_IN in entry else entry.replace(name, STAND_IN)


class ShapeTemplates:
    """``build(service)`` once per shape, for its stand-in; the other services of it get that
    result renamed."""

    def __init__(self, build: Callable[[Service], Any]) -> None:
        self.build = build
        # shape -> the stand-in's result under a service's name; None: each builds on its own
        self.templates: dict[str, Renamer | None] = {}

    def __call__(self, service: Service) -> Any:
        shape = _shape(service)
        if shape is None:
            return self.build(service)
        if shape not in self.templates:
            try:
                built = self.build(Service.model_validate_json(shape))
            except Exception:  # noqa: BLE001 - refused (a name inside a keyword) or failing: built on its own,
                self.templates[shape] = None  # so that an error names the service, not the stand-in
                return self.build(service)
            self.templates[shape] = renamer(built, STAND_IN) or (lambda _name: built)
        template = self.templates[shape]
        return self.build(service) if template is None else template(service.name)
