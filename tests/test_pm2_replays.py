"""Replays of a real PM2 cluster (tests/fixtures/pm2/, captured by capture.py from
examples/bookmark-api: two workers, random traffic at 8 requests a second, one scrape a second on
a new connection, as Prometheus' 15 s scrapes are past Node's 5 s keep-alive), through the
generated rules at the production scrape interval.

- app-port.json, the app's own port scraped through PM2's balancing: each scrape reaches either
  worker, so the counters go back and forth, and the start times too unless both workers started
  within the same second. ScrapeTargetSharedByProcesses fires either way, ServiceFlapping stays
  quiet, and the request rate read from the target is many times the traffic sent.
- aggregated.json, the metrics-aggregator's port, the workers kept apart by the worker label,
  worker 1 restarted part-way: the request rate is the traffic sent, before and after the
  restart, the restart is counted once (from app_worker_start_time_seconds), and nothing fires.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import default_spec_text, load_spec_text
from obstack.stack.writer import write_tree
from tests.support.servers import require_binary

FIXTURES = Path(__file__).parent / "fixtures" / "pm2"
TARGET = 'job="bookmark-api", instance="bookmark-api:3001", service="bookmark-api", team="platform"'
SHARED_REPEATS = 3  # the app-port capture three times over, counters carrying on: 45 minutes at 15 s
SCRAPE = 15  # seconds: one captured second per production scrape interval


def _capture(layout: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{layout}.json").read_text())


def _input_series(capture: dict[str, Any], repeats: int = 1, alike: bool = False) -> list[dict[str, str]]:
    """Every captured series at 15 s, ``repeats`` times over: a repeat carries each counter on from
    its highest value (the same processes, serving on); start times stay (``alike``: all the first
    scrape's, as when PM2 started the workers within the same second)."""
    scrapes = capture["scrapes"]
    if alike:
        first = scrapes[0]["process_start_time_seconds"]
        scrapes = [{**scrape, "process_start_time_seconds": first} for scrape in scrapes]
    series = []
    for name in sorted({name for scrape in scrapes for name in scrape}):
        metric, _, labels = name.partition("{")
        labels = labels.rstrip("}")
        seen = [scrape.get(name) for scrape in scrapes]
        top = max(v for v in seen if v is not None)
        values = []
        for repeat in range(repeats):
            offset = 0 if "start_time" in metric else repeat * top
            values += ["_" if v is None else f"{v + offset:.15g}" for v in seen]
        series.append({"series": f"{metric}{{{TARGET}{', ' + labels if labels else ''}}}", "values": " ".join(values)})
    return series


def _run(tmp_path: Path, spec_text: str, capture: dict[str, Any], checks: list[dict[str, Any]],
         repeats: int = 1, alike: bool = False) -> None:
    promtool = require_binary("promtool", "prometheus")
    write_tree(tmp_path, generate(load_spec_text(spec_text, "pm2.yaml")))
    prometheus = tmp_path / "prometheus"
    test = {"rule_files": [f"rules/{p.name}" for p in sorted((prometheus / "rules").glob("*.yml"))],
            "evaluation_interval": f"{SCRAPE}s",
            "tests": [{"interval": f"{SCRAPE}s", "input_series": _input_series(capture, repeats, alike),
                       "promql_expr_test": checks}]}
    (prometheus / "replay.test.yml").write_text(yaml.safe_dump(test))
    run = subprocess.run([promtool, "test", "rules", "replay.test.yml"], cwd=prometheus, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def _check(expr: str, at: str, value: float, labels: str = "{}") -> dict[str, Any]:
    return {"expr": expr, "eval_time": at, "exp_samples": [{"labels": labels, "value": value}]}


WATCHED = 'ALERTS{alertstate="firing", alertname=~"ScrapeTargetSharedByProcesses|ServiceFlapping"}'


@pytest.mark.parametrize("alike", [False, True], ids=["start-times-as-captured", "start-times-alike"])
def test_a_cluster_scraped_through_its_port_is_named_and_pages_no_restarts(tmp_path: Path, alike: bool) -> None:
    """The workers' start times as captured (here a second apart: the start time goes back at
    turns), and alike (PM2 often starts both within one second: only the counters go back)."""
    capture = _capture("app-port")
    assert capture["workers"] == 2
    sent = capture["rate"] / SCRAPE  # requests a second, as replayed
    _run(tmp_path, default_spec_text(), capture, [
        _check(f"count by (alertname) ({WATCHED})", "40m", 1, '{alertname="ScrapeTargetSharedByProcesses"}'),
        # What the alert warns of: rate() reads every step back as a counter reset, and the target
        # reads more than ten times the traffic sent.
        _check(f'sum(rate(http_request_duration_seconds_count{{job="bookmark-api"}}[5m])) > bool {10 * sent!r}', "40m", 1),
    ], repeats=SHARED_REPEATS, alike=alike)


def test_an_aggregating_endpoint_keeping_workers_apart_reads_the_traffic_and_one_restart(tmp_path: Path) -> None:
    capture = _capture("aggregated")
    assert capture["restart_after"] * SCRAPE == 600  # worker 1 restarts 10 minutes in
    sent = capture["rate"] / SCRAPE
    spec = default_spec_text().replace(
        "    max_memory_restart: 500M", "    pm2: {layout: aggregated}\n    process_start_metric: app_worker_start_time_seconds\n"
        "    max_memory_restart: 500M")
    rate = 'sum(rate(http_request_duration_seconds_count{job="bookmark-api"}[5m]))'
    _run(tmp_path, spec, capture, [
        # The rate at every evaluation of the 20 minutes around the restart: the traffic sent (a
        # Poisson count, within a third of it), never the spike a summed counter dropping would read.
        _check(f"max_over_time(({rate})[20m:{SCRAPE}s]) < bool {1.35 * sent!r}", "29m", 1),
        _check(f"min_over_time(({rate})[20m:{SCRAPE}s]) > bool {0.65 * sent!r}", "29m", 1),
        # Worker 1's restart is one change of its start time in the 30m ServiceFlapping counts,
        # and one step of its counters back: no sign of several processes behind one target.
        _check('max(changes(app_worker_start_time_seconds{job="bookmark-api", worker="1"}[30m]))', "29m", 1),
        _check(f"count({WATCHED}) or vector(0)", "29m", 0),
    ])
