"""Your own metrics, rule files and their promtool tests (services[].metrics, prometheus.extra_rule_files,
prometheus.extra_rule_tests): copied into the tree, linted against the catalog, run through promtool."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from obstack.alerts.user_rules import user_rule_artifacts
from obstack.stack.pipeline import generate
from obstack.stack.spec.errors import SpecError
from obstack.stack.spec.loader import LoadedSpec, load_spec_text
from obstack.stack.stack_model import build_stack_model
from obstack.stack.validate.prometheus_tools import promtool_rules_validator, promtool_tests_validator
from obstack.stack.validate.rule_lint_validator import rule_lint_validator
from obstack.stack.validate.validator import ValidationContext
from tests.support.servers import require_binary

SPECS = Path(__file__).parent / "specs"
ORDERS = (SPECS / "orders.yaml").read_text()
DECLARED = ("    metrics:                                    # its own metrics: what orders/orders.yml selects\n"
            "      - {name: orders_created_total, type: counter, labels: [payment_method], help: Orders created.}\n")


def load(text: str = ORDERS) -> LoadedSpec:
    return load_spec_text(text, str(SPECS / "orders.yaml"))  # paths in it are relative to tests/specs


def write(tmp_path: Path, loaded: LoadedSpec, keep=lambda path: True) -> ValidationContext:
    artifacts = [a for a in generate(loaded) if keep(a.path.as_posix())]
    for artifact in artifacts:
        (tmp_path / artifact.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / artifact.path).write_text(artifact.content)
    return ValidationContext(tmp_path, loaded, artifacts)


def own_and_services(path: str) -> bool:
    """The user's rule file and test, and service-orders.yml whose recording rule the test reads."""
    return path in ("prometheus/rules/orders.yml", "prometheus/rules/service-orders.yml",
                    "prometheus/tests/orders.test.yml")


def test_own_rule_file_and_test_are_copied_and_the_test_points_at_the_copies() -> None:
    generated = {a.path.as_posix(): a.content for a in generate(load())}
    assert "alert: OrdersStalled" in generated["prometheus/rules/orders.yml"]
    test = yaml.safe_load(generated["prometheus/tests/orders.test.yml"])
    assert test["rule_files"] == ["../rules/orders.yml", "../rules/service-orders.yml"]
    assert "rules/*.yml" in yaml.safe_load(generated["prometheus/prometheus.yml"])["rule_files"]
    # Under Kubernetes, a PrometheusRule of its own beside the generated ones.
    objects = list(yaml.safe_load_all(generated["kubernetes/prometheus-rules.yaml"]))
    own = [o for o in objects if o["metadata"]["name"].endswith("-orders")
           and not any(f"-{prefix}-" in o["metadata"]["name"] for prefix in ("slo", "service"))]
    assert [r["alert"] for o in own for g in o["spec"]["groups"] for r in g["rules"] if "alert" in r] == ["OrdersStalled"]


def test_a_test_naming_services_yml_is_given_the_services_recording_files() -> None:
    """Before each service's recordings had a file of their own they were in services.yml: a test
    written then, naming services.yml for them, is given every service's recording file beside it."""
    loaded = load()
    test_path = next(p for p in loaded.spec.prometheus.extra_rule_tests)
    files = [(path, text.replace("[orders.yml, service-orders.yml]", "[orders.yml, services.yml]"))
             if path == test_path else (path, text) for path, text in loaded.user_files]
    model = build_stack_model(loaded.spec, files)
    test = yaml.safe_load(next(a.content for a in user_rule_artifacts(model) if a.path.name == "orders.test.yml"))
    recordings = [f"../rules/service-{s.name}.yml" for s in loaded.spec.services]
    assert test["rule_files"] == ["../rules/orders.yml", "../rules/services.yml", *recordings]


def test_promtool_checks_the_copy_and_runs_its_test_and_a_broken_test_fails(tmp_path: Path) -> None:
    require_binary("promtool", "prometheus")
    context = write(tmp_path, load(), own_and_services)
    checked, tested = promtool_rules_validator(context), promtool_tests_validator(context)
    assert checked.status == "pass", [str(f) for f in checked.findings]
    assert tested.status == "pass", [str(f) for f in tested.findings]
    copy = tmp_path / "prometheus/tests/orders.test.yml"
    copy.write_text(copy.read_text().replace("severity: warning", "severity: critical"))
    assert promtool_tests_validator(context).failed  # the user's test really runs


def test_a_declared_metric_joins_the_rule_lint_catalog_and_an_undeclared_one_does_not(tmp_path: Path) -> None:
    result = rule_lint_validator(write(tmp_path / "declared", load()))
    assert not [f for f in result.findings if f.severity == "error"], [str(f) for f in result.findings]
    undeclared = rule_lint_validator(write(tmp_path / "undeclared", load(ORDERS.replace(DECLARED, ""))))
    unknown = [f for f in undeclared.findings if "unknown-metric" in f.message]
    assert unknown and all(f.file == "prometheus/rules/orders.yml" for f in unknown)
    assert "orders_created_total" in unknown[0].message


@pytest.mark.parametrize(("edit", "phrase"), [
    ("extra_rule_files: [orders/orders.yml]", "'services.yml' has the name of a generated file"),
    ("extra_rule_files: [orders/orders.yml]", "'slo-orders.yml' starts with 'slo-'"),
    ("extra_rule_files: [orders/orders.yml]", "must be named *.yml"),
    ("extra_rule_tests: [orders/orders.test.yml]", "must be named *.test.yml"),
    ("extra_rule_files: [orders/orders.yml]", "cannot read orders/missing.yml (relative to the spec)"),
], ids=["generated-name", "per-service-prefix", "rule-suffix", "test-suffix", "missing"])
def test_own_files_that_cannot_be_copied_are_refused_with_the_spec_line(edit: str, phrase: str) -> None:
    replacement = {"'services.yml'": "extra_rule_files: [orders/services.yml]",
                   "'slo-orders.yml'": "extra_rule_files: [orders/slo-orders.yml]",
                   "*.yml": "extra_rule_files: [orders/orders.yaml]",
                   "*.test.yml": "extra_rule_tests: [orders/orders-test.yml]",
                   "missing": "extra_rule_files: [orders/missing.yml]"}
    new = next(value for key, value in replacement.items() if key in phrase)
    with pytest.raises(SpecError) as raised:
        load(ORDERS.replace(edit, new))
    assert phrase in str(raised.value) and "prometheus.extra_rule_" in str(raised.value)
