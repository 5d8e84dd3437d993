"""Input series of the generated tests: a restarting instance's counters read right by rate()
and increase(), wrong by delta() and deriv() — checked with promtool itself; requests spread over
instances and routes."""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from obstack.alerts.scenarios import error_ratio, restarted
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.spec.values import Duration
from tests.support.servers import require_binary


def expand(values: str) -> list[float]:
    """promtool's expanding notation (numbers, ``axn`` and ``a+bxn``) as the samples it stands for;
    missing samples (``_``, ``_xn``) and stale markers hold none."""
    samples: list[float] = []
    for token in values.split():
        if token == "stale" or token.startswith("_"):
            continue
        start, _, rest = token.partition("+")
        step, _, count = rest.partition("x") if rest else ("0", "", start.partition("x")[2] or "0")
        samples += [float(start.partition("x")[0]) + float(step) * i for i in range(int(count) + 1)]
    return samples


def increases(samples: list[float]) -> list[float]:
    """Each step's increase the way Prometheus counts it: a drop is a reset, the new value all new."""
    return [b - a if b >= a else b for a, b in zip(samples, samples[1:])]


def test_a_restart_keeps_every_increase_and_drops_the_counter_once() -> None:
    rng = random.Random(7)
    for _ in range(300):
        first, second = rng.choice([0.5, 3, 2430, 333.333333333]), rng.choice([0, 0.9, 10, 5000])
        length = rng.randint(2, 40)
        values = f"0+{first:g}x{length} {first * (length + 1) + second:g}+{second:g}x{rng.randint(1, 40)}"
        at = rng.randint(1, len(expand(values)) - 1)
        before, after = expand(values), expand(restarted(values, at))
        assert len(after) == len(before)
        assert increases(after) == pytest.approx(increases(before), abs=1e-6), (values, at)
        if after != before:  # a drop Prometheus reads as a reset, at ``at`` and only there
            assert [i + 1 for i in range(len(after) - 1) if after[i + 1] < after[i]] == [at]


def test_a_counter_at_zero_or_growing_faster_than_before_is_left_alone() -> None:
    assert restarted("0+0x20", 10) == "0+0x20"
    assert restarted("0+1x3 1000+500x5", 4) == "0+1x3 1000+500x5"  # 3 -> 1000: no drop would show
    assert restarted("0+10x20", 19) == "0+10x18 10+10x1"


def _promtool_expects(tmp_path: Path, expr: str, values: str, expected: float) -> bool:
    (tmp_path / "rules.yml").write_text("groups: []\n")
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "15s", "tests": [{
        "interval": "15s", "input_series": [{"series": 'c_total{job="a"}', "values": values}],
        "promql_expr_test": [{"expr": expr, "eval_time": "10m",
                              "exp_samples": [{"labels": "{job=\"a\"}", "value": expected}]}]}]}
    (tmp_path / "t.test.yml").write_text(yaml.safe_dump(test))
    return subprocess.run(["promtool", "test", "rules", "t.test.yml"], cwd=tmp_path,
                          capture_output=True).returncode == 0


def test_promtool_reads_the_restart_with_rate_and_increase_not_delta_or_deriv(tmp_path: Path) -> None:
    require_binary("promtool", "prometheus")
    values = restarted("0+30x41", 39)  # 2 req/s; the 10m sample is index 40, the restart at 39
    assert _promtool_expects(tmp_path, 'rate(c_total{job="a"}[5m])', values, 2)
    assert _promtool_expects(tmp_path, 'increase(c_total{job="a"}[5m])', values, 600)
    assert not _promtool_expects(tmp_path, 'deriv(c_total{job="a"}[5m])', values, 2)
    assert not _promtool_expects(tmp_path, 'delta(c_total{job="a"}[5m])', values, 600)
    assert _promtool_expects(tmp_path, 'deriv(c_total{job="a"}[5m])', "0+30x41", 2)  # the same, steady


def test_every_request_alert_is_tested_across_a_restart() -> None:
    """Each alert whose tests feed request counters that count has a group in which one instance restarts."""
    files = {a.path.name: yaml.safe_load(a.content) for a in generate(load_spec(None))
             if a.path.name.endswith(".test.yml")}
    restarted_alerts, request_alerts = set(), set()
    for document in files.values():
        for group in document["tests"]:
            names = {case["alertname"] for case in group["alert_rule_test"]}
            counters = [s for s in group["input_series"] if s["series"].startswith("http_request_duration_seconds")
                        and max(increases(expand(s["values"])), default=0) > 0]  # counting, not just present
            if counters:
                request_alerts |= names
            if any(_drops(s["values"]) for s in counters):
                restarted_alerts |= names
    assert request_alerts and request_alerts == restarted_alerts


def _drops(values: str) -> bool:
    samples = expand(values) if "_" not in values and "stale" not in values else []
    return any(b < a for a, b in zip(samples, samples[1:]))


def test_requests_are_spread_over_two_routes_with_the_errors_on_the_first() -> None:
    """A rule that keeps the route reads each route's own share: 0 on one, more than the level on the other."""
    labels = {"job": "api", "instance": "api:3000", "route": "/api/bookmarks"}
    scenario = error_ratio("req_count", labels, "code", 0.02, Duration.parse("15s"), per_interval=10000,
                           route_label="route")
    per_route: dict[str, dict[str, float]] = {}
    for series in scenario.series:
        route = re.search(r'route="([^"]+)"', series.series).group(1)  # type: ignore[union-attr]
        code = re.search(r'code="(\d+)"', series.series).group(1)  # type: ignore[union-attr]
        step = float(series.values.split("+")[1].split("x")[0])
        per_route.setdefault(route, {}).setdefault(code, 0.0)
        per_route[route][code] += step
    assert set(per_route) == {"/api/bookmarks", "/api/bookmarks/:id"}
    assert "500" not in per_route["/api/bookmarks/:id"]
    total = sum(sum(codes.values()) for codes in per_route.values())
    assert per_route["/api/bookmarks"]["500"] / total == pytest.approx(0.02) == scenario.value
    first = per_route["/api/bookmarks"]
    assert first["500"] / sum(first.values()) > 0.02  # the route that fails, alone, reads more
    # Without a route label in the labels: one route, as before.
    single = error_ratio("req_count", {"job": "api", "instance": "api:3000"}, "code", 0.02, Duration.parse("15s"),
                         route_label="route")
    assert all("route=" not in s.series for s in single.series)
