"""Replay of a real PM2 cluster scraped through the app's own port (tests/fixtures/pm2/shared.json,
captured by capture_shared.py from examples/bookmark-api: two workers, random traffic, one scrape
a second on a new connection, as Prometheus' 15 s scrapes are past Node's 5 s keep-alive).

PM2 hands each scrape to either worker, so the target's counters go back and forth between the
workers' values; both workers started within the same second, so their start times are alike.
promtool runs the generated rules on the capture, at the production scrape interval:
ScrapeTargetSharedByProcesses fires, ServiceFlapping stays quiet, and the request rate read from
the target is nowhere near the traffic sent (what the alert is there to say).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from stack.pipeline import generate
from stack.spec.loader import load_spec
from stack.writer import write_tree
from tests.support.servers import require_binary

CAPTURE = json.loads((Path(__file__).parent / "fixtures" / "pm2" / "shared.json").read_text())
TARGET = 'job="bookmark-api", instance="bookmark-api:3001", service="bookmark-api", team="platform"'
REPEATS = 3  # the capture three times over, counters carrying on: 45 minutes at 15 s
# The capture's traffic, 8 requests a second, replayed one captured second per 15 s sample.
SENT_RATE = 8 / 15


def _input_series() -> list[dict[str, str]]:
    scrapes = CAPTURE["scrapes"]
    names = sorted({name for scrape in scrapes for name in scrape})
    series = []
    for name in names:
        metric, _, labels = name.partition("{")
        labels = labels.rstrip("}")
        seen = [scrape.get(name) for scrape in scrapes]
        top = max(v for v in seen if v is not None)
        values = []
        for repeat in range(REPEATS):
            offset = 0 if metric.startswith("process_start") else repeat * top
            values += ["_" if v is None else f"{v + offset:g}" for v in seen]
        series.append({"series": f"{metric}{{{TARGET}{', ' + labels if labels else ''}}}", "values": " ".join(values)})
    return series


def test_a_cluster_scraped_through_its_port_is_named_and_pages_no_restarts(tmp_path: Path) -> None:
    promtool = require_binary("promtool", "prometheus")
    assert CAPTURE["workers"] == 2 and len({s["process_start_time_seconds"] for s in CAPTURE["scrapes"]}) == 1
    write_tree(tmp_path, generate(load_spec()))
    alerts = 'count by (alertname) (ALERTS{alertstate="firing", alertname=~"ScrapeTargetSharedByProcesses|ServiceFlapping"})'
    test = {
        "rule_files": [f"rules/{p.name}" for p in sorted((tmp_path / "prometheus" / "rules").glob("*.yml"))],
        "evaluation_interval": "15s",
        "tests": [{
            "interval": "15s",
            "input_series": _input_series(),
            "promql_expr_test": [
                {"expr": alerts, "eval_time": "40m",
                 "exp_samples": [{"labels": '{alertname="ScrapeTargetSharedByProcesses"}', "value": 1}]},
                # What the alert warns of: rate() reads every step back as a counter reset, and the
                # target reads more than ten times the traffic sent (39 times, at this capture).
                {"expr": f'sum(rate(http_request_duration_seconds_count{{job="bookmark-api"}}[5m])) > bool {10 * SENT_RATE!r}',
                 "eval_time": "40m", "exp_samples": [{"labels": "{}", "value": 1}]},
            ],
        }],
    }
    (tmp_path / "prometheus" / "shared.test.yml").write_text(yaml.safe_dump(test))
    run = subprocess.run([promtool, "test", "rules", "shared.test.yml"], cwd=tmp_path / "prometheus",
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
