"""promtool as validators: the config, the rule files (with --lint=all) and their unit tests."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from obstack.alerts.global_rules import RULER_DIR
from obstack.alerts.prometheus_config import CONFIG_PATH
from obstack.alerts.promtool_tests import TESTS_DIR
from obstack.alerts.renamed_files import (RECORDING_FILE_PREFIX, SHARED_SERVICE_FILE, SharedServices, is_renamed,
                                          renaming_key, service_of, shared_services_document)
from obstack.alerts.rule_files import RULES_DIR
from obstack.foundation.artifacts import load_yaml
from obstack.foundation.findings import Finding
from obstack.stack.validate.incremental import Outcome, file_check
from obstack.stack.validate.test_cuts import run_test_files
from obstack.stack.validate.tools import ToolMissing, ToolRun, run_tool
from obstack.stack.validate.validator import ValidationContext, ValidatorResult


def _last_lines(output: str, count: int = 6) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "failed without output"


def _files(context: ValidationContext, directory: str, pattern: str) -> list[Path]:
    return sorted((context.out / directory).glob(pattern))


Runner = Callable[[list[Path]], dict[Path, ToolRun]]


def _one_each(args: list[str]) -> Runner:
    """promtool ``args`` once per file, two at a time."""
    def run(paths: list[Path]) -> dict[Path, ToolRun]:
        with ThreadPoolExecutor(max_workers=2) as pool:
            return dict(pool.map(lambda path: (path, _one(args, path)), paths))
    return run


def _in_two_batches(args: list[str], root: Path) -> Runner:
    """promtool ``args`` on the files in two runs, one a core, and once per file only in a run
    that failed (to tell which: at a thousand services, two thousand rule files cost 25 s of
    promtool start-ups one by one)."""
    def run_batch(batch: list[Path]) -> list[tuple[Path, ToolRun]]:
        together = run_tool("promtool", [*args, *(p.relative_to(root).as_posix() for p in batch)], cwd=root,
                            timeout=600)
        if together.returncode == 0:
            return [(path, together) for path in batch]
        return [(path, _one(args, path)) for path in batch]

    def run(paths: list[Path]) -> dict[Path, ToolRun]:
        halves = [half for half in (paths[0::2], paths[1::2]) if half]
        with ThreadPoolExecutor(max_workers=2) as pool:
            return dict(run for batch in pool.map(run_batch, halves) for run in batch)
    return run


def _one(args: list[str], path: Path) -> ToolRun:
    return run_tool("promtool", [*args, path.name], cwd=path.parent, timeout=600)


def _run_each(result: ValidatorResult, context: ValidationContext, files: list[Path], runner: Runner,
              what: str, inputs_of: Callable[[Path], list[Path]] | None = None) -> ValidatorResult:
    """Run promtool on the files through ``runner``, one finding per failing file. With
    ``context.record`` (--changed), a file whose inputs (``inputs_of``: the file alone by
    default) passed before is not run again."""
    def inputs(path: Path) -> list[Path]:
        return inputs_of(path) if inputs_of else [path]

    def check(path: Path) -> str:
        return file_check(result.name, path.relative_to(context.out).as_posix())

    record = context.record
    todo = [path for path in files if record is None or record.reused(check(path), inputs(path)) is None]
    # The biggest files first (size stands for promtool's time), so that a long one does not start
    # last and run alone while the other core idles; findings stay in file order.
    biggest_first = sorted(todo, key=lambda path: -path.stat().st_size)
    try:
        finished = runner(biggest_first)
    except ToolMissing as missing:
        result.tool_missing = True
        result.findings.append(Finding(result.name, "error", what, "", str(missing)))
        return result
    for path, outcome in ((path, finished[path]) for path in todo):
        relative = path.relative_to(context.out).as_posix()
        if outcome.returncode != 0:
            result.findings.append(Finding(result.name, "error", relative, "", _last_lines(outcome.output)))
        if record is not None:
            record.settle(check(path), inputs(path), Outcome("", []) if outcome.returncode == 0 else None)
    if not result.findings:
        reused = len(files) - len(todo)
        result.summary = (f"{len(files)} files: " + ", ".join(p.name for p in files) if not reused else
                          f"{len(todo)} of {len(files)} files run, {reused} reused: unchanged since they passed")
    return result


def promtool_config_validator(context: ValidationContext) -> ValidatorResult:
    """`promtool check config` on prometheus.yml (it also loads the rule files it names)."""
    result = ValidatorResult("promtool check config")
    config = context.out / CONFIG_PATH
    if not config.is_file():
        result.findings.append(Finding(result.name, "error", CONFIG_PATH.as_posix(), "", "not generated; run `obstack generate`"))
        return result
    return _run_each(result, context, [config], _one_each(["check", "config"]), CONFIG_PATH.as_posix())


def promtool_rules_validator(context: ValidationContext) -> ValidatorResult:
    """`promtool check rules --lint=all --lint-fatal` on every rule file (lint findings fail it),
    those split off for a global ruler (ruler/rules/, when sharded) included."""
    result = ValidatorResult("promtool check rules")
    files = _files(context, RULES_DIR.as_posix(), "*.yml") + _files(context, RULER_DIR.as_posix(), "*.yml")
    if not files:
        result.summary = "no rule files"
        return result
    return _run_each(result, context, files, _in_two_batches(["check", "rules", "--lint=all", "--lint-fatal"],
                                                             context.out), RULES_DIR.as_posix())


def promtool_tests_validator(context: ValidationContext) -> ValidatorResult:
    """`promtool test rules` on every generated unit-test file; every per-service rule file is
    loaded by one of them or is a tested file with another service's name (renamed_files.py)."""
    result = ValidatorResult("promtool test rules")
    files = _files(context, TESTS_DIR.as_posix(), "*.test.yml")
    if not files:
        result.summary = "no rule tests"
        return result
    rules = context.out / RULES_DIR
    result = _run_each(result, context, files, run_test_files, TESTS_DIR.as_posix(),
                       inputs_of=lambda test: [test, *(rules / name for name in sorted(_loaded_rule_files(test)))])
    renamed = _check_renamed(result, context, files)
    services = _check_shared_services(result, context, files)
    if not result.findings and (renamed or services):
        run = result.summary if " reused: " in result.summary else f"{len(files)} files"
        result.summary = (f"{run}; tested as another's renamed copy: {renamed} per-service rule files, "
                          f"{services} services of {SHARED_SERVICE_FILE}")
    return result


_SERVICE_LABEL = re.compile(r'\bservice="([^"\\]+)"')


def services_fed(texts: Iterable[str]) -> set[str]:
    """The services the given test files feed series of (their ``service`` label values)."""
    return {name for text in texts for name in _SERVICE_LABEL.findall(text)}


def _check_shared_services(result: ValidatorResult, context: ValidationContext, tests: list[Path]) -> int:
    """One finding per service of services.yml that no test feeds and that is no tested service
    renamed (SharedServices.uncovered); the count of services tested through another."""
    path = context.out / RULES_DIR / SHARED_SERVICE_FILE
    if not path.is_file():
        return 0
    documents: dict[str, Any] = {}
    for each in [path, *sorted((context.out / RULES_DIR).glob(f"{RECORDING_FILE_PREFIX}*.yml"))]:
        try:
            documents[each.name] = load_yaml(each.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            return 0  # promtool check rules reports it
    shared = SharedServices.of(shared_services_document(documents))
    tested = services_fed(test.read_text(encoding="utf-8") for test in tests
                             if SHARED_SERVICE_FILE in _loaded_rule_files(test))
    for service in shared.uncovered(tested):
        result.findings.append(Finding(
            result.name, "error", path.relative_to(context.out).as_posix(), "",
            f"service {service}: no test feeds it series and it is no tested service renamed; run `obstack generate`"))
    return len([service for service in shared.recordings if service not in tested])

def _loaded_rule_files(test_file: Path) -> set[str]:
    """The rule file names a promtool test file loads (its leading ``rule_files`` list, read
    without parsing the rest: test files run to megabytes)."""
    names: set[str] = set()
    with test_file.open(encoding="utf-8") as lines:
        inside = False
        for line in lines:
            if line.startswith("rule_files:"):
                inside = True
            elif inside and line.startswith("- "):
                names.add(PurePosixPath(line[2:].strip().strip("'\"")).name)
            elif inside or not (line.startswith("#") or not line.strip()):
                break
    return names


def _without_header(text: str) -> str:
    """A written file's text after its generated header (comment lines naming the spec)."""
    lines = text.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    return "".join(lines[first:])


def _check_renamed(result: ValidatorResult, context: ValidationContext, tests: list[Path]) -> int:
    """One finding per per-service rule file no test loads and no tested file renames; the count
    of files tested as renamed copies."""
    tested = set().union(*(_loaded_rule_files(test) for test in tests))
    sources: dict[tuple[str, str], list[tuple[str, str]]] = {}
    untested: list[tuple[Path, str, str]] = []
    for path in _files(context, RULES_DIR.as_posix(), "*.yml"):
        name = service_of(PurePosixPath(path.name))
        if name is None:
            continue
        text = _without_header(path.read_text(encoding="utf-8"))
        key = renaming_key(PurePosixPath(path.name), name, text)
        if path.name in tested:
            sources.setdefault(key, []).append((text, name))
        else:
            untested.append((path, name, text))
    for path, name, text in untested:
        key = renaming_key(PurePosixPath(path.name), name, text)
        if not any(is_renamed(source, source_name, text, name) for source, source_name in sources.get(key, [])):
            result.findings.append(Finding(
                result.name, "error", path.relative_to(context.out).as_posix(), "",
                "no test loads it and it is no tested file with another service's name; run `obstack generate`"))
    return len(untested)
