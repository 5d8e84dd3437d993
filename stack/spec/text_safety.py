"""Text the spec may carry into generated files, checked before the model sees it.

Spec strings end up inside PromQL, YAML, JSON, Go templates (Alertmanager and Prometheus
render annotations and notification fields as templates) and Kubernetes labels. No spec field
is a template and no spec field is multi-line, so two things are refused everywhere, keys and
values alike: control characters (a newline in a label value, a NUL) and the Go template
delimiters ``{{`` / ``}}`` (``{{ "count(up)" | query }}`` in a runbook URL would make Prometheus
run that query when it renders the annotation). What each context still needs (PromQL string
escaping, RE2 regexes, URLs without credentials) is checked by the field's own type.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from .positions import YamlPath


# More values than any spec holds (a 1000-service spec has about 30,000); YAML aliases can make a
# few lines expand to billions ("billion laughs"), which would stall validation and generation.
MAX_VALUES = 1_000_000


def too_large(data: Any) -> bool:
    """Whether ``data`` expands to more than MAX_VALUES values (aliases counted at every use)."""
    pending, count = [data], 0
    while pending:
        node = pending.pop()
        count += 1
        if count > MAX_VALUES:
            return True
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


def unsafe_text(data: Any, path: YamlPath = ()) -> Iterator[tuple[YamlPath, str]]:
    """(yaml path, message) for every key or string value that must not reach a generated file."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str):
                problem = _text_problem(key, is_key=True)
                if problem:
                    yield (*path, key), problem
            yield from unsafe_text(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from unsafe_text(value, (*path, index))
    elif isinstance(data, str):
        problem = _text_problem(data, is_key=False)
        if problem:
            yield path, problem


def _text_problem(text: str, *, is_key: bool) -> str | None:
    what = "key" if is_key else "value"
    control = next((char for char in text if unicodedata.category(char) in ("Cc", "Zl", "Zp")), None)
    if control is not None:
        return (f"the {what} contains control character U+{ord(control):04X}; spec values are single-line text: "
                "remove it")
    if "{{" in text or "}}" in text:
        return (f"the {what} contains a Go template delimiter '{{{{' or '}}}}', which Prometheus or Alertmanager "
                "would execute; no spec field is a template: remove it")
    return None
