"""docs/spec-reference.md documents every spec key, and is current with the model."""

from __future__ import annotations

from pathlib import Path

from obstack.stack.spec.reference import spec_rows, render_reference
from obstack.stack.spec.model import Spec

REFERENCE = Path(__file__).parent.parent / "docs" / "spec-reference.md"


def test_checked_in_reference_is_current() -> None:
    assert REFERENCE.read_text() == render_reference(), "the spec model changed: run `make docs`"


def test_every_key_has_a_type_a_default_and_a_description() -> None:
    rows = list(spec_rows(Spec, ""))
    assert len(rows) > 80
    undocumented = [path for path, _, _, description in rows if not description]
    assert not undocumented, f"add a description to: {undocumented}"
    assert all(default for _, _, default, _ in rows)


def test_plan_numbers_appear_as_defaults() -> None:
    text = render_reference()
    for line, default in [
        ("services[].thresholds.error_rate.critical", "`5%`"),
        ("services[].thresholds.latency_p95.warning", "`500ms`"),
        ("queues[].thresholds.backlog.critical", "`1000`"),
        ("host.thresholds.disk_free.critical", "`10%`"),
    ]:
        row = next(r for r in text.splitlines() if r.startswith(f"| `{line}` |"))
        assert default in row
