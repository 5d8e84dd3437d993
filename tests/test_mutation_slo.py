"""Mutation testing of the default spec's SLO rule file: a fixed sample of its mutants must be rejected
by the generated SLO tests, like the other rule files in tests/test_mutation.py.

A module of its own so that pytest-xdist runs it beside that module, not after it: it is the
suite's longest test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from obstack.alerts.mutation import rule_mutants
from obstack.stack.validate.mutation import run_mutants
from tests.support.trees import generated_tree
from tests.test_mutation import KILL_RATE, SLO_FILE

pytestmark = pytest.mark.long_running(600)  # seconds in one process: scheduled first (tests/conftest.py)

# About 1030 mutants, each running SLO tests of hours of input, so a fixed sample of every eighth
# (130). `obstack mutate --file slo-bookmark-api.yml` runs them all (docs/alerting.md).
SLO_STRIDE = 8


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_tree(tmp_path_factory.mktemp("mutation-slo"))


def test_the_generated_slo_tests_kill_a_sample_of_the_slo_mutants(tree: Path) -> None:
    """Every eighth mutant of the default spec's SLO rule file, the same ones every run (rule order)."""
    document = yaml.safe_load((tree / "prometheus/rules" / SLO_FILE).read_text())
    mutants = list(rule_mutants(SLO_FILE, document))[::SLO_STRIDE]
    report = run_mutants(tree, mutants)
    survivors = "\n".join(m.key for m in report.survived)
    assert report.tested >= 100, report.tested  # a sample, not a handful
    assert report.kill_rate >= KILL_RATE, f"kill rate {report.kill_rate:.1%}; survivors:\n{survivors}"
