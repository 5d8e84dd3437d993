"""Block YAML of plain data (dicts, lists, strings, numbers, booleans, None), byte for byte as
PyYAML's libyaml emitter writes it with obstack's settings (``foundation.artifacts.dump_yaml``), without
PyYAML's Python representer.

That representer builds a node per value and asks the resolver about every string; at a thousand
services it took 40% of generation (a million strings in the rule files and their PrometheusRule
copies). Here the structure is written directly and each distinct scalar is rendered once by
libyaml itself (cached), so the quoting rules stay libyaml's; only the layout (indentation,
indentless sequences under keys, literal blocks, folding at the line width) is reproduced.
``BlockYaml`` returns None for anything outside what it reproduces exactly (a key that is not a
short one-line string, a double-quoted scalar that would fold, a block scalar needing an
indentation or keep indicator, characters outside printable ASCII in multi-line text); the caller
then takes PyYAML. tests/test_yaml_text.py holds the equality on random documents and on every
YAML file of the golden tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

WIDTH = 120  # the emitter's best_width (dump_yaml's width)
_MAX_KEY = 100  # libyaml writes keys over 128 characters as complex keys ("? ")
_SAFE_BLOCK_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\n"}


class _Unsupported(Exception):
    """Outside the layouts reproduced here: PyYAML writes the document."""


class BlockYaml:
    """``BlockYaml(render)(data)``: ``data`` as block YAML, or None when PyYAML must write it.
    ``render``: PyYAML's text of a one-element list (``- <scalar>\\n``), which decides each
    scalar's style; each distinct scalar is rendered once (up to a bound, then again)."""

    CACHE_LIMIT = 1 << 17

    def __init__(self, render: Callable[[object], str]) -> None:
        self.render = render
        self.texts: dict[tuple[type, object], str] = {}

    def __call__(self, data: object) -> str | None:
        if not isinstance(data, (dict, list)) or not data:
            return None
        if len(self.texts) > self.CACHE_LIMIT:
            self.texts.clear()
        writer = _Writer(self.scalar_text)
        try:
            if isinstance(data, dict):
                writer.mapping(data, 0, "")
            else:
                writer.sequence(data, 0, "")
        except _Unsupported:
            return None
        return "".join(writer.out)

    def scalar_text(self, value: object) -> str:
        key = (type(value), value)  # the type: True and 1 are equal keys, not equal text
        text = self.texts.get(key)
        if text is None:
            rendered = self.render(value)
            if not rendered.startswith("- ") or rendered.count("\n") != 1:
                raise _Unsupported
            text = self.texts[key] = rendered[2:-1]
        return text


class _Writer:
    def __init__(self, scalar_text: Callable[[object], str]) -> None:
        self.out: list[str] = []
        self.scalar_text = scalar_text
        self.keys: dict[object, str] = {}

    def mapping(self, mapping: dict[Any, Any], indent: int, lead: str) -> None:
        """Keys at column ``indent``; the first one after ``lead`` (a sequence item's "- ")."""
        pad = " " * indent
        out = self.out
        for key, value in mapping.items():
            head = (lead or pad) + (self.keys.get(key) or self.key_text(key)) + ":"
            lead = ""
            if value and isinstance(value, dict):
                out.append(head + "\n")
                self.mapping(value, indent + 2, "")
            elif value and isinstance(value, list):
                out.append(head + "\n")
                self.sequence(value, indent, "")  # indentless, as libyaml writes a key's list
            else:
                self.scalar(value, head + " ", indent + 2)

    def sequence(self, items: list[Any], indent: int, lead: str) -> None:
        pad = " " * indent
        for item in items:
            dash = (lead or pad) + "- "
            lead = ""
            if item and isinstance(item, dict):
                self.mapping(item, indent + 2, dash)
            elif item and isinstance(item, list):
                self.sequence(item, indent + 2, dash)
            else:
                self.scalar(item, dash, indent + 2)

    def key_text(self, key: object) -> str:
        if not isinstance(key, str) or "\n" in key or len(key) > _MAX_KEY:
            raise _Unsupported
        text = self.scalar_text(key)
        if text.startswith('"'):
            raise _Unsupported
        self.keys[key] = text
        return text

    def scalar(self, value: object, head: str, indent: int) -> None:
        """``value`` after ``head`` on its line; a folded or block continuation at ``indent``."""
        if value.__class__ is str:
            if "\n" in value:  # type: ignore[operator]
                self.out.append(head + _literal(value, indent))  # type: ignore[arg-type]
                return
        elif isinstance(value, (dict, list)):
            self.out.append(head + ("{}" if isinstance(value, dict) else "[]") + "\n")
            return
        elif not isinstance(value, (int, float)) and value is not None:
            raise _Unsupported
        text = self.scalar_text(value)
        if len(head) + len(text) > WIDTH and value.__class__ is str:
            text = _folded(value, text, len(head), indent)  # type: ignore[arg-type]
        self.out.append(head + text + "\n")


def _literal(value: str, indent: int) -> str:
    """A literal block (``|`` or ``|-``) with its lines at ``indent``, as libyaml writes it."""
    if (not _SAFE_BLOCK_CHARS.issuperset(value) or value.startswith((" ", "\n")) or value.endswith((" ", "\n\n"))
            or " \n" in value):
        raise _Unsupported  # double-quoted, or a block needing an indentation or keep indicator
    body = value[:-1] if value.endswith("\n") else value
    pad = " " * indent
    lines = "\n".join(pad + line if line else "" for line in body.split("\n"))
    return ("|\n" if value.endswith("\n") else "|-\n") + lines + "\n"


def _folded(value: str, text: str, column: int, indent: int) -> str:
    """A plain or single-quoted scalar broken at spaces past the width, as libyaml's
    write_plain and write_single_quoted do (a break only at a lone space, never at the first or
    last character of a quoted one); a double-quoted one is left to PyYAML. Walks runs of spaces
    and of other characters, not characters: the rule files of a thousand services fold a few
    hundred thousand lines."""
    if text.startswith('"'):
        raise _Unsupported
    quoted = text.startswith("'")
    parts = ["'"] if quoted else []
    column += 1 if quoted else 0
    last = len(value) - 1
    for run in _RUNS.finditer(value):
        token, start = run.group(), run.start()
        if token[0] == " ":
            if len(token) == 1 and column > WIDTH and (not quoted or 0 < start < last):
                parts.append("\n" + " " * indent)
                column = indent
                continue
        elif quoted and "'" in token:
            token = token.replace("'", "''")
        parts.append(token)
        column += len(token)
    if quoted:
        parts.append("'")
    return "".join(parts)


_RUNS = re.compile(r" +|[^ ]+")
