"""Events SLOs (kind: events): an SLI from any pair of counters, ``errors`` or ``good`` over ``total``.

tests/specs/events.yaml uses both forms (two metrics; one metric told apart by a label, with a
negative matcher; a regex, on another service counting the same metrics). Its tree passes promtool
(rules and generated tests) and the rule lint; the selectors reach the rules as written, scoped to
the service's job, whatever text their matcher values hold; anything but a plain counter selector
is refused in one located line (more cases in tests/bad_specs/, tests/test_bad_input.py).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from obstack.alerts.common import re2_literal
from obstack.alerts.promql_tree import match_op, walk
from obstack.alerts.rule_files import rule_file_artifacts
from obstack.stack.cli import app
from obstack.stack.pipeline import generate
from obstack.stack.spec.base import promql_string
from obstack.stack.spec.errors import SpecError
from obstack.stack.spec.loader import LoadedSpec, load_spec, load_spec_text
from obstack.stack.spec.series import build_catalog
from obstack.stack.stack_model import build_stack_model
from obstack.stack.validate.prometheus_tools import promtool_rules_validator, promtool_tests_validator
from obstack.stack.validate.rule_lint_validator import rule_lint_validator
from obstack.stack.validate.validator import ValidationContext
from obstack.stack.writer import write_tree
from tests.support.servers import require_binary

pytestmark = pytest.mark.long_running(150)  # promtool runs the events tree's SLO tests (tests/conftest.py)

EVENTS = Path(__file__).parent / "specs" / "events.yaml"
runner = CliRunner()


@functools.cache
def loaded() -> LoadedSpec:
    return load_spec(EVENTS)


def selectors(expr: str) -> list[tuple[str, set[tuple[str, str, str]]]]:
    """(metric, matchers) of every selector in ``expr`` (which must parse)."""
    found = []
    for _, node in walk(promql_parser.parse(expr)):
        if isinstance(node, (promql_parser.VectorSelector, promql_parser.MatrixSelector)):
            selector = node if isinstance(node, promql_parser.VectorSelector) else node.vector_selector
            found.append((selector.name, {(m.name, match_op(m.op), m.value) for m in selector.matchers.matchers}))
    return found


def slo_rules(spec_text: str, name: str = "events.yaml") -> list[dict[str, Any]]:
    spec = load_spec_text(spec_text, name).spec
    files = [a for a in rule_file_artifacts(build_stack_model(spec)) if a.path.name.startswith("slo-")]
    return [rule for slo in files for group in yaml.safe_load(slo.content)["groups"] for rule in group["rules"]]


def test_the_events_tree_passes_promtool_its_tests_and_the_rule_lint(tmp_path: Path) -> None:
    require_binary("promtool", "prometheus")
    artifacts = generate(loaded())
    write_tree(tmp_path, artifacts)
    context = ValidationContext(tmp_path, loaded(), artifacts)
    checked, tested = promtool_rules_validator(context), promtool_tests_validator(context)
    assert checked.status == "pass", [str(f) for f in checked.findings]
    assert tested.status == "pass", [str(f) for f in tested.findings]
    lint = rule_lint_validator(context)
    assert not [f for f in lint.findings if f.severity == "error"], [str(f) for f in lint.findings]
    names = [test["name"] for path in (tmp_path / "prometheus/tests").glob("slo*.test.yml")
             for test in yaml.safe_load(path.read_text())["tests"]]
    # Every SLO fires and stays quiet just inside its threshold; the good form also with no good event yet.
    for slo in ("orders-processed", "payments", "shipments"):
        assert any("ErrorBudgetBurn fires" in n and f"slo {slo};" in n for n in names), slo
        assert any("stays quiet just inside the threshold" in n and f"slo {slo};" in n for n in names), slo
    assert any("fires with no good event counted yet" in n and "slo payments;" in n for n in names)


def test_the_rules_carry_the_selectors_as_written_scoped_to_the_service_job() -> None:
    rules = slo_rules(EVENTS.read_text())
    wanted = {  # (job, metric) -> the spec's matchers
        ("orders", "orders_failed_total"): {("queue", "=", "orders")},
        ("orders", "orders_processed_total"): {("queue", "=", "orders")},
        ("orders", "payments_total"): {("provider", "!=", "test")},
        ("fulfilment", "orders_failed_total"): {("queue", "=~", "ship|ship-express")},
        ("fulfilment", "orders_processed_total"): {("queue", "=~", "ship|ship-express")},
    }
    seen = set()
    for rule in rules:
        for metric, matchers in selectors(rule["expr"]):
            if metric.startswith("slo:"):
                continue
            (job,) = [value for label, op, value in matchers if label == "job" and op == "="]
            assert job == rule["labels"]["service"]  # a service's SLO reads its own job's series alone
            own = matchers - {("job", "=", job)}
            if (job, metric) == ("orders", "payments_total") and ("outcome", "=", "settled") in own:
                own -= {("outcome", "=", "settled")}  # the good selector: the total's matcher and its own
            assert own == wanted[(job, metric)], (rule, metric)
            seen.add((job, metric))
    assert seen == set(wanted)
    good = next(r["expr"] for r in rules if r.get("record") == "slo:sli_error:ratio_rate5m"
                and r["labels"]["slo"] == "payments")
    # Good events: the total minus the good ones, all of it while no good event is counted yet.
    assert "- on (service, team)" in good and "or on (service, team)\nslo:sli_total_events:rate5m" in good


def test_the_selector_metrics_join_the_catalog_as_counters_a_declaration_keeps_its_labels() -> None:
    catalog = build_catalog(loaded().spec)
    failed = catalog.lookup("orders_failed_total")
    assert failed is not None and failed.type == "counter" and "queue" in failed.labels
    payments = catalog.lookup("payments_total")
    assert payments is not None and payments.type == "counter" and payments.help == "Payments attempted, by outcome."
    assert set(payments.labels) == {"outcome", "provider"}


def spec_with(slo: str) -> str:
    return ("project: shop\nservices:\n  - name: orders\n    targets: [orders:3000]\n"
            "    metrics: [{name: orders_in_flight, type: gauge}, {name: order_seconds, type: histogram}]\n"
            f"    slos:\n      - {{name: processed, objective: 99%, {slo}}}\n")


REFUSED = [
    ("kind: events, errors: 'sum(orders_failed_total)', total: t_total", "errors", "is an aggregation"),
    ("kind: events, errors: 'orders_failed_total offset 5m', total: t_total", "errors", "has an offset modifier"),
    ("kind: events, errors: 'orders_failed_total @ 100', total: t_total", "errors", "has an @ modifier"),
    ("kind: events, errors: 'orders_failed_total[1h:5m]', total: t_total", "errors", "is a subquery"),
    ("kind: events, errors: '(orders_failed_total)', total: t_total", "errors", "in parentheses"),
    ("kind: events, errors: 'orders failed', total: t_total", "errors", "is not PromQL"),
    ("kind: events, errors: '{__name__=\"x_total\"}', total: t_total", "errors", "must name its metric"),
    ("kind: events, errors: 'x_total{a=\"1\" or a=\"2\"}', total: t_total", "errors", "joins matchers with 'or'"),
    ("kind: events, errors: 'x_total{a=~\"(?=b)\"}', total: t_total", "errors", "is not PromQL"),
    ("kind: events, errors: 'x_total{a=~\"[[:alpha:]]\"}', total: t_total", "errors", "uses a POSIX class"),
    ("kind: events, errors: 'x_total{instance=\"a:1\"}', total: t_total", "errors", "matches on 'instance'"),
    ("kind: events, good: 'x_total', total: orders_in_flight", "total", "is declared a gauge"),
    ("kind: events, good: 'order_seconds', total: order_seconds_count", "good", "is declared a histogram"),
    ("kind: events, errors: 'x_total{a=\"1\", a=\"2\"}', total: t_total", "errors", "selects no series"),
    ("kind: events, errors: 'x_total{a=\"1\"}', total: 'x_total{a=\"2\"}'", "errors", "select no series in common"),
    ("kind: events, errors: x_total, total: t_total, threshold: 100ms", None, "'threshold' applies to latency"),
    ("kind: latency, threshold: 100ms, total: t_total", None, "'total' applies to events SLOs only"),
    ("kind: events, errors: x_total", None, "needs 'total'"),
]


@pytest.mark.parametrize(("slo", "key", "fragment"), REFUSED)
def test_a_bad_events_slo_is_refused_in_one_located_line(tmp_path: Path, slo: str, key: str | None,
                                                         fragment: str) -> None:
    spec = tmp_path / "stack.yaml"
    spec.write_text(spec_with(slo))
    result = runner.invoke(app, ["generate", "--spec", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    where = "services[0].slos[0]" + (f".{key}" if key else "")
    assert lines[0].startswith(f"{spec}:7: {where}: "), lines[0]
    assert fragment in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


PIECES = ['"', "'", "\\", "{", "}", "{{", "}}", "{{ .Value }}", "\n", "\t", "\x00", "é", "🙂", "\u2028", ":",
          "=", ",", "$", "|", "(", ")", "[", "]", ".", "*", "x", " ", "`", "\\x7b"]
hostile = st.one_of(st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join),
                    st.text(min_size=1, max_size=10))


def hostile_spec(value: str) -> str:
    """An events SLO whose matchers hold ``value``: equal to it, and a regex matching it literally."""
    queue, literal = promql_string(value), promql_string(re2_literal(value))
    slo = {"name": "processed", "kind": "events", "objective": "99%",
           "errors": f"orders_failed_total{{queue={queue}}}",
           "total": f"orders_processed_total{{queue={queue}, kind!~{literal}}}"}
    data = {"project": "shop", "host": None, "services": [{"name": "orders", "targets": ["orders:3000"], "slos": [slo]}]}
    return yaml.safe_dump(data, allow_unicode=False, sort_keys=False)


def delimiters(text: str) -> int:
    return text.count("{{") + text.count("}}")


@functools.cache
def harmless_delimiters() -> int:
    return sum(delimiters(a.content) for a in generate(load_spec_text(hostile_spec("orders"), "stack.yaml")))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=hostile)
@example(value='a"b\\c')
@example(value="l1\nl2")
@example(value="{{ .Value }}")
@example(value="}}x{{")
@example(value="pröd 🙂\u2028")
@example(value="\\x7b\\x7b")
def test_hostile_matcher_values_reach_the_rules_and_the_test_inputs_unchanged(value: str) -> None:
    try:
        spec = load_spec_text(hostile_spec(value), "stack.yaml")
    except SpecError as error:  # text YAML itself refuses; nothing else may
        assert "control character" in str(error) or "not allowed in YAML" in str(error), str(error)
        return
    artifacts = generate(spec)
    slo = yaml.safe_load(next(a.content for a in artifacts if a.path.as_posix() == "prometheus/rules/slo-orders.yml"))
    regex = re2_literal(value)
    for rule in (r for group in slo["groups"] for r in group["rules"]):
        for metric, matchers in selectors(rule["expr"]):
            if metric == "orders_failed_total":
                assert matchers == {("job", "=", "orders"), ("queue", "=", value)}
            elif metric == "orders_processed_total":
                assert matchers == {("job", "=", "orders"), ("queue", "=", value), ("kind", "!~", regex)}
    inputs = [series["series"] for a in artifacts if a.path.as_posix().startswith("prometheus/tests/slo")
              for test in yaml.safe_load(a.content)["tests"] for series in test["input_series"]]
    queues = {m.value for text in inputs for m in promql_parser.parse(text).matchers.matchers if m.name == "queue"}
    assert value in queues and queues <= {value, value + "-neighbour"}, queues
    assert sum(delimiters(a.content) for a in artifacts) == harmless_delimiters(), "a Go template delimiter from the spec"


def test_a_hostile_matcher_value_passes_promtool_rules_and_tests(tmp_path: Path) -> None:
    require_binary("promtool", "prometheus")
    spec = load_spec_text(hostile_spec('q"u\\e}}{{\nue 🙂'), "stack.yaml")
    artifacts = [a for a in generate(spec) if a.path.as_posix() in ("prometheus/rules/slo-orders.yml",
                                                                    "prometheus/tests/slo-orders.test.yml")]
    write_tree(tmp_path, artifacts)
    context = ValidationContext(tmp_path, spec, artifacts)
    for validator in (promtool_rules_validator, promtool_tests_validator):
        result = validator(context)
        assert result.status == "pass", [str(f) for f in result.findings]
