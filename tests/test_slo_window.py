"""The SLI over the SLO's window is traffic-weighted and survives idle time and a late error series.

promtool replays three hours of a service: one hour at 10 req/s without a single 5xx (so no 5xx
series exists yet, as with prom-client), one idle hour (counters flat), one hour at 10 req/s with
10% errors. The true error ratio is 3,600 bad of 72,000 requests: 5%. The window SLI must read
that (within the edges of rate windows), must read 0 — not NaN or nothing — in the idle hour,
and the error budget remaining must follow it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec, load_spec_text
from obstack.stack.writer import write_tree
from tests.support.servers import require_binary

LABELS = 'job="bookmark-api", instance="api:3001", service="bookmark-api", team="platform", method="GET", route="/api"'


def _inputs() -> list[dict[str, str]]:
    # 1m samples: 60 busy without errors, 60 idle, 60 busy with 10% errors.
    total = "0+600x60 36000x60 36000+600x60"
    errors = "_x120 0+60x60"  # the 5xx series appears with the first 5xx
    return [
        {"series": f'http_request_duration_seconds_count{{{LABELS}, status_code="200"}}', "values": total},
        {"series": f'http_request_duration_seconds_count{{{LABELS}, status_code="500"}}', "values": errors},
    ]


def _check(expr: str, at: str, value: float) -> dict[str, object]:
    return {"expr": expr, "eval_time": at,
            "exp_samples": [{"labels": '{service="bookmark-api", slo="errors", team="platform"}', "value": value}]}


def test_the_window_sli_is_traffic_weighted_and_never_nan(tmp_path: Path) -> None:
    write_tree(tmp_path, generate(load_spec(None)))
    window = 'slo:sli_error:ratio_rate30d{slo="errors"}'
    budget = 'slo:error_budget_remaining:ratio{slo="errors"}'
    tests = {
        "rule_files": ["../rules/slo-bookmark-api.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "name": "traffic-weighted window SLI", "interval": "1m", "input_series": _inputs(),
            "promql_expr_test": [
                # Before any 5xx series exists: zero errors, not an empty SLI.
                _check(f"{window} + 0", "50m", 0),
                # Idle hour: nothing is added, nothing turns NaN.
                _check(f"{window} + 0", "110m", 0),
                # After the bad hour: 5% of all requests (rate windows blur the edges by a few minutes).
                _check(f"({window} > bool 0.046) * ({window} < bool 0.054)", "180m", 1),
                # 5% errors against a 0.1% budget: the budget is 49 budgets overspent.
                _check(f"({budget} > bool -50) * ({budget} < bool -45)", "180m", 1),
            ],
        }],
    }
    test_file = tmp_path / "prometheus/tests/window.test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    run = subprocess.run([require_binary("promtool", "prometheus"), "test", "rules", test_file.name],
                         cwd=test_file.parent, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("kind", ["errors", "latency"])
def test_request_slos_divide_by_one_recorded_total_per_window(kind: str) -> None:
    """Each window's request total is recorded once per service (not once per SLO, nor once in the
    numerator and again in the denominator) and every request SLO's ratio divides by it."""
    rules = next(a for a in generate(load_spec(None)) if a.path.name == "slo-bookmark-api.yml")
    entries = [r for g in yaml.safe_load(rules.content)["groups"] for r in g["rules"] if "record" in r]
    totals = [r["record"] for r in entries if r["record"].startswith("slo:sli_events:rate")]
    assert len(totals) == len(set(totals)) == 7  # 5m, 30m, 1h, 2h, 6h, 1d, 3d
    for entry in entries:
        if entry["record"].startswith("slo:sli_error:ratio_rate") and entry["labels"]["slo"] == kind \
                and not entry["record"].endswith("30d"):
            window = entry["record"].removeprefix("slo:sli_error:ratio_rate")
            assert entry["expr"].count("_count{") <= 1  # the 5xx numerator only, never the total again
            assert entry["expr"].rstrip().endswith(f'slo:sli_events:rate{window}{{service="bookmark-api"}}')


def test_long_windows_evaluate_in_a_slower_group() -> None:
    rules = next(a for a in generate(load_spec(None)) if a.path.name == "slo-bookmark-api.yml")
    groups = {g["name"]: g for g in yaml.safe_load(rules.content)["groups"]}
    assert groups["slo-bookmark-api-long"]["interval"] == "1m" and "interval" not in groups["slo-bookmark-api"]
    slow = {r["record"] for r in groups["slo-bookmark-api-long"]["rules"]}
    assert {"slo:sli_error:ratio_rate1d", "slo:sli_error:ratio_rate3d", "slo:sli_error:ratio_rate30d"} <= slow
    assert not any("[1d]" in r["expr"] or "[3d]" in r["expr"] or "[30d]" in r["expr"]
                   for r in groups["slo-bookmark-api"]["rules"] if "record" in r)

def test_an_slo_records_only_the_windows_its_burn_pairs_read() -> None:
    """A 7d SLO has no 1d/2h or 3d/6h pair (burn rates 0.7 and 0.23): nothing would read its 2h, 1d
    and 3d ratios, so none is recorded; a 30d SLO of the same service keeps all seven windows."""
    text = ("project: shop\nhost: null\nservices:\n  - name: api\n    targets: [api:3000]\n    slos:\n"
            "      - {name: week, kind: errors, objective: 99%, window: 7d}\n"
            "      - {name: month, kind: latency, objective: 99%, threshold: 100ms}\n")
    rules = next(a for a in generate(load_spec_text(text, "stack.yaml")) if a.path.name == "slo-api.yml")
    entries = [r for g in yaml.safe_load(rules.content)["groups"] for r in g["rules"] if "record" in r]
    windows = {slo: {r["record"].removeprefix("slo:sli_error:ratio_rate") for r in entries
                     if r["record"].startswith("slo:sli_error:ratio_rate") and r["labels"]["slo"] == slo}
               for slo in ("week", "month")}
    assert windows["week"] == {"5m", "30m", "1h", "6h", "1w"}
    assert windows["month"] == {"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"}
    totals = [r["record"] for r in entries if r["record"].startswith("slo:sli_events:rate")]
    assert len(totals) == 7  # the month SLO reads every window's request total
