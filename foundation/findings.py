"""What every check reports: one finding (which check, how bad, where, what), the one shape for
validators, lints and `obstack verify`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# How bad a finding is: an error fails `obstack validate` (and deploy's pre-flight), a warning
# only `validate --strict`, an info fails nothing. (An alert's severity is another thing:
# critical, warning, info, in the spec and the rule model.)
FindingSeverity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    validator: str
    severity: FindingSeverity
    file: str  # relative to the output directory, or the spec's name
    location: str  # e.g. a YAML path, a rule name or a line; "" when the whole file
    message: str
    # A lint's finding: its rule id, and the scope an exclusion matches on ((key, value) pairs, the
    # value None where the finding has none, e.g. no panel). Neither is part of a finding's identity.
    rule: str = field(default="", compare=False)
    scope: tuple[tuple[str, str | None], ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.location}" if self.location else self.file
        return f"{self.severity}: {where}: {self.message}"
