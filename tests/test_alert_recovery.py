"""After an incident ends, the page outlives its warning: the warning never reaches anyone alone.

The RED alerts of a family (HighErrorRate/ErrorRateIncreased, HighLatency/LatencyDegraded)
read one 5m window. When the incident ends, the window drains: the critical condition clears
first (its threshold is higher), the warning's last. Alertmanager inhibits the warning only
while the critical fires, so the critical keeps firing (``keep_firing_for``) until the window
is drained. These tests drive the generated rules through an incident and its recovery with
promtool and check which alerts fire at each phase.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from obstack.alerts.rule_files import rule_file_dict, rule_files
from obstack.stack.spec.loader import load_spec
from tests.support.servers import require_binary

LABELS = 'job="bookmark-api", instance="bookmark-api:3001", service="bookmark-api", team="platform", ' \
         'method="GET", route="/api/bookmarks"'
PER_SCRAPE = 1000  # requests between two scrapes (15s in the default spec)
INCIDENT_SCRAPES = 60  # 15m of incident: long enough for the warnings' 10m hold
TAIL_SCRAPES = 80  # 20m after it


def _rules_without_annotations(directory: Path) -> list[str]:
    """The generated rule files, annotations dropped: a kept-firing alert keeps the $value of its last
    true evaluation, which these tests do not predict (the generated tests check annotations)."""
    names = []
    for rule_file in rule_files(load_spec().spec):
        document = rule_file_dict(rule_file)
        for group in document["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
        (directory / rule_file.path.name).write_text(yaml.safe_dump(document, sort_keys=False))
        names.append(rule_file.path.name)
    return names


def _counter(per_scrape_during: int, per_scrape_after: int) -> str:
    """A counter growing by ``per_scrape_during`` during the incident, then by ``per_scrape_after``."""
    peak = per_scrape_during * INCIDENT_SCRAPES
    return f"0+{per_scrape_during}x{INCIDENT_SCRAPES} {peak + per_scrape_after}+{per_scrape_after}x{TAIL_SCRAPES}"


def _error_incident() -> list[dict[str, str]]:
    """10% of requests fail during the incident (the critical threshold is 5%, the warning's 1%), none after."""
    errors = PER_SCRAPE // 10
    return [
        {"series": f'http_request_duration_seconds_count{{{LABELS}, status_code="200"}}',
         "values": _counter(PER_SCRAPE - errors, PER_SCRAPE)},
        {"series": f'http_request_duration_seconds_count{{{LABELS}, status_code="500"}}',
         "values": _counter(errors, 0)},
    ]


def _latency_incident() -> list[dict[str, str]]:
    """Every request takes 2.5-5s during the incident (p95 above the 2s critical and 0.5s warning), 20-50ms after."""
    series = []
    for bound in ("0.005", "0.01", "0.025"):
        series.append((bound, 0, 0))
    for bound in ("0.05", "0.1", "0.25", "0.5", "1", "2.5"):
        series.append((bound, 0, PER_SCRAPE))
    for bound in ("5", "10", "+Inf"):
        series.append((bound, PER_SCRAPE, PER_SCRAPE))
    labels = f'{LABELS}, status_code="200"'
    result = [{"series": f'http_request_duration_seconds_bucket{{{labels}, le="{le}"}}', "values": _counter(during, after)}
              for le, during, after in series]
    result.append({"series": f"http_request_duration_seconds_count{{{labels}}}", "values": _counter(PER_SCRAPE, PER_SCRAPE)})
    return result


def _expect(at: str, firing: dict[str, bool], critical: str, warning: str) -> list[dict[str, object]]:
    severity = {critical: "critical", warning: "warning"}
    labels = {"service": "bookmark-api", "team": "platform"}
    return [{"eval_time": at, "alertname": name,
             "exp_alerts": [{"exp_labels": {**labels, "severity": severity[name]}}] if firing[name] else []}
            for name in (critical, warning)]


@pytest.mark.parametrize(("critical", "warning", "incident"), [
    ("HighErrorRate", "ErrorRateIncreased", _error_incident),
    ("HighLatency", "LatencyDegraded", _latency_incident),
])
def test_page_outlives_its_warning_after_recovery(tmp_path: Path, critical: str, warning: str, incident) -> None:
    promtool = require_binary("promtool", "prometheus")
    files = _rules_without_annotations(tmp_path)
    phases = [
        # Both fire during the incident (the warning inhibited by the page in Alertmanager).
        ("14m", {critical: True, warning: True}),
        # The tail: the window still holds some failures (2% of requests at 19m, the warning's side of the
        # critical threshold). Without keep_firing_for the page would be resolved here, the warning alone.
        ("19m", {critical: True, warning: True}),
        # The 5m window has drained (plus two evaluations): the warning is clear, the page still stands.
        ("20m30s", {critical: True, warning: False}),
        # Once the page's keep_firing_for has passed too, everything is resolved.
        ("30m", {critical: False, warning: False}),
    ]
    test = {
        "rule_files": files,
        "evaluation_interval": "15s",
        "tests": [{
            "interval": "15s",
            "input_series": incident(),
            "alert_rule_test": [case for at, firing in phases for case in _expect(at, firing, critical, warning)],
        }],
    }
    (tmp_path / "recovery.test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", "recovery.test.yml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
