"""The rule files' YAML, a per-service file written by renaming another of its shape where that
gives the same bytes.

A fleet's ``slo-<service>.yml`` files are one document with the service's name in it
(renamed_files.py): at a thousand services, writing each as YAML was a fifth of generation. A
file whose document is an earlier file's with the name exchanged, the two names of one length, is
that file's text with the name replaced, byte for byte, when the emitter picks the same style for
every scalar holding the name. The argument, for names as the spec allows them (lower-case
letters, digits, '-' and '_', starting and ending with a letter or digit):

- *The documents.* Both are printable ASCII (YAML and JSON then escape the same characters the
  same way), and the compact JSON of the two documents are equal once each one's name is blanked
  (``_Shape``): the second is the first with every occurrence of the name replaced. JSON escapes
  cannot hide an occurrence (none may follow a backslash) and a name cannot sit in a JSON number
  or literal (it must hold a character outside ``[0-9eE.+-]``; ``true`` and the like would need
  the other name in the same place, which json.dumps cannot write), so every string and key of
  the second is the first's with the name replaced.
- *The layout.* Names hold no space, quote, colon, '#', bracket or line break and never begin or
  end with '-': the emitter's analysis of a scalar (indicators, folding points, line breaks) is the
  same with either name, and names of one length fold at the same columns. The emitter quotes a
  plain-looking scalar the resolver reads as something else (``true``, ``123``, ``2024-01-01``):
  that is checked for every scalar holding the name (``_Template.styles_alike``). YAML's own
  characters (indentation, ``- ``, ``: ``, ``|-``, quotes) can hold no occurrence of a name.

Anything else is written by ``dump_yaml`` as before; tests/test_renamed_texts.py holds the
equality against ``dump_yaml`` on fleets of awkward names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from obstack.alerts.renamed_files import document_strings, service_of, spelt_like_a_number
from obstack.foundation.artifacts import dump_yaml

_RESOLVER = yaml.resolver.Resolver()
_RESOLVED_FIRST = frozenset(first for first in _RESOLVER.yaml_implicit_resolvers if first)
_BLANK = "\0"  # json.dumps escapes a NUL in a string: it never stands raw in the JSON


def _tag(scalar: str) -> str:
    """What the resolver reads a plain scalar as: the emitter quotes it unless that is a string."""
    return _RESOLVER.resolve(yaml.ScalarNode, scalar, (True, False))


@dataclass(frozen=True)
class _Shape:
    """A per-service document with its name blanked: two documents of one shape are one renamed."""

    prefix: str  # the file kind: "slo-", "service-"
    length: int  # of the name: names of one length fold alike
    blanked: str  # the document's compact JSON, every occurrence of the name blanked

    @classmethod
    def of(cls, path: PurePosixPath, name: str, body: Mapping[str, Any]) -> _Shape | None:
        """None where the renaming argument does not hold for this name and document."""
        if spelt_like_a_number(name):
            return None
        try:
            canonical = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):  # a file of your own holding a date, say
            return None
        if not canonical.isascii() or "\\u" in canonical or "\\" + name in canonical:
            return None  # YAML escapes what JSON writes raw, or an occurrence could sit inside an escape
        return cls(path.stem[:-len(name)], len(name), canonical.replace(name, _BLANK))


@dataclass(frozen=True)
class _Template:
    """The first file of a shape: its name, its text and the scalars holding the name, blanked,
    with what the resolver reads each as."""

    name: str
    text: str
    named_scalars: tuple[tuple[str, str], ...]  # (scalar with the name blanked, its tag)

    @classmethod
    def of(cls, name: str, text: str, body: Mapping[str, Any]) -> _Template:
        # A scalar whose first character is its own and starts nothing the resolver reads (the
        # resolver looks a scalar up by its first character) reads as a string with any name.
        named = {blanked for scalar in document_strings(body) if name in scalar
                 if (blanked := scalar.replace(name, _BLANK))[0] == _BLANK or blanked[0] in _RESOLVED_FIRST}
        return cls(name, text, tuple((scalar, _tag(scalar.replace(_BLANK, name))) for scalar in sorted(named)))

    def styles_alike(self, name: str) -> bool:
        """Whether every scalar holding the name reads as the same kind with ``name`` in it."""
        return all(_tag(scalar.replace(_BLANK, name)) == tag for scalar, tag in self.named_scalars)

    def renamed(self, name: str) -> str:
        return self.text.replace(self.name, name)


# Templates kept per shape: a name that reads as a boolean or a date in a scalar starts another.
TEMPLATES_PER_SHAPE = 4


def rule_texts(documents: Sequence[tuple[PurePosixPath, Mapping[str, Any]]]) -> dict[PurePosixPath, str]:
    """Each rule file's body as YAML (``dump_yaml``'s bytes), in ``documents`` order."""
    texts: dict[PurePosixPath, str] = {}
    templates: dict[_Shape, list[_Template]] = {}
    for path, body in documents:
        name = service_of(path)
        shape = _Shape.of(path, name, body) if name is not None else None
        if shape is None or name is None:
            texts[path] = dump_yaml(body)
            continue
        alike = templates.setdefault(shape, [])
        template = next((each for each in alike if each.styles_alike(name)), None)
        if template is not None:
            texts[path] = template.renamed(name)
            continue
        texts[path] = dump_yaml(body)
        if len(alike) < TEMPLATES_PER_SHAPE:
            alike.append(_Template.of(name, texts[path], body))
    return texts
