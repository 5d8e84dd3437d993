"""What a validator takes (the generated tree, the loaded spec, the artifacts) and what it returns
(its findings and overall result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from obstack.alerts.rule_files import rule_files
from obstack.alerts.rule_model import RuleFile
from obstack.foundation.artifacts import Artifact
from obstack.foundation.findings import Finding, FindingSeverity
from obstack.stack.spec.loader import LoadedSpec
from obstack.stack.validate.incremental import ValidationRecord


@dataclass(frozen=True)
class ValidationContext:
    out: Path
    loaded: LoadedSpec
    artifacts: list[Artifact]
    record: ValidationRecord | None = None  # what passed before (`validate --changed`), kept up to date

    @cached_property
    def rule_files(self) -> tuple[RuleFile, ...]:
        """The spec's rule model, built once for every validator that reads it."""
        return tuple(rule_files(self.loaded.spec))


@dataclass
class ValidatorResult:
    name: str
    findings: list[Finding] = field(default_factory=list)
    summary: str = ""  # one line shown when there is nothing to report
    tool_missing: bool = False
    seconds: float = 0.0  # wall time of the validator (set by run_validators)
    reused: bool = False  # not run: its inputs passed before, this is that outcome (validate --changed)

    def count(self, severity: FindingSeverity) -> int:
        return sum(1 for finding in self.findings if finding.severity == severity)

    @property
    def failed(self) -> bool:
        """An error (or a missing tool): what fails `obstack validate` and `obstack deploy`."""
        return self.tool_missing or self.count("error") > 0

    def fails(self, strict: bool = False) -> bool:
        """Failed, or (``strict``: `obstack validate --strict`) holding a warning."""
        return self.failed or (strict and self.count("warning") > 0)

    @property
    def status(self) -> str:
        return self.status_for(strict=False)

    def status_for(self, strict: bool) -> str:
        """missing tool, fail, warn (warnings, which fail only when strict) or pass."""
        if self.tool_missing:
            return "missing tool"
        if self.fails(strict):
            return "fail"
        return "warn" if self.count("warning") else "pass"
