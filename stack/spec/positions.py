"""YAML text -> data plus a map from YAML path to line, built from the parser's events.

PyYAML's safe_load forgets where things were and silently keeps the last of two equal
keys; reading the event stream once gives us both the line of every path and the
duplicate keys, and on a syntax error the path the parser had reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

YamlPath = tuple[str | int, ...]


@dataclass
class _Frame:
    kind: str  # "map" or "seq"
    path: YamlPath
    expecting_key: bool = True
    current_key: str | int = ""
    next_index: int = 0
    keys_seen: set[str] = field(default_factory=set)
    is_key: bool = False


@dataclass(frozen=True)
class YamlProblem:
    path: YamlPath
    line: int
    message: str


@dataclass
class PositionMap:
    """Line (1-based) of every path in the document; missing paths resolve to their nearest ancestor."""

    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line_of(self, path: YamlPath) -> int:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1

    def path_at_line(self, line: int) -> YamlPath:
        """The deepest path that starts on or before ``line``."""
        candidates = [path for path, path_line in self.lines.items() if path_line <= line]
        return max(candidates, key=lambda path: (self.lines[path], len(path)), default=())


class _Walker:
    def __init__(self) -> None:
        self.positions = PositionMap()
        self.problems: list[YamlProblem] = []
        self.stack: list[_Frame] = []

    def current_path(self) -> YamlPath:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if top.kind == "map" and not top.expecting_key:
            return top.path + (top.current_key,)
        return top.path

    def node(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1
        parent = self.stack[-1] if self.stack else None
        is_key = False
        if parent is None:
            path: YamlPath = ()
        elif parent.kind == "seq":
            path = parent.path + (parent.next_index,)
            parent.next_index += 1
        elif parent.expecting_key:
            if isinstance(event, yaml.ScalarEvent):
                self._key(parent, event.value, line)
                return
            path, is_key = parent.path + ("<complex key>",), True
        else:
            path = parent.path + (parent.current_key,)
            parent.expecting_key = True
        self.positions.lines.setdefault(path, line)
        if isinstance(event, yaml.MappingStartEvent):
            self.stack.append(_Frame("map", path, is_key=is_key))
        elif isinstance(event, yaml.SequenceStartEvent):
            self.stack.append(_Frame("seq", path, is_key=is_key))

    def _key(self, frame: _Frame, key: str, line: int) -> None:
        if key in frame.keys_seen and key != "<<":
            self.problems.append(
                YamlProblem(frame.path + (key,), line, f"duplicate key '{key}' (an earlier value would be silently lost)")
            )
        frame.keys_seen.add(key)
        frame.current_key, frame.expecting_key = key, False
        self.positions.lines[frame.path + (key,)] = line

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, _NODE_EVENTS):
            self.node(event)
        elif isinstance(event, _END_EVENTS):
            self.end()

    def end(self) -> None:
        frame = self.stack.pop()
        if frame.is_key and self.stack:
            self.stack[-1].current_key, self.stack[-1].expecting_key = "<complex key>", False


# Deeper than any spec needs; far below where the parser or pydantic would recurse out of stack.
MAX_DEPTH = 64

_NODE_EVENTS = (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)
_END_EVENTS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def parse_yaml(text: str) -> tuple[Any, PositionMap, list[YamlProblem]]:
    """Parse one YAML document. Returns (data, positions, problems); data is None on a syntax error."""
    walker = _Walker()
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            walker.feed(event)
            if isinstance(event, _NODE_EVENTS):
                if len(walker.stack) > MAX_DEPTH:
                    line = event.start_mark.line + 1
                    return None, walker.positions, [YamlProblem(
                        walker.current_path()[:8], line,
                        f"nested more than {MAX_DEPTH} levels deep; a spec is a few levels of mappings and lists")]
    except yaml.MarkedYAMLError as error:
        return None, walker.positions, [_syntax_problem(error, walker.current_path())]
    except yaml.reader.ReaderError as error:  # a character YAML does not allow, e.g. NUL or another control character
        line = text.count("\n", 0, error.position) + 1
        return None, walker.positions, [YamlProblem(
            path_at_line(text.replace(chr(error.character), " "), line), line,
            f"character U+{error.character:04X} is not allowed in YAML text; remove it")]
    if walker.problems:
        return None, walker.positions, walker.problems
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:  # e.g. an unknown tag such as !!python/object
        mark_line = error.problem_mark.line + 1 if error.problem_mark else 1
        return None, walker.positions, [_syntax_problem(error, walker.positions.path_at_line(mark_line))]
    return data, walker.positions, []


def path_at_line(text: str, line: int) -> YamlPath:
    """The YAML path at ``line`` of ``text`` as far as it parses (for problems found before parsing)."""
    walker = _Walker()
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            walker.feed(event)
    except yaml.YAMLError:
        pass
    return walker.positions.path_at_line(line)


def _syntax_problem(error: yaml.MarkedYAMLError, path: YamlPath) -> YamlProblem:
    """Point at where the broken construct starts (context), and say where it was noticed."""
    mark = error.context_mark or error.problem_mark
    line = mark.line + 1 if mark else 1
    what = " ".join(part for part in (error.context, error.problem) if part)
    noticed = error.problem_mark.line + 1 if error.problem_mark else line
    where = f" (noticed at line {noticed})" if noticed != line else ""
    return YamlProblem(path, line, f"malformed YAML: {what}{where}")
