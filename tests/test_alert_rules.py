"""Alert and recording rules: accepted by promtool 2.42, every alert proven by its generated tests."""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from obstack.alerts.stack_rules import WATCHDOG

from obstack.alerts.promtool_tests import HOLD_CLASSES, hold_class
from obstack.alerts.rule_files import rule_file_artifacts, rule_files
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec, load_spec_text
from obstack.stack.spec.model import Spec
from obstack.stack.spec.values import Duration
from tests.support.rendered import promtool_tests, rendered
from tests.support.servers import require_binary

PLAN_ALERTS = {
    "ServiceDown": "critical", "HighErrorRate": "critical", "HighLatency": "critical",
    "QueueBacklogHigh": "critical", "HighMemoryUsage": "critical", "DiskSpaceLow": "critical",
    "PostgresDown": "critical", "RedisDown": "critical", "ErrorRateIncreased": "warning",
    "LatencyDegraded": "warning", "QueueDepthHigh": "warning", "ConnectionPoolExhaustion": "warning",
}

TWO_TEAMS = (Path(__file__).parent / "specs" / "shop.yaml").read_text()  # also the mutation check's second spec


def write_tree(spec: Spec, root: Path) -> Path:
    for artifact in rendered(spec, rule_file_artifacts) + promtool_tests(spec):
        path = root / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(artifact.content)
    return root / "prometheus"


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool", "prometheus")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=600)


def check_and_test(spec: Spec, root: Path, only: tuple[str, ...] = ()) -> None:
    """promtool lints every generated rule file and runs the generated tests: all of them, or those of
    the rule files named in ``only`` (the files a change in the spec can touch)."""
    prometheus = write_tree(spec, root)
    rules = sorted(str(p) for p in (prometheus / "rules").glob("*.yml"))
    checked = promtool("check", "rules", "--lint=all", "--lint-fatal", *rules, cwd=prometheus)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = sorted(p.name for p in (prometheus / "tests").glob("*.test.yml") if not only or p.name.split(".")[0] in only)
    assert tests, f"no generated tests for {only}"
    with ThreadPoolExecutor(max_workers=2) as pool:  # a promtool process a file, two at a time
        for tested in pool.map(lambda name: promtool("test", "rules", name, cwd=prometheus / "tests"), tests):
            assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]


def test_host_job_renames_every_node_selector_for_kube_prometheus_stack(tmp_path: Path) -> None:
    """kube-prometheus-stack scrapes node-exporter as job node-exporter: one spec key follows it everywhere."""
    loaded = load_spec_text(TWO_TEAMS.replace("host:\n", "host:\n  job: node-exporter\n", 1), "t.yaml")
    check_and_test(loaded.spec, tmp_path, only=("host", "stack"))  # the files naming the node job
    generated = {a.path.as_posix(): a.content for a in generate(loaded)}
    node_files = [path for path, text in generated.items() if "node_memory_MemTotal_bytes" in text]
    assert {"prometheus/rules/host.yml", "grafana/dashboards/obstack/shop-host.json", "kubernetes/prometheus-rules.yaml"} <= set(node_files)
    for path in node_files:
        assert 'job=\\"node-exporter\\"' in generated[path] or 'job="node-exporter"' in generated[path], path
        assert 'job="node"' not in generated[path] and 'job=\\"node\\"' not in generated[path], path
    config = yaml.safe_load(generated["prometheus/prometheus.yml"])
    assert "node-exporter" in [job["job_name"] for job in config["scrape_configs"]]


def alert_rules(spec: Spec) -> list:
    return [rule for f in rule_files(spec) for rule in f.alert_rules]


# The default spec's rules through promtool's lint and their generated tests: the `promtool check
# rules` and `promtool test rules` validators, in tests/test_validate.py's full validation.


def test_every_plan_alert_exists_with_its_severity() -> None:
    rules = alert_rules(load_spec().spec)
    by_name = {(r.name, r.severity) for r in rules}
    for name, severity in PLAN_ALERTS.items():
        assert (name, severity) in by_name, name


RECOVERS = "keeps firing for keep_firing_for after it recovers"
QUIET = "stays quiet just inside the threshold"
LULL = "keeps firing while traffic stops, until its window [5m] is empty"
VANISHES, APPEARS = "fires once its series have been gone past for", "stays quiet when its series appear late"
ABSENCE_ALERTS = ("ScrapeJobMissing", "RequestMetricsMissing")


@pytest.mark.parametrize("text", ["default", "two-teams"])
def test_every_alert_and_subject_is_covered_by_three_generated_cases(text: str) -> None:
    spec = load_spec().spec if text == "default" else load_spec_text(TWO_TEAMS, "t.yaml").spec
    groups = [g for a in promtool_tests(spec) for g in yaml.safe_load(a.content)["tests"]]
    fired: dict[str, list[dict[str, str]]] = {}
    kinds: dict[str, set[str]] = {}
    hysteresis = {r.name for r in alert_rules(spec) if r.instances and r.instances[0].release_level is not None}
    kept = {r.name for r in alert_rules(spec) if r.keep_firing_for is not None}
    for group in groups:
        assert group["interval"], "promtool 2.42 wants interval on every test group"
        case = group["alert_rule_test"][0]
        # "<alert> fires (<subjects>; <levels>); does not fire before for": cases sharing one input
        head, _, tail = group["name"].partition(" (")
        kind = head.removeprefix(case["alertname"] + " ")
        also = [k for k in tail.rsplit(")", 1)[-1].split("; ") if k]
        # Checked twice: held then resolved after a recovery; quiet, and still quiet once the
        # family's warning has fired (hysteresis).
        twice = kind == RECOVERS or (kind == QUIET and case["alertname"] in hysteresis)
        # A lull: firing half-way through the window, (kept firing once it is empty,) resolved.
        lull = (1 + (case["alertname"] in kept)) if kind == LULL else 0
        pending = kind in (VANISHES, APPEARS)  # also checked an evaluation before it may change
        assert len(group["alert_rule_test"]) == 1 + len(also) + twice + lull + pending
        kinds.setdefault(case["alertname"], set()).update([kind, *also])
        if kind == "fires":
            fired.setdefault(case["alertname"], []).extend(a["exp_labels"] for a in case["exp_alerts"])
    for rule in alert_rules(spec):
        if rule.name == WATCHDOG:  # always fires, from the first evaluation: no quiet level, no hold
            assert kinds[rule.name] == {"fires"}
            continue
        expected = {"fires", "stays quiet just inside the threshold", "does not fire before for"}
        if any(r.name == rule.name and r.instances[0].blocked_above is not None for r in alert_rules(spec)):
            # Slower burn-rate pairs: also silent at a burn their faster pair's window covers.
            expected.add("stays quiet while a faster window pair covers the burn")
        same = [r for r in alert_rules(spec) if r.name == rule.name]
        if any(r.instances[0].sparse is not None for r in same):
            # Ratios of requests (RED, request SLOs): also silent at a firing level on too little traffic.
            expected.add("stays quiet on too little traffic")
        if any(r.instances[0].enough_rate is not None for r in same):
            expected.add("fires on just enough traffic")  # guards counting over an hour at most
        if any(r.instances[0].near_fire_level is not None for r in same):
            expected.add("fires at twice its threshold")  # a firing level further out than 2.5x the threshold
        if any(r.instances[0].unblocked_rate is not None for r in same):
            # Slower burn pairs whose faster pair asks for more traffic: the slower one pages alone on less.
            expected.add("fires while the faster pair has too little traffic")
        if any(r.instances[0].release_level is not None for r in same):
            # A critical RED alert's hysteresis: it holds above its warning level, and lets go under
            # it; a pending alert does not hold (a spike shorter than for).
            expected |= {"holds while above its release level", "resolves under its release level",
                         "stays quiet after a spike shorter than for"}
        elif rule.keep_firing_for is not None:
            expected.add(RECOVERS)  # a cause on gauges: still firing after it recovers, then resolved
        if any(r.instances[0].count_window is not None for r in same):
            # Events counted in a window (restarts): the count spread over the window, and wider.
            expected |= {"fires on events spread over its window", "stays quiet on events spread wider than its window"}
        for other in {i.other_firing.what for r in same for i in r.instances if i.other_firing is not None}:
            # Another branch of the rule: a second missing series, another sign of the same fault.
            expected.add(f"fires {other}")
        if all(i.masked is not None for r in same for i in r.instances):
            # A restart count beside its unless clause: round-robin start times are no restarts.
            expected.add("stays quiet at a firing level its unless clause rules out")
        if any(r.instances[0].onset is not None for r in same):
            expected.add("does not fire before for after a sudden jump")  # windowed growth: for from the onset
        for windows in {r.instances[0].burn_windows for r in same} - {None}:
            # Every burn-rate pair: quiet while only its short window burns, and while only its long one does.
            expected |= {f"stays quiet while only its short window [{windows.short}] burns",
                         f"stays quiet while only its long window [{windows.long}] burns"}
            if windows.long_floor is not None:  # request SLOs: traffic younger than the long window
                expected |= {f"stays quiet while its long window [{windows.long}] has seen too few requests",
                             f"fires once its long window [{windows.long}] has seen enough requests",
                             f"stays quiet while its short window [{windows.short}] has seen too few requests",
                             f"fires while its short window [{windows.short}] has seen just enough requests"}
                if windows.faster_long is not None:  # a slower pair: released once its faster pair lacks traffic
                    expected |= {"fires once the faster pair's short window has seen too few requests",
                                 "stays quiet while the faster pair's short window has seen just enough requests"}
        if rule.instances[0].lull_window is not None and hold_class(rule) == HOLD_CLASSES[0]:
            # Ratios of counters (RED, notification errors): traffic that stops. Not at a 2m step
            # (the RED warnings): too coarse for the lull's checks inside a 5m window.
            expected.add(LULL)
        if rule.name in ABSENCE_ALERTS:
            # Fired by missing series: tested with the series vanishing (a stale marker), and with
            # them arriving half-way to for (pending, then reset).
            expected |= {VANISHES, APPEARS}
        assert kinds[rule.name] == expected
        for instance in rule.instances:
            expected = {**rule.labels, **instance.labels}
            assert expected in fired[rule.name], (rule.name, expected)


def test_generated_tests_grow_linearly_with_services() -> None:
    def size(count: int) -> int:
        services = "\n".join(f"  - name: s{i}\n    targets: [s{i}:80]" for i in range(count))
        spec = load_spec_text(f"project: p\nservices:\n{services}\n", "p.yaml").spec
        return sum(len(a.content) for a in promtool_tests(spec))

    small, large = size(5), size(20)
    assert large < 5 * small, (small, large)


def test_every_alert_carries_severity_team_subject_and_annotations() -> None:
    for rule in alert_rules(load_spec_text(TWO_TEAMS, "t.yaml").spec):
        if rule.name == WATCHDOG:
            assert rule.labels == {"severity": "none", "team": "platform"} and rule.expr == "vector(1)"
            continue
        assert rule.labels["severity"] in ("critical", "warning")
        assert {"summary", "description", "runbook_url"} <= set(rule.annotations)
        assert "{{" not in rule.annotations["summary"], "the summary is a static sentence"
        assert rule.annotations["runbook_url"] == f"https://runbooks.example.com/shop/{rule.name}"
        for instance in rule.instances:
            assert "team" in instance.labels, rule.name
            assert rule.subject in instance.labels, rule.name


def test_a_threshold_changed_in_the_spec_changes_rule_and_tests(tmp_path: Path) -> None:
    base = load_spec().spec
    changed_text = Path(__file__).parent.parent.joinpath("stack/spec/default.yaml").read_text().replace(
        "error_rate: {critical: 5%, warning: 1%}", "error_rate: {critical: 3%, warning: 0.5%}")
    changed = load_spec_text(changed_text, "changed.yaml").spec

    def high_error(spec: Spec) -> tuple[str, list[str]]:
        rule = next(r for r in alert_rules(spec) if r.name == "HighErrorRate")
        tests = yaml.safe_load(next(a for a in promtool_tests(spec) if a.path.name == "services.test.yml").content)
        names = [g["name"] for g in tests["tests"] if g["alert_rule_test"][0]["alertname"] == "HighErrorRate"]
        return rule.expr, names

    base_expr, base_tests = high_error(base)
    new_expr, new_tests = high_error(changed)
    assert "> 0.05" in base_expr and "> 0.03" in new_expr
    assert any("level 0.1)" in n for n in base_tests) and any("level 0.06)" in n for n in new_tests)
    assert any("level 0.045)" in n for n in base_tests) and any("level 0.027)" in n for n in new_tests)
    check_and_test(changed, tmp_path, only=("services",))  # the RED thresholds live in services.yml alone


def test_generated_tests_catch_a_tampered_threshold(tmp_path: Path) -> None:
    prometheus = write_tree(load_spec().spec, tmp_path)
    services = prometheus / "rules" / "services.yml"
    services.write_text(services.read_text().replace('ratio_rate5m{service="bookmark-api"} > 0.05',
                                                     'ratio_rate5m{service="bookmark-api"} > 0.2'))
    result = promtool("test", "rules", "services.test.yml", cwd=prometheus / "tests")
    assert result.returncode != 0
    assert "HighErrorRate fires" in result.stdout + result.stderr


def test_burn_rate_thresholds_are_clean_decimals() -> None:
    exprs = "\n".join(r.expr for r in alert_rules(load_spec().spec) if r.name == "ErrorBudgetBurn")
    numbers = set(re.findall(r"> (\d+\.\d+)", exprs))
    assert {"0.0144", "0.006", "0.003", "0.001", "0.72", "0.3", "0.15", "0.05"} <= numbers
    assert not [n for n in numbers if len(n) > 8], numbers


def test_one_burn_rule_per_window_pair_labelled_with_its_windows() -> None:
    burns = [r for r in alert_rules(load_spec().spec) if r.name == "ErrorBudgetBurn"]
    pairs = {(r.static_labels["slo"], r.static_labels["long_window"], r.static_labels["short_window"], r.severity)
             for r in burns}
    assert len(pairs) == len(burns) == 12
    assert ("availability", "1h", "5m", "critical") in pairs and ("errors", "3d", "6h", "warning") in pairs


def test_availability_burn_has_no_traffic_guard_but_request_slos_do() -> None:
    burns = {(r.static_labels["slo"], r.static_labels["long_window"]): r.expr
             for r in alert_rules(load_spec().spec) if r.name == "ErrorBudgetBurn"}
    assert "slo:sli_events:rate1h" in burns[("errors", "1h")]
    assert "slo:sli_events:rate1h" not in burns[("availability", "1h")]


def test_every_level_set_in_the_spec_becomes_an_alert() -> None:
    rules = {(r.name, r.severity) for r in alert_rules(load_spec_text(TWO_TEAMS, "t.yaml").spec)}
    for expected in [("ConnectionPoolExhaustion", "critical"), ("ConnectionPoolExhaustion", "warning"),
                     ("ServiceFlapping", "critical"), ("QueueFailedJobsGrowing", "critical"),
                     ("QueueOldestJobTooOld", "critical"), ("MemoryUsageRising", "warning"),
                     ("DiskSpaceShrinking", "warning"), ("PostgresReplicationLagHigh", "critical"),
                     ("PostgresReplicationLagging", "warning")]:
        assert expected in rules, expected


def test_nothing_the_floor_rejects() -> None:
    for artifact in rendered(load_spec_text(TWO_TEAMS, "t.yaml").spec, rule_file_artifacts):
        document = yaml.safe_load(artifact.content)
        for group in document["groups"]:
            assert set(group) <= {"name", "interval", "rules"}, "no group labels or query_offset before 2.53"


def test_a_latency_slo_bucket_matcher_matches_prom_client_bucket_text() -> None:
    recordings = "\n".join(a.content for a in rendered(load_spec().spec, rule_file_artifacts))
    assert 'le="0.1"' in recordings


@pytest.mark.parametrize("queue_backend", ["bullmq", "rq", "celery", "pgboss"])
def test_queue_alerts_exist_for_every_backend(queue_backend: str) -> None:
    store = "db" if queue_backend == "pgboss" else "cache"
    spec = load_spec_text(f"""
project: q
datastores:
  - {{name: db, kind: postgres, dsn_env: DSN}}
  - {{name: cache, kind: redis, url_env: URL}}
queues:
  - {{name: jobs, backend: {queue_backend}, datastore: {store}, dead_letter: jobs-dlq}}
""", "q.yaml").spec
    names = {r.name for r in alert_rules(spec)}
    assert {"QueueBacklogHigh", "QueueDepthHigh", "QueueFailedJobsGrowing", "QueueDeadLetterGrowing"} <= names
    # Celery messages carry no enqueue time: no age alert that could never fire.
    assert ("QueueOldestJobTooOld" in names) == (queue_backend != "celery")


@pytest.mark.parametrize("text", ["default", "two-teams"])
def test_every_alert_links_a_generated_dashboard_of_its_subject(text: str) -> None:
    import json

    from obstack.dashboards.generate import dashboard_artifacts

    spec = load_spec().spec if text == "default" else load_spec_text(TWO_TEAMS, "t.yaml").spec
    boards = {board["uid"]: board for board in (json.loads(a.content) for a in rendered(spec, dashboard_artifacts))}
    for rule in alert_rules(spec):
        url = rule.annotations["dashboard_url"]
        assert url.startswith(spec.grafana.url + "/d/"), url
        path, _, query = url.removeprefix(spec.grafana.url + "/d/").partition("?")
        uid = path.split("/")[0]
        assert uid in boards, (rule.name, uid)
        if query:  # a service dashboard, selecting the service that fires
            selected = query.removeprefix("var-service=")
            offered = {option["value"] for v in boards[uid]["templating"]["list"] if v["name"] == "service"
                       for option in v["options"]}
            for instance in rule.instances:
                name = instance.labels["service"]
                assert selected in (name, "{{ $labels.service }}") and name in offered, (rule.name, url)
        if rule.subject == "service" and len({i.labels["service"] for i in rule.instances}) == 1:
            assert "service-" in uid and query, "a single service's alert opens that service's dashboard"


def test_long_holds_are_tested_at_a_coarser_step_in_their_own_files() -> None:
    """promtool evaluates every loaded rule at every step: an hour-long hold is tested at 5m, not 15s."""
    spec = load_spec().spec
    tests = {a.path.name: yaml.safe_load(a.content) for a in promtool_tests(spec)}
    steps = {name: doc["evaluation_interval"] for name, doc in tests.items()}
    assert steps["services.test.yml"] == "15s" and steps["services.2m-step.test.yml"] == "2m"
    assert steps["slo-bookmark-api.test.yml"] == "15s" and steps["slo-bookmark-api.5m-step.test.yml"] == "5m"
    assert steps["slo-bookmark-api.3m-step.test.yml"] == "3m"  # the 15m burn holds
    holds = {(r.name, r.for_.seconds) for r in alert_rules(spec)}
    for name, doc in tests.items():
        step = Duration.parse(doc["evaluation_interval"]).seconds
        for group in doc["tests"]:
            for case in group["alert_rule_test"]:
                tested = [hold for alert, hold in holds if alert == case["alertname"]]
                assert any(hold > step or hold == 0 for hold in tested), (name, case["alertname"])
    tickets = [g for g in tests["slo-bookmark-api.5m-step.test.yml"]["tests"] if "3d" in str(g["alert_rule_test"])]
    assert tickets, "the 3d/6h burn ticket (for 1h) is tested at the 5m step"


def test_scrape_job_missing_stays_quiet_in_the_other_alerts_groups_of_its_file() -> None:
    """Every group of the stack tests that checks another alert feeds an `up` series of every job
    ScrapeJobMissing watches, except where the alert under test reads that job's `up` (it brings
    its own): otherwise ScrapeJobMissing fires for every job at every step, and promtool keeps and
    renders all those alerts (at 100 services, a *Down group took three times as long)."""
    spec = load_spec().spec
    stack = next(yaml.safe_load(a.content) for a in promtool_tests(spec) if a.path.name == "stack.test.yml")
    missing = next(r for r in alert_rules(spec) if r.name == "ScrapeJobMissing")
    jobs = set(re.findall(r'absent\(up\{job="([^"]+)"', missing.expr))
    assert len(jobs) > 3, jobs
    others = [g for g in stack["tests"] if all(c["alertname"] != "ScrapeJobMissing" for c in g["alert_rule_test"])]
    assert any(c["alertname"] == "ExporterDown" for g in others for c in g["alert_rule_test"])
    for group in others:
        fed = set(re.findall(r'^up\{.*job="([^"]+)"', "\n".join(s["series"] for s in group["input_series"]), re.M))
        assert jobs <= fed, (group["name"], sorted(jobs - fed))
