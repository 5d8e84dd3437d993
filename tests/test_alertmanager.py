"""alertmanager/alertmanager.yml and its templates: accepted by the real amtool 0.25, every
generated alert routed where the spec says, templates rendered, inhibitions as designed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.alerts.alertmanager_config import (
    CONFIG_PATH,
    TEMPLATES_PATH,
    alertmanager_artifacts,
    all_alert_rules,
)
from obstack.alerts.routing import (
    RoutingExpectation,
    alert_labels,
    format_matcher,
    inhibited_alerts,
    inhibition_scenarios,
    parse_matcher,
    routing_expectations,
)
from obstack.alerts.rule_files import rule_files
from obstack.foundation.artifacts import with_header
from obstack.stack.spec.loader import LoadedSpec, load_spec, load_spec_text
from obstack.stack.stack_model import build_stack_model
from obstack.stack.validate.alertmanager_tools import (
    amtool_config_validator,
    amtool_routes_validator,
    amtool_template_validator,
    inhibition_validator,
    route_findings,
)
from obstack.stack.validate.tools import run_tool
from obstack.stack.validate.validator import ValidationContext
from tests.support.rendered import rendered
from tests.support.servers import free_port, require_binary

SECRET_MARKER = "s3cr3t-value-that-must-never-appear"

TEAMS = """
project: shop
team: platform
prometheus:
  external_labels: {region: eu-west}
services:
  - name: api
    team: payments
    targets: [api-1:8080, api-2:8080]
  - name: worker
    team: search
    targets: [worker:9000]
datastores:
  - name: orders
    kind: postgres
    team: payments
    dsn_file: /run/secrets/orders_dsn
  - name: orders-replica
    kind: postgres
    role: replica
    team: payments
    dsn_file: /run/secrets/replica_dsn
  - name: jobs
    kind: redis
    team: search
    url_file: /run/secrets/redis_url
queues:
  - name: index
    backend: bullmq
    datastore: jobs
    team: search
    dead_letter: index-dlq
  - name: billing
    backend: pgboss
    datastore: orders
    team: payments
host:
  node_exporter_targets: [host-a:9100, host-b:9100]
  thresholds:
    memory_used: {critical: 90%, warning: 80%}
    disk_free: {critical: 5%, warning: 15%}
notifications:
  receivers:
    - name: payments-pager
      type: pagerduty
      routing_key_file: /run/secrets/pagerduty_payments
    - name: search-slack
      type: slack
      api_url_file: /run/secrets/slack_search
      channel: '#search-alerts'
    - name: ops-mail
      type: email
      to: ops@example.com
      from: alertmanager@example.com
      smarthost: smtp.example.com:587
      auth_username: alertmanager
      auth_password_file: /run/secrets/smtp_password
    - name: hook
      type: webhook
      url: https://hooks.example.com/alerts
      bearer_token_file: /run/secrets/hook_token
  routes:
    - severity: critical
      team: payments
      receiver: payments-pager
    - team: search
      receiver: search-slack
    - severity: critical
      receiver: hook
  default_receiver: ops-mail
  group_wait: 1m
  group_interval: 10m
  repeat_interval: 12h
"""

SPECS = {"default": lambda: load_spec(), "teams": lambda: load_spec_text(TEAMS, "t.yaml")}
ORDERS_SPEC = Path(__file__).parent / "specs" / "orders.yaml"  # external labels: cluster


def write_tree(tmp_path: Path, loaded: LoadedSpec) -> Path:
    for artifact in rendered(loaded.spec, alertmanager_artifacts):
        artifact = with_header(artifact, loaded.name)
        path = tmp_path / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(artifact.content, encoding="utf-8")
    return tmp_path


def context_for(tmp_path: Path, name: str) -> ValidationContext:
    loaded = SPECS[name]()
    return ValidationContext(write_tree(tmp_path, loaded), loaded, [])


@pytest.fixture(autouse=True)
def _amtool() -> None:
    require_binary("amtool", "prometheus-alertmanager")


def firing(spec_name: str, alertname: str, **labels: str) -> dict[str, str]:
    """The labels of a generated alert whose instance carries ``labels``."""
    spec = SPECS[spec_name]().spec
    for rule in all_alert_rules(rule_files(spec)):
        for instance in rule.instances:
            alert = alert_labels(rule, instance)
            if alert["alertname"] == alertname and all(alert.get(k) == v for k, v in labels.items()):
                return alert
    raise AssertionError(f"no generated {alertname} with {labels}")


# ---------------------------------------------------------------------------------------------
# amtool check-config


@pytest.mark.parametrize("name", SPECS)
def test_amtool_check_config_accepts_the_generated_tree(tmp_path: Path, name: str) -> None:
    result = amtool_config_validator(context_for(tmp_path, name))
    assert result.status == "pass", [str(f) for f in result.findings]


def test_check_config_loads_the_templates_relative_to_the_config_so_the_check_is_real(tmp_path: Path) -> None:
    context = context_for(tmp_path, "default")
    (tmp_path / TEMPLATES_PATH).write_text('{{ define "obstack.title" }}{{ if }}{{ end }}')
    result = amtool_config_validator(context)
    assert result.failed and "obstack.tmpl" in result.findings[0].message


def test_check_config_rejects_a_field_0_25_does_not_know(tmp_path: Path) -> None:
    context = context_for(tmp_path, "default")
    config = yaml.safe_load((tmp_path / CONFIG_PATH).read_text())
    config["receivers"][0]["webhook_configs"][0]["url_file"] = "/run/secrets/url"  # newer than 0.25
    (tmp_path / CONFIG_PATH).write_text(yaml.safe_dump(config))
    assert amtool_config_validator(context).failed


# ---------------------------------------------------------------------------------------------
# Routing


@pytest.mark.parametrize("name", SPECS)
def test_every_generated_alert_routes_to_its_expected_receiver(tmp_path: Path, name: str) -> None:
    result = amtool_routes_validator(context_for(tmp_path, name))
    assert result.status == "pass", [str(f) for f in result.findings]


def test_expectations_cover_every_rule_and_team_first_match_wins() -> None:
    spec = SPECS["teams"]().spec
    rules = all_alert_rules(rule_files(spec))
    expected = {(e.alertname, e.severity, e.team): e.receiver for e in routing_expectations(spec, rules)}
    assert {(r.name, r.severity, i.labels["team"]) for r in rules for i in r.instances} == set(expected)
    assert expected[("HighErrorRate", "critical", "payments")] == "payments-pager"
    # the team route comes before the catch-all critical route
    assert expected[("HighErrorRate", "critical", "search")] == "search-slack"
    assert expected[("ErrorRateIncreased", "warning", "payments")] == "ops-mail"  # no route: the fallback
    assert expected[("HighMemoryUsage", "critical", "platform")] == "hook"


def test_a_wrong_expectation_is_reported_so_the_route_check_is_real(tmp_path: Path) -> None:
    out = write_tree(tmp_path, SPECS["teams"]())
    wrong = RoutingExpectation("HighErrorRate", "critical", "search", "payments-pager")
    right = RoutingExpectation("HighErrorRate", "critical", "payments", "payments-pager")
    findings = route_findings("routes", out / CONFIG_PATH, [right, wrong])
    assert len(findings) == 1
    assert "routes to 'search-slack', expected 'payments-pager'" in findings[0].message


def test_route_tree_group_by_and_timers_come_from_the_spec() -> None:
    route = build_stack_model(SPECS["teams"]().spec).alertmanager_config["route"]
    assert route["receiver"] == "ops-mail"
    # External labels lead (environment by default); no instance: replicas of one incident are one group.
    assert route["group_by"] == ["alertname", "environment", "region", "service", "queue", "datastore", "job"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("1m", "10m", "12h")
    watchdog = route["routes"][0]
    # The Watchdog first, to its own (here unwired) receiver; then notification failures to every receiver.
    assert watchdog["matchers"] == ['alertname="Watchdog"'] and watchdog["receiver"] == "obstack.watchdog-unwired"
    assert route["routes"][1:1 + len(fan_routes(route))] == fan_routes(route)
    spec_routes = route["routes"][1 + len(fan_routes(route)):]
    assert [r["matchers"] for r in spec_routes] == [
        ['severity="critical"', 'team="payments"'], ['team="search"'], ['severity="critical"']]
    assert all(r["continue"] is False for r in spec_routes)


def fan_routes(route: dict) -> list[dict]:
    return [r for r in route["routes"] if r["matchers"] == ['alertname="AlertmanagerNotificationsFailing"']]


def test_notification_failures_reach_every_receiver_but_the_heartbeat() -> None:
    spec = SPECS["teams"]().spec
    fan = fan_routes(build_stack_model(spec).alertmanager_config["route"])
    receivers = [r["receiver"] for r in fan]
    assert set(receivers) == {r.receiver for r in spec.notifications.routes} | {spec.notifications.fallback_receiver}
    assert [r["continue"] for r in fan] == [True] * (len(fan) - 1) + [False]


# ---------------------------------------------------------------------------------------------
# Templates


@pytest.mark.parametrize("name", SPECS)
def test_every_template_and_templated_field_renders_with_amtool(tmp_path: Path, name: str) -> None:
    result = amtool_template_validator(context_for(tmp_path, name))
    assert result.status == "pass", [str(f) for f in result.findings]


def test_a_template_that_fails_at_render_time_is_reported(tmp_path: Path) -> None:
    context = context_for(tmp_path, "default")
    templates = tmp_path / TEMPLATES_PATH
    # Parses (check-config passes) but fails when executed: Data has no .Labels.
    templates.write_text(templates.read_text().replace("{{ .Status | toUpper }}{{ if eq", "{{ .Labels.x }}{{ if eq", 1))
    result = amtool_template_validator(context)
    assert result.failed and any(f.location == "obstack.title" for f in result.findings)


def test_alert_blocks_show_status_severity_summary_description_and_links(tmp_path: Path) -> None:
    out = write_tree(tmp_path, SPECS["default"]())
    data = tmp_path / "data.json"
    data.write_text("""{"receiver": "chat", "status": "firing", "externalURL": "http://am:9093",
      "groupLabels": {"alertname": "HighErrorRate", "service": "api"}, "commonLabels": {"severity": "critical"},
      "commonAnnotations": {}, "alerts": [{"status": "firing", "fingerprint": "1", "generatorURL": "",
        "labels": {"alertname": "HighErrorRate", "severity": "critical", "service": "api"},
        "annotations": {"summary": "Too many errors.", "description": "api fails 7%.",
                        "runbook_url": "https://rb/HighErrorRate", "dashboard_url": "https://grafana/d/api"},
        "startsAt": "2024-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]}""")
    amtool = shutil.which("amtool")
    assert amtool
    text = subprocess.run(
        [amtool, "template", "render", f"--template.glob={out / TEMPLATES_PATH}", f"--template.data={data}",
         '--template.text={{ template "obstack.title" . }}\n{{ template "obstack.text" . }}'],
        capture_output=True, text=True, check=True).stdout
    assert text.startswith("[FIRING:1] HighErrorRate service=api\n")
    for part in ("(critical)", "Too many errors.", "api fails 7%.", "Runbook: https://rb/HighErrorRate",
                 "Dashboard: https://grafana/d/api"):
        assert part in text


# ---------------------------------------------------------------------------------------------
# Inhibition


def rules_of(name: str) -> list[dict[str, Any]]:
    return build_stack_model(SPECS[name]().spec).alertmanager_config["inhibit_rules"]


def test_high_error_rate_inhibits_the_warning_of_its_own_service_only() -> None:
    rules = rules_of("teams")
    critical = firing("teams", "HighErrorRate", service="api")
    same = firing("teams", "ErrorRateIncreased", service="api")
    other = firing("teams", "ErrorRateIncreased", service="worker")
    assert inhibited_alerts(rules, [critical, same, other]) == [same]


def test_redis_down_inhibits_the_queues_in_it_and_not_the_others() -> None:
    rules = rules_of("teams")
    down = firing("teams", "RedisDown", datastore="jobs")
    in_jobs = firing("teams", "QueueBacklogHigh", queue="index")
    in_orders = firing("teams", "QueueBacklogHigh", queue="billing")
    pool = firing("teams", "ConnectionPoolExhaustion", datastore="jobs")
    assert inhibited_alerts(rules, [down, in_jobs, in_orders, pool]) == [in_jobs, pool]
    # the plan's stack: RedisDown on cache silences the backlog of a queue in cache
    default = rules_of("default")
    cache_down = firing("default", "RedisDown", datastore="cache")
    backlog = firing("default", "QueueBacklogHigh", queue="bookmark-import")
    assert inhibited_alerts(default, [cache_down, backlog]) == [backlog]


def test_a_fast_burn_inhibits_slower_burns_of_the_same_slo_only() -> None:
    rules = rules_of("default")
    fast = firing("default", "ErrorBudgetBurn", slo="errors", long_window="1h")
    slower = firing("default", "ErrorBudgetBurn", slo="errors", long_window="6h")
    other_slo = firing("default", "ErrorBudgetBurn", slo="latency", long_window="6h")
    assert (slower["short_window"], fast["short_window"]) == ("30m", "5m")
    assert inhibited_alerts(rules, [fast, slower, other_slo]) == [slower]
    assert inhibited_alerts(rules, [slower, other_slo]) == []  # a slow burn never silences a faster one


def test_disk_inhibition_is_per_filesystem_and_exporter_down_silences_nothing() -> None:
    rules = rules_of("teams")
    low = firing("teams", "DiskSpaceLow", instance="host-a:9100")
    shrinking_root = firing("teams", "DiskSpaceShrinking", instance="host-a:9100")
    shrinking_data = {**shrinking_root, "mountpoint": "/data"}
    assert inhibited_alerts(rules, [low, shrinking_root, shrinking_data]) == [shrinking_root]
    everything = [alert_labels(r, i) for r in all_alert_rules(rule_files(SPECS["teams"]().spec)) for i in r.instances]
    exporter_down = firing("teams", "ExporterDown")
    assert inhibited_alerts(rules, [exporter_down, *everything]) == inhibited_alerts(rules, everything)


def test_family_pairs_are_derived_from_the_rules() -> None:
    pairs = {(r["source_matchers"][0], r["target_matchers"][0]) for r in rules_of("teams")}
    for critical, warning in [("HighErrorRate", "ErrorRateIncreased"), ("HighLatency", "LatencyDegraded"),
                              ("QueueBacklogHigh", "QueueDepthHigh"), ("HighMemoryUsage", "MemoryUsageRising"),
                              ("DiskSpaceLow", "DiskSpaceShrinking"),
                              ("PostgresReplicationLagHigh", "PostgresReplicationLagging")]:
        assert (f'alertname="{critical}"', f'alertname="{warning}"') in pairs
    # the default spec has no memory or disk warning, so no rule for them
    assert not any("MemoryUsageRising" in str(r) for r in rules_of("default"))
    assert all(r["equal"][:2] == ["environment", "region"] for r in rules_of("teams"))


def test_evaluator_semantics_match_alertmanager() -> None:
    matcher = parse_matcher('long_window=~"6h|1d"')
    assert matcher.matches({"long_window": "1d"}) and not matcher.matches({"long_window": "16h"})  # anchored
    assert parse_matcher('team!="a"').matches({}) and parse_matcher('x=~""').matches({})
    assert parse_matcher(format_matcher("a", "=", 'q"\\')).value == 'q"\\'
    with pytest.raises(ValueError):
        parse_matcher("severity=critical")
    # missing == missing counts as equal; an alert matching both sides never silences its twin
    rule = {"source_matchers": ['severity="critical"'], "target_matchers": ['severity=~"critical|warning"'],
            "equal": ["service"]}
    a, b = {"severity": "critical", "alertname": "A"}, {"severity": "critical", "alertname": "B"}
    warning = {"severity": "warning", "alertname": "C"}
    assert inhibited_alerts([rule], [a, b, warning]) == [warning]


@contextmanager
def _alertmanager_with(tmp_path: Path, loaded: LoadedSpec, alerts: list[dict[str, str]]) -> Iterator[str]:
    """A real Alertmanager running ``loaded``'s generated config, ``alerts`` posted to it; its API base URL."""
    binary = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    out = write_tree(tmp_path / "out", loaded)
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={out / CONFIG_PATH}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v2"
    try:
        posted = json.dumps([{"labels": a} for a in alerts]).encode()
        deadline = time.monotonic() + 20
        while True:
            try:
                request = urllib.request.Request(f"{base}/alerts", posted, {"Content-Type": "application/json"})
                urllib.request.urlopen(request, timeout=2).close()
                break
            except OSError:
                started = time.monotonic() < deadline and process.poll() is None
                assert started, (tmp_path / "alertmanager.log").read_text()
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _alertmanager_verdicts(tmp_path: Path, alerts: list[dict[str, str]]) -> list[bool]:
    """Post ``alerts`` to a real Alertmanager running the generated config; which are inhibited."""
    with _alertmanager_with(tmp_path, SPECS["teams"](), alerts) as base:
        deadline = time.monotonic() + 20
        # The inhibitor learns about sources asynchronously; wait until its verdicts settle.
        previous: list[bool] | None = None
        while True:
            with urllib.request.urlopen(f"{base}/alerts", timeout=2) as response:
                state = {json.dumps(a["labels"], sort_keys=True): bool(a["status"]["inhibitedBy"])
                         for a in json.load(response)}
            verdicts = [state[json.dumps(a, sort_keys=True)] for a in alerts]
            if verdicts == previous or time.monotonic() > deadline:
                return verdicts
            previous = verdicts
            time.sleep(1)


def test_the_evaluator_agrees_with_a_real_alertmanager(tmp_path: Path) -> None:
    spec = SPECS["teams"]().spec
    rules = rules_of("teams")
    generated = [alert_labels(r, i) for r in all_alert_rules(rule_files(spec)) for i in r.instances]
    scenarios, _ = inhibition_scenarios(rules, all_alert_rules(rule_files(spec)))
    variants = [s.target for s in scenarios if not s.expect_inhibited]
    alerts = list({json.dumps(a, sort_keys=True): a for a in [*generated, *variants]}.values())
    silenced = inhibited_alerts(rules, alerts)
    ours = [alert in silenced for alert in alerts]
    assert sum(ours) >= 10 and not all(ours)  # the comparison covers both verdicts
    assert _alertmanager_verdicts(tmp_path, alerts) == ours


@pytest.mark.parametrize("name", SPECS)
def test_inhibition_validator_agrees_with_the_generated_rules(tmp_path: Path, name: str) -> None:
    result = inhibition_validator(context_for(tmp_path, name))
    assert result.status == "pass", [str(f) for f in result.findings]


def test_inhibition_validator_catches_a_wrong_equal_list_and_a_dead_rule(tmp_path: Path) -> None:
    context = context_for(tmp_path, "default")
    config = yaml.safe_load((tmp_path / CONFIG_PATH).read_text())
    config["inhibit_rules"][0]["equal"] = ["queue"]  # HighErrorRate would silence every service's warning
    config["inhibit_rules"][1]["target_matchers"] = ['alertname="NoSuchAlert"']
    (tmp_path / CONFIG_PATH).write_text(yaml.safe_dump(config))
    messages = [f.message for f in inhibition_validator(context).findings]
    assert any("inhibit rule 0" in m and "different service" in m for m in messages), messages
    assert any("inhibit rule 1: no generated alert matches its target" in m for m in messages), messages


# ---------------------------------------------------------------------------------------------
# Secrets and the 0.25 floor


SECRET_KEYS = re.compile(r"^(api_url|routing_key|service_key|auth_password|auth_secret|credentials|bearer_token|"
                         r"password|url_file)$")


def _walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in _walk(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [item for index, value in enumerate(node) for item in _walk(value, f"{path}[{index}]")]
    return [(path, node)]


def test_secrets_are_file_paths_only(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    text = TEAMS
    for name in ("pagerduty_payments", "slack_search", "smtp_password", "hook_token"):
        (secrets / name).write_text(f"{SECRET_MARKER}-{name}")
        text = text.replace(f"/run/secrets/{name}", str(secrets / name))
    loaded = load_spec_text(text, "t.yaml")
    out = write_tree(tmp_path / "out", loaded)
    generated = (out / CONFIG_PATH).read_text()
    assert SECRET_MARKER not in generated
    config = yaml.safe_load(generated)
    leaves = _walk(config["receivers"])
    assert not [path for path, _ in leaves if SECRET_KEYS.match(path.rsplit(".", 1)[-1])]
    files = {path.rsplit(".", 1)[-1]: value for path, value in leaves if path.endswith("_file")}
    assert set(files) == {"routing_key_file", "api_url_file", "auth_password_file", "credentials_file"}
    assert all(Path(value).is_absolute() and value.startswith(str(secrets)) for value in files.values())


def test_no_inline_secret_looking_values_and_nothing_newer_than_0_25() -> None:
    for load in SPECS.values():
        generated = yaml.safe_dump(build_stack_model(load().spec).alertmanager_config)
        assert not re.search(r"hooks\.slack\.com|\b[0-9a-f]{32}\b|xox[abp]-|://[^/\s]*:[^/\s]*@", generated)
        # msteams and webhook url_file arrived after 0.25; match/match_re are deprecated there
        assert not re.search(r"msteams|\burl_file|\bmatch(_re)?:|source_match:|target_match:", generated)


def test_generation_is_deterministic() -> None:
    spec = SPECS["teams"]().spec
    assert rendered(spec, alertmanager_artifacts) == rendered(spec, alertmanager_artifacts)


# ---------------------------------------------------------------------------------------------
# Grouping: one incident, one notification


def _alertmanager_groups(tmp_path: Path, loaded: LoadedSpec, alerts: list[dict[str, str]]) -> list[dict]:
    """Post ``alerts`` to a real Alertmanager running ``loaded``'s config; the groups it forms."""
    with _alertmanager_with(tmp_path, loaded, alerts) as base:
        deadline = time.monotonic() + 20
        while True:
            with urllib.request.urlopen(f"{base}/alerts/groups", timeout=2) as response:
                groups = json.load(response)
            if sum(len(g["alerts"]) for g in groups) >= len(alerts) or time.monotonic() > deadline:
                return groups
            time.sleep(0.2)


def test_replicas_of_one_incident_are_one_group_and_environments_never_merge(tmp_path: Path) -> None:
    loaded = SPECS["teams"]()
    down = {"alertname": "ServiceInstancesDown", "severity": "warning", "team": "payments", "service": "api",
            "job": "api", "environment": "production"}
    alerts = [{**down, "instance": "api-1:8080"}, {**down, "instance": "api-2:8080"},
              {**down, "instance": "api-1:8080", "environment": "staging"}]
    groups = [g for g in _alertmanager_groups(tmp_path, loaded, alerts) if g["alerts"]]
    by_environment = {g["labels"]["environment"]: sorted(a["labels"]["instance"] for a in g["alerts"]) for g in groups}
    assert by_environment == {"production": ["api-1:8080", "api-2:8080"], "staging": ["api-1:8080"]}
    assert all("instance" not in g["labels"] for g in groups)


def test_the_title_names_environment_and_cluster(tmp_path: Path) -> None:
    text = ORDERS_SPEC.read_text()
    loaded = load_spec_text(text, str(ORDERS_SPEC))
    route = build_stack_model(loaded.spec).alertmanager_config["route"]
    assert route["group_by"][:3] == ["alertname", "cluster", "environment"]
    out = write_tree(tmp_path, loaded)
    data = tmp_path / "data.json"
    data.write_text(json.dumps({
        "receiver": "pager", "status": "firing", "alerts": [],
        "groupLabels": {"alertname": "HighErrorRate", "cluster": "eu-1", "environment": "staging", "service": "orders"},
        "commonLabels": {"severity": "critical"}, "commonAnnotations": {}, "externalURL": "http://am"}))
    run = run_tool("amtool", ["template", "render", f"--template.glob={out / 'alertmanager/templates/*.tmpl'}",
                              '--template.text={{ template "obstack.title" . }}', f"--template.data={data}"], timeout=60)
    assert run.returncode == 0, run.output
    assert run.output.strip() == "[FIRING:0] HighErrorRate cluster=eu-1 environment=staging service=orders"
