"""`promtool test rules` on test files, each group run against the rules that can see its input.

promtool evaluates every rule of the loaded files at every step of every test group, about a
tenth of a millisecond a rule even where the rule has nothing to read: a test of a service's
availability SLO pays, at every step, for the errors and latency SLOs' rules of the same file,
which read request series the group does not feed. At 100 services the cut takes about a
quarter off the validator's promtool time (docs/alerting.md).

So each group runs against its test file's rules less those that are *idle* in it
(``alerts.relevance.live_rules``): rules that can output no series there (nor can what they
read from the group's other rules) and evaluate nothing that could fail on what they read
(``_Presence.may_fail``). The verdict stays promtool's verdict on the files as written:

- an idle rule outputs nothing, so no rule, alert or expression a test checks reads anything
  different without it; the rules kept are the file's own, in their groups and their order;
- promtool also fails a test on a rule that fails to evaluate (a bad regex, a many-to-many
  match). An idle rule can fail only as it would on no input at all, so the rules idle in some
  group of a file are evaluated once more in a group of their own with no input, and an error
  there fails the file as it would have;
- a file the cut cannot read (not YAML, rule files named by a glob or twice, a
  ``group_eval_order``, an expression the parser refuses) runs as written.

The cut files of a test file are written to a temporary directory and run in one promtool
process, the dearest test files first, ``jobs`` at a time, with the written names in promtool's
output read back as the original's.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from obstack.alerts.relevance import GroupInput, live_rules, only
from obstack.foundation.artifacts import load_yaml
from obstack.stack.spec.values import Duration
from obstack.stack.validate.group_runs import GroupRun, UnitTestFile, last_eval_ms, write_runs
from obstack.stack.validate.tools import ToolRun, run_tool

TIMEOUT = 600  # seconds one promtool run may take

# The group in which the rules idle in some group of a file are evaluated on no input.
IDLE_GROUP = "the rules idle in a group, left out there, evaluated on no input"


@dataclass(frozen=True)
class _Unit:
    """The promtool run for the test file ``original``: ``args`` in ``cwd``; ``work`` ranks it."""

    original: Path
    cwd: Path
    args: tuple[str, ...]
    work: float


def run_test_files(paths: list[Path], jobs: int = 2) -> dict[Path, ToolRun]:
    """promtool's outcome for each test file in ``paths``, its groups cut as the module says."""
    root = Path(tempfile.mkdtemp(prefix="obstack-test-cuts-"))
    try:
        units = sorted((_unit(path, root / f"f{index}") for index, path in enumerate(paths)), key=lambda u: -u.work)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return {unit.original: outcome for unit, outcome in zip(units, pool.map(_run, units))}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(unit: _Unit) -> ToolRun:
    """One promtool run, its output naming the test file as written (and its rule files as
    ``../rules/<name>``, not the cut copies' directories)."""
    outcome = run_tool("promtool", ["test", "rules", *unit.args], cwd=unit.cwd, timeout=TIMEOUT)
    text = _CUT_RULES.sub("rules/", outcome.output)
    for arg in unit.args:
        text = text.replace(arg, unit.original.name)
    return ToolRun(outcome.returncode, text)


_CUT_RULES = re.compile(r"rules/[0-9a-f]{12}/")  # group_runs.write_runs' directory of one file's cut rules


def _unit(path: Path, home: Path) -> _Unit:
    """The promtool run that tests ``path``: its cut files written under ``home`` (one process for
    them all: a process a cut file cost more in start-ups than the cut saved on small trees), or
    the file as written."""
    try:
        return _cut_unit(path, home)
    except Exception:  # noqa: BLE001 - whatever stops the cut, promtool judges the file as written
        return _Unit(path, path.parent, (path.name,), float(path.stat().st_size))


def _cut_unit(path: Path, home: Path) -> _Unit:
    test, documents = _read(path)
    runs = list(_cut(test, documents))
    interval = Duration.parse(str(test.document.get("evaluation_interval", "1m"))).milliseconds
    rules = {id(run.group): sum(len(group["rules"]) for document in run.rules.values()
                                for group in document["groups"]) for run in runs}
    files = write_runs(home, runs).get(test.name, [])
    work = sum(_work(group, rules[id(group)], interval) for file in files for group in file.groups)
    return _Unit(path, home, tuple(file.path for file in files), work)


def _work(group: dict[str, Any], rules: int, interval: int) -> float:
    """promtool's work for a group: its evaluation steps times the rules it loads."""
    return (last_eval_ms(group) // interval + 1) * (rules + 1)


def _read(path: Path) -> tuple[UnitTestFile, dict[str, dict[str, Any]]]:
    document = load_yaml(path.read_text(encoding="utf-8"))
    if "group_eval_order" in document:
        raise ValueError("group_eval_order names groups a cut may leave out")
    sources = [path.parent / str(each) for each in document["rule_files"]]
    names = tuple(PurePosixPath(str(each)).name for each in document["rule_files"])
    if len(set(names)) != len(names) or any(not source.is_file() for source in sources):
        raise ValueError("rule files by glob, missing, or two of one name")
    documents = {name: load_yaml(source.read_text(encoding="utf-8")) for name, source in zip(names, sources)}
    return UnitTestFile(path.name, names, document), documents


def _cut(test: UnitTestFile, documents: dict[str, dict[str, Any]]) -> Iterator[GroupRun]:
    """Each group of ``test`` with the rules live in it; then, if any rule is idle in some group,
    a group with no input that loads those rules."""
    every = {id(rule): rule for document in documents.values() for group in document.get("groups") or []
             for rule in group["rules"]}
    idle: set[int] = set()
    for group in test.document["tests"]:
        inputs = GroupInput(str(series["series"]) for series in group.get("input_series") or [])
        live = {id(rule) for rule in live_rules(documents, inputs)}
        idle |= every.keys() - live
        yield GroupRun(test, group, only(documents, live))
    if idle:
        yield GroupRun(test, {"name": IDLE_GROUP, "input_series": []}, only(documents, idle))
