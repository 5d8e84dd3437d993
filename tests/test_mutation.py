"""Mutation testing: the engine makes valid, distinct mutants, and the generated tests reject them.

The mutants are checked for shape here (each operator yields parseable PromQL that differs from
the original); ``obstack mutate`` runs the generated promtool tests against every mutant of the
default spec's service rules, and the share they reject must not fall.
"""

from __future__ import annotations

from pathlib import Path

import promql_parser
import pytest
import yaml
from typer.testing import CliRunner

from alerts.mutation import expression_mutants, render, rule_mutants
from stack.cli import app
from stack.pipeline import generate
from stack.spec.loader import load_spec
from stack.validate.mutation import BaselineFailed, run_mutants
from stack.writer import write_tree
from tests.support.servers import require_binary

# The share of the default spec's services.yml mutants the generated tests kill today (76.8%). Issue 14
# asks for 95% over every rule file; the survivors are listed by `obstack mutate`.
SERVICES_FLOOR = 0.75

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
    assert ("window x2", "[5m] -> [10m]") in found
    assert ("widen a regex", 'code=~"5.." -> ".+"') in found


def test_rules_lose_their_for_and_keep_firing_for() -> None:
    document = {"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": "x > 1", "for": "2m", "keep_firing_for": "5m"}, {"record": "r", "expr": "sum(x)"}]}]}
    drops = {m.drop for m in rule_mutants("f.yml", document) if m.drop}
    assert drops == {"for", "keep_firing_for"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_binary("promtool", "prometheus")
    root = tmp_path_factory.mktemp("mutation")
    write_tree(root, generate(load_spec(None)))
    return root


def test_the_generated_service_tests_kill_the_mutants(tree: Path) -> None:
    rules = yaml.safe_load((tree / "prometheus/rules/services.yml").read_text())
    report = run_mutants(tree, list(rule_mutants("services.yml", rules)))
    killed = {m.operator for m in report.killed}
    # The mistakes the audit found surviving, now rejected.
    assert {"drop the and branch", "swap the aggregation", "widen a regex", "add a by label"} <= killed
    survivors = "\n".join(m.key for m in report.survived)
    assert report.kill_rate >= SERVICES_FLOOR, f"kill rate {report.kill_rate:.1%}; survivors:\n{survivors}"


def test_a_failing_baseline_is_refused_not_counted_as_kills(tree: Path, tmp_path: Path) -> None:
    broken = tmp_path / "tree"
    write_tree(broken, generate(load_spec(None)))
    path = broken / "prometheus/rules/services.yml"
    path.write_text(path.read_text().replace("> 0.05", "> 0.5"))
    with pytest.raises(BaselineFailed, match="the generated tests fail on the unmutated rules"):
        run_mutants(broken, [])


def test_mutate_command_reports_and_refuses_unknown_files(tree: Path) -> None:
    result = CliRunner().invoke(app, ["mutate", "--out", str(tree), "--file", "nope.yml"])
    assert result.exit_code == 2
    assert "--file nope.yml: not a generated rule file (known: datastores.yml" in result.output
