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


# Strings kept per part of a regex while its examples are built (alternatives multiply them).
_VARIANTS = 12


def _variants(parsed: Any) -> list[str]:
    """A few strings the parsed regex may match, shortest choices first: every alternative of a
    branch, an optional part left out and taken once (not checked: the caller checks them)."""
    found = [""]
    for op, argument in parsed:
        name = str(op)
        if name == "LITERAL":
            options = [chr(argument)]
        elif name in ("NOT_LITERAL", "ANY"):
            options = [next(c for c in _CHARACTERS if name == "ANY" or ord(c) != argument)]
        elif name == "IN":
            literals = [chr(a) for o, a in argument if str(o) == "LITERAL"]
            options = [c for c in dict.fromkeys([*literals, *_CHARACTERS]) if _in_class(argument, c)][:2] or ["a"]
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, item = argument
            inner = _variants(item)
            options = [each * low for each in inner] + ([each for each in inner if each] if low == 0 and high else [])
        elif name == "BRANCH":
            options = [each for branch in argument[1] for each in _variants(branch)]
        elif name == "SUBPATTERN":
            options = _variants(argument[-1])
        elif name == "ATOMIC_GROUP":
            options = _variants(argument)
        else:  # anchors and the like match no character
            options = [""]
        found = list(dict.fromkeys(a + b for a in found for b in options))[:_VARIANTS]
    return found


def regex_examples(regex: str) -> list[str]:
    """Values ``regex`` matches in full (as Prometheus anchors it), shortest choices first; empty
    when none is found."""
    candidates = [regex, *_FILLERS]
    try:
        candidates = [*_variants(sre_parser.parse(regex)), *candidates]
    except (re.error, StopIteration, TypeError, ValueError):
        pass
    return [value for value in dict.fromkeys(candidates) if re.fullmatch(regex, value) is not None]


def regex_example(regex: str) -> str | None:
    """A value ``regex`` matches in full; None when none is found."""
    return next(iter(regex_examples(regex)), None)


def _candidates(matchers: Iterable[Matcher]) -> list[str]:
    """Values worth trying for a label under ``matchers``: those they name (and would match), then fillers."""
    values: list[str] = []
    for _, op, value in matchers:
        values += [value] if op in ("=", "!=") else regex_examples(value)
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
