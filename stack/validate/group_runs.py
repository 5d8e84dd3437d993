"""promtool test groups written to run against rule files cut down for them.

promtool evaluates every rule of the loaded files at every step of every test group, so a group
pays for rules that can tell it nothing. Both the mutation runner (``stack.validate.mutation``)
and the `promtool test rules` validator (``stack.validate.test_cuts``) run each group against
the rules it needs (``alerts.relevance``); this module holds what they share: a test file as
read, one group with the rule documents it loads, and the writing of such runs as promtool test
files, the groups of one test file that load the same rules in one file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from obstack.stack.spec.values import Duration

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(document: Any) -> str:
    """A document as YAML, keys in their order (libyaml: runs write thousands of documents)."""
    return yaml.dump(document, Dumper=_DUMPER, sort_keys=False)


def last_eval_ms(group: dict[str, Any]) -> int:
    """The last time a test group checks (its cases' latest ``eval_time``), in milliseconds:
    promtool evaluates the loaded rules at every step up to it."""
    cases = [*(group.get("alert_rule_test") or []), *(group.get("promql_expr_test") or [])]
    return max((Duration.parse(str(case["eval_time"])).milliseconds for case in cases), default=0)


@dataclass(frozen=True)
class UnitTestFile:
    name: str
    rule_files: tuple[str, ...]  # rule file names it loads
    document: dict[str, Any]


@dataclass(frozen=True)
class GroupRun:
    """One test group of one test file, with the rule documents it loads (rule file name ->
    document): the test file's rule files, each cut to the rules the group needs."""

    test: UnitTestFile
    group: dict[str, Any]
    rules: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Written:
    """A test file written for runs: its path (relative to the home it was written under) and
    its groups."""

    path: str
    groups: list[dict[str, Any]]


def write_runs(home: Path, runs: list[GroupRun]) -> dict[str, list[Written]]:
    """Write the group ``runs`` under ``home`` (its tests/ and rules/), runs of one test file
    loading the same rules in one file. Returns the files written by original test file name."""
    files: dict[str, tuple[UnitTestFile, list[dict[str, Any]], dict[str, str]]] = {}
    for run in runs:
        texts = {name: dump(run.rules[name]) for name in run.test.rule_files}
        key = hashlib.sha256("\0".join([run.test.name, *texts.values()]).encode()).hexdigest()[:12]
        files.setdefault(key, (run.test, [], texts))[1].append(run.group)
    written: dict[str, list[Written]] = {}
    for key, (test, groups, texts) in files.items():
        (home / "rules" / key).mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (home / "rules" / key / name).write_text(text)
        (home / "tests").mkdir(parents=True, exist_ok=True)
        path = f"tests/{key}-{test.name}"
        (home / path).write_text(dump(
            {**test.document, "rule_files": [f"../rules/{key}/{name}" for name in test.rule_files], "tests": groups}))
        written.setdefault(test.name, []).append(Written(path, groups))
    return written
