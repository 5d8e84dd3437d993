"""Example series of counter selectors: label values that pass (or fail) their matchers.

The generated tests feed an events SLO series its selectors pick, and series they must not pick;
the spec check refuses selectors for which no such series exist (an ``errors`` that selects every
series ``total`` does). Regex matchers get a value built from the regex itself (its shortest
match, walking Python's parse of it) and checked against it.
"""

from __future__ import annotations

import re
import re._parser as sre_parser  # type: ignore[import-not-found]  # the stdlib's regex parser (3.11+)
from collections.abc import Iterable, Sequence
from typing import Any

from .selectors import CounterSelector, Matcher, passes

# Values tried for a label beside those the matchers name: absent, and a few plain ones.
_FILLERS = ("", "other", "obstack-example", "0", "a")
_CHARACTERS = "a0A_-. x/:"  # characters tried for a character class


def _in_class(items: list[tuple[Any, Any]], char: str) -> bool:
    """Whether ``char`` is in a parsed character class ([...])."""
    negated = bool(items) and str(items[0][0]) == "NEGATE"
    found = False
    for op, argument in items[1:] if negated else items:
        name = str(op)
        if name == "LITERAL":
            found = found or ord(char) == argument
        elif name == "RANGE":
            found = found or argument[0] <= ord(char) <= argument[1]
        elif name == "CATEGORY":
            category = str(argument)
            test = {"CATEGORY_DIGIT": char.isdigit(), "CATEGORY_SPACE": char.isspace(),
                    "CATEGORY_WORD": char.isalnum() or char == "_"}
            for positive, result in test.items():
                if category == positive:
                    found = found or result
                elif category == positive.replace("CATEGORY_", "CATEGORY_NOT_"):
                    found = found or not result
    return found != negated


def _shortest(parsed: Any) -> str:
    """A short string the parsed regex matches (not checked: the caller checks it)."""
    out = []
    for op, argument in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(argument))
        elif name in ("NOT_LITERAL", "ANY"):
            out.append(next(c for c in _CHARACTERS if name == "ANY" or ord(c) != argument))
        elif name == "IN":
            literals = [chr(a) for o, a in argument if str(o) == "LITERAL"]
            out.append(next((c for c in [*literals, *_CHARACTERS] if _in_class(argument, c)), "a"))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _, item = argument
            out.append(_shortest(item) * low)
        elif name == "BRANCH":
            out.append(min((_shortest(branch) for branch in argument[1]), key=len))
        elif name == "SUBPATTERN":
            out.append(_shortest(argument[-1]))
        elif name == "ATOMIC_GROUP":
            out.append(_shortest(argument))
    return "".join(out)


def regex_example(regex: str) -> str | None:
    """A value ``regex`` matches in full (as Prometheus anchors it); None when none is found."""
    candidates = [regex, *_FILLERS]
    try:
        candidates.insert(0, _shortest(sre_parser.parse(regex)))
    except (re.error, StopIteration, TypeError, ValueError):
        pass
    return next((value for value in candidates if re.fullmatch(regex, value) is not None), None)


def _candidates(matchers: Iterable[Matcher]) -> list[str]:
    """Values worth trying for a label under ``matchers``: those they name (and would match), then fillers."""
    values: list[str] = []
    for _, op, value in matchers:
        if op in ("=", "!="):
            values.append(value)
        else:
            example = regex_example(value)
            values += [example] if example is not None else []
        values.append(value + "-other")
    return list(dict.fromkeys([*values, *_FILLERS]))


def example_labels(wanted: Sequence[CounterSelector], unwanted: CounterSelector | None = None
                   ) -> dict[str, str] | None:
    """Labels of a series every selector of ``wanted`` selects and ``unwanted`` does not (its metric
    aside: the caller names the series' metric), absent labels left out; None when there is none."""
    matchers = [m for selector in wanted for m in selector.matchers]
    ways: list[tuple[str | None, Matcher | None]] = [(None, None)]
    if unwanted is not None:
        ways = [(m[0], m) for m in unwanted.matchers]
    for label_failing, failed in ways:
        labels: dict[str, str] = {}
        for label in dict.fromkeys(name for name, _, _ in [*matchers, *([failed] if failed else [])]):
            own = [m for m in matchers if m[0] == label]
            tried = _candidates(own + ([failed] if failed and label == label_failing else []))
            fits = [v for v in tried if all(passes(v, op, value) for _, op, value in own)
                    and not (failed is not None and label == label_failing and passes(v, failed[1], failed[2]))]
            if not fits:
                break
            if fits[0]:
                labels[label] = fits[0]
        else:
            return labels
    return None
