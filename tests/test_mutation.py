"""Mutation testing: the engine makes valid, distinct mutants, and the generated tests reject them.

The mutants are checked for shape here (each operator yields parseable PromQL that differs from
the original); ``obstack mutate`` runs the generated promtool tests against every mutant of the
default spec's service rules, and the share they reject must not fall.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from typer.testing import CliRunner

from obstack.alerts.mutation import Mutant, compared_above_zero, expression_mutants, render, rule_mutants
from obstack.alerts.neighbours import Neighbourhood, Recordings, metric_filters, neighbours
from obstack.alerts.promql_tree import walk
from obstack.alerts.relevance import GroupInput
from obstack.alerts.rule_model import InputSeries
from obstack.stack.cli import app
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.validate.group_runs import GroupRun, UnitTestFile
from obstack.stack.validate.mutation import (FIRST_STAGE_SHARE, GROUP_OVERHEAD, STAGE_GROWTH, BaselineFailed, _cost,
                                             _label_unread, _stages, changed_rule_files, run_mutants)
from obstack.stack.writer import write_tree
from tests.support.servers import require_binary
from tests.support.trees import generated_tree

pytestmark = pytest.mark.long_running(200)  # seconds in one process: scheduled first (tests/conftest.py)

# The rule files mutation-tested in `make test`, on the default spec and a second one unlike it.
CHECKED_FILES = ("services.yml", "datastores.yml", "queues.yml", "host.yml", "stack.yml")
KILL_RATE = 0.95
SLO_FILE = "slo-bookmark-api.yml"  # the default spec's one service's SLO rules
# The SLO rule file is sampled in tests/test_mutation_slo.py (a module of its own: it runs beside this one);
# the mistakes the audit found in it are checked below on every pair.
SECOND_SPEC = Path(__file__).parent / "specs" / "shop.yaml"

GUARDED = ('(service:http_request_errors:ratio_rate5m{service="api"} > 0.05)\n'
           'and on (service, team)\nservice:http_requests:rate5m{service="api"} * 300 >= 100')


def test_rendering_without_a_change_is_the_parser_s_own_text() -> None:
    expr = promql_parser.parse(GUARDED)
    assert render(expr, {}) == str(expr)


def test_every_mutant_parses_and_differs_from_the_original() -> None:
    original = str(promql_parser.parse(GUARDED))
    mutants = list(expression_mutants(GUARDED))
    texts = [str(promql_parser.parse(text)) for _, _, text in mutants]
    assert original not in texts and len(set(texts)) == len(texts)
    operators = {operator for operator, _, _ in mutants}
    assert {"drop the and branch", "keep only the and branch", "invert the comparison", "threshold x0.8",
            "threshold x2.5", "drop a matcher", "negate a matcher"} <= operators
    dropped = next(text for operator, _, text in mutants if operator == "drop the and branch")
    assert "300" not in dropped  # the traffic guard is gone


def test_aggregations_windows_and_regexes_are_mutated() -> None:
    expr = 'sum by (service, team) (rate(x_count{job="a", code=~"5.."}[5m]))'
    found = {(operator, detail) for operator, detail, _ in expression_mutants(expr)}
    assert ("swap the aggregation", "sum -> avg") in found
    assert ("drop a by label", "by (service, team) -> by (team)") in found
    assert ("add a by label", "by (... instance)") in found
    assert ("add a by label", "by (... route)") in found
    assert ("window x2", "[5m] -> [10m]") in found
    assert ("widen a regex", 'code=~"5.." -> ".+"') in found
    assert ("read a counter as a gauge", "rate() -> deriv()") in found


def test_rules_lose_their_for_and_keep_firing_for() -> None:
    document = {"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": "x > 1", "for": "2m", "keep_firing_for": "5m"}, {"record": "r", "expr": "sum(x)"}]}]}
    drops = {m.drop for m in rule_mutants("f.yml", document) if m.drop}
    assert drops == {"for", "keep_firing_for"}


SHARED = ('max by (job) (resets(start{job="a"}[10m])) > 0\n'
          'or max by (job) (resets(requests{job="a"}[10m])) > max by (job) (changes(start{job="a"}[10m]))')


def _swaps(rule: dict[str, Any]) -> dict[str, str | None]:
    document = {"groups": [{"name": "g", "rules": [rule]}]}
    return {m.expr: m.equivalent for m in rule_mutants("f.yml", document)
            if m.operator == "swap the aggregation" and m.detail in ("max -> sum", "max -> avg")}


def test_a_sum_or_mean_for_a_max_of_counts_compared_above_zero_is_proven_equivalent() -> None:
    """resets() is never negative: its max, sum and mean are above 0 together. Only where the
    comparison is "> 0", and only for an alert whose texts show no value."""
    swaps = _swaps({"alert": "A", "expr": SHARED, "annotations": {"summary": "one target, several processes"}})
    proven = {expr for expr, reason in swaps.items() if reason}
    assert len(swaps) == 6 and len(proven) == 2  # the first max, to sum and to avg
    assert all("resets(start" in expr.split(" or ")[0] and "max" not in expr.split(" or ")[0] for expr in proven)
    assert not any(_swaps({"alert": "A", "expr": SHARED, "annotations": {"description": "{{ $value }}"}}).values())
    assert not any(_swaps({"record": "r", "expr": SHARED}).values())  # a recording's value is read
    assert not any(_swaps({"alert": "A", "expr": 'max by (job) (resets(start[10m])) > 1'}).values())
    assert not any(_swaps({"alert": "A", "expr": 'max by (job) (delta(start[10m])) > 0'}).values())


def test_an_added_by_label_is_judged_on_the_aggregation_it_widens() -> None:
    """route is on the request counter, not on the start time: keeping it in an aggregation of the
    start time splits nothing, in the counter's it does."""
    inputs = [GroupInput(['start{job="a"}', 'requests{job="a", route="/x"}', 'requests{job="a", route="/y"}'])]
    document = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": SHARED}]}]}
    widened = {}  # the metric the widened aggregation reads -> the proof, per mutant
    for mutant in (m for m in rule_mutants("f.yml", document) if m.detail == "by (... route)"):
        reads = next(str(node.expr) for _, node in walk(promql_parser.parse(mutant.expr))
                     if type(node).__name__ == "AggregateExpr" and "route" in node.modifier.labels)
        widened[reads] = _label_unread(mutant, {"f.yml": document}, inputs)
    assert len(widened) == 3
    assert [reads for reads, reason in widened.items() if reason is None] == ['resets(requests{job="a"}[10m])']


def test_each_mutant_s_groups_run_cheapest_first_in_stages_of_growing_cost() -> None:
    """A mutant is killed by its first failing group: the cheap groups run first, a few at a time,
    and each stage may cost STAGE_GROWTH times the share of the one before."""
    test = UnitTestFile("t.test.yml", ("r.yml",), {})
    steps = [1, 2, 3, 5, 8, 13, 40, 100, 300, 1000, 1000, 3000]
    runs = [GroupRun(test, {"name": f"g{n}", "interval": "1m", "alert_rule_test": [{"eval_time": f"{n}m"}],
                             "input_series": [{}]}, {}) for n in reversed(steps)]
    stages = _stages(runs)
    costs = [[_cost(run.group) for run in stage] for stage in stages]
    assert [c for stage in costs for c in stage] == sorted(_cost(run.group) for run in runs)
    assert len(stages) >= 4 and all(stages)
    total, spent, share = sum(map(sum, costs)), 0.0, FIRST_STAGE_SHARE
    for stage in costs[:-1]:
        assert len(stage) == 1 or spent + sum(stage) <= share * total
        spent, share = spent + sum(stage), share * STAGE_GROWTH
    assert _cost(runs[-1].group) == 1 * 2 + GROUP_OVERHEAD  # a step and its one series, and set-up


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_tree(tmp_path_factory.mktemp("mutation"))


@pytest.mark.parametrize(("spec_path", "stride"), [(None, 1), (SECOND_SPEC, 3)], ids=["default", "shop"])
def test_the_generated_tests_kill_the_mutants(spec_path: Path | None, stride: int, tmp_path: Path,
                                             request: pytest.FixtureRequest) -> None:
    """Every mutant of the default spec; every third of the second spec's 774, to keep `make test`
    near its 15 minutes (all of them: `obstack mutate --file ...` on its tree, docs/alerting.md)."""
    root = request.getfixturevalue("tree") if spec_path is None else generated_tree(tmp_path, spec_path)
    recordings = sorted(p.name for p in (root / "prometheus/rules").glob("service-*.yml"))  # each service's RED
    mutants = [m for name in (*CHECKED_FILES, *recordings)
               for m in rule_mutants(name, yaml.safe_load((root / "prometheus/rules" / name).read_text()))]
    mutants = mutants[::stride]
    report = run_mutants(root, mutants)
    killed = {m.operator for m in report.killed}
    # The mistakes the audit found surviving, now rejected.
    assert {"drop the and branch", "swap the aggregation", "widen a regex", "add a by label", "drop a matcher",
            "drop keep_firing_for", "threshold x2.5", "threshold x0.8", "read a counter as a gauge"} <= killed
    survivors = "\n".join(m.key for m in report.survived)
    assert report.kill_rate >= KILL_RATE, f"kill rate {report.kill_rate:.1%}; survivors:\n{survivors}"


def test_widening_a_filter_the_other_side_of_a_match_pins_is_proven_equivalent() -> None:
    document = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": (
        'r{service="api"} > 0.05 and on (service) q{service="api"} * 300 >= 100\n'
        'or sum by (team) (x{service="api"}) / y{service="api"} > 1')}]}]}
    dropped = {(m.detail, m.equivalent is not None) for m in rule_mutants("f.yml", document)
               if m.operator == "drop a matcher"}
    # Both sides of the guarded comparison pin service: either filter alone is redundant.
    assert dropped == {('service="api" dropped', True), ('service="api" dropped', False)}
    reasons = [m.equivalent for m in rule_mutants("f.yml", document) if m.equivalent]
    assert len(reasons) == 2 and all('keeps only service="api"' in r for r in reasons)
    # Under sum by (team) the label is aggregated away: dropping its filter is a real mistake.
    unfiltered = [m for m in rule_mutants("f.yml", document) if m.operator == "drop a matcher" and "x{}" in m.expr]
    assert len(unfiltered) == 1 and unfiltered[0].equivalent is None


def test_neighbours_leave_exactly_the_filters_every_selector_applies() -> None:
    records = {"service:errors:ratio": [
        ('sum by (service) (rate(reqs{job="api", code=~"5.."}[5m])) / sum by (service) (rate(reqs{job="api"}[5m]))',
         {"service": "api"}),
        ('sum by (service) (rate(reqs{job="web", code=~"5.."}[5m])) / sum by (service) (rate(reqs{job="web"}[5m]))',
         {"service": "web"})]}
    filters = metric_filters('service:errors:ratio{service="api"} > 0.05 and on (service) '
                             'up{job="api", service="api"} == 1', Recordings(records))
    # Each selector's filters; web's recording of the same name is not followed.
    assert filters["reqs"] == [{("job", "=", "api"), ("code", "=~", "5..")}, {("job", "=", "api")}]
    assert filters["up"] == [{("job", "=", "api"), ("service", "=", "api")}]
    series = [InputSeries('up{job="api", service="api", instance="a:1"}', "1x{n}"),
              InputSeries('reqs{job="api", code="500", instance="a:1"}', "0+1x{n}")]
    copies = {s.series for s in neighbours(series, Neighbourhood.of([filters]))}
    assert copies == {'up{job="api-neighbour", service="api", instance="a:1"}',
                      'up{job="api", service="api-neighbour", instance="a:1"}',
                      'reqs{job="api-neighbour", code="500", instance="a:1"}'}
    # A regex filter: the copy leaves it; one it cannot leave gets no copy.
    queue = [InputSeries('jobs{queue="import"}', "5x{n}")]
    regex = Neighbourhood.of([{"jobs": [{("queue", "=~", "import|check")}]}])
    assert [s.series for s in neighbours(queue, regex)] == ['jobs{queue="import-neighbour"}']
    assert neighbours(queue, Neighbourhood.of([{"jobs": [{("queue", "=~", ".*")}]}])) == []
    # Two terms (or rules) of one alert, each for its own queues: the copy must leave both filters.
    both = [{"jobs": [{("queue", "=", "import")}, {("queue", "=~", "check|mail")}]}]
    assert [s.series for s in neighbours(queue, Neighbourhood.of(both))] == ['jobs{queue="import-neighbour"}']
    assert neighbours(queue, Neighbourhood.of([{"jobs": [{("queue", "=", "import")}, set()]}])) == []


def test_a_failing_baseline_is_refused_not_counted_as_kills(tree: Path, tmp_path: Path) -> None:
    broken = tmp_path / "tree"
    write_tree(broken, generate(load_spec(None)))
    path = broken / "prometheus/rules/services.yml"
    path.write_text(path.read_text().replace("> 0.05", "> 0.5"))
    mutants = list(rule_mutants("services.yml", yaml.safe_load(path.read_text())))
    with pytest.raises(BaselineFailed, match="the generated tests fail on the unmutated rules"):
        run_mutants(broken, mutants)
    # Only the groups the mutants run must pass: the host file's mutants never see services.yml's tests.
    host = list(rule_mutants("host.yml", yaml.safe_load((broken / "prometheus/rules/host.yml").read_text())))
    assert run_mutants(broken, host[:3]).tested == 3


def test_mutate_command_reports_and_refuses_unknown_files(tree: Path) -> None:
    result = CliRunner().invoke(app, ["mutate", "--out", str(tree), "--file", "nope.yml"])
    assert result.exit_code == 2
    assert "--file nope.yml: not a generated rule file (known: datastores.yml" in result.output


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_only_the_rule_files_changed_since_a_revision_are_mutated(tmp_path: Path) -> None:
    require_binary("git", "git")
    write_tree(tmp_path, generate(load_spec(None)))
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "generated")
    rules = tmp_path / "prometheus/rules"
    assert changed_rule_files(rules, "HEAD") == []
    result = CliRunner().invoke(app, ["mutate", "--out", str(tmp_path), "--changed-since", "HEAD"])
    assert result.exit_code == 0 and "changed since HEAD: nothing to mutate" in result.output
    (rules / "host.yml").write_text((rules / "host.yml").read_text() + "\n")
    (rules / "extra.yml").write_text("groups: []\n")
    assert changed_rule_files(rules, "HEAD") == ["extra.yml", "host.yml"]
    result = CliRunner().invoke(app, ["mutate", "--out", str(tmp_path), "--changed-since", "no-such-rev"])
    assert result.exit_code == 2 and "--changed-since no-such-rev:" in result.output


def test_counting_client_errors_as_failures_is_rejected(tree: Path) -> None:
    """The audit's "4xx counted as errors": request inputs carry 404s, so the ratio moves."""
    rules = yaml.safe_load((tree / "prometheus/rules/service-bookmark-api.yml").read_text())
    group = next(g for g in rules["groups"] if g["name"].endswith("-recording"))
    position, rule = next((i, r) for i, r in enumerate(group["rules"]) if r["record"].endswith("errors:ratio_rate5m"))
    assert 'status_code=~"5.."' in rule["expr"]
    wrong = Mutant("service-bookmark-api.yml", group["name"], position, rule["record"], "count 4xx", "5.. -> [45]..",
                   rule["expr"].replace('status_code=~"5.."', 'status_code=~"[45].."'))
    report = run_mutants(tree, [wrong])
    assert report.killed == [wrong]


def _slo_rule(tree: Path, match: Callable[[dict[str, Any]], bool]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    for group in yaml.safe_load((tree / "prometheus/rules" / SLO_FILE).read_text())["groups"]:
        for position, rule in enumerate(group["rules"]):
            if match(rule):
                yield group["name"], position, rule


def _lowered(term: str) -> str:
    """A window's comparison with its threshold lowered by a fifth."""
    head, threshold = term.rsplit(" > ", 1)
    return f"{head} > {float(threshold) * 0.8:g}"


def _burn_pair_mutants(tree: Path) -> dict[tuple[str, str, str], list[Mutant]]:
    """Every burn-rate pair with its short window's comparison dropped, and with its long one's,
    and with its short window's threshold lowered by a fifth, and (request SLOs: the availability
    SLO's `up` has no traffic to hold the slower pairs back) its long one's, by SLO and pair (long
    and short window)."""
    mutants: dict[tuple[str, str, str], list[Mutant]] = {}
    for group, position, rule in _slo_rule(tree, lambda r: r.get("alert") == "ErrorBudgetBurn"):
        long_term, short_term, *rest = rule["expr"].split("\n", 2)
        labels = rule["labels"]
        assert short_term.startswith("and ") and f"rate{labels['short_window']}" in short_term
        pair = f'{labels["slo"]} {labels["long_window"]}/{labels["short_window"]}'
        mutants[(labels["slo"], labels["long_window"], labels["short_window"])] = [
            Mutant(SLO_FILE, group, position, "ErrorBudgetBurn", "drop the short window", pair,
                   "\n".join([long_term, *rest])),
            Mutant(SLO_FILE, group, position, "ErrorBudgetBurn", "drop the long window", pair,
                   "\n".join([short_term.removeprefix("and "), *rest])),
            Mutant(SLO_FILE, group, position, "ErrorBudgetBurn", "lower the short window's threshold", pair,
                   "\n".join([long_term, _lowered(short_term), *rest])),
        ] + ([] if labels["slo"] == "availability" else [
            Mutant(SLO_FILE, group, position, "ErrorBudgetBurn", "lower the long window's threshold", pair,
                   "\n".join([_lowered(long_term), short_term, *rest]))])
    return mutants


def _only_tests(tree: Path, into: Path, names: tuple[str, ...], also: str) -> Path:
    """A copy of ``tree``'s rules and of the test groups whose names contain one of ``names`` and ``also``."""
    shutil.copytree(tree / "prometheus", into / "prometheus")
    for path in (into / "prometheus/tests").glob("*.test.yml"):
        document = yaml.safe_load(path.read_text())
        document["tests"] = [t for t in document["tests"] if also in t["name"] and any(n in t["name"] for n in names)]
        if document["tests"]:
            path.write_text(yaml.safe_dump(document, sort_keys=False))
        else:
            path.unlink()
    return into


def test_a_burn_pair_missing_either_window_is_rejected(tree: Path, tmp_path: Path) -> None:
    """The audit's "dropped the short (or the long) window of a burn-rate pair": each pair is tested
    with input burning only its short window and only its long one, and must stay quiet. The
    quiet window reads just under the threshold, so lowering either comparison by a fifth is
    rejected too. Each pair's mutants run against those two cases of its own (every SLO case
    would see them: minutes of promtool)."""
    by_pair = _burn_pair_mutants(tree)
    assert len(by_pair) == 3 * 4  # three SLOs, four pairs each
    for (slo, long, short), mutants in by_pair.items():
        cases = (f"only its short window [{short}] burns", f"only its long window [{long}] burns")
        copy = _only_tests(tree, tmp_path / f"{slo}-{long}", cases, f"; slo {slo}; ")
        assert sum(len(yaml.safe_load(p.read_text())["tests"]) for p in copy.glob("prometheus/tests/*")) == 2
        report = run_mutants(copy, mutants)
        assert report.survived == [] and len(report.killed) == len(mutants), (slo, long, short)


GUARD = re.compile(r"\nand on \(service, team\)\nslo:sli_events:rate\w+\{[^}]*\} \* \d+ >= [\d.]+")


def _unguarded(expr: str) -> str:
    """A burn pair's expression without its own traffic guard (the faster pair's, after unless, stays)."""
    own, unless, faster = expr.partition("\nunless")
    assert GUARD.search(own)
    return GUARD.sub("", own) + unless + faster


def _lowered_long_guard(expr: str) -> str:
    """A burn pair's expression with its long window's traffic guard (its first) lowered by a fifth."""
    match = GUARD.search(expr)
    assert match is not None
    head, floor = match.group(0).rsplit(" >= ", 1)
    return expr[:match.start()] + f"{head} >= {float(floor) * 0.8:g}" + expr[match.end():]


def test_the_audit_s_slo_mistakes_are_rejected(tree: Path, tmp_path: Path) -> None:
    """The audit's other SLO mutants: a request SLO's pair without its traffic guard (the "too
    little traffic" case fires it), or with its long window's guard lowered by a fifth (the
    "long window has seen too few requests" case, met ``for`` before the check, fires it), and
    availability as the worst target's (min) rather than the mean over the job's targets, in
    every burn window."""
    unguarded = [Mutant(SLO_FILE, group, position, "ErrorBudgetBurn", "drop the traffic guard",
                        rule["labels"]["long_window"], _unguarded(rule["expr"]))
                 for group, position, rule in _slo_rule(tree, lambda r: r.get("alert") == "ErrorBudgetBurn"
                                                        and r["labels"]["slo"] == "errors")]
    lowered = [Mutant(SLO_FILE, group, position, "ErrorBudgetBurn", "lower the long window's guard by a fifth",
                      rule["labels"]["long_window"], _lowered_long_guard(rule["expr"]))
               for group, position, rule in _slo_rule(tree, lambda r: r.get("alert") == "ErrorBudgetBurn"
                                                      and r["labels"]["slo"] == "errors")]
    worst = [Mutant(SLO_FILE, group, position, rule["record"], "min for avg", rule["labels"]["slo"],
                    rule["expr"].replace("1 - avg by", "1 - min by"))
             for group, position, rule in _slo_rule(tree, lambda r: r.get("record", "").startswith(
                 "slo:sli_error:ratio_rate") and "avg_over_time(up" in r["expr"])]
    assert len(unguarded) == len(lowered) == 4 and len(worst) == 7  # four pairs; the availability SLI per window
    for slo, mutants in (("errors", unguarded + lowered), ("availability", worst)):
        copy = _only_tests(tree, tmp_path / slo, ("ErrorBudgetBurn",), f"; slo {slo}; ")
        report = run_mutants(copy, mutants)
        assert report.survived == [] and len(report.killed) == len(mutants), [m.key for m in report.survived]



def test_keeping_the_route_is_rejected_and_a_label_no_series_carries_is_equivalent(tree: Path) -> None:
    """Request inputs serve two routes: an aggregation that keeps the route splits the ratio per
    route and is rejected; on `up`, which has no route, the same mistake changes nothing."""
    mutants = [m for name in ("services.yml", "service-bookmark-api.yml")
               for m in rule_mutants(name, yaml.safe_load((tree / "prometheus/rules" / name).read_text()))
               if m.operator == "add a by label" and m.detail == "by (... route)"]
    on_requests = [m for m in mutants if m.rule.startswith("service:")]
    on_up = [m for m in mutants if m.rule == "ServiceDown"]
    assert on_requests and on_up
    report = run_mutants(tree, on_requests + on_up)
    order = lambda mutants: sorted(mutants, key=lambda m: (m.key, m.expr))  # noqa: E731 (killed in any order)
    assert order(report.killed) == order(on_requests)
    assert [(m, reason) for m, reason in report.equivalent] == [
        (m, "no series its widened aggregation reads carries route: the added by label splits nothing") for m in on_up]


def test_the_audit_s_disk_filter_mistakes_are_rejected(tree: Path) -> None:
    """The audit's "removed the disk read-only / fstype filters": every host's input also holds a
    full tmpfs and a full disk mounted read-only, which the alert must leave alone."""
    rules = yaml.safe_load((tree / "prometheus/rules/host.yml").read_text())
    group = rules["groups"][0]
    position, rule = next((i, r) for i, r in enumerate(group["rules"]) if r["alert"] == "DiskSpaceLow")
    expr = rule["expr"]
    pseudo = re.search(r', fstype!~"[^"]+"', expr).group(0)  # type: ignore[union-attr]
    no_fstype = Mutant("host.yml", group["name"], position, "DiskSpaceLow", "drop fstype everywhere", pseudo,
                       expr.replace(pseudo, ""))
    writable = expr.split("\nand ")[0]
    no_readonly = Mutant("host.yml", group["name"], position, "DiskSpaceLow", "drop the read-only filter",
                         "and node_filesystem_readonly == 0", writable)
    assert no_fstype.expr != expr and "fstype" not in no_fstype.expr and "readonly" not in no_readonly.expr
    report = run_mutants(tree, [no_fstype, no_readonly])
    assert report.killed == [no_fstype, no_readonly]


def test_rules_with_a_backslash_in_a_regex_are_mutated() -> None:
    """A regex such as fstype!~"fuse\\..*" is printed back by the parser with its backslash
    unescaped; every mutant of such a rule must still parse (none silently lost)."""
    expr = 'node_filesystem_avail_bytes{job="node", fstype!~"tmpfs|fuse\\\\..*"} < 0.1'
    mutants = list(expression_mutants(expr))
    assert {"invert the comparison", "threshold x0.8", "drop a matcher", "negate a matcher"} <= {m[0] for m in mutants}
    for _, _, text in mutants:
        promql_parser.parse(text)
    kept = next(text for operator, _, text in mutants if operator == "invert the comparison")
    assert 'fstype!~"tmpfs|fuse\\\\..*"' in kept  # escaped as written, so it parses to the same regex


def test_changes_to_the_zeros_of_an_or_branch_are_marked_and_equivalent_only_under_positive_comparisons() -> None:
    ratio = '(sum by (service) (rate(errors_total{job="api"}[5m])) or 0 * events:rate5m{service="api"})' \
            ' / events:rate5m{service="api"}'
    document = {"groups": [{"name": "g", "rules": [{"record": "error:ratio5m", "expr": ratio}]}]}
    zeros = {(m.operator, m.detail) for m in rule_mutants("f.yml", document) if m.zeros_only}
    assert ("drop the or branch", "or 0 * events:rate5m{service=\"api\"}") in zeros
    assert ("negate a matcher", 'service="api" -> !=') in zeros
    assert not any(op == "drop a matcher" and "job" in detail for op, detail in zeros)  # the errors side
    assert compared_above_zero('error:ratio5m{service="api"} > 0.01 unless on (service) error:ratio5m > 0.1',
                               "error:ratio5m")
    for reads_zero in ('error:ratio5m < 0.01', 'error:ratio5m >= 0', 'error:ratio5m > bool 0.01',
                       'absent(error:ratio5m)', '0.01 < error:ratio5m'):
        assert not compared_above_zero(reads_zero, "error:ratio5m"), reads_zero
