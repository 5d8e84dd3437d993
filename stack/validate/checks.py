"""The validators of the generated tree. Each is ``ValidationContext -> ValidatorResult``."""

from __future__ import annotations

import time
from collections.abc import Callable

from stack.validate.alertmanager_tools import (
    amtool_config_validator,
    amtool_routes_validator,
    amtool_template_validator,
    inhibition_validator,
)
from stack.validate.compose_checks import (
    compose_lint_validator,
    docker_compose_config_validator,
    promtool_compose_validator,
)
from stack.validate.dashboard_lint import dashboard_lint_validator
from stack.validate.findings import Finding, ValidationContext, ValidatorResult
from stack.validate.kubernetes_alertmanager import alertmanager_secret_validator
from stack.validate.kubernetes_checks import (
    kubernetes_core_validator,
    prometheus_operator_validator,
)
from stack.validate.prometheus_tools import (
    promtool_config_validator,
    promtool_rules_validator,
    promtool_tests_validator,
)
from stack.validate.rule_lint import rule_lint_validator
from stack.writer import check_tree

Validator = Callable[[ValidationContext], ValidatorResult]


def spec_validator(context: ValidationContext) -> ValidatorResult:
    """The spec parsed, validated and cross-checked (a bad spec never reaches here: it exits 2)."""
    spec = context.loaded.spec
    counts = (
        f"{len(spec.services)} services, {len(spec.datastores)} datastores, {len(spec.queues)} queues, "
        f"{len(spec.notifications.receivers)} receivers"
    )
    return ValidatorResult("spec", summary=f"{context.loaded.name}: {counts}")


def tree_validator(context: ValidationContext) -> ValidatorResult:
    """The tree in --out is exactly what the spec generates (no edits, nothing missing or stale)."""
    result = ValidatorResult("tree", summary=f"{len(context.artifacts)} files match the spec")
    if not context.out.is_dir():
        result.findings.append(Finding("tree", "error", str(context.out), "", "no generated tree; run `obstack generate` first"))
        return result
    for drift in check_tree(context.out, context.artifacts):
        result.findings.append(
            Finding("tree", "error", drift.path, "", f"{drift.state}; run `obstack generate` to bring it in line")
        )
    return result


VALIDATORS: tuple[Validator, ...] = (
    spec_validator,
    tree_validator,
    promtool_config_validator,
    promtool_rules_validator,
    promtool_tests_validator,
    rule_lint_validator,
    amtool_config_validator,
    amtool_routes_validator,
    amtool_template_validator,
    inhibition_validator,
    dashboard_lint_validator,
    docker_compose_config_validator,
    compose_lint_validator,
    promtool_compose_validator,
    kubernetes_core_validator,
    prometheus_operator_validator,
    alertmanager_secret_validator,
)


def run_validators(context: ValidationContext, validators: tuple[Validator, ...] = VALIDATORS) -> list[ValidatorResult]:
    """Every validator's result, each with its wall time (a slow validator shows in the table)."""
    results = []
    for validator in validators:
        started = time.perf_counter()
        result = validator(context)
        result.seconds = time.perf_counter() - started
        results.append(result)
    return results
