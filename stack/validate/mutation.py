"""Mutation testing of a generated tree: do its promtool tests reject wrong rules?

Each mutant (``alerts.mutation``) is one rule file with one plausible mistake. It is *killed*
when a generated test that can see it fails: the test groups of the alert itself, or, for a
recording rule, of every alert that reads the recorded series (directly or through other
recordings). Only those groups run, from the test files that load the mutated file, so a
mutant costs one short promtool run; mutants run in parallel, one per core.

A mutant no alert can see (a recording only dashboards read) is reported apart: no alert test
could kill it. A survivor listed in ``EQUIVALENT`` (with the reason it cannot change any alert)
is counted as killed; every other survivor is listed in the report.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alerts.mutation import Mutant, rule_mutants
from alerts.promtool_tests import TESTS_DIR
from alerts.rule_files import RULES_DIR
from stack.validate.tools import run_tool

# Survivors that cannot change any alert, by Mutant.key pattern, with the reason. Reviewed in the diff.
EQUIVALENT: dict[str, str] = {}


class BaselineFailed(Exception):
    """The generated tests fail on the rules as generated: no mutant can be judged."""


@dataclass
class MutationReport:
    killed: list[Mutant] = field(default_factory=list)
    survived: list[Mutant] = field(default_factory=list)
    equivalent: list[tuple[Mutant, str]] = field(default_factory=list)
    unread: list[Mutant] = field(default_factory=list)  # no alert reads the mutated rule

    @property
    def tested(self) -> int:
        return len(self.killed) + len(self.survived) + len(self.equivalent)

    @property
    def kill_rate(self) -> float:
        return (len(self.killed) + len(self.equivalent)) / self.tested if self.tested else 1.0


@dataclass(frozen=True)
class _TestFile:
    name: str
    rule_files: tuple[str, ...]  # rule file names it loads
    document: dict[str, Any]


def _record_readers(documents: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """record name -> the alert names that read it, directly or through other recordings."""
    rules = [rule for doc in documents.values() for group in doc.get("groups", []) for rule in group["rules"]]
    records = {rule["record"] for rule in rules if "record" in rule}
    patterns = {record: re.compile(rf"(?<![\w:]){re.escape(record)}(?![\w:])") for record in records}
    reads: dict[str, set[str]] = {}  # rule name -> records it reads
    for rule in rules:
        name = rule.get("alert") or rule["record"]
        reads.setdefault(name, set()).update(r for r, p in patterns.items() if p.search(str(rule["expr"])))
    readers: dict[str, set[str]] = {record: set() for record in records}
    alerts = {rule["alert"] for rule in rules if "alert" in rule}

    def closure(name: str, seen: set[str]) -> set[str]:
        found = set()
        for record in reads.get(name, ()):
            if record not in seen:
                found |= {record} | closure(record, seen | {record})
        return found
    for alert in alerts:
        for record in closure(alert, set()):
            readers[record].add(alert)
    return readers


def _groups_for(test: _TestFile, alerts: set[str]) -> list[dict[str, Any]]:
    return [group for group in test.document.get("tests", [])
            if any(case["alertname"] in alerts for case in group.get("alert_rule_test", []))]


def run_mutants(tree: Path, mutants: Sequence[Mutant] | None = None, jobs: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> MutationReport:
    """Mutation-test the generated tree at ``tree`` (its prometheus/rules and prometheus/tests)."""
    rules_dir, tests_dir = tree / RULES_DIR, tree / TESTS_DIR
    texts = {p.name: p.read_text() for p in sorted(rules_dir.glob("*.yml"))}
    documents = {name: yaml.safe_load(text) for name, text in texts.items()}
    tests = []
    for path in sorted(tests_dir.glob("*.test.yml")):
        document = yaml.safe_load(path.read_text())
        tests.append(_TestFile(path.name, tuple(Path(f).name for f in document["rule_files"]), document))
    readers = _record_readers(documents)
    _check_baseline(tests_dir, [t.name for t in tests if any(Path(f).name in documents for f in t.rule_files)])
    if mutants is None:
        mutants = [m for name, doc in documents.items() for m in rule_mutants(name, doc)]
    report = MutationReport()
    runnable: list[tuple[Mutant, list[tuple[_TestFile, list[dict[str, Any]]]]]] = []
    for mutant in mutants:
        alerts = {mutant.rule} if mutant.rule not in readers else readers[mutant.rule]
        selected = [(t, groups) for t in tests if mutant.file in t.rule_files and (groups := _groups_for(t, alerts))]
        if selected:
            runnable.append((mutant, selected))
        else:
            report.unread.append(mutant)
    done = 0

    def run(item: tuple[Mutant, list[tuple[_TestFile, list[dict[str, Any]]]]]) -> tuple[Mutant, bool]:
        mutant, selected = item
        return mutant, _killed(mutant, selected, documents[mutant.file], texts)

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        for mutant, killed in pool.map(run, runnable):
            done += 1
            if progress is not None:
                progress(done, len(runnable))
            if killed:
                report.killed.append(mutant)
            elif (reason := equivalent_reason(mutant)) is not None:
                report.equivalent.append((mutant, reason))
            else:
                report.survived.append(mutant)
    return report


def _check_baseline(tests_dir: Path, names: list[str]) -> None:
    """Every test file passes on the unmutated rules; otherwise every mutant would look killed."""
    outcome = run_tool("promtool", ["test", "rules", *names], cwd=tests_dir, timeout=900)
    if outcome.returncode != 0:
        failed = [line.strip() for line in outcome.output.splitlines() if line.strip().startswith("name:")]
        raise BaselineFailed(f"the generated tests fail on the unmutated rules ({', '.join(failed[:3]) or 'see promtool'}): "
                             "fix them before judging mutants")


def equivalent_reason(mutant: Mutant) -> str | None:
    return next((reason for pattern, reason in EQUIVALENT.items() if re.fullmatch(pattern, mutant.key)), None)


def _mutated(document: dict[str, Any], mutant: Mutant) -> dict[str, Any]:
    groups = []
    for group in document["groups"]:
        rules = list(group["rules"])
        if group["name"] == mutant.group:
            rule = dict(rules[mutant.position])
            if mutant.drop is not None:
                rule.pop(mutant.drop)
            else:
                rule["expr"] = mutant.expr
            rules[mutant.position] = rule
        groups.append({**group, "rules": rules})
    return {"groups": groups}


def _killed(mutant: Mutant, selected: Iterable[tuple[_TestFile, list[dict[str, Any]]]],
            document: dict[str, Any], texts: dict[str, str]) -> bool:
    """Whether any selected test group fails against the mutant. Only the mutated file is written
    anew; the others, and only those the selected tests load, are copied as generated."""
    selected = list(selected)
    root = Path(tempfile.mkdtemp(prefix="obstack-mutant-"))
    try:
        (root / "rules").mkdir()
        (root / "tests").mkdir()
        for name in {f for test, _ in selected for f in test.rule_files}:
            text = yaml.safe_dump(_mutated(document, mutant), sort_keys=False) if name == mutant.file else texts[name]
            (root / "rules" / name).write_text(text)
        names = []
        for test, groups in selected:
            (root / "tests" / test.name).write_text(yaml.safe_dump({**test.document, "tests": groups}, sort_keys=False))
            names.append(test.name)
        outcome = run_tool("promtool", ["test", "rules", *names], cwd=root / "tests", timeout=600)
        return outcome.returncode != 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


def report_lines(report: MutationReport) -> list[str]:
    """The report as text: the rate, then every survivor (what changed, where)."""
    lines = [f"mutants: {report.tested} tested, {len(report.killed)} killed, {len(report.equivalent)} equivalent, "
             f"{len(report.survived)} survived: kill rate {report.kill_rate:.1%}"
             + (f"; {len(report.unread)} in recordings no alert reads (not counted)" if report.unread else "")]
    lines += [f"  survived  {mutant.key}" for mutant in report.survived]
    lines += [f"  equivalent  {mutant.key}  ({reason})" for mutant, reason in report.equivalent]
    return lines
