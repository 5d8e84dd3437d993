"""Mutation testing of a generated tree: do its promtool tests reject wrong rules?

Each mutant (``alerts.mutation``) is one rule file with one plausible mistake. It is *killed*
when a generated test that can see it fails: the test groups of the alert itself, or, for a
recording rule, of every alert that reads the recorded series (directly or through other
recordings). Only those groups run, from the test files that load the mutated file: the cheap
ones first, the dear ones only for mutants that survive them. Each group loads only the rules
that can change the alerts it checks (``alerts.relevance``: promtool evaluates every loaded rule
at every step, so an SLO group loading all of its service's SLO file pays three times over).
A mutant of a per-service file no test loads (a renamed copy of a tested one) is killed by the
validator's renamed-copy check whenever it changes the file. Mutants run in
batches, one promtool process a batch, a batch per core at a time.

A mutant no alert can see (a recording only dashboards read) is reported apart: no alert test
could kill it. A mutant the engine proves equivalent, or a survivor listed in ``EQUIVALENT``
(with the reason it cannot change any alert), is counted as killed and listed with its reason;
every other survivor is listed in the report.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import promql_parser

from obstack.alerts.mutation import Mutant, compared_above_zero, rule_mutants
from obstack.alerts.promql_tree import walk
from obstack.alerts.promtool_tests import TESTS_DIR
from obstack.alerts.relevance import GroupInput, needed_rules, reads_label
from obstack.alerts.renamed_files import SHARED_SERVICE_FILE, SharedServices, service_of, shared_services_document
from obstack.alerts.rule_files import RULES_DIR
from obstack.stack.spec.values import Duration
from obstack.foundation.artifacts import load_yaml
from obstack.stack.validate.group_runs import GroupRun, UnitTestFile, Written, dump, last_eval_ms, write_runs
from obstack.stack.validate.prometheus_tools import services_fed
from obstack.stack.validate.tools import ToolMissing, run_tool, tool_environment

# Survivors that cannot change any alert, by Mutant.key pattern, with the reason. Reviewed in the diff.
EQUIVALENT: dict[str, str] = {
    r".*Down#\d+: swap the aggregation: max -> (sum|avg)":
        "up is 0 or 1: the max, the sum and the mean of a job's targets are 0 together, so '== 0' "
        "fires on the same jobs",
    r".*:p95_rate\w+#\d+: swap the aggregation: sum -> avg":
        "histogram_quantile is scale-invariant: the mean of the instances' bucket rates is their sum "
        "divided by one count for every bucket (client libraries export every bucket)",
    r".*(InstancesDown|ScrapeTargetsDown)#\d+: threshold x0.8: < 1 -> 0.8":
        "the share of a job's targets up takes only the values k/n: with fewer than five targets none "
        "lies between 0.8 and 1, so '< 0.8' and '< 1' fire on the same shares (with five or more, the "
        "firing case at (n-1)/n rejects the mutant)",
    r"[^:]+:(service-[^:]+-recording|slo-[^:]+):[^#]+#\d+: drop a by label: by \(service, ([^)]*)\) -> by \(\2\)":
        "the recording sets the service label statically and its job filter reads one service, "
        "so the label comes back with the same value",
    r"slo-[^:]+\.yml:slo-[^:]+:slo:sli_error:ratio_rate\w+#\d+: drop a matcher: service=\"[^\"]+\" dropped":
        "the SLI divides the service's bad requests by its request rate (or subtracts its good ones "
        "from it), matching one-to-one on (service, team); the other side reads the service's own job, "
        "whose series carry its service label, so the request rates of other services find no partner",
}


class ChangesUnknown(Exception):
    """The rule files changed since a git revision cannot be told (not a repository, no such revision)."""


def changed_rule_files(rules_dir: Path, revision: str) -> list[str]:
    """The rule files in ``rules_dir`` that differ from their version at git ``revision``, or are
    new since: the files a change touched, for a mutation run on them alone."""
    diff = run_tool("git", ["diff", "--name-only", "--relative", revision, "--", "."], cwd=rules_dir)
    if diff.returncode != 0:
        reason = diff.output.splitlines()[0] if diff.output else "git failed"
        raise ChangesUnknown(f"--changed-since {revision}: {reason} (needs a git repository holding {rules_dir} "
                             "and a revision it knows, e.g. HEAD)")
    new = run_tool("git", ["ls-files", "--others", "--exclude-standard", "--", "."], cwd=rules_dir)
    names = {Path(line).name for line in (diff.output + "\n" + new.output).splitlines() if line.strip()}
    return sorted(name for name in names if name.endswith(".yml") and (rules_dir / name).is_file())


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


def _groups_for(test: UnitTestFile, alerts: set[str]) -> list[dict[str, Any]]:
    return [group for group in test.document.get("tests", [])
            if any(case["alertname"] in alerts for case in group.get("alert_rule_test", []))]


Selected = list[GroupRun]


class _Groups:
    """The test groups of a tree with what each needs of the unmutated rules, worked out once."""

    def __init__(self, tests: list[UnitTestFile], documents: dict[str, dict[str, Any]]) -> None:
        self.documents = documents
        self.inputs: dict[int, GroupInput] = {}
        self.original: dict[int, GroupRun] = {}
        for test in tests:
            for group in test.document.get("tests", []):
                self.inputs[id(group)] = GroupInput(series["series"] for series in group.get("input_series", []))

    def alertnames(self, group: dict[str, Any]) -> set[str]:
        return {case["alertname"] for case in group.get("alert_rule_test", [])}

    def unmutated(self, test: UnitTestFile, group: dict[str, Any]) -> GroupRun:
        if id(group) not in self.original:
            rules = needed_rules({name: self.documents[name] for name in test.rule_files}, self.alertnames(group),
                                 self.inputs[id(group)])
            self.original[id(group)] = GroupRun(test, group, rules)
        return self.original[id(group)]

    def mutated(self, test: UnitTestFile, group: dict[str, Any], mutant: Mutant, document: dict[str, Any]
                ) -> GroupRun | None:
        """The group's run against the mutant (``document``: the mutated rule file), or None when the
        mutated rule, as generated and as mutated, has no part in it: nothing it checks could change."""
        rules = needed_rules({name: document if name == mutant.file else self.documents[name]
                              for name in test.rule_files}, self.alertnames(group), self.inputs[id(group)])
        if not (_holds(rules, mutant, document)
                or _holds(self.unmutated(test, group).rules, mutant, self.documents[mutant.file])):
            return None
        return GroupRun(test, group, rules)


def _holds(rules: dict[str, dict[str, Any]], mutant: Mutant, document: dict[str, Any]) -> bool:
    """Whether ``rules`` keep the rule the mutant changes, as it stands in ``document`` (the rule
    file as generated, or as mutated)."""
    target = next(g for g in document["groups"] if g["name"] == mutant.group)["rules"][mutant.position]
    return any(rule is target for group in rules.get(mutant.file, {}).get("groups", []) for rule in group["rules"])


def run_mutants(tree: Path, mutants: Sequence[Mutant] | None = None, jobs: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> MutationReport:
    """Mutation-test the generated tree at ``tree`` (its prometheus/rules and prometheus/tests)."""
    rules_dir, tests_dir = tree / RULES_DIR, tree / TESTS_DIR
    documents = {path.name: load_yaml(path.read_text()) for path in sorted(rules_dir.glob("*.yml"))}
    tests = []
    for path in sorted(tests_dir.glob("*.test.yml")):
        document = load_yaml(path.read_text())
        tests.append(UnitTestFile(path.name, tuple(Path(f).name for f in document["rule_files"]), document))
    readers = _record_readers(documents)
    if mutants is None:
        mutants = [m for name, doc in documents.items() for m in rule_mutants(name, doc)]
    report = MutationReport()
    groups = _Groups(tests, documents)
    loaded = {name for test in tests for name in test.rule_files}
    fed = services_fed(series["series"] for test in tests if SHARED_SERVICE_FILE in test.rule_files
                          for group in test.document.get("tests") or [] for series in group.get("input_series") or [])
    runnable: list[tuple[Mutant, Selected]] = []
    for mutant in mutants:
        if mutant.equivalent is not None:  # proven by the engine: nothing to run
            report.equivalent.append((mutant, mutant.equivalent))
            continue
        if mutant.file not in loaded and service_of(PurePosixPath(mutant.file)) is not None:
            # A renamed copy of a tested file (alerts.renamed_files): any change to it fails the
            # `promtool test rules` validator's check that it is the tested file renamed.
            document = documents[mutant.file]
            if dump(_mutated(document, mutant)) != dump(document):
                report.killed.append(mutant)
            else:
                report.equivalent.append((mutant, "leaves the file as it was"))
            continue
        if mutant.file == SHARED_SERVICE_FILE and SharedServices.of(shared_services_document(
                {**documents, mutant.file: _mutated(documents[mutant.file], mutant)})).uncovered(fed):
            # A service tested through another no longer is that one renamed: the validator fails.
            report.killed.append(mutant)
            continue
        alerts = {mutant.rule} if mutant.rule not in readers else readers[mutant.rule]
        candidates = [(test, group) for test in tests if mutant.file in test.rule_files
                      for group in _groups_for(test, alerts)]
        if not candidates:
            report.unread.append(mutant)
            continue
        if (reason := _label_unread(mutant, documents, [groups.inputs[id(group)] for _, group in candidates])
                or _zeros_unseen(mutant, documents, readers)):
            report.equivalent.append((mutant, reason))
            continue
        document = _mutated(documents[mutant.file], mutant)
        selected = [run for test, group in candidates if (run := groups.mutated(test, group, mutant, document))]
        if selected:
            runnable.append((mutant, selected))
        elif (reason := equivalent_reason(mutant)) is not None:
            report.equivalent.append((mutant, reason))
        else:  # no test group gives the rule anything to read: no test can tell the mistake
            report.survived.append(mutant)
    jobs = jobs or os.cpu_count() or 2
    _check_baseline(_baseline_groups(runnable, groups), jobs)
    killed = _run_stages(runnable, jobs, progress)
    for index, (mutant, _) in enumerate(runnable):
        if index in killed:
            report.killed.append(mutant)
        elif (reason := equivalent_reason(mutant)) is not None:
            report.equivalent.append((mutant, reason))
        else:
            report.survived.append(mutant)
    return report


# Mutants judged in one promtool run: each in its own directory, one process for them all, so
# the start-up and rule-loading cost is paid once per batch rather than once per mutant.
BATCH_SIZE = 24


def _run_stages(runnable: list[tuple[Mutant, Selected]], jobs: int,
                progress: Callable[[int, int], None] | None) -> set[int]:
    """Indexes of the killed mutants. Every mutant's cheapest groups run first (in batches, ``jobs``
    batches at once); only the survivors of a stage run their next, dearer ones."""
    stages = [_stages(selected) for _, selected in runnable]
    killed: set[int] = set()
    done = 0
    for stage in range(max((len(s) for s in stages), default=0)):
        work = [(index, stages[index][stage]) for index in range(len(runnable))
                if index not in killed and len(stages[index]) > stage]
        size = max(1, min(BATCH_SIZE, -(-len(work) // (jobs * 2))))
        batches = [work[i:i + size] for i in range(0, len(work), size)]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for batch, found in zip(batches, pool.map(_batch_killed, batches)):
                killed |= found
                done += len(batch)
                if progress is not None:
                    progress(done, sum(len(s) for s in stages))
    return killed


_UNIT = re.compile(r"^Unit Testing:\s+(\S+)\s*$")


def _promtool() -> str:
    executable = shutil.which("promtool")
    if executable is None:
        raise ToolMissing("promtool")
    return executable


def _batch_killed(batch: list[tuple[int, Selected]]) -> set[int]:
    """Which mutants of ``batch`` (index, its group runs) fail a group: one promtool run over all of
    them, each mutant's rule files and tests in a directory of its own."""
    root = Path(tempfile.mkdtemp(prefix="obstack-mutants-"))
    try:
        owner: dict[str, int] = {}
        for index, selected in batch:
            for files in write_runs(root / f"m{index}", selected).values():
                owner.update((f"m{index}/{file.path}", index) for file in files)
        # promtool writes each file's name and, when it passes, SUCCESS to stdout; failures go to stderr.
        run = subprocess.run([_promtool(), "test", "rules", *owner], cwd=root, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, timeout=1800, check=False, env=tool_environment())
        passed = _passed(run.stdout)
        failed = {index for name, index in owner.items() if name not in passed}
        if run.returncode != 0 and not failed:
            raise RuntimeError("promtool failed without a failing test file")
        return failed
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _passed(output: str) -> set[str]:
    """The test files promtool's output reports as passing."""
    passed, current = set(), None
    for line in output.splitlines():
        if (unit := _UNIT.match(line)) is not None:
            current = unit.group(1)
        elif current is not None and line.strip() == "SUCCESS":
            passed.add(current)
    return passed


BASELINE_TIMEOUT = 3600  # seconds a test file may take (an SLO file of a hundred services takes minutes)


def _baseline_groups(runnable: list[tuple[Mutant, Selected]], groups: _Groups) -> Selected:
    """Every test group some mutant will run, once, against the unmutated rules: what must pass."""
    runs: dict[int, GroupRun] = {}
    for _, selected in runnable:
        for run in selected:
            runs.setdefault(id(run.group), groups.unmutated(run.test, run.group))
    return list(runs.values())


def _check_baseline(selected: Selected, jobs: int = 2) -> None:
    """The test groups the mutants will run pass on the unmutated rules, each loading the rules it
    needs as the mutants' runs do; otherwise every mutant would look killed. One promtool process a
    test file, ``jobs`` at once."""
    root = Path(tempfile.mkdtemp(prefix="obstack-baseline-"))

    def check(test: str, files: list[Written]) -> str | None:
        outcome = run_tool("promtool", ["test", "rules", *(file.path for file in files)], cwd=root,
                           timeout=BASELINE_TIMEOUT)
        if outcome.returncode == 124:
            return f"{test} did not finish within {BASELINE_TIMEOUT} s"
        if outcome.returncode != 0:
            failed = [line.strip() for line in outcome.output.splitlines() if line.strip().startswith("name:")]
            return f"{test}: {', '.join(failed[:3]) or 'see promtool test rules ' + test}"
        return None
    try:
        written = write_runs(root, selected)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            problems = [problem for problem in pool.map(lambda item: check(*item), written.items())
                        if problem is not None]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if problems:
        raise BaselineFailed(f"the generated tests fail on the unmutated rules ({'; '.join(problems[:3])}): "
                             "fix them before judging mutants")


_ADDED_LABEL = re.compile(r"by \(\.\.\. (\S+)\)")


def _label_unread(mutant: Mutant, documents: dict[str, dict[str, Any]], inputs: list[GroupInput]) -> str | None:
    """Why an aggregation keeping one more label cannot change anything, if it cannot: no series
    the rule reads carries the label (in the inputs its tests give it, which carry every label the
    spec says the metrics have, and through its recordings)."""
    added = _ADDED_LABEL.fullmatch(mutant.detail) if mutant.operator == "add a by label" else None
    if added is None:
        return None
    label = added.group(1)
    # The aggregations grouping by the label in the mutant: the one the mutant widened among them.
    # Each reads only its own argument, so that is where the label must be missing.
    widened = [node.expr for _, node in walk(promql_parser.parse(mutant.expr))
               if type(node).__name__ == "AggregateExpr" and node.modifier is not None
               and str(node.modifier.type) == "AggModifierType.By" and label in node.modifier.labels]
    if any(reads_label(documents, str(argument), label, inputs) for argument in widened):
        return None
    return f"no series its widened aggregation reads carries {label}: the added by label splits nothing"


def _zeros_unseen(mutant: Mutant, documents: dict[str, dict[str, Any]], readers: dict[str, set[str]]) -> str | None:
    """Why a change to the zeros of a recording's ``or 0 * ...`` branch cannot change any alert, if
    it cannot: every alert reading the recording compares it ``> t`` with t >= 0 (or ``>= t``,
    t > 0), where a series at 0 and no series are the same, and no recording an alert reads
    reads it."""
    if not mutant.zeros_only or mutant.rule not in readers:
        return None
    name = re.compile(rf"(?<![\w:]){re.escape(mutant.rule)}(?![\w:])")
    for document in documents.values():
        for group in document.get("groups", []):
            for rule in group["rules"]:
                expr = str(rule["expr"])
                if rule.get("record") == mutant.rule or not name.search(expr):
                    continue
                if "record" in rule and readers.get(rule["record"]):
                    return None  # read on by a recording some alert reads: not followed
                if "alert" in rule and not compared_above_zero(expr, mutant.rule):
                    return None
    return ("it only changes the zero series of the 'or 0 * ...' branch (the ratio of a service that never "
            "failed), and every alert reading the recording compares it '> threshold', where 0 and nothing "
            "are the same")


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


# A mutant is killed as soon as one group fails, and most fail one of their cheapest groups
# (measured on the default spec's SLO file sample: the cheapest killer is under 1% of the mutant's
# test cost for 80 of the 92 killed, median 0.17%). So each mutant's groups run in stages of growing cost: the first takes
# FIRST_STAGE_SHARE of the cost, each next one STAGE_GROWTH times the share before, and only the
# survivors of a stage run the next. Two stages (30%, then the rest) cost 2.3 times as much.
FIRST_STAGE_SHARE = 0.002
STAGE_GROWTH = 3
# promtool opens a fresh storage and loads the rules for every group: about as much work as
# GROUP_OVERHEAD sample-evaluations (measured: ~36 ms a group against ~38 us a sample-step).
GROUP_OVERHEAD = 1000


def _cost(group: dict[str, Any]) -> float:
    """promtool's work for a test group: evaluation steps times the series it feeds, plus its set-up."""
    steps = last_eval_ms(group) / Duration.parse(str(group["interval"])).milliseconds
    return steps * (len(group.get("input_series", [])) + 1) + GROUP_OVERHEAD


def _stages(selected: Selected) -> list[Selected]:
    """The selected groups in runs of growing cost, cheapest first: every run but the last holds
    at least one group and, past its first, stays within its share of the total cost."""
    costed = sorted(((_cost(run.group), index, run) for index, run in enumerate(selected)), key=lambda item: item[:2])
    total = sum(cost for cost, *_ in costed)
    stages: list[Selected] = [[]]
    spent, share = 0.0, FIRST_STAGE_SHARE
    for cost, _, run in costed:
        while stages[-1] and spent + cost > share * total and share < 1:
            stages.append([])
            share = min(1.0, share * STAGE_GROWTH)
        stages[-1].append(run)
        spent += cost
    return stages


def report_lines(report: MutationReport) -> list[str]:
    """The report as text: the rate, then every survivor (what changed, where)."""
    lines = [f"mutants: {report.tested} tested, {len(report.killed)} killed, {len(report.equivalent)} equivalent, "
             f"{len(report.survived)} survived: kill rate {report.kill_rate:.1%}"
             + (f"; {len(report.unread)} in recordings no alert reads (not counted)" if report.unread else "")]
    lines += [f"  survived  {mutant.key}" for mutant in report.survived]
    lines += [f"  equivalent  {mutant.key}  ({reason})" for mutant, reason in report.equivalent]
    return lines
