"""The validators of the generated tree. Each is ``ValidationContext -> ValidatorResult``."""

from __future__ import annotations

import time
from collections.abc import Callable

from obstack.alerts.prometheus_config import RULE_FILES_GLOB
from obstack.foundation.findings import Finding
from obstack.stack.spec.errors import format_yaml_path
from obstack.stack.validate.alertmanager_tools import (
    amtool_config_validator,
    amtool_routes_validator,
    amtool_template_validator,
    inhibition_validator,
)
from obstack.stack.validate.compose_checks import (
    compose_lint_validator,
    docker_compose_config_validator,
    promtool_compose_validator,
)
from obstack.stack.validate.dashboard_lint_validator import dashboard_lint_validator
from obstack.stack.validate.incremental import REUSED_NOTE, VALIDATOR_INPUTS, Outcome
from obstack.stack.validate.kubernetes_alertmanager import alertmanager_secret_validator
from obstack.stack.validate.kubernetes_checks import (
    kubernetes_core_validator,
    prometheus_operator_validator,
)
from obstack.stack.validate.provenance import header_spec_names
from obstack.stack.validate.prometheus_tools import (
    promtool_config_validator,
    promtool_rules_validator,
    promtool_tests_validator,
)
from obstack.stack.validate.rule_lint_validator import rule_lint_validator
from obstack.stack.validate.validator import ValidationContext, ValidatorResult
from obstack.stack.writer import check_tree

Validator = Callable[[ValidationContext], ValidatorResult]


def spec_validator(context: ValidationContext) -> ValidatorResult:
    """The spec parsed, validated and cross-checked (a bad spec never reaches here: it exits 2), its
    warnings, and the tree in --out generated from it: a tree of another spec is an error that says so
    in one line, where the tree validator sees only files that differ."""
    spec = context.loaded.spec
    counts = (
        f"{len(spec.services)} services, {len(spec.datastores)} datastores, {len(spec.queues)} queues, "
        f"{len(spec.notifications.receivers)} receivers"
    )
    findings = [Finding("spec", "warning", w.file, f"{w.line}: {format_yaml_path(w.path)}", w.message)
                for w in context.loaded.warnings]
    expected = context.loaded.header_name
    for other, files in header_spec_names(context.out).items():
        if other != expected:
            findings.append(Finding("spec", "error", files[0], "", (
                f"generated from {other}, not {expected} ({len(files)} files say so): validate with the spec "
                f"it was generated from, or run `obstack generate` with this one")))
    return ValidatorResult("spec", findings, summary=f"{context.loaded.name}: {counts}")


def tree_validator(context: ValidationContext) -> ValidatorResult:
    """The tree in --out is exactly what the spec generates (no edits, nothing missing or stale)."""
    result = ValidatorResult("tree", summary=f"{len(context.artifacts)} files match the spec")
    if not context.out.is_dir():
        result.findings.append(Finding("tree", "error", str(context.out), "", "no generated tree; run `obstack generate` first"))
        return result
    drifts = check_tree(context.out, context.artifacts)
    for drift in drifts:
        result.findings.append(
            Finding("tree", "error", drift.path, "", f"{drift.state}; run `obstack generate` to bring it in line")
        )
    generated = {artifact.path.as_posix() for artifact in context.artifacts} | {drift.path for drift in drifts}
    for path in sorted((context.out / "prometheus").glob(RULE_FILES_GLOB)):
        relative = path.relative_to(context.out).as_posix()
        if relative not in generated:
            result.findings.append(Finding(
                "tree", "error", relative, "", f"not written by obstack, but Prometheus loads every {RULE_FILES_GLOB}: "
                "move it out of the tree (hand-written rules go in prometheus.extra_rule_files)"))
    return result


# Every validator with the name its result carries (what `obstack validate --only/--skip` take).
NAMED_VALIDATORS: tuple[tuple[str, Validator], ...] = (
    ("spec", spec_validator),
    ("tree", tree_validator),
    ("promtool check config", promtool_config_validator),
    ("promtool check rules", promtool_rules_validator),
    ("promtool test rules", promtool_tests_validator),
    ("rule lint", rule_lint_validator),
    ("amtool check-config", amtool_config_validator),
    ("amtool config routes test", amtool_routes_validator),
    ("amtool template render", amtool_template_validator),
    ("inhibition", inhibition_validator),
    ("dashboard lint", dashboard_lint_validator),
    ("docker-compose config", docker_compose_config_validator),
    ("compose lint", compose_lint_validator),
    ("promtool check config (compose)", promtool_compose_validator),
    ("kubernetes schemas", kubernetes_core_validator),
    ("prometheus-operator objects", prometheus_operator_validator),
    ("alertmanager config (kubernetes)", alertmanager_secret_validator),
)
VALIDATORS: tuple[Validator, ...] = tuple(validator for _, validator in NAMED_VALIDATORS)


def select_by_name(only: list[str], skip: list[str]) -> tuple[Validator, ...]:
    """The validators named in ``only`` (all when empty) minus those in ``skip``, in their usual order.
    ValueError naming the known validators when a name is unknown."""
    known = [name for name, _ in NAMED_VALIDATORS]
    unknown = [name for name in (*only, *skip) if name not in known]
    if unknown:
        raise ValueError(f"unknown validator {', '.join(repr(n) for n in unknown)}; known: {', '.join(known)}")
    return tuple(validator for name, validator in NAMED_VALIDATORS
                 if (not only or name in only) and name not in skip)


def run_validators(context: ValidationContext, validators: tuple[Validator, ...] = VALIDATORS) -> list[ValidatorResult]:
    """Every validator's result, each with its wall time (a slow validator shows in the table).
    With ``context.record``, a validator whose inputs passed before is reused (--changed), and
    what passes now is recorded."""
    names = {validator: name for name, validator in NAMED_VALIDATORS}
    results = []
    for validator in validators:
        started = time.perf_counter()
        result = _run_recorded(context, names.get(validator), validator)
        result.seconds = time.perf_counter() - started
        results.append(result)
    if context.record is not None:
        context.record.save()
    return results


def _run_recorded(context: ValidationContext, name: str | None, validator: Validator) -> ValidatorResult:
    record = context.record
    inputs = VALIDATOR_INPUTS.get(name or "")
    if record is None or name is None or inputs is None:
        return validator(context)
    files = record.validator_inputs(name)
    reused = record.reused(name, files, inputs.spec)
    if reused is not None:
        return ValidatorResult(name, reused.findings, summary=f"{reused.summary} ({REUSED_NOTE})", reused=True)
    result = validator(context)
    passed = Outcome(result.summary, result.findings) if not result.failed else None
    record.settle(name, files, passed, spec=inputs.spec)
    return result
