"""What the lint validators read: a file of the tree (a read or parse error is a finding), and the
exclusions file the spec names for a lint (`grafana.lint_exclusions`, `prometheus.lint_exclusions`,
`compose.lint_exclusions`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from obstack.foundation.findings import Finding
from obstack.foundation.lint import LintRules
from obstack.foundation.lint_exclusions import Exclusion, parse_exclusions
from obstack.stack.validate.validator import ValidationContext, ValidatorResult


def read_parsed(path: Path, shown: str, result: ValidatorResult, parse: Callable[[str], Any]) -> Any:
    """``path`` parsed by ``parse`` (yaml.safe_load, json.loads), or None with a finding named ``shown``."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as error:
        result.findings.append(Finding(result.name, "error", shown, "", f"cannot read: {error}"))
        return None


def read_exclusions(context: ValidationContext, result: ValidatorResult, name: str | None,
                    rules: LintRules) -> list[Exclusion]:
    """The valid entries of the file ``name`` (relative to the spec); every problem with it is a finding."""
    if name is None:
        return []
    data = read_parsed(context.loaded.directory / name, name, result, yaml.safe_load)
    exclusions, problems = parse_exclusions(data, name, rules)
    result.findings.extend(problems)
    return exclusions
