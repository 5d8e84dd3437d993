"""The `promtool test rules` validator runs each test group against its file's rules less those
idle in it (stack/validate/test_cuts.py). Its verdict must be promtool's on the files as written:
each case below breaks a rule the way real edits do and compares the two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.stack.validate.group_runs import dump
from obstack.stack.validate.test_cuts import IDLE_GROUP, _read, _unit, run_test_files
from obstack.stack.validate.tools import run_tool
from tests.support.servers import require_binary

RULES: dict[str, Any] = {"groups": [{"name": "api", "rules": [
    {"record": "events:rate5m", "expr": "sum by (service) (rate(requests_total[5m]))"},
    {"record": "error:ratio5m", "labels": {"slo": "errors"},
     "expr": '(sum by (service) (rate(requests_total{code=~"5.."}[5m])) or 0 * events:rate5m) / events:rate5m'},
    {"record": "error:ratio5m", "labels": {"slo": "latency"},
     "expr": '(events:rate5m - sum by (service) (rate(latency_bucket{le="0.1"}[5m]))) / events:rate5m'},
    {"record": "error:ratio5m", "labels": {"slo": "availability"},
     "expr": "1 - avg by (service) (avg_over_time(up[5m]))"},
    {"alert": "Burn", "expr": "error:ratio5m > 0.1", "for": "2m"},
]}]}

REQUESTS = [{"series": 'requests_total{service="api", instance="a", code="200"}', "values": "0+60x20"},
            {"series": 'requests_total{service="api", instance="a", code="500"}', "values": "0+30x20"},
            {"series": 'request_bytes_total{service="api", instance="a", code="200"}', "values": "0+600x20"}]
UP = [{"series": 'up{service="api", instance="a"}', "values": "0x20"}]


def _burn(slo: str) -> dict[str, Any]:
    return {"eval_time": "10m", "alertname": "Burn",
            "exp_alerts": [{"exp_labels": {"service": "api", "slo": slo}}]}


TESTS: dict[str, Any] = {"rule_files": ["../rules/api.yml"], "evaluation_interval": "1m", "tests": [
    {"name": "errors burn", "interval": "1m", "input_series": REQUESTS, "alert_rule_test": [_burn("errors")]},
    {"name": "availability burns", "interval": "1m", "input_series": UP, "alert_rule_test": [_burn("availability")]},
]}


def _tree(root: Path, rules: dict[str, Any] = RULES, tests: dict[str, Any] = TESTS) -> Path:
    require_binary("promtool", "prometheus")
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "rules" / "api.yml").write_text(dump(rules))
    test = root / "tests" / "api.test.yml"
    test.write_text(dump(tests))
    return test


def _with_rule(rule: dict[str, Any]) -> dict[str, Any]:
    return {"groups": [{"name": "api", "rules": [*RULES["groups"][0]["rules"], rule]}]}


def _verdicts(test: Path) -> tuple[bool, bool]:
    """(passed as cut, passed as written)."""
    cut = run_test_files([test])[test]
    written = run_tool("promtool", ["test", "rules", test.name], cwd=test.parent)
    return cut.returncode == 0, written.returncode == 0


def _loaded_rules(written: Path) -> list[str]:
    document = yaml.safe_load(written.read_text())
    names = []
    for rule_file in document["rule_files"]:
        for group in yaml.safe_load((written.parent / rule_file).read_text())["groups"]:
            names += [f'{r.get("alert") or r["record"]}{r.get("labels", {}).get("slo", "")}' for r in group["rules"]]
    return names


def test_each_group_loads_only_the_rules_its_input_can_reach(tmp_path: Path) -> None:
    test = _tree(tmp_path / "tree")
    unit = _unit(test, tmp_path / "cut")
    loaded = {yaml.safe_load((unit.cwd / path).read_text())["tests"][0]["name"]: _loaded_rules(unit.cwd / path)
              for path in unit.args}
    # The errors group: the latency ratio reads the events recording but never outputs (no
    # buckets), and its only operation with both sides fed is a "-" with an empty side; the
    # availability ratio reads nothing it is fed.
    assert loaded["errors burn"] == ["events:rate5m", "error:ratio5merrors", "Burn"]
    assert loaded["availability burns"] == ["error:ratio5mavailability", "Burn"]
    # Every rule idle in some group runs once on no input.
    assert loaded[IDLE_GROUP] == ["events:rate5m", "error:ratio5merrors", "error:ratio5mlatency",
                                  "error:ratio5mavailability"]
    assert _verdicts(test) == (True, True)


@pytest.mark.parametrize("broken", [
    # A threshold no firing case meets any more.
    {"groups": [{"name": "api", "rules": [*RULES["groups"][0]["rules"][:-1],
                                          {"alert": "Burn", "expr": "error:ratio5m > 0.9", "for": "2m"}]}]},
    # A dashboard's recording no alert reads, failing on the errors group's two request series
    # (a many-to-many match) though it never outputs a series (no latency buckets are fed).
    _with_rule({"record": "requests:share",
                "expr": "(requests_total / on (service) requests_total) and on (service) latency_bucket"}),
    # A regex promql refuses when it runs, in a rule no group feeds: idle everywhere, and failing
    # on no input too.
    _with_rule({"record": "latency:relabelled", "expr": 'label_replace(latency_bucket, "x", "$1", "le", "(")'}),
    # A selector without a metric name: rate() drops the names of the two metrics of one code,
    # leaving two series of one labelset.
    _with_rule({"record": "ok:rate5m",
                "expr": 'rate({service="api", code="200"}[5m]) and on (service) latency_bucket'}),
    # An invalid destination label, on series the errors group feeds.
    _with_rule({"record": "requests:joined",
                "expr": 'label_join(requests_total, "x-y", ",", "code") and on (service) latency_bucket'}),
    # An annotation template promtool cannot parse, on an alert no group feeds.
    _with_rule({"alert": "Unfed", "expr": "latency_bucket > 1", "annotations": {"summary": "{{ .Foo "}}),
], ids=["threshold", "many-to-many", "bad-regex", "nameless", "bad-label", "bad-template"])
def test_a_broken_rule_fails_as_cut_as_it_fails_as_written(tmp_path: Path, broken: dict[str, Any]) -> None:
    test = _tree(tmp_path, rules=broken)
    cut, written = _verdicts(test)
    assert (cut, written) == (written, written)
    assert not written, "the breakage should fail promtool on the file as written"


# Series as the world makes them: the 500s appear late (a labelled counter's first error), the
# 200s restart (a counter reset) and then vanish (a stale marker: the instance went away), and
# `up` starts late. The cut reads selectors, not values: what it keeps cannot depend on them.
LATE_AND_GONE = [
    {"series": 'requests_total{service="api", instance="a", code="200"}', "values": "0+60x9 0+60x5 stale"},
    {"series": 'requests_total{service="api", instance="a", code="500"}', "values": "_x8 0+30x12"},
    {"series": 'up{service="api", instance="a"}', "values": "_x5 1x15"},
]
LATE_TESTS: dict[str, Any] = {"rule_files": ["../rules/api.yml"], "evaluation_interval": "1m", "tests": [
    {"name": "errors burn on late, reset and vanishing series", "interval": "1m", "input_series": LATE_AND_GONE,
     "alert_rule_test": [{"eval_time": "7m", "alertname": "Burn", "exp_alerts": []},
                         {**_burn("errors"), "eval_time": "18m"}]},
]}


@pytest.mark.parametrize(("rules", "passes"), [
    (RULES, True),
    ({"groups": [{"name": "api", "rules": [*RULES["groups"][0]["rules"][:-1],
                                           {"alert": "Burn", "expr": "error:ratio5m > 0.5", "for": "2m"}]}]}, False),
    # Fails only once the late 500s give the service two request series at once.
    (_with_rule({"record": "requests:share",
                 "expr": "(requests_total / on (service) requests_total) and on (service) latency_bucket"}), False),
], ids=["sound", "threshold", "many-to-many-once-late-series-appear"])
def test_late_reset_and_vanishing_series_get_promtool_s_verdict(tmp_path: Path, rules: dict[str, Any],
                                                                passes: bool) -> None:
    test = _tree(tmp_path, rules=rules, tests=LATE_TESTS)
    assert _verdicts(test) == (passes, passes)


def test_a_sound_extra_rule_passes_both_ways(tmp_path: Path) -> None:
    """A rule with a join that never fails on its inputs (one series a side) passes cut and whole."""
    test = _tree(tmp_path, rules=_with_rule(
        {"record": "availability:ratio", "expr": 'up / on (service, instance) group_left max by (service, instance) (up)'}))
    assert _verdicts(test) == (True, True)


def test_a_failure_names_the_test_file_and_group_as_written(tmp_path: Path) -> None:
    broken = {"groups": [{"name": "api", "rules": [*RULES["groups"][0]["rules"][:-1],
                                                   {"alert": "Burn", "expr": "error:ratio5m > 0.9", "for": "2m"}]}]}
    test = _tree(tmp_path, rules=broken)
    outcome = run_test_files([test])[test]
    assert outcome.returncode != 0
    assert "api.test.yml" in outcome.output and "errors burn" in outcome.output
    assert "obstack-test-cuts" not in outcome.output


def test_a_rule_file_promtool_refuses_is_named_as_written(tmp_path: Path) -> None:
    test = _tree(tmp_path, rules=_with_rule({"alert": "Unfed", "expr": "x > 1", "annotations": {"summary": "{{ .Foo "}}))
    outcome = run_test_files([test])[test]
    assert outcome.returncode != 0
    assert 'rules/api.yml: group "api"' in outcome.output and '"Unfed"' in outcome.output, outcome.output


@pytest.mark.parametrize("change", ["glob", "eval-order", "not-yaml"])
def test_a_file_the_cut_cannot_read_runs_as_written(tmp_path: Path, change: str) -> None:
    tests = dict(TESTS)
    if change == "glob":
        tests["rule_files"] = ["../rules/*.yml"]
    elif change == "eval-order":
        tests["group_eval_order"] = ["api"]
    test = _tree(tmp_path / "tree", tests=tests)
    if change == "not-yaml":
        test.write_text(test.read_text() + "\n  - [unclosed\n")
    if change != "not-yaml":
        with pytest.raises(ValueError):
            _read(test)
    unit = _unit(test, tmp_path / "cut")
    assert (unit.cwd, unit.args) == (test.parent, (test.name,))
    cut, written = _verdicts(test)
    assert cut == written == (change != "not-yaml")
