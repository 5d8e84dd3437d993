"""What a validator reports: findings, and the validator's overall result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from stack.artifacts import Artifact
from stack.spec.loader import LoadedSpec

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    validator: str
    severity: Severity
    file: str  # relative to the output directory, or the spec's name
    location: str  # e.g. a YAML path, a rule name or a line; "" when the whole file
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.location}" if self.location else self.file
        return f"{self.severity}: {where}: {self.message}"


@dataclass(frozen=True)
class ValidationContext:
    out: Path
    loaded: LoadedSpec
    artifacts: list[Artifact]


@dataclass
class ValidatorResult:
    name: str
    findings: list[Finding] = field(default_factory=list)
    summary: str = ""  # one line shown when there is nothing to report
    tool_missing: bool = False
    seconds: float = 0.0  # wall time of the validator (set by run_validators)

    @property
    def failed(self) -> bool:
        return self.tool_missing or any(f.severity == "error" for f in self.findings)

    @property
    def status(self) -> str:
        if self.tool_missing:
            return "missing tool"
        return "fail" if self.failed else "pass"
