"""Dashboard lint exclusions: a YAML file whose every entry names a rule and says why.

    exclusions:
      - rule: target-rate-interval       # a rule id of dashboards.dashboard_lint.LINT_RULES
        dashboard: bookmark-queues        # optional: a uid or glob (default: every dashboard)
        panel: "Failed jobs*"             # optional: a panel title or glob (default: every panel)
        reason: the alert counts over a fixed 15m window; the panel shows the same number

An entry without a reason, or naming an unknown rule, is itself a finding: an exclusion
nobody can explain is a silenced bug.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from dashboards.dashboard_lint import LINT_RULES, VALIDATOR, RawFinding
from foundation.findings import Finding


@dataclass(frozen=True)
class Exclusion:
    rule: str
    reason: str
    dashboard: str = "*"
    panel: str = "*"

    def covers(self, found: RawFinding) -> bool:
        if found.rule != self.rule or not fnmatchcase(found.dashboard_uid, self.dashboard):
            return False
        # A dashboard-level finding (no panel) is only covered by an entry for every panel.
        return self.panel == "*" if found.panel_title is None else fnmatchcase(found.panel_title, self.panel)


def parse_exclusions(data: Any, file: str) -> tuple[list[Exclusion], list[Finding]]:
    """The valid entries of a parsed exclusions file, and a finding for each invalid one."""
    entries = data.get("exclusions") if isinstance(data, dict) else None
    if data is not None and not isinstance(entries, list):
        return [], [Finding(VALIDATOR, "error", file, "", "[exclusions] expected a list under 'exclusions:'")]
    exclusions, problems = [], []
    for index, entry in enumerate(entries or []):
        where = f"exclusions[{index}]"
        if not isinstance(entry, dict):
            problems.append(Finding(VALIDATOR, "error", file, where, "[exclusions] an entry must be a mapping"))
            continue
        rule, reason = str(entry.get("rule") or ""), str(entry.get("reason") or "").strip()
        unknown = set(entry) - {"rule", "reason", "dashboard", "panel"}
        if rule not in LINT_RULES:
            problems.append(Finding(VALIDATOR, "error", file, where,
                                    f"[exclusions] unknown rule {rule!r}; rules: {', '.join(LINT_RULES)}"))
        elif not reason:
            problems.append(Finding(VALIDATOR, "error", file, where,
                                    f"[exclusions] excluding {rule} needs a reason: say why the rule does not apply"))
        elif unknown:
            problems.append(Finding(VALIDATOR, "error", file, where, f"[exclusions] unknown key(s) {sorted(unknown)}"))
        else:
            exclusions.append(Exclusion(rule, reason, str(entry.get("dashboard") or "*"), str(entry.get("panel") or "*")))
    return exclusions, problems


def apply_exclusions(found: Iterable[RawFinding], exclusions: list[Exclusion]) -> list[Finding]:
    """The findings no exclusion covers."""
    return [f.finding() for f in found if not any(e.covers(f) for e in exclusions)]
