"""The validators of the generated tree. Each is ``ValidationContext -> ValidatorResult``."""

from __future__ import annotations

from collections.abc import Callable

from alerts.prometheus_config import CONFIG_PATH
from stack.validate.findings import Finding, ValidationContext, ValidatorResult
from stack.validate.tools import ToolMissing, run_tool
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


def promtool_config_validator(context: ValidationContext) -> ValidatorResult:
    """`promtool check config` on prometheus.yml (it also loads the rule files it names)."""
    result = ValidatorResult("promtool check config")
    config = context.out / CONFIG_PATH
    if not config.is_file():
        result.findings.append(Finding(result.name, "error", CONFIG_PATH.as_posix(), "", "not generated; run `obstack generate`"))
        return result
    try:
        run = run_tool("promtool", ["check", "config", CONFIG_PATH.name], cwd=config.parent)
    except ToolMissing as missing:
        result.tool_missing = True
        result.findings.append(Finding(result.name, "error", CONFIG_PATH.as_posix(), "", str(missing)))
        return result
    if run.returncode != 0:
        result.findings.append(Finding(result.name, "error", CONFIG_PATH.as_posix(), "", _last_lines(run.output)))
    else:
        result.summary = f"{CONFIG_PATH.as_posix()} is valid"
    return result


def _last_lines(output: str, count: int = 3) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "failed without output"


VALIDATORS: tuple[Validator, ...] = (
    spec_validator,
    tree_validator,
    promtool_config_validator,
)


def run_validators(context: ValidationContext, validators: tuple[Validator, ...] = VALIDATORS) -> list[ValidatorResult]:
    return [validator(context) for validator in validators]
