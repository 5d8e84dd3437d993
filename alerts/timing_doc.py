"""The "Holds and windows" table of docs/alerting.md, rendered from alerts/timing.py.

``python -m obstack.alerts.timing_doc docs/alerting.md`` (run by ``make docs``) rewrites the table between
its markers; a test fails when the checked-in table is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from obstack.alerts.timing import TIMING, Timing

BEGIN = "<!-- holds and windows: rendered from alerts/timing.py by `make docs` -->"
END = "<!-- end of holds and windows -->"


def timing_table(timing: Timing = TIMING) -> str:
    """One row per entry of the table, in its order: name, kind, value and reason."""
    rows = ["| Entry | Kind | Value | Why |", "|---|---|---|---|"]
    rows += [f"| `{name}` | {entry.kind} | {entry.duration} | {entry.reason.replace('|', '&#124;')} |"
             for name, entry in timing.entries()]
    return "\n".join(rows) + "\n"


def with_timing_table(document: str, timing: Timing = TIMING) -> str:
    """``document`` with the text between BEGIN and END replaced by the current table."""
    head, found, rest = document.partition(BEGIN + "\n")
    _, ended, tail = rest.partition(END)
    if not (found and ended):
        raise ValueError(f"the document has no {BEGIN!r} ... {END!r} block")
    return head + BEGIN + "\n" + timing_table(timing) + END + tail


def main(argv: list[str]) -> int:
    (path,) = argv
    document = Path(path)
    document.write_text(with_timing_table(document.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
