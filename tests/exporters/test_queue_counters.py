"""Queue throughput that stays true when BullMQ removes completed jobs.

The real bullmq (Node, from examples/bookmark-api/node_modules, which `make example` installs)
adds and processes jobs with removeOnComplete: 1000 on a private Redis, well beyond 1000 jobs,
while the exporter is scraped after every batch. Its job counters must equal the jobs added,
completed and failed (and BullMQ's own getMetrics counts), while the completed set stays at 1000.
Then promtool evaluates the queue dashboard's Throughput queries over those scrapes, one batch
per 15 s scrape interval: they give the true rates where the old query (the completed set's
growth) reads 0, and a Worker without the metrics option gets the labelled fallback line.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from obstack.dashboards.generate import build_dashboards
from obstack.stack.spec.model import Spec
from tests.dashboards.support import panels_of
from tests.exporters.conftest import redis_store
from tests.support.servers import require_binary

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "examples" / "bookmark-api" / "node_modules"
SCRIPT = Path(__file__).with_name("bullmq_batches.js")
PREFIX = "bull"
SCRAPE_INTERVAL = 15  # seconds of promtool time per batch
RATE_INTERVAL = "1m"  # $__rate_interval at a 15 s scrape interval: four scrapes, so five samples
# Prometheus' target labels on the exporter's series (Grafana's "All" is .+ for both variables).
TARGET = {"job": "obstack-exporter", "instance": "obstack-exporter:9477"}
WARM_UP = (1200, 10, 20)  # jobs, failing for good, failing once: fills the completed set to 1000
BATCH = (300, 15, 30)  # then four batches of this: 20 added/s, 19 completed/s, 1 failed/s
PLAIN_BATCH = (60, 0, 0)  # the Worker without the metrics option: its completed set grows 4/s


class BatchRunner:
    """bullmq_batches.js for one queue: one batch per request, its totals as the answer."""

    def __init__(self, redis_host: str, redis_port: int, queue: str, mode: str) -> None:
        node = require_binary("node", "nodejs")
        if not (NODE_MODULES / "bullmq" / "package.json").is_file():
            pytest.fail(f"bullmq is not installed in {NODE_MODULES}; run `make example`", pytrace=False)
        self.process = subprocess.Popen(
            [node, str(SCRIPT), redis_host, str(redis_port), PREFIX, queue, mode],
            env={**os.environ, "NODE_PATH": str(NODE_MODULES)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def batch(self, jobs: int, fail_always: int, fail_once: int) -> dict[str, int]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{jobs} {fail_always} {fail_once}\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], 120)
        answer = self.process.stdout.readline() if ready else ""
        if not answer:
            self.process.kill()
            pytest.fail(f"{SCRIPT.name} gave no answer: {self.process.communicate()[1][-2000:]}", pytrace=False)
        return dict(json.loads(answer))

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.communicate(timeout=30)  # EOF on stdin: the script closes its worker and queue
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.communicate()


@pytest.fixture
def runners(private_redis: Any) -> Iterator[dict[str, BatchRunner]]:
    host, port = private_redis.url.removeprefix("redis://").split("/")[0].rsplit(":", 1)
    started = {"counted": BatchRunner(host, int(port), "counted", "metrics"),
               "plain": BatchRunner(host, int(port), "plain", "plain")}
    yield started
    for runner in started.values():
        runner.close()


SPEC = {"datastores": [redis_store()],
        "queues": [{"name": name, "backend": "bullmq", "datastore": "cache", "prefix": PREFIX}
                   for name in ("counted", "plain")]}
COUNTERS = {"added": "obstack_queue_added_jobs_total", "completed": "obstack_queue_completed_jobs_total",
            "failed": "obstack_queue_failed_jobs_total"}
SERIES = (*COUNTERS.values(), "obstack_queue_jobs")


def test_counters_equal_the_jobs_while_the_completed_set_stays_at_1000(private_redis, exporter_for, runners,
                                                                       tmp_path):
    exporter = exporter_for(SPEC, {"REDIS_URL": private_redis.url})
    scrapes = []
    for counted_batch, plain_batch in [(WARM_UP, PLAIN_BATCH)] + [(BATCH, PLAIN_BATCH)] * 4:
        counted = runners["counted"].batch(*counted_batch)
        plain = runners["plain"].batch(*plain_batch)
        scrape = exporter.scrape()
        labels = {"queue": "counted", "backend": "bullmq"}
        # The exporter reads what BullMQ counted, which is what the jobs did.
        assert counted["metricsCompleted"] == counted["completed"] and counted["metricsFailed"] == counted["failed"]
        for key, metric in COUNTERS.items():
            assert scrape.value(metric, **labels) == counted[key], metric
        assert scrape.value("obstack_queue_jobs", **labels, state="completed") == counted["completedSet"] == 1000
        # A Worker without the metrics option: the jobs are added and counted, their completions are not.
        assert scrape.value(COUNTERS["added"], queue="plain") == plain["added"]
        assert scrape.value(COUNTERS["completed"], queue="plain") is None
        assert scrape.value(COUNTERS["failed"], queue="plain") is None
        assert scrape.value("obstack_queue_jobs", queue="plain", state="completed") == plain["completedSet"]
        scrapes.append(scrape)
    assert counted["added"] == 2400 and counted["completed"] == 2330 and counted["failed"] == 70

    queries = throughput_queries(Spec.model_validate({"project": "demo", **SPEC}))
    assert set(queries) == {"counted", "plain"}
    old = 'clamp_min(deriv(obstack_queue_jobs{queue="counted", state="completed"}[1m]), 0)'
    counted_labels = {**TARGET, "queue": "counted", "backend": "bullmq"}
    plain_labels = {**TARGET, "queue": "plain", "backend": "bullmq"}
    expected = [
        # The old panel's query: the completed set does not grow, so it reads no throughput at all.
        (old, [({**counted_labels, "state": "completed"}, 0)]),
        (queries["counted"]["added/s"], [(counted_labels, 20)]),
        (queries["counted"]["completed/s"], [(counted_labels, 19)]),
        (queries["counted"]["failed/s"], [(counted_labels, 1)]),
        (queries["counted"][FALLBACK], []),  # the counter is there: no stand-in
        (queries["plain"]["added/s"], [(plain_labels, 4)]),
        (queries["plain"]["completed/s"], []),
        (queries["plain"][FALLBACK], [({**plain_labels, "state": "completed"}, 4)]),
    ]
    result = promtool_test(tmp_path, input_series(scrapes), expected)
    assert result.returncode == 0, result.stdout + result.stderr


FALLBACK = "completed/s (growth of the completed set: no completion counter)"


def throughput_queries(spec: Spec) -> dict[str, dict[str, str]]:
    """Queue -> legend -> the Throughput panel's query, with Grafana's variables as a 15 s scrape
    interval and "All" would set them."""
    found: dict[str, dict[str, str]] = {}
    for board in build_dashboards(spec):
        for panel in panels_of(board):
            if panel.get("title") != "Throughput":
                continue
            exprs = {t["legendFormat"]: t["expr"].replace("$__rate_interval", RATE_INTERVAL)
                     .replace('"$job"', '".+"').replace('"$instance"', '".+"') for t in panel["targets"]}
            queue = next(name for name in ("counted", "plain") if f'queue="{name}"' in exprs["added/s"])
            found[queue] = exprs
    return found


def input_series(scrapes: list[Any]) -> list[dict[str, str]]:
    """Every scraped sample of the counters and job gauges, one scrape per interval."""
    values: dict[str, list[str]] = {}
    for index, scrape in enumerate(scrapes):
        for (name, labels), value in scrape.samples().items():
            if name not in SERIES:
                continue
            inner = ", ".join(f'{k}="{v}"' for k, v in sorted({**dict(labels), **TARGET}.items()))
            values.setdefault(f"{name}{{{inner}}}", ["_"] * len(scrapes))[index] = f"{value:g}"
    return [{"series": series, "values": " ".join(points)} for series, points in values.items()]


def promtool_test(tmp_path: Path, series: list[dict[str, str]],
                  expected: list[tuple[str, list[tuple[dict[str, str], float]]]]) -> subprocess.CompletedProcess[str]:
    end = f"{SCRAPE_INTERVAL * 4}s"  # the last scrape: the rate window holds all five
    tests = [{"expr": expr, "eval_time": end,
              "exp_samples": [{"labels": "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}",
                               "value": value} for labels, value in samples]}
             for expr, samples in expected]
    path = tmp_path / "throughput.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [], "evaluation_interval": f"{SCRAPE_INTERVAL}s", "tests": [
        {"interval": f"{SCRAPE_INTERVAL}s", "input_series": series, "promql_expr_test": tests}]}, sort_keys=False))
    return subprocess.run([require_binary("promtool", "prometheus"), "test", "rules", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
