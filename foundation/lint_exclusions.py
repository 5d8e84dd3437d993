"""Lint exclusions: a YAML file whose every entry names a rule of one lint and says why.

    exclusions:
      - rule: target-rate-interval       # a rule id of the lint
        dashboard: bookmark-queues        # optional scopes, each a name or glob (default: every one);
        panel: "Failed jobs*"             # which there are is the lint's (LintRules.scopes)
        reason: the alert counts over a fixed 15m window; the panel shows the same number

An entry without a reason, or naming an unknown rule, is itself a finding: an exclusion
nobody can explain is a silenced bug.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from obstack.foundation.findings import Finding
from obstack.foundation.lint import LintRules


@dataclass(frozen=True)
class Exclusion:
    rule: str
    reason: str
    scope: tuple[tuple[str, str], ...] = ()  # (scope, glob), e.g. (("dashboard", "*"), ("panel", "Failed*"))

    def covers(self, found: Finding) -> bool:
        if found.rule != self.rule:
            return False
        values = dict(found.scope)
        # A finding without a value for a scope (a dashboard-level one has no panel) is only
        # covered by an entry for every value of it.
        return all(glob == "*" if values.get(key) is None else fnmatchcase(str(values[key]), glob)
                   for key, glob in self.scope)


def parse_exclusions(data: Any, file: str, rules: LintRules) -> tuple[list[Exclusion], list[Finding]]:
    """The valid entries of a parsed exclusions file, and a finding for each invalid one."""
    entries = data.get("exclusions") if isinstance(data, dict) else None
    if data is not None and not isinstance(entries, list):
        return [], [_problem(rules, file, "", "expected a list under 'exclusions:'")]
    exclusions, problems = [], []
    for index, entry in enumerate(entries or []):
        where = f"exclusions[{index}]"
        problem = _entry_problem(entry, rules)
        if problem is not None:
            problems.append(_problem(rules, file, where, problem))
            continue
        scope = tuple((key, str(entry.get(key) or "*")) for key in rules.scopes)
        exclusions.append(Exclusion(str(entry["rule"]), str(entry["reason"]).strip(), scope))
    return exclusions, problems


def _entry_problem(entry: Any, rules: LintRules) -> str | None:
    if not isinstance(entry, dict):
        return "an entry must be a mapping"
    rule, reason = str(entry.get("rule") or ""), str(entry.get("reason") or "").strip()
    unknown = set(entry) - {"rule", "reason", *rules.scopes}
    if rule not in rules:
        return f"unknown rule {rule!r}; rules: {', '.join(rules)}"
    if not reason:
        return f"excluding {rule} needs a reason: say why the rule does not apply"
    if unknown:
        return f"unknown key(s) {sorted(unknown)}"
    return None


def _problem(rules: LintRules, file: str, where: str, message: str) -> Finding:
    return Finding(rules.validator, "error", file, where, f"[exclusions] {message}")


def apply_exclusions(found: Iterable[Finding], exclusions: list[Exclusion]) -> list[Finding]:
    """The findings no exclusion covers."""
    return [f for f in found if not any(e.covers(f) for e in exclusions)]
