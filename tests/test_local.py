"""`obstack local`'s pure parts: the fast profile and the local config rewrites; the CLI without a stack."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml
from typer.testing import CliRunner

from obstack.stack.cli import app
from obstack.stack.local import down, status
from obstack.alerts.rule_files import rule_files
from obstack.alerts.timing import scale
from obstack.stack.local_config import (
    fast_spec,
    hold_factor,
    local_alertmanager_config,
    local_prometheus_config,
    prometheus_fast_flags,
)
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.spec.model import Spec
from obstack.stack.spec.values import Duration


def test_fast_spec_divides_reaction_times_and_keeps_measurements() -> None:
    spec = load_spec(None).spec
    fast = fast_spec(spec)
    assert str(fast.prometheus.scrape_interval) == "1s" and str(fast.prometheus.evaluation_interval) == "1s"
    assert fast.prometheus.scrape_timeout <= fast.prometheus.scrape_interval
    assert [str(getattr(fast.notifications, n)) for n in ("group_wait", "group_interval", "repeat_interval")] == \
        ["2s", "5s", "4m"]  # group_wait: two evaluations, so a cause and its symptoms meet before the first flush
    # The spec's holds and SLO windows go on the rules' clock (hold_factor), as the table's do (below).
    assert fast.time_scale == hold_factor(spec) == 15 and spec.time_scale == 1
    assert str(fast.datastores[0].thresholds.down_for) == str(fast.services[0].thresholds.down_for) == "4s"
    assert str(fast.queues[0].thresholds.no_workers_for) == "20s"
    assert str(fast.services[0].slos[0].window) == "2d"  # 30d: every burn rate keeps its value
    assert str(fast.notifications.watchdog.repeat_interval) == "1s"
    # The waiting-job age is compared in the expression: scaled in the spec (jobs age in real time).
    queue = fast.queues[0].thresholds
    assert str(queue.oldest_waiting.warning) == "10s" and queue.oldest_waiting.critical is None
    assert prometheus_fast_flags() == ["--rules.alert.resend-delay=1s"]
    # Latency thresholds are measurements, not reaction times: unchanged.
    assert fast.services[0].thresholds.latency_p95 == spec.services[0].thresholds.latency_p95
    assert spec.prometheus.scrape_interval == Duration.parse("15s")  # the input is not modified


def test_scale_floors_and_never_lengthens() -> None:
    assert str(scale(Duration.parse("5m"), 60)) == "5s"
    assert str(scale(Duration.parse("10s"), 60)) == "1s"
    assert str(scale(Duration.parse("500ms"), 60, Duration.parse("1s"))) == "500ms"


def _alerts(spec: Spec) -> list[tuple[str, dict[str, str], str | None]]:
    return [(rule.name, {k: v for k, v in rule.static_labels.items() if not k.endswith("_window")},
             str(rule.keep_firing_for) if rule.keep_firing_for else None)
            for f in rule_files(spec) for rule in f.alert_rules]


def test_fast_generation_keeps_every_rule_on_a_faster_clock() -> None:
    """The fast tree is generated from the scaled table, not rewritten: the same rules, their windows
    and holds divided by the hold factor, and each recording named by the window it really holds."""
    spec = load_spec(None).spec
    fast = fast_spec(spec)
    assert [name for name, _, _ in _alerts(fast)] == [name for name, _, _ in _alerts(spec)]
    services = [yaml.safe_load(a.content) for a in generate(dataclasses.replace(load_spec(None), spec=fast))
                if a.path.as_posix() in ("prometheus/rules/services.yml", "prometheus/rules/service-bookmark-api.yml")]
    rules = {r.get("alert") or r["record"]: r for document in services for g in document["groups"] for r in g["rules"]}
    assert "service:http_requests:rate20s" in rules and "service:http_requests:rate5m" not in rules
    high = rules["HighErrorRate"]
    # The traffic guard asks for the production request rate (100 requests in 5m) over the 20s window.
    assert "service:http_requests:rate20s{service=\"bookmark-api\"} * 20 >= 6.666667" in high["expr"]
    assert (high["for"], high["keep_firing_for"]) == ("8s", "22s")  # 20s window + two 1s evaluations
    for document in (yaml.safe_load(a.content) for a in generate(dataclasses.replace(load_spec(None), spec=fast))
                     if a.path.parent.as_posix() == "prometheus/rules"):
        for group in document["groups"]:
            assert Duration.parse(group.get("interval", "1s")) <= Duration.parse("4s")
            for rule in group["rules"]:
                assert Duration.parse(rule.get("for", "0s")) <= Duration.parse("4m")  # the 3d pair's 1h at most


def test_fast_holds_keep_causes_firing_before_their_symptoms() -> None:
    """Alertmanager flushes an alert whose hold has passed at once: a symptom silenced by its cause
    must not reach it first, so the fast profile keeps every cause's hold below its symptoms'."""
    loaded = load_spec(None)
    holds: dict[str, Duration] = {}
    assert hold_factor(loaded.spec) == 15  # 15s evaluations become 1s ones: a hold keeps its evaluations
    for artifact in generate(dataclasses.replace(loaded, spec=fast_spec(loaded.spec))):
        if artifact.path.parent.as_posix() == "prometheus/rules":
            for group in yaml.safe_load(artifact.content)["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        hold = Duration.parse(rule.get("for", "0s"))
                        holds[rule["alert"]] = min(hold, holds.get(rule["alert"], hold))
    causes = max(holds[name] for name in ("RedisDown", "PostgresDown", "ServiceDown"))
    assert causes == Duration.parse("4s")
    for symptom in ("HighErrorRate", "HealthCheckFailing", "QueueProbeFailing", "ErrorBudgetBurn"):
        # Several evaluations apart, as in production (a margin of one is within evaluation jitter).
        assert holds[symptom].milliseconds - causes.milliseconds >= 3000, (symptom, holds[symptom], causes)


def test_local_prometheus_config_points_at_local_processes() -> None:
    config = yaml.safe_load(next(a.content for a in generate(load_spec(None)) if a.path.name == "prometheus.yml"))
    local = local_prometheus_config(config, "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4")
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in local["scrape_configs"]}
    assert jobs["prometheus"] == ["127.0.0.1:1"] and jobs["alertmanager"] == ["127.0.0.1:2"]
    assert jobs["obstack-exporter"] == ["127.0.0.1:3"] and jobs["node"] == ["127.0.0.1:4"]
    assert jobs["bookmark-api"] == ["bookmark-api:3001"]  # services keep the spec's targets
    assert local["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:2"]


def test_local_alertmanager_config_sends_webhooks_to_the_receiver_keeping_paths() -> None:
    config = {"receivers": [{"name": "pager", "webhook_configs": [{"url": "http://obstack-receiver:9095/pager"}]},
                            {"name": "mail", "email_configs": [{"to": "a@example.com"}]}]}
    local = local_alertmanager_config(config, "http://127.0.0.1:4000")
    assert local["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:4000/pager"
    assert local["receivers"][1] == config["receivers"][1]


def test_down_and_status_without_a_stack(tmp_path: Path) -> None:
    assert down(tmp_path) == [] and status(tmp_path) == []
    runner = CliRunner()
    assert "nothing was running" in runner.invoke(app, ["local", "down", "--state-dir", str(tmp_path)]).output


def test_status_with_nothing_running_says_so_in_one_line_and_exits_3(tmp_path: Path) -> None:
    """3 (LSB's "program is not running") tells "nothing was started here" from 1, "started but a
    process died or is not ready" (docs/local.md)."""
    runner = CliRunner()
    state = tmp_path / "state"
    result = runner.invoke(app, ["local", "status", "--state-dir", str(state)])
    assert result.exit_code == 3
    assert result.output == f"nothing is running under {state}: start it with `obstack local up --state-dir {state}`\n"


def test_status_of_a_recorded_process_that_died_is_a_table_and_exit_1(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from obstack.stack.local import Process

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead = Process("receiver", int(finished.stdout), 1, "http://127.0.0.1:1", "http://127.0.0.1:1/-/ready",
                   [sys.executable], str(tmp_path / "receiver.log"))
    (tmp_path / "state.json").write_text(json.dumps({"processes": [dataclasses.asdict(dead)]}))
    result = CliRunner().invoke(app, ["local", "status", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "receiver" in result.output and "nothing is running" not in result.output


def test_cli_up_status_down_manages_exactly_its_processes(tmp_path: Path) -> None:
    from obstack.stack.local import is_running, load_state

    runner = CliRunner()
    state = tmp_path / "state"
    try:
        result = runner.invoke(app, ["local", "up", "--fast", "--state-dir", str(state)])
        assert result.exit_code == 0, result.output
        # verify ran on the first scrapes: the bookmark API is not running here.
        assert ("verify: services[0].targets: every target of job bookmark-api is down (up == 0), so nothing "
                "bookmark-api exposes can be checked: start it, or fix its targets") in result.output
        assert result.output.rstrip().splitlines()[-1].startswith("verify: ")
        processes = load_state(state)
        assert [p.name for p in processes] == ["receiver", "alertmanager", "node-exporter", "exporter", "prometheus"]
        assert sorted(f.name for f in (state / "pids").iterdir()) == sorted(f"{p.name}.pid" for p in processes)
        assert runner.invoke(app, ["local", "status", "--state-dir", str(state)]).exit_code == 0
        again = runner.invoke(app, ["local", "up", "--state-dir", str(state)])
        assert again.exit_code == 1 and "already up" in again.output
    finally:
        result = runner.invoke(app, ["local", "down", "--state-dir", str(state)])
    assert "stopped: prometheus, exporter, node-exporter, alertmanager, receiver" in result.output
    assert not any(is_running(p) for p in processes)
    assert not list((state / "pids").iterdir())
    after = runner.invoke(app, ["local", "status", "--state-dir", str(state)])  # the issue: status after down
    assert after.exit_code == 3 and after.output.startswith(f"nothing is running under {state}: ")


def test_faults_present_at_start_reach_the_pager_and_their_symptoms_do_not(tmp_path: Path) -> None:
    """`local up` on a stack whose datastores and service are already down: every cause is delivered
    (none lost while Prometheus loads its rules), and the symptoms they explain are held back."""
    import os
    import time

    from obstack.stack import local
    from obstack.stack.local import free_port
    from obstack.stack.spec.loader import default_spec_text, load_spec
    from tests.support.monitoring import http_json

    closed = [free_port() for _ in range(3)]  # nothing listens there
    spec_path = tmp_path / "stack.yaml"
    spec_path.write_text(default_spec_text().replace("bookmark-api:3001", f"127.0.0.1:{closed[0]}"))
    env = {**os.environ, "BOOKMARK_PG_DSN": f"postgresql://obstack@127.0.0.1:{closed[1]}/bookmark?connect_timeout=1",
           "BOOKMARK_REDIS_URL": f"redis://127.0.0.1:{closed[2]}/0"}
    state = tmp_path / "state"
    causes = {"PostgresDown", "RedisDown", "ServiceDown"}
    try:
        processes = {p.name: p.url for p in local.up(load_spec(spec_path), spec_path, state, fast=True, env=env)}

        def paged() -> set[str]:
            return {a["labels"]["alertname"] for e in http_json(f"{processes['receiver']}/notifications")
                    if e["path"] == "/pager" for a in e["payload"]["alerts"] if a["status"] == "firing"}
        deadline = time.monotonic() + 60
        while not causes <= paged():
            assert time.monotonic() < deadline, f"causes not paged within 60s: {sorted(causes - paged())}"
            time.sleep(0.5)
        # The symptoms fire in Prometheus, and stay held in Alertmanager over a group interval.
        def firing() -> set[str]:
            alerts = http_json(f"{processes['prometheus']}/api/v1/alerts")["data"]["alerts"]
            return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}
        while not {"HealthCheckFailing", "QueueProbeFailing"} <= firing():
            assert time.monotonic() < deadline, f"symptoms not firing within 60s: {sorted(firing())}"
            time.sleep(0.5)
        time.sleep(6)  # more than group_wait and group_interval of the fast profile
        assert paged() == causes
    finally:
        local.down(state)
