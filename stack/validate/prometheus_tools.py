"""promtool as validators: the config, the rule files (with --lint=all) and their unit tests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alerts.global_rules import RULER_DIR
from alerts.prometheus_config import CONFIG_PATH
from alerts.promtool_tests import TESTS_DIR
from alerts.rule_files import RULES_DIR
from stack.validate.findings import Finding, ValidationContext, ValidatorResult
from stack.validate.tools import ToolMissing, ToolRun, run_tool


def _last_lines(output: str, count: int = 6) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "failed without output"


def _files(context: ValidationContext, directory: str, pattern: str) -> list[Path]:
    return sorted((context.out / directory).glob(pattern))


def _run_each(result: ValidatorResult, context: ValidationContext, files: list[Path], args: list[str],
              what: str) -> ValidatorResult:
    """Run promtool once per file (two at a time), one finding per failing file."""
    def run(path: Path) -> tuple[Path, ToolRun]:
        return path, run_tool("promtool", [*args, path.name], cwd=path.parent, timeout=600)

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = list(pool.map(run, files))
    except ToolMissing as missing:
        result.tool_missing = True
        result.findings.append(Finding(result.name, "error", what, "", str(missing)))
        return result
    for path, outcome in runs:
        relative = path.relative_to(context.out).as_posix()
        if outcome.returncode != 0:
            result.findings.append(Finding(result.name, "error", relative, "", _last_lines(outcome.output)))
    if not result.findings:
        result.summary = f"{len(files)} files: " + ", ".join(p.name for p in files)
    return result


def promtool_config_validator(context: ValidationContext) -> ValidatorResult:
    """`promtool check config` on prometheus.yml (it also loads the rule files it names)."""
    result = ValidatorResult("promtool check config")
    config = context.out / CONFIG_PATH
    if not config.is_file():
        result.findings.append(Finding(result.name, "error", CONFIG_PATH.as_posix(), "", "not generated; run `obstack generate`"))
        return result
    return _run_each(result, context, [config], ["check", "config"], CONFIG_PATH.as_posix())


def promtool_rules_validator(context: ValidationContext) -> ValidatorResult:
    """`promtool check rules --lint=all --lint-fatal` on every rule file (lint findings fail it),
    those split off for a global ruler (ruler/rules/, when sharded) included."""
    result = ValidatorResult("promtool check rules")
    files = _files(context, RULES_DIR.as_posix(), "*.yml") + _files(context, RULER_DIR.as_posix(), "*.yml")
    if not files:
        result.summary = "no rule files"
        return result
    return _run_each(result, context, files, ["check", "rules", "--lint=all", "--lint-fatal"], RULES_DIR.as_posix())


def promtool_tests_validator(context: ValidationContext) -> ValidatorResult:
    """`promtool test rules` on every generated unit-test file."""
    result = ValidatorResult("promtool test rules")
    files = _files(context, TESTS_DIR.as_posix(), "*.test.yml")
    if not files:
        result.summary = "no rule tests"
        return result
    return _run_each(result, context, files, ["test", "rules"], TESTS_DIR.as_posix())
