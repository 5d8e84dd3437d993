"""One lint engine: every lint's rules have an id, a doc and a severity, and the same exclusions
(a rule, a reason, optional scopes) silence the rule, dashboard and compose lints alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.alerts.rule_lint import LINT_RULES as RULE_LINT
from obstack.compose.compose_lint import LINT_RULES as COMPOSE_LINT
from obstack.dashboards.dashboard_lint import LINT_RULES as DASHBOARD_LINT
from obstack.foundation.findings import Finding
from obstack.foundation.lint import LintRule, LintRules
from obstack.foundation.lint_exclusions import apply_exclusions, parse_exclusions
from obstack.stack.series_check import LINT_RULES as SERIES_CHECK
from obstack.stack.spec.loader import load_spec_text
from obstack.stack.validate.compose_checks import compose_lint_validator
from obstack.stack.validate.rule_lint_validator import rule_lint_validator
from obstack.stack.validate.validator import ValidationContext
from tests.compose.trees import build_tree, load_yaml, spec_with

LINTS = {"rule lint": RULE_LINT, "dashboard lint": DASHBOARD_LINT, "compose lint": COMPOSE_LINT,
         "verify": SERIES_CHECK}
TOY = LintRules("toy lint", (LintRule("a-rule", "A rule."), LintRule("b-rule", "B rule.", "warning")),
                scopes=("thing", "part"))


@pytest.mark.parametrize("name", sorted(LINTS))
def test_every_rule_has_an_id_one_doc_line_and_a_severity(name: str) -> None:
    rules = LINTS[name]
    assert rules.validator == name and len(rules) > 0
    for rule_id, rule in rules.items():
        assert rule.id == rule_id and rule_id == rule_id.lower() and " " not in rule_id
        assert rule.doc.strip() and "\n" not in rule.doc and rule.doc.endswith(".")
        assert rule.severity in ("error", "warning", "info")


def test_rule_ids_are_unique_across_the_lints() -> None:
    ids = [rule_id for rules in LINTS.values() for rule_id in rules]
    assert len(ids) == len(set(ids))


def test_a_finding_is_tagged_with_its_rule_and_carries_its_scope() -> None:
    finding = TOY.finding("b-rule", "f.yml", "x", "went wrong", thing="t1")
    assert finding == Finding("toy lint", "warning", "f.yml", "x", "[b-rule] went wrong")
    assert finding.rule == "b-rule" and finding.scope == (("thing", "t1"), ("part", None))
    with pytest.raises(ValueError, match="no scope"):
        TOY.finding("a-rule", "f.yml", "x", "m", other="y")


def test_an_exclusion_matches_its_rule_and_every_scope_glob() -> None:
    found = [TOY.finding("a-rule", "f", "1", "m", thing="t1", part="p1"),
             TOY.finding("a-rule", "f", "2", "m", thing="t2", part="p1"),
             TOY.finding("a-rule", "f", "3", "m", thing="t1"),  # no part: only "every part" covers it
             TOY.finding("b-rule", "f", "4", "m", thing="t1", part="p1")]
    exclusions, problems = parse_exclusions(
        {"exclusions": [{"rule": "a-rule", "thing": "t1", "part": "p*", "reason": "known"}]}, "x.yaml", TOY)
    assert problems == []
    assert [f.location for f in apply_exclusions(found, exclusions)] == ["2", "3", "4"]
    everywhere, _ = parse_exclusions({"exclusions": [{"rule": "a-rule", "reason": "known"}]}, "x.yaml", TOY)
    assert [f.location for f in apply_exclusions(found, everywhere)] == ["4"]


@pytest.mark.parametrize("entry, complaint", [
    ({"rule": "a-rule"}, "excluding a-rule needs a reason: say why the rule does not apply"),
    ({"rule": "c-rule", "reason": "x"}, "unknown rule 'c-rule'; rules: a-rule, b-rule"),
    ({"rule": "a-rule", "reason": "x", "panel": "p"}, "unknown key(s) ['panel']"),
    ("a-rule", "an entry must be a mapping"),
])
def test_a_bad_entry_is_a_finding_of_its_lint(entry: Any, complaint: str) -> None:
    exclusions, problems = parse_exclusions({"exclusions": [entry]}, "x.yaml", TOY)
    assert exclusions == []
    assert problems == [Finding("toy lint", "error", "x.yaml", "exclusions[0]", f"[exclusions] {complaint}")]


# --------------------------------------------------------------------------- the validators

BROKEN_RULES = """groups:
  - name: mine
    rules:
      - alert: NoComparison
        expr: up
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook_url: r}
"""


def _rule_tree(tmp_path: Path, exclusions: list[dict[str, str]]) -> ValidationContext:
    tmp_path.mkdir()
    (tmp_path / "lint.yaml").write_text(yaml.safe_dump({"exclusions": exclusions}))
    spec = "project: lint\nservices:\n  - {name: api, targets: ['api:1']}\nprometheus: {lint_exclusions: lint.yaml}\n"
    rules = tmp_path / "out" / "prometheus" / "rules"
    rules.mkdir(parents=True)
    (rules / "mine.yml").write_text(BROKEN_RULES)
    return ValidationContext(tmp_path / "out", load_spec_text(spec, str(tmp_path / "stack.yaml")), [])


def _tags(findings: list[Finding]) -> list[str]:
    return sorted(f.message.split("]")[0].strip("[") for f in findings)


def test_the_rule_lint_honours_its_exclusions(tmp_path: Path) -> None:
    assert "alert-no-comparison" in _tags(rule_lint_validator(_rule_tree(tmp_path / "a", [])).findings)
    excluded = rule_lint_validator(_rule_tree(tmp_path / "b", [
        {"rule": "alert-no-comparison", "file": "prometheus/rules/mine.yml", "name": "NoComp*", "reason": "on purpose"}]))
    assert "alert-no-comparison" not in _tags(excluded.findings)
    other = rule_lint_validator(_rule_tree(tmp_path / "c", [
        {"rule": "alert-no-comparison", "name": "Other", "reason": "another alert"}]))
    assert "alert-no-comparison" in _tags(other.findings)
    reasonless = rule_lint_validator(_rule_tree(tmp_path / "d", [{"rule": "alert-no-comparison"}]))
    assert "exclusions" in _tags(reasonless.findings) and "alert-no-comparison" in _tags(reasonless.findings)


def test_the_compose_lint_honours_its_exclusions(tmp_path: Path) -> None:
    (tmp_path / "lint.yaml").write_text(yaml.safe_dump({"exclusions": [
        {"rule": "unpinned-image", "service": "prometheus", "reason": "a test of exclusions"}]}))

    def with_exclusions(data: dict[str, Any]) -> None:
        data.setdefault("compose", {})["lint_exclusions"] = "lint.yaml"

    loaded = spec_with(with_exclusions)
    context = build_tree(tmp_path / "out", loaded)
    context = replace(context, loaded=replace(loaded, name=str(tmp_path / "test.yaml")))  # lint.yaml beside it
    path = context.out / "compose" / "docker-compose.yml"
    document = load_yaml(path)
    document["services"]["prometheus"]["image"] = "prom/prometheus:latest"
    document["services"]["grafana"]["image"] = "grafana/grafana:latest"
    path.write_text(yaml.safe_dump(document))
    findings = compose_lint_validator(context).findings
    assert [(f.rule, dict(f.scope)["service"]) for f in findings if f.rule] == [("unpinned-image", "grafana")]


@pytest.mark.parametrize("name, doc", [("rule lint", "docs/alerting.md"), ("dashboard lint", "docs/dashboards.md"),
                                       ("compose lint", "docs/compose.md"), ("verify", "docs/instrumenting.md")])
def test_every_rule_id_is_documented(name: str, doc: str) -> None:
    text = (Path(__file__).resolve().parents[1] / doc).read_text(encoding="utf-8")
    assert [rule_id for rule_id in LINTS[name] if rule_id not in text] == []
