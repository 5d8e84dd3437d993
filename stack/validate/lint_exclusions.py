"""The exclusions file a spec names for one lint (`grafana.lint_exclusions`,
`prometheus.lint_exclusions`, `compose.lint_exclusions`), read for that lint's validator."""

from __future__ import annotations

import yaml

from foundation.findings import Finding
from foundation.lint import LintRules
from foundation.lint_exclusions import Exclusion, parse_exclusions
from stack.validate.validator import ValidationContext, ValidatorResult


def read_exclusions(context: ValidationContext, result: ValidatorResult, name: str | None,
                    rules: LintRules) -> list[Exclusion]:
    """The valid entries of the file ``name`` (relative to the spec); every problem with it is a finding."""
    if name is None:
        return []
    try:
        data = yaml.safe_load((context.loaded.directory / name).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as error:
        result.findings.append(Finding(rules.validator, "error", name, "", f"cannot read: {error}"))
        return []
    exclusions, problems = parse_exclusions(data, name, rules)
    result.findings.extend(problems)
    return exclusions
