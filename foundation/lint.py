"""One lint engine for the rule, dashboard and compose lints and the series check: a rule is a stable
id, a one-line doc and a severity; a lint is its rules under one validator name, and makes their
findings (the one ``Finding``, its message starting ``[rule-id]``, with the scope an exclusion
may narrow by: a dashboard and panel, a rule file and rule, a compose service)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from obstack.foundation.findings import Finding, FindingSeverity


@dataclass(frozen=True)
class LintRule:
    """One rule: what findings and exclusions name it by, what it finds (one line), how bad that is."""

    id: str
    doc: str
    severity: FindingSeverity = "error"


class LintRules(Mapping[str, LintRule]):
    """The rules of one lint by id, in the order they are documented."""

    def __init__(self, validator: str, rules: Iterable[LintRule], scopes: tuple[str, ...] = (),
                 tagged: bool = True) -> None:
        self.validator = validator  # the name its findings carry, e.g. "rule lint"
        self.scopes = scopes  # what an exclusion may narrow by besides the rule, e.g. ("dashboard", "panel")
        self.tagged = tagged  # messages start with "[rule-id] "
        self._rules = {rule.id: rule for rule in rules}

    def __getitem__(self, rule_id: str) -> LintRule:
        return self._rules[rule_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def finding(self, rule_id: str, file: str, location: str, message: str, /, **scope: str | None) -> Finding:
        """A finding of rule ``rule_id``; ``scope`` holds the values an exclusion matches (see ``scopes``)."""
        rule = self._rules[rule_id]
        unknown = set(scope) - set(self.scopes)
        if unknown:
            raise ValueError(f"{self.validator}: no scope {sorted(unknown)} (scopes: {', '.join(self.scopes)})")
        text = f"[{rule_id}] {message}" if self.tagged else message
        return Finding(self.validator, rule.severity, file, location, text, rule=rule_id,
                       scope=tuple((key, scope.get(key)) for key in self.scopes))
