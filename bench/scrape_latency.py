"""Scrape latency of the obstack exporter against Debian's prometheus-postgres-exporter and
prometheus-redis-exporter on the same private servers, interleaved in one run.

    python bench/scrape_latency.py [--scrapes 300] [--json FILE]

Each round scrapes every exporter once, in a rotating order, so drift on the machine hits
all of them alike. Prints p50/p99 per exporter and our/reference ratios; writes them, with
every scrape's time, to bench/results/scrape_latency.json for bench/plot.py.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import free_port, results_path, scrape_seconds, start, summary, wait_http, write_results, write_spec

from tests.support.servers import PostgresServer, RedisServer

REFERENCES = {"postgres": "prometheus-postgres-exporter", "redis": "prometheus-redis-exporter"}


def _ours(kind: str, directory: Path, env: dict[str, str]) -> tuple[str, object]:
    store = ("{name: db, kind: postgres, dsn_env: PG_DSN}" if kind == "postgres"
             else "{name: cache, kind: redis, url_env: REDIS_URL}")
    sub = directory / kind
    sub.mkdir()
    spec = write_spec(sub, f"project: bench\ndatastores: [{store}]\n")
    port = free_port()
    process = start([sys.executable, "-m", "stack", "exporter", "--spec", str(spec), "--listen", f"127.0.0.1:{port}"], env)
    return f"http://127.0.0.1:{port}/metrics", process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--json", type=Path, default=results_path("scrape_latency"))
    args = parser.parse_args()
    missing = [binary for binary in REFERENCES.values() if shutil.which(binary) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: apt-get install {' '.join(missing)}")
    with PostgresServer() as pg, RedisServer() as redis, tempfile.TemporaryDirectory() as tmp:
        dsn = f"{pg.dsn}?sslmode=disable"
        env = {"PG_DSN": dsn, "REDIS_URL": redis.url}
        processes = []
        urls: dict[str, str] = {}
        for kind in ("postgres", "redis"):
            urls[f"obstack {kind}"], process = _ours(kind, Path(tmp), env)
            processes.append(process)
        pg_port, redis_port = free_port(), free_port()
        processes.append(start([REFERENCES["postgres"], f"--web.listen-address=127.0.0.1:{pg_port}"],
                               {"DATA_SOURCE_NAME": dsn}))
        processes.append(start([REFERENCES["redis"], "-redis.addr", f"redis://127.0.0.1:{redis.port}",
                                "-web.listen-address", f"127.0.0.1:{redis_port}"]))
        urls["postgres_exporter"] = f"http://127.0.0.1:{pg_port}/metrics"
        urls["redis_exporter"] = f"http://127.0.0.1:{redis_port}/metrics"
        try:
            for url in urls.values():
                wait_http(url)
            names = list(urls)
            for _ in range(args.warmup):
                for name in names:
                    scrape_seconds(urls[name])
            timings: dict[str, list[float]] = {name: [] for name in names}
            for round_index in range(args.scrapes):
                shift = round_index % len(names)
                for name in names[shift:] + names[:shift]:
                    timings[name].append(scrape_seconds(urls[name]))
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)
    report(timings, args.scrapes)
    stats = {name: summary(values) for name, values in timings.items()}
    write_results(args.json, "python bench/scrape_latency.py " + " ".join(sys.argv[1:]), {
        "scrapes": args.scrapes,
        "references": {kind: reference_version(binary) for kind, binary in REFERENCES.items()},
        "exporters": {name: {"p50_ms": stats[name][0], "p99_ms": stats[name][1],
                             "scrapes_ms": [round(v * 1000, 3) for v in values]} for name, values in timings.items()},
        "ratios": {kind: {"p50": stats[f"obstack {kind}"][0] / stats[f"{kind}_exporter"][0],
                          "p99": stats[f"obstack {kind}"][1] / stats[f"{kind}_exporter"][1]} for kind in REFERENCES},
    })


def reference_version(binary: str) -> str:
    """The reference exporter's version, as it prints it (``--version``)."""
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    match = re.search(r"(\d+\.\d+\.\d+)", result.stdout + result.stderr)
    return match.group(1) if match else "unknown"


def report(timings: dict[str, list[float]], scrapes: int) -> None:
    print(f"{scrapes} interleaved scrapes per exporter")
    print(f"{'exporter':<22}{'p50 ms':>9}{'p99 ms':>9}")
    stats = {name: summary(values) for name, values in timings.items()}
    for name, (p50, p99) in stats.items():
        print(f"{name:<22}{p50:>9.2f}{p99:>9.2f}")
    for kind, reference in (("postgres", "postgres_exporter"), ("redis", "redis_exporter")):
        ours, theirs = stats[f"obstack {kind}"], stats[reference]
        print(f"ratio obstack/{reference}: p50 {ours[0] / theirs[0]:.2f}  p99 {ours[1] / theirs[1]:.2f}")


if __name__ == "__main__":
    main()
