"""Spec problems as the user sees them: one line each, naming file, line and YAML path."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .positions import YamlPath

_SECRET_KEY_RE = re.compile(r"(password|secret|token|dsn|url|key)", re.IGNORECASE)


def format_yaml_path(path: YamlPath) -> str:
    """``('services', 0, 'name')`` -> ``services[0].name``; the root is ``(root)``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """"; did you mean 'X'?" naming the closest of ``choices``, or '' when none is close."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def looks_secret(path: YamlPath) -> bool:
    """Values under keys like these are never echoed back, even in an error."""
    return any(isinstance(part, str) and _SECRET_KEY_RE.search(part) for part in path[-1:])


@dataclass(frozen=True)
class SpecProblem:
    file: str
    line: int
    path: YamlPath
    message: str

    def __str__(self) -> str:
        return one_line(f"{self.file}:{self.line}: {format_yaml_path(self.path)}: {self.message}")


# Control characters (Unicode category Cc) and the line and paragraph separators (Zl, Zp).
_UNPRINTABLE = {code: f"\\u{code:04x}" for code in (*range(0x20), 0x7f, *range(0x80, 0xa0), 0x2028, 0x2029)}
_UNPRINTABLE.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def one_line(text: str) -> str:
    """``text`` with control and line-separator characters shown as escapes (``\\n``, ``\\u001b``…):
    one line, no terminal escapes (a newline in a key, a file name or an alert's label)."""
    return text.translate(_UNPRINTABLE)


class SpecError(Exception):
    """The spec cannot be used; carries every problem found, in file order."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, format_yaml_path(p.path)))
        super().__init__("\n".join(str(p) for p in self.problems))
