"""Sharded Prometheus (kubernetes.prometheus.shards): which rules are per-target, the split of the
rule files between the shards' PrometheusRule objects and ruler/rules/, and the shards object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.alerts.global_rules import RULER_DIR
from obstack.alerts.rule_files import RULES_DIR
from obstack.alerts.shard_safety import cross_target_reason, split_rule_files
from obstack.compose.operator_shapes import operator_object_problems
from obstack.stack.spec.errors import SpecError
from obstack.stack.validate.kubernetes_checks import kubernetes_core_validator, prometheus_operator_validator
from obstack.stack.validate.prometheus_tools import promtool_rules_validator
from obstack.stack.validate.validator import ValidationContext
from tests.compose.trees import build_tree, load_documents, load_yaml, spec_with
from tests.support.servers import require_binary


def sharded(shards: int | None, name: str | None = None) -> Any:
    def change(data: dict[str, Any]) -> None:
        prometheus: dict[str, Any] = {"shards": shards}
        if name:
            prometheus["name"] = name
        data.setdefault("kubernetes", {})["prometheus"] = prometheus
    return change


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> ValidationContext:
    return build_tree(tmp_path_factory.mktemp("sharded") / "build", spec_with(sharded(3)))


def rule_names(bodies: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(g["name"], r.get("alert") or r.get("record")) for body in bodies for g in body["groups"] for r in g["rules"]]


@pytest.mark.parametrize(("expr", "reason"), [
    ('up{job="a"} == 0', None),
    ('sum without (state) (pg_connections) / pg_max_connections > 0.8', None),
    ('max by (job, instance) (resets(x[10m])) > 0', None),
    ('up == 1 unless on (job, instance) http_requests_total', None),
    ('a > 0 and on (job, instance, queue) b == 0', None),
    ('rate(errors_total[5m]) / rate(requests_total[5m]) > 0.01', None),
    ('vector(1)', None),
    ('topk by (instance) (1, x)', None),
    ('sum by (service) (rate(x[5m]))', "sum by (service) aggregates across targets (drops instance)"),
    ('max by (job) (up) == 0', "max by (job) aggregates across targets (drops instance)"),
    ('count(up)', "count aggregates across targets (drops instance)"),
    ('sum without (instance) (x)', "sum without (instance) aggregates across targets (drops instance)"),
    ('topk(3, x)', "topk aggregates across targets (drops instance)"),
    ('absent(up{job="a"})', "absent() on a shard cannot tell a series missing everywhere from one another shard scrapes"),
    ('absent_over_time(up[5m])', "absent_over_time() on a shard cannot tell a series missing everywhere from one another "
                                 "shard scrapes"),
    ('x > scalar(y)', "scalar() collapses the series of several targets"),
    ('a / on (job) group_left b', "on (job) matches series of different targets"),
    ('a unless ignoring (instance) b', "ignoring (instance) matches series of different targets"),
    ('sum(', "the expression does not parse"),
])
def test_an_expression_is_per_target_unless_it_combines_targets(expr: str, reason: str | None) -> None:
    assert cross_target_reason(expr) == reason


def body(*groups: tuple[str, list[dict[str, str]]]) -> dict[str, Any]:
    return {"groups": [{"name": name, "rules": rules} for name, rules in groups]}


def test_rules_reading_what_a_global_rule_computes_go_global_too() -> None:
    files = [
        ("a", body(("rec", [{"record": "job:x:sum", "expr": "sum by (job) (x)"},
                            {"record": "instance:x:rate", "expr": "rate(x[5m])"}]))),
        ("b", body(("alerts", [{"alert": "XHigh", "expr": "job:x:sum > 1"},  # reads a global record
                               {"alert": "XLocal", "expr": "instance:x:rate > 1"},
                               {"alert": "Hysteresis", "expr": 'job:x:sum > 0 or ALERTS{alertname="XHigh"}'},
                               {"alert": "Chained", "expr": 'ALERTS{alertname="Hysteresis"} == 1'},
                               {"alert": "Watchdog", "expr": "vector(1)"}]),
                   ("constants", [{"record": "objective", "expr": "vector(0.999)"}]))),
    ]
    split = split_rule_files(files)
    assert rule_names([b for _, b in split.local]) == [("rec", "instance:x:rate"), ("alerts", "XLocal"),
                                                       ("alerts", "Watchdog")]
    assert rule_names([b for _, b in split.global_]) == [("rec", "job:x:sum"), ("alerts", "XHigh"),
                                                         ("alerts", "Hysteresis"), ("alerts", "Chained"),
                                                         ("constants", "objective")]
    reasons = {m.rule: m.reason for m in split.moved}
    assert reasons["XHigh"] == "reads job:x:sum, which the global evaluator computes"
    assert reasons["Chained"] == 'reads ALERTS{alertname="Hysteresis"}, which the global evaluator computes'
    assert reasons["objective"] == "reads no series: recorded once by the global evaluator, not once per shard"
    assert [stem for stem, _ in split.global_] == ["a", "b"]


def test_the_generated_rules_split_as_an_sre_would(tree: ValidationContext) -> None:
    objects = load_documents(tree.out / "kubernetes/prometheus-rules.yaml")
    local = set(rule_names([o["spec"] for o in objects]))
    ruler = {p.name: load_yaml(p) for p in sorted((tree.out / RULER_DIR).glob("*.yml"))}
    moved = set(rule_names(list(ruler.values())))
    for per_target in ("RequestMetricsMissing", "HealthCheckFailing", "WorkerMemoryNearRestart", "PostgresDown",
                       "HighMemoryUsage", "QueueNoWorkers", "Watchdog", "PrometheusConfigReloadFailed"):
        assert per_target in {name for _, name in local} and per_target not in {name for _, name in moved}
    for aggregating in ("ServiceDown", "HighErrorRate", "ErrorBudgetBurn", "ScrapeJobMissing", "ExporterDown",
                        "service:http_requests:rate5m", "slo:sli_error:ratio_rate30d", "slo:objective:ratio"):
        assert aggregating in {name for _, name in moved} and aggregating not in {name for _, name in local}
    # The service's RED recordings sum its job over every target: they move with the alerts reading them.
    assert set(ruler) == {"service-bookmark-api.yml", "services.yml", "slo-bookmark-api.yml", "stack.yml"}
    stack = (tree.out / RULER_DIR / "stack.yml").read_text()
    assert "# stack-alerts/ScrapeJobMissing: absent() on a shard cannot tell a series missing everywhere" in stack


def test_every_rule_lands_exactly_once_in_file_and_group_order(tree: ValidationContext) -> None:
    """The shards' rules and the global ones partition the rule files: nothing lost, nothing twice."""
    for path in sorted((tree.out / RULES_DIR).glob("*.yml")):
        original = rule_names([load_yaml(path)])
        objects = [o for o in load_documents(tree.out / "kubernetes/prometheus-rules.yaml")
                   if o["metadata"]["name"].endswith("-" + path.stem)]
        local = rule_names([o["spec"] for o in objects])
        ruler = tree.out / RULER_DIR / path.name
        moved = rule_names([load_yaml(ruler)]) if ruler.exists() else []
        assert sorted(local + moved) == sorted(original)
        assert [r for r in original if r in local] == local and [r for r in original if r in moved] == moved


def test_the_shards_object_sets_only_spec_shards(tree: ValidationContext) -> None:
    [shards] = load_documents(tree.out / "kubernetes/prometheus-shards.yaml")
    assert shards == {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
                      "metadata": {"name": "kube-prometheus-stack-prometheus", "namespace": "monitoring"},
                      "spec": {"shards": 3}}
    assert operator_object_problems(shards) == []
    assert operator_object_problems({**shards, "spec": {"shards": 0}}) == ["spec.shards: 0 is less than the minimum of 1"]
    assert operator_object_problems({**shards, "spec": {"shards": 2, "replicas": 2}})[0].startswith(
        "spec: Additional properties are not allowed")
    assert "prometheus-shards.yaml" in load_yaml(tree.out / "kubernetes/kustomization.yaml")["resources"]


def test_the_validators_pass_on_the_sharded_tree(tree: ValidationContext) -> None:
    require_binary("promtool", "prometheus")
    for validator in (prometheus_operator_validator, kubernetes_core_validator, promtool_rules_validator):
        result = validator(tree)
        assert not result.failed, [str(f) for f in result.findings]
    assert promtool_rules_validator(tree).summary.startswith("11 files: ")  # 7 rule files and 4 for the ruler


def test_promtool_checks_the_rules_split_off_for_the_ruler(tmp_path: Path) -> None:
    require_binary("promtool", "prometheus")
    context = build_tree(tmp_path / "build", spec_with(sharded(2)))
    broken = context.out / RULER_DIR / "stack.yml"
    broken.write_text(broken.read_text().replace("expr: max by (job, team)", "expr: max by (job, team", 1))
    [finding] = promtool_rules_validator(context).findings
    assert finding.file == "ruler/rules/stack.yml"


@pytest.mark.parametrize(("shards", "files", "split"), [(None, False, False), (1, True, False), (2, True, True)])
def test_without_shards_nothing_changes(tmp_path: Path, shards: int | None, files: bool, split: bool) -> None:
    context = build_tree(tmp_path / "build", spec_with(sharded(shards, "prom-k8s")))
    assert (context.out / "kubernetes/prometheus-shards.yaml").exists() is files
    assert (context.out / RULER_DIR).exists() is split
    objects = load_documents(context.out / "kubernetes/prometheus-rules.yaml")
    all_rules = rule_names([load_yaml(p) for p in sorted((context.out / RULES_DIR).glob("*.yml"))])
    assert (sorted(rule_names([o["spec"] for o in objects])) != sorted(all_rules)) is split
    if files:
        assert load_documents(context.out / "kubernetes/prometheus-shards.yaml")[0]["metadata"]["name"] == "prom-k8s"


@pytest.mark.parametrize(("value", "message"), [
    (0, "kubernetes.prometheus.shards: Input should be greater than or equal to 1 (got 0)"),
    (1001, "kubernetes.prometheus.shards: Input should be less than or equal to 1000 (got 1001)"),
    ("3", "kubernetes.prometheus.shards: Input should be a valid integer (got '3')"),
    (True, "kubernetes.prometheus.shards: Input should be a valid integer (got True)"),
])
def test_shards_must_be_a_whole_number_from_1(value: Any, message: str) -> None:
    with pytest.raises(SpecError) as error:
        spec_with(sharded(value))
    assert [str(p).split(": ", 1)[1] for p in error.value.problems] == [message]


def test_a_user_rule_file_is_split_like_the_generated_ones(tmp_path: Path) -> None:
    rules = tmp_path / "team.yml"
    rules.write_text(yaml.safe_dump(body(("team", [{"alert": "TeamJobGone", "expr": 'absent(up{job="team"})'},
                                                   {"alert": "TeamDown", "expr": 'up{job="team"} == 0'}]))))
    spec = tmp_path / "spec.yaml"
    spec.write_text("project: shop\nteam: platform\nservices:\n  - name: api\n    targets: [api:8080]\n"
                    f"prometheus:\n  extra_rule_files: [{rules}]\nkubernetes:\n  prometheus:\n    shards: 2\n")
    from obstack.stack.spec.loader import load_spec
    context = build_tree(tmp_path / "build", load_spec(spec))
    assert rule_names([load_yaml(context.out / RULER_DIR / "team.yml")]) == [("team", "TeamJobGone")]
    team = [o for o in load_documents(context.out / "kubernetes/prometheus-rules.yaml") if o["metadata"]["name"].endswith("team")]
    assert rule_names([team[0]["spec"]]) == [("team", "TeamDown")]
