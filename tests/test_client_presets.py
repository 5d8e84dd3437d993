"""request_metrics presets against metrics captured from the real libraries (tests/fixtures/clients/).

Each fixture is two scrapes of a real process (before.prom, after.prom) around known traffic
(traffic.json, with the library versions). The generated rules and panels must read series the
library really emits, and the rules must measure the traffic that was sent.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from obstack.alerts.rule_files import rule_file_dict, rule_files
from obstack.stack.series_check import series_from_exposition, service_findings
from obstack.stack.spec.loader import load_spec_text
from obstack.stack.spec.model import Spec
from obstack.stack.spec.request_presets import preset_table
from obstack.stack.verify import generated_exprs
from tests.support.servers import require_binary

FIXTURES = Path(__file__).parent / "fixtures" / "clients"
# preset -> the capture its test reads. OpenTelemetry's route needs a context manager (NodeSDK registers one).
CAPTURES = {
    "prom-client": FIXTURES / "prom-client",
    "express-prom-bundle": FIXTURES / "express-prom-bundle",
    "fastapi-instrumentator": FIXTURES / "fastapi-instrumentator",
    "opentelemetry": FIXTURES / "opentelemetry" / "with-context-manager",
}
# p95 thresholds on each library's default bucket bounds (the plan's 2 s is above some libraries' top bucket).
LATENCY = {
    "prom-client": "{critical: 2500ms, warning: 500ms}",
    "express-prom-bundle": "{critical: 1500ms, warning: 300ms}",
    "fastapi-instrumentator": "{critical: 500ms, warning: 100ms}",
    "opentelemetry": "{critical: 2500ms, warning: 500ms}",
}
# Libraries that emit no process metrics by default: without them restart alerts are off.
NO_PROCESS_METRICS = ("express-prom-bundle", "opentelemetry")
TARGET = {"job": "api", "instance": "api:3000", "service": "api", "team": "web"}


def preset_spec(preset: str, overrides: str = "", process_metrics: bool | None = None) -> Spec:
    """A one-service spec on ``preset``, its process metrics read when the library has them."""
    if process_metrics is None:
        process_metrics = preset not in NO_PROCESS_METRICS
    text = f"""
project: clients
team: web
services:
  - name: api
    targets: ["api:3000"]
    request_metrics: {{preset: {preset}{overrides}}}
    thresholds:
      latency_p95: {LATENCY[preset]}
{"" if process_metrics else "    process_start_metric: null"}
"""
    return load_spec_text(text, "clients.yaml").spec


def captured(directory: Path, scrape: str = "after") -> list[dict[str, str]]:
    return series_from_exposition((directory / f"{scrape}.prom").read_text(), TARGET)


def findings(spec: Spec, series: list[dict[str, str]]) -> list[str]:
    return [f"{f.location}: {f.message}" for f in service_findings(spec, generated_exprs(spec), series)]


@pytest.mark.parametrize("preset", CAPTURES)
def test_every_series_the_rules_and_panels_read_is_emitted_by_the_library(preset: str) -> None:
    assert findings(preset_spec(preset), captured(CAPTURES[preset])) == []


@pytest.mark.parametrize("preset", CAPTURES)
def test_fixture_notes_the_library_versions(preset: str) -> None:
    versions = json.loads((CAPTURES[preset] / "traffic.json").read_text())["versions"]
    assert versions and all(isinstance(v, str) and v[0].isdigit() or k in ("node", "python") for k, v in versions.items())


@pytest.mark.parametrize("preset", NO_PROCESS_METRICS)
def test_a_library_without_default_process_metrics_is_reported_against_restart_alerts(preset: str) -> None:
    found = findings(preset_spec(preset, process_metrics=True), captured(CAPTURES[preset]))
    assert found and all(f.startswith("services[0].process_start_metric: api exposes no series named "
                                      "process_start_time_seconds") for f in found)


# A spec describing the wrong library: each mismatch is one line naming the key to fix.
MISMATCHES = [
    ("prom-client", "express-prom-bundle", [
        "services[0].request_metrics.buckets: declares buckets [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, "
        "10] but http_request_duration_seconds of api has [0.003, 0.03, 0.1, 0.3, 1.5, 10]",
        "services[0].request_metrics.route_label: the http_request_duration_seconds_count series of api carry no "
        "label 'route' (theirs: status_code); read by clients / service / api / Requests per second by route",
    ]),
    ("prom-client", "fastapi-instrumentator", [
        "services[0].request_metrics.buckets: declares buckets [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, "
        "10] but http_request_duration_seconds of api has [0.1, 0.5, 1]",
        "services[0].request_metrics.route_label: the http_request_duration_seconds_count series of api carry no "
        "label 'route' (theirs: handler, method); read by clients / service / api / Requests per second by route",
        "services[0].request_metrics.status_label: the http_request_duration_seconds_count series of api carry no "
        "label 'status_code' (theirs: handler, method); read by service:http_request_errors:ratio_rate5m (and 9 more)",
    ]),
    ("prom-client", "opentelemetry/with-context-manager", [
        "services[0].request_metrics.histogram: api exposes no series named http_request_duration_seconds_bucket "
        "(job api); read by service:http_request_duration_seconds:p95_rate5m (and 9 more)",
        "services[0].request_metrics.histogram: api exposes no series named http_request_duration_seconds_count "
        "(job api); read by RequestMetricsMissing (and 20 more)",
    ]),
    # OpenTelemetry without a context manager: no http_route on the metric.
    ("opentelemetry", "opentelemetry", [
        "services[0].request_metrics.route_label: the http_server_request_duration_count series of api carry no label "
        "'http_route' (theirs: error_type, http_request_method, http_response_status_code, network_protocol_version, "
        "otel_scope_name, otel_scope_version, url_scheme); read by clients / service / api / Requests per second by "
        "route",
    ]),
]


@pytest.mark.parametrize(("preset", "capture", "expected"), MISMATCHES, ids=[f"{p}-on-{c}" for p, c, _ in MISMATCHES])
def test_a_spec_describing_another_library_is_found_out(preset: str, capture: str, expected: list[str]) -> None:
    assert findings(preset_spec(preset, process_metrics=False), captured(FIXTURES / capture)) == expected


def test_a_status_format_the_library_does_not_use_is_found_out() -> None:
    spec = preset_spec("fastapi-instrumentator", ", status_format: code")
    assert findings(spec, captured(CAPTURES["fastapi-instrumentator"])) == [
        "services[0].request_metrics.status_format: is 'code' but http_requests_total of api has status values "
        "2xx, 4xx, 5xx"]


# /metrics scrapes the library counts as requests (one scrape happened between before.prom and after.prom).
SCRAPES_COUNTED = {"prom-client": 1, "express-prom-bundle": 0, "fastapi-instrumentator": 1, "opentelemetry": 1}


def _phase2(directory: Path) -> tuple[int, int, int]:
    """(requests, server errors, requests of 300 ms) the capture sent between the two scrapes."""
    sent = json.loads((directory / "traffic.json").read_text())["phase2"]
    return (sum(r["count"] for r in sent), sum(r["count"] for r in sent if r["status"] >= 500),
            sum(r["count"] for r in sent if r["delay_ms"] >= 300))


def _steady_inputs(spec: Spec, directory: Path) -> list[dict[str, str]]:
    """The service's request series, each growing every minute by what the capture's phase 2 added:
    the captured traffic mix, once a minute, for 30 minutes."""
    metrics = spec.services[0].request_metrics
    wanted = {metrics.request_counter, f"{metrics.histogram}_bucket", f"{metrics.histogram}_count"}

    def values(series: list[dict[str, str]]) -> dict[tuple[tuple[str, str], ...], float]:
        return {tuple(sorted((k, v) for k, v in s.items() if k != "__value__")): float(s["__value__"])
                for s in series if s["__name__"] in wanted}

    before, after = (values(_with_values(directory / f"{scrape}.prom")) for scrape in ("before", "after"))
    inputs = []
    for key, value in after.items():
        labels = dict(key)
        name = labels.pop("__name__")
        start = before.get(key, 0.0)
        text = ", ".join(f'{label}="{v}"' for label, v in labels.items())
        inputs.append({"series": f"{name}{{{text}}}", "values": f"{start:g}+{value - start:g}x30"})
    return inputs


def _with_values(path: Path) -> list[dict[str, str]]:
    from prometheus_client.parser import text_string_to_metric_families

    return [{"__name__": sample.name, **sample.labels, **TARGET, "__value__": repr(sample.value)}
            for family in text_string_to_metric_families(path.read_text()) for sample in family.samples]


@pytest.mark.parametrize("preset", CAPTURES)
def test_the_rules_measure_the_traffic_the_real_library_saw(preset: str, tmp_path: Path) -> None:
    """promtool evaluates the generated rules on the captured series: request rate, error ratio and
    slow share are what was sent, p95 lies in the slow requests' bucket, and HighErrorRate fires."""
    promtool = require_binary("promtool", "prometheus")
    spec = preset_spec(preset)
    requests, errors, slow = _phase2(CAPTURES[preset])
    total = requests + SCRAPES_COUNTED[preset]
    files = []
    for rule_file in rule_files(spec):
        path = tmp_path / Path(rule_file.path).name
        path.write_text(yaml.safe_dump(rule_file_dict(rule_file)))
        files.append(path.name)

    def sample(expr: str, value: float) -> dict[str, object]:  # 1 when within float error of ``value``
        return {"expr": f"abs(({expr}) - {value!r}) < bool 1e-9", "eval_time": "20m",
                "exp_samples": [{"labels": "{}", "value": 1}]}

    test = {"rule_files": files, "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": _steady_inputs(spec, CAPTURES[preset]),
        "promql_expr_test": [
            sample("sum(service:http_requests:rate5m)", total / 60),
            sample("sum(service:http_request_errors:ratio_rate5m)", errors / total),
            sample('sum(slo:sli_error:ratio_rate5m{slo="errors"})', errors / total),
            sample('sum(slo:sli_error:ratio_rate5m{slo="latency"})', slow / total),
            sample("count(service:http_request_duration_seconds:p95_rate5m > 0.25 <= 1.5)", 1),
            sample('count(ALERTS{alertname="HighErrorRate", alertstate="firing", service="api"})', 1),
        ],
    }]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    result = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_instrumenting_guide_lists_the_presets_as_the_code_defines_them() -> None:
    guide = (Path(__file__).parent.parent / "docs" / "instrumenting.md").read_text()
    assert preset_table() in guide, "docs/instrumenting.md: paste stack.spec.request_presets.preset_table()"
