"""Spec problems as the user sees them: one line each, naming file, line and YAML path."""

from __future__ import annotations

import difflib
import re
import unicodedata
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


def one_line(text: str) -> str:
    """``text`` with control characters (a newline in a key or a file name) shown as escapes."""
    return "".join(char.encode("unicode_escape").decode("ascii") if unicodedata.category(char) in ("Cc", "Zl", "Zp")
                   else char for char in text)


class SpecError(Exception):
    """The spec cannot be used; carries every problem found, in file order."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, format_yaml_path(p.path)))
        super().__init__("\n".join(str(p) for p in self.problems))
