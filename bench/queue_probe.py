"""The Redis probe's cost with 10, 100 and 1000 BullMQ queues (filled by the real bullmq client).

    python bench/queue_probe.py [--counts 10 100 1000] [--runs 30] [--json FILE]

For each count: the probe's own duration (one pipeline: INFO, CLIENT LIST, one EVAL_RO over
every queue) and the full /metrics scrape of an in-process exporter, p50/p99 over the runs.
Target: 1000 queues probed in under 100 ms. Results also go to bench/results/queue_probe.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

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


async def probe_durations(spec: Spec, runs: int) -> list[float]:
    probe = RedisProbe(spec.datastores[0], spec.queues)  # type: ignore[arg-type]
    durations = []
    for _ in range(runs + 3):
        started = time.perf_counter()
        results = await probe.run(10.0)
        durations.append(time.perf_counter() - started)
        assert all(r.success for r in results), [r for r in results if not r.success][:1]
    await probe.close()
    return durations[3:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", type=Path, default=results_path("queue_probe"))
    args = parser.parse_args()
    rows = []
    print(f"{'queues':>7}{'probe p50 ms':>14}{'probe p99 ms':>14}{'scrape p50 ms':>15}{'scrape p99 ms':>15}")
    for count in args.counts:
        with RedisServer() as redis:
            os.environ["REDIS_URL"] = redis.url
            asyncio.run(fill(redis.url, count))
            spec = spec_for(count)
            probe = summary(asyncio.run(probe_durations(spec, args.runs)))
            exporter = start_exporter(spec, "127.0.0.1:0", log=JsonLog(open(os.devnull, "w")))
            try:
                url = exporter.url + "/metrics"
                for _ in range(3):
                    scrape_seconds(url)
                scrape = summary([scrape_seconds(url) for _ in range(args.runs)])
            finally:
                exporter.stop()
        print(f"{count:>7}{probe[0]:>14.2f}{probe[1]:>14.2f}{scrape[0]:>15.2f}{scrape[1]:>15.2f}")
        rows.append({"queues": count, "probe_p50_ms": probe[0], "probe_p99_ms": probe[1],
                     "scrape_p50_ms": scrape[0], "scrape_p99_ms": scrape[1]})
    write_results(args.json, "python bench/queue_probe.py " + " ".join(sys.argv[1:]), {"runs": args.runs, "counts": rows})


if __name__ == "__main__":
    main()
