"""The Redis probe's cost with 10, 100 and 1000 BullMQ queues (filled by the real bullmq client).

    python bench/queue_probe.py [--counts 10 100 1000] [--runs 30] [--priority-levels 1] [--batch N] [--json FILE]

For each count: the probe's own duration (one pipeline: INFO, CLIENT LIST; then one EVAL_RO per
QUEUE_BATCH queues) and the full /metrics scrape of an in-process exporter, p50/p99 over the
runs; and the probe's cost inside Redis from its ``INFO commandstats`` over the probe runs: the
scripts' server time per scrape, the Redis commands they run per queue, and from Redis's
SLOWLOG (every command logged) the script calls' median and longest: how long Redis served nobody
else (on a busy machine the longest includes the Redis process waiting for a core).
Target: 1000 queues probed in under 100 ms. Results also go to bench/results/queue_probe.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import redis

from common import results_path, scrape_seconds, summary, write_results

from bullmq import Queue

from obstack.exporters.app import start_exporter
from obstack.exporters.logs import JsonLog
from obstack.exporters.probes import redis as redis_probe
from obstack.exporters.probes.redis import RedisProbe
from obstack.stack.spec.model import Spec
from tests.support.servers import RedisServer

JOBS = (("wait", {}), ("urgent", {"priority": 3}), ("later", {"delay": 3_600_000}))


async def fill(url: str, count: int, levels: int = 1) -> None:
    """Every queue gets one waiting, one prioritized and one delayed job, and with ``levels`` > 1
    one more prioritized job at each of that many priority levels (the probe looks for the oldest
    job at every level, up to 64)."""
    for index in range(count):
        queue = Queue(f"q{index:04d}", {"connection": url})
        for name, options in JOBS:
            await queue.add(name, {}, options)
        for level in range(1, levels):
            await queue.add("ranked", {}, {"priority": 3 + level})
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
    server = redis.Redis.from_url(url)
    for run in range(runs + 3):
        if run == 3:
            server.config_set("slowlog-log-slower-than", 0)
            server.config_set("slowlog-max-len", 1_000_000)
            server.slowlog_reset()
            server.config_resetstat()
        started = time.perf_counter()
        results = await probe.run(10.0)
        durations.append(time.perf_counter() - started)
        assert all(r.success for r in results), [r for r in results if not r.success][:1]
    await probe.close()
    cost = redis_cost(server.info("commandstats"), runs, len(spec.queues))
    calls = [entry["duration"] for entry in server.slowlog_get(1_000_000)
             if entry["command"].split(b" ", 1)[0].upper() == b"EVAL_RO"]
    cost["longest_call_us"] = float(max(calls))
    cost["median_call_us"] = float(statistics.median(calls))
    return durations[3:], cost


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
    parser.add_argument("--priority-levels", type=int, default=1)
    parser.add_argument("--batch", type=int, default=redis_probe.QUEUE_BATCH,
                        help="queues per script call (default: the exporter's; a large number: one call)")
    parser.add_argument("--json", type=Path, default=results_path("queue_probe"))
    args = parser.parse_args()
    redis_probe.QUEUE_BATCH = args.batch
    rows = []
    print(f"{'queues':>7}{'probe p50 ms':>14}{'probe p99 ms':>14}{'scrape p50 ms':>15}{'scrape p99 ms':>15}"
          f"{'script us':>11}{'median call us':>16}{'longest call us':>17}{'cmds/queue':>12}")
    for count in args.counts:
        with RedisServer() as server:
            os.environ["REDIS_URL"] = server.url
            asyncio.run(fill(server.url, count, args.priority_levels))
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
              f"{cost['script_us']:>11.0f}{cost['median_call_us']:>16.0f}{cost['longest_call_us']:>17.0f}"
              f"{cost['commands_per_queue']:>12.1f}")
        rows.append({"queues": count, "probe_p50_ms": probe[0], "probe_p99_ms": probe[1],
                     "scrape_p50_ms": scrape[0], "scrape_p99_ms": scrape[1],
                     "redis_script_us": cost["script_us"], "redis_median_call_us": cost["median_call_us"],
                     "redis_longest_call_us": cost["longest_call_us"],
                     "redis_commands_per_queue": cost["commands_per_queue"]})
    write_results(args.json, "python bench/queue_probe.py " + " ".join(sys.argv[1:]),
                  {"runs": args.runs, "priority_levels": args.priority_levels, "batch": args.batch, "counts": rows})


if __name__ == "__main__":
    main()
