"""The Redis probe's cost with 10, 100 and 1000 BullMQ queues (filled by the real bullmq client).

    python bench/queue_probe.py [--counts 10 100 1000] [--runs 30] [--json FILE]

For each count: the probe's own duration (one pipeline: INFO, CLIENT LIST, one EVAL_RO over
every queue) and the full /metrics scrape of an in-process exporter, p50/p99 over the runs; and
the probe's cost inside Redis from its ``INFO commandstats`` over the probe runs: the script's
server time per scrape and the Redis commands the script runs per queue.
Target: 1000 queues probed in under 100 ms. Results also go to bench/results/queue_probe.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import redis

from common import results_path, scrape_seconds, summary, write_results

from bullmq import Queue

from exporters.app import start_exporter
from exporters.logs import JsonLog
from exporters.probes.redis import RedisProbe
from stack.spec.model import Spec
from tests.support.servers import RedisServer

JOBS = (("wait", {}), ("urgent", {"priority": 3}), ("later", {"delay": 3_600_000}))


async def fill(url: str, count: int) -> None:
    """Every queue gets one waiting, one prioritized and one delayed job."""
    for index in range(count):
        queue = Queue(f"q{index:04d}", {"connection": url})
        for name, options in JOBS:
            await queue.add(name, {}, options)
        await queue.close()


def spec_for(count: int) -> Spec:
    return Spec.model_validate({"project": "bench", "datastores": [{"name": "cache", "kind": "redis", "url_env": "REDIS_URL"}],
                                "queues": [{"name": f"q{i:04d}", "backend": "bullmq", "datastore": "cache"} for i in range(count)]})


# Commands of the pipeline itself (and of the measurement); every other command ran inside the script.
PIPELINE_COMMANDS = frozenset({"eval_ro", "info", "client|list", "client|setname", "config|resetstat"})


async def probe_durations(spec: Spec, runs: int, url: str) -> tuple[list[float], dict[str, float]]:
    """The probe's wall time per run, and its cost inside Redis per scrape (after 3 warm-up runs)."""
    probe = RedisProbe(spec.datastores[0], spec.queues)  # type: ignore[arg-type]
    durations = []
    for run in range(runs + 3):
        if run == 3:
            redis.Redis.from_url(url).config_resetstat()
        started = time.perf_counter()
        results = await probe.run(10.0)
        durations.append(time.perf_counter() - started)
        assert all(r.success for r in results), [r for r in results if not r.success][:1]
    await probe.close()
    return durations[3:], redis_cost(redis.Redis.from_url(url).info("commandstats"), runs, len(spec.queues))


def redis_cost(stats: dict[str, dict[str, float]], runs: int, queues: int) -> dict[str, float]:
    """The script's server time per scrape (µs, EVAL_RO's own usec: the commands inside included)
    and the commands it ran per queue (Redis counts a script's commands in commandstats too)."""
    calls = {name.removeprefix("cmdstat_"): entry for name, entry in stats.items()}
    inner = sum(entry["calls"] for name, entry in calls.items() if name not in PIPELINE_COMMANDS)
    return {"script_us": calls["eval_ro"]["usec"] / runs, "commands_per_queue": inner / runs / queues}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", type=Path, default=results_path("queue_probe"))
    args = parser.parse_args()
    rows = []
    print(f"{'queues':>7}{'probe p50 ms':>14}{'probe p99 ms':>14}{'scrape p50 ms':>15}{'scrape p99 ms':>15}"
          f"{'script us':>11}{'cmds/queue':>12}")
    for count in args.counts:
        with RedisServer() as server:
            os.environ["REDIS_URL"] = server.url
            asyncio.run(fill(server.url, count))
            spec = spec_for(count)
            durations, cost = asyncio.run(probe_durations(spec, args.runs, server.url))
            probe = summary(durations)
            exporter = start_exporter(spec, "127.0.0.1:0", log=JsonLog(open(os.devnull, "w")))
            try:
                url = exporter.url + "/metrics"
                for _ in range(3):
                    scrape_seconds(url)
                scrape = summary([scrape_seconds(url) for _ in range(args.runs)])
            finally:
                exporter.stop()
        print(f"{count:>7}{probe[0]:>14.2f}{probe[1]:>14.2f}{scrape[0]:>15.2f}{scrape[1]:>15.2f}"
              f"{cost['script_us']:>11.0f}{cost['commands_per_queue']:>12.1f}")
        rows.append({"queues": count, "probe_p50_ms": probe[0], "probe_p99_ms": probe[1],
                     "scrape_p50_ms": scrape[0], "scrape_p99_ms": scrape[1],
                     "redis_script_us": cost["script_us"], "redis_commands_per_queue": cost["commands_per_queue"]})
    write_results(args.json, "python bench/queue_probe.py " + " ".join(sys.argv[1:]), {"runs": args.runs, "counts": rows})


if __name__ == "__main__":
    main()
