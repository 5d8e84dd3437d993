"""The generated alerts under the traffic the world sends, replayed through promtool.

Two instances of the bookmark API (PM2 cluster mode) on two routes; requests arrive at random
(Poisson), each fails on its own (Bernoulli), the 5xx series appear only with the first error,
one instance restarts in the middle of the fault (counters reset, its 5xx series goes stale).
Seeded, several seeds. Before the fault come busy, idle and trickling stretches; the trickle
(0.1 req/s with 10% errors: a few failed requests in a 5m window) must page nobody. Then a
steady fault at the issue's measured load — 5 req/s, 10% errors — must raise each alert once
and keep it up at every evaluation until the fault ends; after it, everything resolves within
its windows and nothing pages again (no slower burn pair for an incident that is over).

Run on the production rules at production timing, and on the ``--fast`` rules (``local up
--fast``: every window, hold and keep_firing_for divided by 15, 1s scrapes and evaluations).
Annotations are dropped from the replayed rules: their values move with chance; the rules'
texts are the generated promtool tests' business.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.alerts.rule_files import rule_files
from obstack.alerts.rule_model import AlertRule
from obstack.alerts.timing import scaled_timing
from obstack.stack.local_config import fast_spec, hold_factor
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.spec.model import Spec
from tests.support.servers import require_binary
from tests.support.traffic import Phase, Restart, request_series

# Hours of replayed traffic through promtool: 4.3 minutes in one process at load average 10 on
# 2 cores (96 s of CPU), so it stays out of `make test-fast`.
pytestmark = pytest.mark.slow

SEEDS = (1, 2, 3)
ROUTES = (("GET", "/api/bookmarks"), ("POST", "/api/bookmarks"))
INSTANCES = ("api-1:3001", "api-2:3001")
WATCHED = ("HighErrorRate", "ErrorRateIncreased", "HighLatency", "LatencyDegraded", "ErrorBudgetBurn")
FAULT_RATE, FAULT_ERRORS = 5.0, 0.10


@dataclasses.dataclass(frozen=True)
class Timeline:
    """Production minutes; the fast run divides every one of them by the hold factor."""

    busy: int = 20 * 60
    idle: int = 10 * 60
    trickle: int = 20 * 60
    warm: int = 10 * 60
    fault: int = 30 * 60
    after: int = 45 * 60

    def scaled(self, factor: int) -> Timeline:
        return Timeline(*(getattr(self, f.name) // factor for f in dataclasses.fields(self)))

    @property
    def fault_at(self) -> int:
        return self.busy + self.idle + self.trickle + self.warm

    @property
    def end(self) -> int:
        return self.fault_at + self.fault + self.after

    def phases(self) -> list[Phase]:
        return [Phase(self.busy, FAULT_RATE, 0.0), Phase(self.idle, 0.0, 0.0), Phase(self.trickle, 0.1, FAULT_ERRORS),
                Phase(self.warm, FAULT_RATE, 0.0), Phase(self.fault, FAULT_RATE, FAULT_ERRORS),
                Phase(self.after, FAULT_RATE, 0.0)]


# How long after the fault starts each alert must be firing, in production seconds: its window
# filling (at 10% errors the 5m ratio passes 5% half-way; a whole window leaves room for chance),
# its for:, and two evaluations. The 1h/5m burn pair: the 1h window reaches 14.4 x 0.1% = 1.44%
# after 8.6 minutes of 10% errors.
FIRING_FROM = {"HighErrorRate": 5 * 60 + 2 * 60 + 30, "ErrorRateIncreased": 5 * 60 + 10 * 60 + 30,
               "ErrorBudgetBurn": 13 * 60 + 2 * 60 + 30}
# How long after the fault ends each must have resolved: the window draining, keep_firing_for
# (5m30s for HighErrorRate), two evaluations.
RESOLVED_BY = {"HighErrorRate": 5 * 60 + 5 * 60 + 30 + 30, "ErrorRateIncreased": 5 * 60 + 30,
               "ErrorBudgetBurn": 5 * 60 + 30}


def _clock(seconds: int) -> str:
    return f"{seconds}s"


def _replayed_rules(spec: Spec) -> dict[str, str]:
    """services.yml, the services' recording files and the SLO rule files as Prometheus would run
    them, without annotations (on the spec's clock: fast_spec's generates them on the fast
    profile's)."""
    rules = {}
    for artifact in generate(dataclasses.replace(load_spec(None), spec=spec)):
        if artifact.path.parent.as_posix() != "prometheus/rules" or not (
                artifact.path.name == "services.yml" or artifact.path.name.startswith(("service-", "slo-"))):
            continue
        document = yaml.safe_load(artifact.content)
        for group in document["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
        rules[artifact.path.name] = yaml.safe_dump(document, sort_keys=False)
    return rules


def _labels(rule: AlertRule) -> dict[str, str]:
    (instance,) = rule.instances
    return {**rule.labels, **instance.labels}


def _expected(spec: Spec) -> dict[str, dict[str, str]]:
    """The labels each watched alert fires with during the fault: HighErrorRate, ErrorRateIncreased
    and the errors SLO's fastest burn pair (the others are too slow, blocked, or not burning)."""
    alerts = [rule for f in rule_files(spec) for rule in f.alert_rules]
    found = {rule.name: _labels(rule) for rule in alerts if rule.name in ("HighErrorRate", "ErrorRateIncreased")}
    burn = next(rule for rule in alerts if rule.name == "ErrorBudgetBurn" and rule.static_labels.get("slo") == "errors"
                and rule.static_labels.get("long_window") == str(scaled_timing(spec.time_scale).burn_windows[0].long))
    return {**found, "ErrorBudgetBurn": _labels(burn)}


def _checks(timeline: Timeline, step: int, factor: int, firing: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """An alert_rule_test for every watched alert at every evaluation of the replay."""
    checks = []
    fault_end = timeline.fault_at + timeline.fault
    for at in range(step, timeline.end, step):
        for name in WATCHED:
            expected: list[dict[str, Any]] | None = []
            if name in firing and timeline.fault_at <= at < fault_end + RESOLVED_BY[name] // factor:
                if at < timeline.fault_at + FIRING_FROM[name] // factor:
                    expected = None  # window filling: not checked
                elif at >= fault_end:
                    expected = None  # draining: firing or resolved, both are right
                else:
                    expected = [{"exp_labels": firing[name]}]
            if expected is not None:
                checks.append({"eval_time": _clock(at), "alertname": name, "exp_alerts": expected})
    return checks


def _replay(tmp_path: Path, spec: Spec, fast: bool, seed: int, timeline: Timeline = Timeline()
            ) -> subprocess.CompletedProcess[str]:
    factor = hold_factor(spec) if fast else 1
    run_spec = fast_spec(spec) if fast else spec
    timeline = timeline.scaled(factor)
    scrape = int(run_spec.prometheus.scrape_interval.seconds)
    step = int(run_spec.prometheus.evaluation_interval.seconds)
    service = run_spec.services[0]
    labels = {"job": service.job, "service": service.name, "team": service.team}
    restart = Restart(INSTANCES[1], timeline.fault_at + timeline.fault // 2)
    series = request_series(timeline.phases(), labels=labels, instances=INSTANCES, routes=ROUTES,
                            buckets=service.request_metrics.buckets, scrape_seconds=scrape, seed=seed,
                            restarts=[restart])
    samples = timeline.end // scrape + 1
    series += [{"series": f'up{{job="{service.job}", instance="{i}", service="{service.name}", '
                          f'team="{service.team}"}}', "values": f"1x{samples}"} for i in INSTANCES]
    rules = _replayed_rules(run_spec)
    for name, text in rules.items():
        (tmp_path / name).write_text(text)
    test = {"rule_files": sorted(rules), "evaluation_interval": f"{step}s",
            "tests": [{"name": f"seed {seed}", "interval": f"{scrape}s", "input_series": series,
                       "alert_rule_test": _checks(timeline, step, factor, _expected(run_spec))}]}
    (tmp_path / "replay.test.yml").write_text(yaml.safe_dump(test, sort_keys=False, width=1 << 20))
    return subprocess.run([require_binary("promtool", "prometheus"), "test", "rules", "replay.test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("fast", [False, True], ids=["production", "fast"])
@pytest.mark.parametrize("seed", SEEDS)
def test_steady_fault_on_random_traffic_pages_once_and_holds(tmp_path: Path, fast: bool, seed: int) -> None:
    result = _replay(tmp_path, load_spec(None).spec, fast, seed)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.mark.timeout(900)  # 90 s at load average 10; its promtool run alone may take 600 s before it is a hang
def test_a_30_minute_incident_after_6_clean_hours_pages_once_and_never_again(tmp_path: Path) -> None:
    """The 1h/5m pair pages and resolves after recovery; the 6h/30m pair, whose 30m window burns
    for half an hour more and whose 6h window holds the incident for six, must not page for an
    incident that is over (it would, for 25 minutes, without the faster pair's hold)."""
    timeline = Timeline(busy=6 * 3600, idle=0, trickle=0, warm=0, fault=30 * 60, after=3 * 3600)
    result = _replay(tmp_path, load_spec(None).spec, False, SEEDS[0], timeline)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


def test_the_replay_has_teeth(tmp_path: Path) -> None:
    """The same replay with the RED traffic guard removed fails: the trickle pages."""
    spec = load_spec(None).spec
    loose = spec.model_copy(update={"services": [spec.services[0].model_copy(update={
        "thresholds": spec.services[0].thresholds.model_copy(update={"min_requests": 1, "min_request_rate": 0.01})})]})
    result = _replay(tmp_path, loose, False, SEEDS[0])
    output = (result.stdout + result.stderr).replace(" ", "")
    assert result.returncode != 0
    # Paged during the trickle (30m to 50m), where the guarded rules stay quiet.
    assert "alertname:HighErrorRate,time:4" in output and "exp:[]" in output


def test_a_page_holds_above_its_warning_level_and_releases_under_it(tmp_path: Path) -> None:
    """Hysteresis: HighErrorRate (5%) fires at 10%; when errors ease to 3%, still above the 1%
    warning, it keeps firing (its warning would otherwise reach chat as the page resolves); at
    0.5% it resolves once keep_firing_for (5m30s) has passed."""
    rules = _replayed_rules(load_spec(None).spec)
    service_files = [name for name in rules if not name.startswith("slo-")]
    for name in service_files:
        (tmp_path / name).write_text(rules[name])
    labels = 'job="bookmark-api", instance="a", service="bookmark-api", team="platform"'
    # 15s samples, 10 req/s: 10 minutes at 10%, 20 at 3%, 20 at 0.5% errors.
    series = [{"series": f'http_request_duration_seconds_count{{{labels}, status_code="200"}}',
               "values": "0+135x40 5400+145.5x80 17040+149.25x80"},
              {"series": f'http_request_duration_seconds_count{{{labels}, status_code="500"}}',
               "values": "0+15x40 600+4.5x80 960+0.75x80"}]
    page = [{"exp_labels": {"severity": "critical", "service": "bookmark-api", "team": "platform"}}]
    checks = [{"eval_time": f"{minute}m", "alertname": "HighErrorRate", "exp_alerts": page if fires else []}
              for minute, fires in [(9, True), (15, True), (29, True), (32, True), (42, False), (49, False)]]
    test = {"rule_files": service_files, "evaluation_interval": "15s",
            "tests": [{"interval": "15s", "input_series": series, "alert_rule_test": checks}]}
    (tmp_path / "hold.test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([require_binary("promtool", "prometheus"), "test", "rules", "hold.test.yml"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
