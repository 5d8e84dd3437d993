"""Generated trees written to disk, for the tests that run promtool against them."""

from __future__ import annotations

from pathlib import Path

from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.writer import write_tree
from tests.support.servers import require_binary


def generated_tree(root: Path, spec: Path | None = None) -> Path:
    """The tree generated from ``spec`` (default: the embedded spec) written under ``root``."""
    require_binary("promtool", "prometheus")
    write_tree(root, generate(load_spec(spec)))
    return root
