"""The rule lint as a validator: the tree's rule files (generated ones and your own copies), against the
metric catalog, and the spec's coherence checks; less what `prometheus.lint_exclusions` excludes."""

from __future__ import annotations

from typing import Any


from obstack.alerts.rule_files import RULES_DIR
from obstack.alerts.rule_lint import (
    LINT_RULES,
    VALIDATOR,
    cause_timing,
    latency_bucket_rounding,
    lint_rule_files,
    threshold_coherence,
    watchdog_wiring,
)
from obstack.foundation.artifacts import load_yaml
from obstack.foundation.findings import Finding
from obstack.foundation.lint_exclusions import apply_exclusions
from obstack.stack.spec.series import build_catalog
from obstack.stack.validate.lint_inputs import read_exclusions, read_parsed
from obstack.stack.validate.validator import ValidationContext, ValidatorResult


def _read(path_text: str, context: ValidationContext, result: ValidatorResult) -> dict[str, Any] | None:
    unreadable = len(result.findings)
    data = read_parsed(context.out / path_text, path_text, result, load_yaml)
    if len(result.findings) > unreadable:
        return None
    if not isinstance(data, dict):  # an empty file too
        result.findings.append(Finding(VALIDATOR, "error", path_text, "", "not a rule file"))
        return None
    return data


def rule_lint_validator(context: ValidationContext) -> ValidatorResult:
    result = ValidatorResult(VALIDATOR)
    names = [p.relative_to(context.out).as_posix() for p in sorted((context.out / RULES_DIR).glob("*.yml"))]
    files: dict[str, dict[str, Any]] = {}
    for name in names:
        data = _read(name, context, result)
        if data is not None:
            files[name] = data
    spec = context.loaded.spec
    catalog = build_catalog(spec, files)
    exclusions = read_exclusions(context, result, spec.prometheus.lint_exclusions, LINT_RULES)
    found = lint_rule_files(files, catalog, spec.prometheus.scrape_interval.seconds)
    found += threshold_coherence(spec, context.loaded.name)
    found += watchdog_wiring(spec, context.loaded.name)
    found += latency_bucket_rounding(spec, context.loaded.name)
    found += cause_timing(spec, [r for f in context.rule_files for r in f.alert_rules], context.loaded.name)
    result.findings += apply_exclusions(found, exclusions)
    rules = sum(len(group.get("rules", [])) for f in files.values() for group in f.get("groups", []))
    if not any(f.severity == "error" for f in result.findings):
        result.summary = f"{rules} rules in {len(files)} files, no findings"
    return result
