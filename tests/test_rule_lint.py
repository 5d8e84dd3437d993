"""The rule lint: for every lint rule a broken rule it reports and a correct one it leaves alone."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
import promql_parser

from obstack.alerts.rule_files import rule_files
from obstack.alerts.rule_lint import (
    LINT_RULES,
    RULE_CHECKS,
    latency_bucket_rounding,
    lint_rule_files,
    output_labels,
    threshold_coherence,
    watchdog_wiring,
)
from obstack.foundation.findings import Finding
from obstack.foundation.series_catalog import CatalogEntry, MetricCatalog
from obstack.stack.spec.loader import load_spec, load_spec_text
from obstack.stack.spec.series import build_catalog
from tests.support.servers import require_binary

FILE = "prometheus/rules/test.yml"
ANNOTATIONS = {"summary": "s", "description": "d", "runbook_url": "https://runbooks.example.com/x"}


@pytest.fixture(scope="module")
def catalog() -> MetricCatalog:
    # x_total and y_total stand for any counter; g for any gauge.
    extra = [CatalogEntry(n, "counter", (), "", "test") for n in ("x_total", "y_total")]
    return build_catalog(load_spec().spec).with_entries([*extra, CatalogEntry("g", "gauge", (), "", "test")])


def alert(expr: str, name: str = "TestAlert", **fields: Any) -> dict[str, Any]:
    """A complete, correct alert unless ``fields`` override a part of it (None removes it)."""
    rule = {"alert": name, "expr": expr, "for": "5m", "labels": {"severity": "warning"}, "annotations": dict(ANNOTATIONS)}
    rule.update(fields)
    return {key: value for key, value in rule.items() if value is not None}


def record(name: str, expr: str, **fields: Any) -> dict[str, Any]:
    return {"record": name, "expr": expr, **fields}


def rule_file(*rules: dict[str, Any], group: str = "g") -> dict[str, Any]:
    return {"groups": [{"name": group, "rules": list(rules)}]}


def lint(catalog: MetricCatalog, *rules: dict[str, Any], scrape: float = 15) -> list[Finding]:
    return lint_rule_files({FILE: rule_file(*rules)}, catalog, scrape)


def of(rule_id: str, findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.message.startswith(f"[{rule_id}]")]


def assert_reported(rule_id: str, findings: list[Finding], location: str = "g/TestAlert") -> Finding:
    matching = of(rule_id, findings)
    assert len(matching) == 1, findings
    finding = matching[0]
    assert (finding.validator, finding.file, finding.location) == ("rule lint", FILE, location)
    assert finding.severity == LINT_RULES[rule_id].severity and finding.rule == rule_id
    return finding


# --------------------------------------------------------------------------- the table


def test_every_rule_has_an_id_a_doc_and_a_severity() -> None:
    assert set(RULE_CHECKS) <= set(LINT_RULES)
    assert set(LINT_RULES) - set(RULE_CHECKS) == {"expr-parse", "duplicate-rule", "threshold-coherence",
                                                  "watchdog-unwired", "cause-after-symptom",
                                                      "latency-threshold-off-bucket"}
    assert all(rule.doc.strip() and "\n" not in rule.doc for rule in LINT_RULES.values())
    assert all(rule.severity in ("error", "warning", "info") for rule in LINT_RULES.values())


def test_a_correct_rule_file_has_no_findings(catalog: MetricCatalog) -> None:
    rules = [
        record("service:http_requests:rate5m", 'sum by (service) (rate(http_request_duration_seconds_count[5m]))'),
        alert(
            'sum by (service) (rate(http_request_duration_seconds_count{status_code=~"5.."}[5m]))'
            " / service:http_requests:rate5m > 0.05",
            annotations={**ANNOTATIONS, "summary": "{{ $labels.service }} errors at {{ $value | humanizePercentage }}"},
        ),
        alert('absent(up{job="bookmark-api"})', name="Absent", annotations={**ANNOTATIONS, "summary": "{{ $labels.job }}"}),
        alert("obstack_queue_backlog_jobs > 1000", name="Backlog", labels={"severity": "critical", "team": "platform"}),
    ]
    assert lint(catalog, *rules) == []


# --------------------------------------------------------------------------- expr-parse


def test_expr_parse_reports_a_broken_expression(catalog: MetricCatalog) -> None:
    finding = assert_reported("expr-parse", lint(catalog, alert("rate(x_total[5m] > 1")))
    assert "parenthesis" in finding.message


def test_expr_parse_reports_a_missing_expression(catalog: MetricCatalog) -> None:
    assert_reported("expr-parse", lint(catalog, record("a:b:c", None)), location="g/a:b:c")  # type: ignore[arg-type]


def test_expr_parse_accepts_a_valid_expression(catalog: MetricCatalog) -> None:
    assert of("expr-parse", lint(catalog, alert("rate(x_total[5m]) > 1"))) == []


# --------------------------------------------------------------------------- alert-no-comparison


@pytest.mark.parametrize(
    "expr",
    ["rate(x_total[5m])", "x_total and y_total", "x_total unless y_total", "sum(g) or g", "g > bool 1", "g + 1"],
)
def test_alert_without_a_comparison_is_reported(catalog: MetricCatalog, expr: str) -> None:
    assert_reported("alert-no-comparison", lint(catalog, alert(expr)))


@pytest.mark.parametrize(
    "expr",
    ["g > 1", "g == 0", "g != 1", "1 >= g", "(g <= 1) and on() x_total", "count(g < 1) unless g",
     'absent(up{job="x"})', "absent_over_time(g[5m])", "(g > bool 1) == 1"],
)
def test_alert_with_a_comparison_anywhere_is_not_reported(catalog: MetricCatalog, expr: str) -> None:
    assert of("alert-no-comparison", lint(catalog, alert(expr))) == []


def test_recording_rules_need_no_comparison(catalog: MetricCatalog) -> None:
    assert lint(catalog, record("job:x:rate5m", "sum(rate(x_total[5m]))")) == []


# --------------------------------------------------------------------------- rate-on-gauge


@pytest.mark.parametrize(
    "expr",
    ["rate(node_memory_MemTotal_bytes[5m]) > 0", "increase(obstack_queue_backlog_jobs[10m]) > 5",
     "irate(obstack_postgres_up[5m]) > 0", 'rate({__name__="node_boot_time_seconds"}[5m]) > 0',
     "sum(rate(g[5m:1m])) > 0"],
)
def test_rate_over_a_gauge_is_reported(catalog: MetricCatalog, expr: str) -> None:
    finding = assert_reported("rate-on-gauge", lint(catalog, alert(expr)))
    assert "not a counter" in finding.message


def test_rate_over_a_recording_rule_is_reported(catalog: MetricCatalog) -> None:
    rules = [record("job:x:rate5m", "sum by (job) (rate(x_total[5m]))"), alert("rate(job:x:rate5m[5m]) > 1")]
    finding = assert_reported("rate-on-gauge", lint(catalog, *rules))
    assert "recording rule" in finding.message


@pytest.mark.parametrize(
    "expr",
    ["rate(http_request_duration_seconds_count[5m]) > 1", "increase(obstack_redis_evicted_keys_total[1h]) > 0",
     "sum by (le) (rate(http_request_duration_seconds_bucket[5m])) > 0", "rate(x_total[5m:1m]) > 0",
     "delta(g[5m]) > 0", "rate(x_total[5m] offset 1h) > 0"],
)
def test_rate_over_a_counter_is_not_reported(catalog: MetricCatalog, expr: str) -> None:
    assert of("rate-on-gauge", lint(catalog, alert(expr))) == []


# --------------------------------------------------------------------------- rate-range-too-short


def test_rate_range_under_four_scrapes_is_reported(catalog: MetricCatalog) -> None:
    finding = assert_reported("rate-range-too-short", lint(catalog, alert("rate(x_total[30s]) > 1")))
    assert "30s" in finding.message and "1m" in finding.message


def test_rate_range_depends_on_the_scrape_interval(catalog: MetricCatalog) -> None:
    assert of("rate-range-too-short", lint(catalog, alert("rate(x_total[1m]) > 1"), scrape=15)) == []
    assert_reported("rate-range-too-short", lint(catalog, alert("rate(x_total[1m]) > 1"), scrape=30))


def test_subquery_range_under_four_scrapes_is_reported(catalog: MetricCatalog) -> None:
    assert_reported("rate-range-too-short", lint(catalog, alert("increase(x_total[45s:15s]) > 1")))


def test_other_range_functions_may_use_short_ranges(catalog: MetricCatalog) -> None:
    assert of("rate-range-too-short", lint(catalog, alert("max_over_time(g[30s]) > 1"))) == []


# --------------------------------------------------------------------------- missing-label, severity-value


def test_alert_without_severity_is_reported(catalog: MetricCatalog) -> None:
    assert_reported("missing-label", lint(catalog, alert("g > 1", labels={"team": "platform"})))
    assert_reported("missing-label", lint(catalog, alert("g > 1", labels=None)))


def test_alert_with_severity_and_recording_rules_are_not_reported(catalog: MetricCatalog) -> None:
    assert of("missing-label", lint(catalog, alert("g > 1"), record("a:g:max", "max(g)"))) == []


@pytest.mark.parametrize("severity", ["page", "Critical", "", "{{ $labels.level }}"])
def test_unknown_severity_is_reported(catalog: MetricCatalog, severity: str) -> None:
    assert_reported("severity-value", lint(catalog, alert("g > 1", labels={"severity": severity})))


@pytest.mark.parametrize("severity", ["critical", "warning", "info"])
def test_known_severity_is_not_reported(catalog: MetricCatalog, severity: str) -> None:
    assert of("severity-value", lint(catalog, alert("g > 1", labels={"severity": severity}))) == []


def test_severity_none_and_no_comparison_belong_to_the_heartbeat_alone(catalog: MetricCatalog) -> None:
    heartbeat = alert("vector(1)", name="Watchdog", labels={"severity": "none"}, **{"for": None})
    assert lint(catalog, heartbeat) == []
    assert_reported("severity-value", lint(catalog, alert("g > 1", labels={"severity": "none"})))
    assert_reported("alert-no-comparison", lint(catalog, alert("g", labels={"severity": "none"})))


def test_an_unwired_watchdog_is_reported_as_info() -> None:
    assert watchdog_wiring(load_spec().spec) == []  # the default spec wires it to its heartbeat receiver
    text = "project: shop\nservices:\n  - name: api\n    targets: [api:8080]\n" \
           "notifications:\n  receivers:\n    - {name: ops, type: webhook, url: http://hooks.example.com/ops}\n"
    (finding,) = watchdog_wiring(load_spec_text(text, "t.yaml").spec, "t.yaml")
    assert (finding.severity, finding.location) == ("info", "notifications.watchdog.receiver")
    assert finding.message.startswith("[watchdog-unwired] the Watchdog alert fires but goes to no receiver")


def test_a_p95_threshold_between_buckets_is_compared_at_the_next_bound_and_reported() -> None:
    """prom-client's buckets have 1s and 2.5s, not 2s: the alert compares at 2.5s, never on an
    interpolated p95 inside the bucket, and validate says so with the fix."""
    assert latency_bucket_rounding(load_spec().spec) == []  # the bookmark API declares a 2s bucket
    text = "project: shop\nservices:\n  - name: api\n    targets: [api:8080]\n" \
           "    thresholds: {latency_p95: {critical: 2s, warning: 500ms}}\n"
    spec = load_spec_text(text, "t.yaml").spec
    (finding,) = latency_bucket_rounding(spec, "t.yaml")
    assert (finding.severity, finding.location) == ("warning", "services[0].thresholds.latency_p95.critical")
    assert finding.message.startswith("[latency-threshold-off-bucket] api: p95 2s lies between the bucket bounds "
                                      "1s and 2.5s of http_request_duration_seconds")
    assert "Add 2 to request_metrics.buckets" in finding.message
    (high,) = [r for f in rule_files(spec) for r in f.alert_rules if r.name == "HighLatency"]
    assert "service:http_request_duration_seconds:p95_rate5m{service=\"api\"} > 2.5\n" in high.expr
    assert high.instances[0].threshold == 2.5


# --------------------------------------------------------------------------- missing-annotation


def test_alert_without_runbook_is_reported(catalog: MetricCatalog) -> None:
    annotations = {"summary": "s", "description": "d"}
    finding = assert_reported("missing-annotation", lint(catalog, alert("g > 1", annotations=annotations)))
    assert finding.message.endswith("runbook_url")


def test_alert_with_an_empty_or_no_annotation_is_reported(catalog: MetricCatalog) -> None:
    finding = assert_reported("missing-annotation", lint(catalog, alert("g > 1", annotations={**ANNOTATIONS, "summary": " "})))
    assert "summary" in finding.message
    finding = assert_reported("missing-annotation", lint(catalog, alert("g > 1", annotations=None)))
    assert "summary, description, runbook_url" in finding.message


def test_alert_with_every_annotation_is_not_reported(catalog: MetricCatalog) -> None:
    assert of("missing-annotation", lint(catalog, alert("g > 1"))) == []


# --------------------------------------------------------------------------- template-label-aggregated-away


def templated(expr: str, text: str, where: str = "annotations") -> dict[str, Any]:
    if where == "annotations":
        return alert(expr, annotations={**ANNOTATIONS, "description": text})
    return alert(expr, labels={"severity": "warning", "subject": text})


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("sum by (service) (rate(x_total[5m])) > 1", "{{ $labels.instance }} is failing"),
        ("sum by (service) (rate(x_total[5m])) > 1", "{{ .Labels.instance }}"),
        ("sum by (service) (rate(x_total[5m])) > 1", '{{ index $labels "instance" }}'),
        ("sum without (instance) (g) > 1", "{{ $labels.instance }}"),
        ("max(g) > 1", "{{ $labels.job }}"),
        ("histogram_quantile(0.95, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m]))) > 1",
         "{{ $labels.le }}"),
        ('absent(up{job="x"})', "{{ $labels.instance }}"),
        ("g > on (service) x_total", "{{ $labels.instance }}"),
        ("sum by (service) (g) > 1 and on (service) g", "{{ $labels.instance }}"),
        ("sum by (service) (g) > 1 unless g", "{{ $labels.instance }}"),
        ("count_values(\"version\", g) > 1", "{{ $labels.instance }}"),
    ],
)
def test_template_label_aggregated_away_is_reported(catalog: MetricCatalog, expr: str, text: str) -> None:
    finding = assert_reported("template-label-aggregated-away", lint(catalog, templated(expr, text)))
    assert "annotations.description" in finding.message


def test_template_label_in_a_label_value_is_reported(catalog: MetricCatalog) -> None:
    rule = templated("sum by (service) (g) > 1", "{{ $labels.instance }}", where="labels")
    finding = assert_reported("template-label-aggregated-away", lint(catalog, rule))
    assert "labels.subject" in finding.message


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("sum by (service) (rate(x_total[5m])) > 1", "{{ $labels.service }}"),
        ("sum without (instance) (g) > 1", "{{ $labels.job }} {{ $labels.anything }}"),
        ("g > 1", "{{ $labels.instance }}"),  # no aggregation: any label may be there
        ("1 < g", "{{ $labels.instance }}"),
        ('absent(up{job="x"})', "{{ $labels.job }}"),
        ("sum by (service) (g) > on (service) group_left (team) g", "{{ $labels.team }}"),
        ("g > ignoring (le) group_left x_total", "{{ $labels.instance }}"),
        ('label_replace(sum(g), "instance", "all", "", "") > 1', "{{ $labels.instance }}"),
        ("topk(3, g) > 1", "{{ $labels.instance }}"),
        ("sum by (service) (g) > 1 or g > 2", "{{ $labels.instance }}"),  # the right side keeps it
        ("count_values(\"version\", g) > 1", "{{ $labels.version }}"),
        ("sum(g) > 1", "{{ $value }} {{ $externalLabels.cluster }}"),
    ],
)
def test_template_label_that_may_be_present_is_not_reported(catalog: MetricCatalog, expr: str, text: str) -> None:
    assert of("template-label-aggregated-away", lint(catalog, templated(expr, text))) == []


AGGREGATIONS = st.sampled_from(["sum", "max", "min", "avg", "count", "stddev"])
LABEL_POOL = ["service", "instance", "job", "team", "route"]
STEPS = st.lists(
    st.tuples(AGGREGATIONS, st.sampled_from(["by", "without"]), st.lists(st.sampled_from(LABEL_POOL), unique=True)),
    min_size=1, max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(steps=STEPS, label=st.sampled_from(LABEL_POOL), comparison=st.sampled_from(["", " > 1", " and g", " > bool 1 == 1"]))
def test_aggregated_away_agrees_with_a_set_model(
    catalog: MetricCatalog, steps: list[tuple[str, str, list[str]]], label: str, comparison: str
) -> None:
    """Model: the selector carries every label of the pool; by keeps, without drops."""
    expr, present = "g", set(LABEL_POOL)
    for aggregation, mode, labels in steps:
        expr = f"{aggregation} {mode} ({', '.join(labels)}) ({expr})"
        present = present & set(labels) if mode == "by" else present - set(labels)
    rule = alert(f"({expr}){comparison or ' > 0'}", annotations={**ANNOTATIONS, "summary": f"{{{{ $labels.{label} }}}}"})
    reported = bool(of("template-label-aggregated-away", lint(catalog, rule)))
    assert reported == (label not in present)


# Real Prometheus decides which labels survive: every label promtool sees must be one the
# lint allows (never a false report), and a closed answer must be exact.
PROMETHEUS_LABEL_CASES = [
    ("sum by (x) (a)", {"x"}),
    ("sum without (z) (a)", {"x", "y"}),
    ("a > on (x) b", {"x"}),
    ("a > ignoring (z, w) b", {"x", "y"}),
    ("a > on (x) group_left (w) b", {"x", "y", "z", "w"}),
    ("b < on (x) group_right (w) a", {"x", "y", "z", "w"}),
    ("histogram_quantile(0.5, sum by (le, x) (h))", {"x"}),
    ('absent(nope{job="j", x=~".+"})', {"job"}),
    ('count_values("v", a)', {"v"}),
    ('label_replace(sum(a), "n", "k", "", "")', {"n"}),
    ("topk(1, sum by (y) (a))", {"y"}),
    ("sum by (x, y) (a) and on (x) b", {"x", "y"}),
]


def test_output_labels_agree_with_prometheus(tmp_path: Path) -> None:
    promtool = require_binary("promtool", "prometheus")
    rules = [{"alert": f"Case{i}", "expr": expr} for i, (expr, _) in enumerate(PROMETHEUS_LABEL_CASES)]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rule_file(*rules)))
    series = {'a{x="1",y="2",z="3"}': "5 5", 'b{x="1",y="2",w="4"}': "1 1", 'h{x="1",le="1"}': "1 1", 'h{x="1",le="+Inf"}': "1 1"}
    tests = [
        {"eval_time": "1m", "alertname": f"Case{i}",
         "exp_alerts": [{"exp_labels": {label: _value(label) for label in labels}}]}
        for i, (_, labels) in enumerate(PROMETHEUS_LABEL_CASES)
    ]
    unit = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": [{"series": s, "values": v} for s, v in series.items()], "alert_rule_test": tests,
    }]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(unit))
    run = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    for expr, labels in PROMETHEUS_LABEL_CASES:
        model = output_labels(promql_parser.parse(expr))
        assert all(model.may_have(label) for label in labels), expr
        if model.known is not None:
            assert model.known == labels, expr


def _value(label: str) -> str:
    return {"x": "1", "y": "2", "z": "3", "w": "4", "job": "j", "v": "5", "n": "k"}[label]


# --------------------------------------------------------------------------- absent-without-for


@pytest.mark.parametrize("expr", ['absent(up{job="x"})', "absent_over_time(g[10m])", 'absent(up{job="x"}) or g > 1'])
@pytest.mark.parametrize("for_", [None, "0s", 0])
def test_absent_alert_without_for_is_reported(catalog: MetricCatalog, expr: str, for_: str | int | None) -> None:
    rule = alert(expr)
    rule.pop("for")
    if for_ is not None:
        rule["for"] = for_
    assert_reported("absent-without-for", lint(catalog, rule))


def test_absent_alert_with_for_and_other_alerts_without_are_not_reported(catalog: MetricCatalog) -> None:
    no_for = alert("g > 1")
    no_for.pop("for")
    assert of("absent-without-for", lint(catalog, alert('absent(up{job="x"})', for_="5m"), no_for)) == []


# --------------------------------------------------------------------------- unknown-metric


@pytest.mark.parametrize(
    ("expr", "name"),
    [("rate(htp_request_duration_seconds_count[5m]) > 1", "htp_request_duration_seconds_count"),
     ('{__name__="obstack_postgres_upp"} == 0', "obstack_postgres_upp"),
     ("sum(rate(x_total[5m])) / sum(rate(no_such_thing_total[5m])) > 1", "no_such_thing_total")],
)
def test_unknown_metric_is_reported(catalog: MetricCatalog, expr: str, name: str) -> None:
    finding = assert_reported("unknown-metric", lint(catalog, alert(expr)))
    assert name in finding.message


def test_unknown_metric_in_a_recording_rule_is_reported(catalog: MetricCatalog) -> None:
    assert_reported("unknown-metric", lint(catalog, record("a:b:c", "sum(nope)")), location="g/a:b:c")


@pytest.mark.parametrize(
    "expr",
    ['{__name__=~"http_.*"} > 1', 'up{job="node"} == 0', "obstack_postgres_up == 0",
     'ALERTS{alertstate="firing"} > 0', "job:x:rate5m > 1"],
)
def test_known_and_regex_named_metrics_are_not_reported(catalog: MetricCatalog, expr: str) -> None:
    other_file = rule_file(record("job:x:rate5m", "sum(rate(x_total[5m]))"))
    findings = lint_rule_files({FILE: rule_file(alert(expr)), "prometheus/rules/other.yml": other_file}, catalog, 15)
    assert of("unknown-metric", findings) == []


# --------------------------------------------------------------------------- duplicate-rule


def test_duplicate_recording_rule_is_reported(catalog: MetricCatalog) -> None:
    rules = [record("job:x:rate5m", "sum(rate(x_total[5m]))"), record("job:x:rate5m", "sum(rate(x_total[10m]))")]
    finding = assert_reported("duplicate-rule", lint(catalog, *rules), location="g/job:x:rate5m")
    assert "rules[0]" in finding.message


def test_duplicate_alert_across_files_is_reported(catalog: MetricCatalog) -> None:
    files = {
        "prometheus/rules/a.yml": rule_file(alert("sum(rate(x_total[5m])) > 1")),
        FILE: rule_file(alert("sum( rate(x_total[5m]) )>1")),  # spacing differs only
    }
    finding = assert_reported("duplicate-rule", lint_rule_files(files, catalog, 15))
    assert "prometheus/rules/a.yml:g/TestAlert" in finding.message


def test_rules_differing_in_labels_or_expression_are_not_duplicates(catalog: MetricCatalog) -> None:
    rules = [
        record("job:x:rate5m", "sum(rate(x_total[5m]))", labels={"window": "5m"}),
        record("job:x:rate5m", "sum(rate(x_total[5m]))", labels={"window": "1h"}),
        alert("g > 1"),
        alert("g > 2"),
        alert("g > 1", labels={"severity": "critical"}),
    ]
    assert of("duplicate-rule", lint(catalog, *rules)) == []


# --------------------------------------------------------------------------- malformed input


def test_malformed_rule_files_do_not_crash(catalog: MetricCatalog) -> None:
    files: dict[str, Any] = {"a.yml": {}, "b.yml": {"groups": "x"}, "c.yml": {"groups": [{"name": "g", "rules": ["x", 1]}]}}
    assert lint_rule_files(files, catalog, 15) == []


# --------------------------------------------------------------------------- threshold-coherence

ONE_SERVICE = """
project: shop
services:
  - name: api
    targets: [api:8080]
    slos:
      - {{name: errors, kind: errors, objective: "{objective}", window: {window}}}
    thresholds:
      error_rate: {{critical: "{critical}", warning: null}}
"""


def test_error_threshold_looser_than_the_slo_page_is_reported() -> None:
    findings = threshold_coherence(load_spec().spec, "stack.yaml")
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.severity, finding.file, finding.location) == ("info", "stack.yaml", "services[0].thresholds.error_rate.critical")
    assert finding.message.startswith("[threshold-coherence] bookmark-api: ")
    assert (
        "HighErrorRate fires at 5% but the errors SLO (99.9%) already pages at 1.44% (14.4x burn over 1h and 5m); "
        "the owner decides whether both are wanted"
    ) in finding.message


@pytest.mark.parametrize(("objective", "critical", "pages_at"), [("99.95%", "2%", "0.72%"), ("99%", "15%", "14.4%")])
def test_page_ratio_prints_cleanly(objective: str, critical: str, pages_at: str) -> None:
    spec = load_spec_text(ONE_SERVICE.format(objective=objective, critical=critical, window="30d"), "t.yaml").spec
    (finding,) = threshold_coherence(spec)
    assert f"already pages at {pages_at} " in finding.message
    assert f"fires at {critical} " in finding.message


def test_burn_rate_follows_the_slo_window() -> None:
    # 2% of a 28d budget in 1h is a 13.44x burn
    spec = load_spec_text(ONE_SERVICE.format(objective="99.9%", critical="5%", window="28d"), "t.yaml").spec
    (finding,) = threshold_coherence(spec)
    assert "already pages at 1.344% (13.44x burn over 1h and 5m)" in finding.message


@pytest.mark.parametrize(("objective", "critical"), [("99.9%", "1%"), ("99.9%", "1.44%"), ("90%", "50%")])
def test_error_threshold_at_or_below_the_slo_page_is_not_reported(objective: str, critical: str) -> None:
    spec = load_spec_text(ONE_SERVICE.format(objective=objective, critical=critical, window="30d"), "t.yaml").spec
    assert threshold_coherence(spec) == []


def test_service_without_errors_slo_is_not_reported() -> None:
    text = "project: shop\nservices:\n  - name: api\n    targets: [api:8080]\n    slos: []\n"
    assert threshold_coherence(load_spec_text(text, "t.yaml").spec) == []


def test_a_cause_holding_as_long_as_its_symptoms_is_reported() -> None:
    from obstack.alerts.rule_lint import cause_timing
    from obstack.alerts.rule_files import rule_files

    def findings(down_for: str) -> list[Finding]:
        text = ("project: shop\nservices:\n  - name: api\n    targets: [api:8080]\n    depends_on: [db]\n"
                f"datastores:\n  - {{name: db, kind: postgres, dsn_env: PG, thresholds: {{down_for: {down_for}}}}}\n")
        spec = load_spec_text(text, "t.yaml").spec
        return cause_timing(spec, [r for f in rule_files(spec) for r in f.alert_rules], "t.yaml")

    assert findings("1m") == []  # the plan's 1m is below every symptom's 2m
    (finding,) = findings("2m")
    assert (finding.severity, finding.location) == ("warning", "datastores[0].thresholds.down_for")
    assert finding.message.startswith("[cause-after-symptom] db: PostgresDown holds 2m, not less than ")
    assert finding.message.endswith("set down_for below 2m")
