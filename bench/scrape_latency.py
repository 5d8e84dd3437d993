"""Scrape latency of the obstack exporter against Debian's prometheus-postgres-exporter and
prometheus-redis-exporter on the same private servers, interleaved in one run, on fresh and on
kept-alive connections.

    python bench/scrape_latency.py [--scrapes 300] [--json FILE]

Each round scrapes every exporter once per connection mode, in a rotating order, so drift on
the machine hits all of them alike. "fresh" opens a connection per scrape; "keep-alive" reuses
one connection per exporter, as Prometheus does (where a Nagle/delayed-ACK stall would show as
~40 ms). Prints p50/p99 per exporter and mode and our/reference ratios; writes them, with every
scrape's time, to bench/results/scrape_latency.json for bench/plot.py.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from common import (KeepAliveScraper, free_port, fresh_scrape_seconds, results_path, start, summary, wait_http,
                    write_results, write_spec)

from tests.support.servers import PostgresServer, RedisServer

REFERENCES = {"postgres": "prometheus-postgres-exporter", "redis": "prometheus-redis-exporter"}
MODES = ("fresh", "keep-alive")


def _ours(kind: str, directory: Path, env: dict[str, str]) -> tuple[str, object]:
    store = ("{name: db, kind: postgres, dsn_env: PG_DSN}" if kind == "postgres"
             else "{name: cache, kind: redis, url_env: REDIS_URL}")
    sub = directory / kind
    sub.mkdir()
    spec = write_spec(sub, f"project: bench\ndatastores: [{store}]\n")
    port = free_port()
    process = start([sys.executable, "-m", "obstack", "exporter", "--spec", str(spec), "--listen", f"127.0.0.1:{port}"], env)
    return f"http://127.0.0.1:{port}/metrics", process


def require_references() -> None:
    missing = [binary for binary in REFERENCES.values() if shutil.which(binary) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: bash scripts/install-system-deps.sh bench")


@contextmanager
def running_exporters() -> Iterator[dict[str, str]]:
    """Our exporter (one process per datastore) and the two reference exporters on one private
    Postgres and Redis; yields name -> /metrics URL, every one answering."""
    require_references()
    with PostgresServer() as pg, RedisServer() as redis, tempfile.TemporaryDirectory() as tmp:
        dsn = f"{pg.dsn}?sslmode=disable"
        env = {"PG_DSN": dsn, "REDIS_URL": redis.url}
        processes = []
        urls: dict[str, str] = {}
        try:
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
            for url in urls.values():
                wait_http(url)
            yield urls
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)


def measure(urls: dict[str, str], scrapes: int, warmup: int) -> dict[str, dict[str, list[float]]]:
    """name -> mode -> every scrape's seconds."""
    keep_alive = {name: KeepAliveScraper(url) for name, url in urls.items()}
    scrapers: dict[str, dict[str, Callable[[], float]]] = {
        name: {"fresh": lambda url=url: fresh_scrape_seconds(url), "keep-alive": keep_alive[name].scrape_seconds}
        for name, url in urls.items()}
    order = [(name, mode) for name in urls for mode in MODES]
    try:
        for _ in range(warmup):
            for name, mode in order:
                scrapers[name][mode]()
        timings: dict[str, dict[str, list[float]]] = {name: {mode: [] for mode in MODES} for name in urls}
        for round_index in range(scrapes):
            shift = round_index % len(order)
            for name, mode in order[shift:] + order[:shift]:
                timings[name][mode].append(scrapers[name][mode]())
    finally:
        for scraper in keep_alive.values():
            scraper.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--json", type=Path, default=results_path("scrape_latency"))
    args = parser.parse_args()
    with running_exporters() as urls:
        timings = measure(urls, args.scrapes, args.warmup)
    stats = {name: {mode: summary(values) for mode, values in modes.items()} for name, modes in timings.items()}
    report(stats, args.scrapes)
    write_results(args.json, "python bench/scrape_latency.py " + " ".join(sys.argv[1:]), {
        "scrapes": args.scrapes,
        "references": {kind: reference_version(binary) for kind, binary in REFERENCES.items()},
        "exporters": {name: {mode: {"p50_ms": stats[name][mode][0], "p99_ms": stats[name][mode][1],
                                    "scrapes_ms": [round(v * 1000, 3) for v in values]}
                             for mode, values in modes.items()} for name, modes in timings.items()},
        "ratios": {kind: {mode: {"p50": stats[f"obstack {kind}"][mode][0] / stats[f"{kind}_exporter"][mode][0],
                                 "p99": stats[f"obstack {kind}"][mode][1] / stats[f"{kind}_exporter"][mode][1]}
                          for mode in MODES} for kind in REFERENCES},
        "keep_alive_over_fresh_p50": {name: stats[name]["keep-alive"][0] / stats[name]["fresh"][0] for name in stats},
    })


def reference_version(binary: str) -> str:
    """The reference exporter's version, as it prints it (``--version``)."""
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    match = re.search(r"(\d+\.\d+\.\d+)", result.stdout + result.stderr)
    return match.group(1) if match else "unknown"


def report(stats: dict[str, dict[str, tuple[float, float]]], scrapes: int) -> None:
    print(f"{scrapes} interleaved scrapes per exporter and connection mode")
    print(f"{'exporter':<22}" + "".join(f"{mode + ' p50':>16}{mode + ' p99':>16}" for mode in MODES)
          + f"{'keep-alive/fresh p50':>22}")
    for name, modes in stats.items():
        print(f"{name:<22}" + "".join(f"{modes[mode][0]:>16.2f}{modes[mode][1]:>16.2f}" for mode in MODES)
              + f"{modes['keep-alive'][0] / modes['fresh'][0]:>22.2f}")
    for kind in REFERENCES:
        ours, theirs = stats[f"obstack {kind}"], stats[f"{kind}_exporter"]
        print(f"ratio obstack/{kind}_exporter: " + "  ".join(
            f"{mode} p50 {ours[mode][0] / theirs[mode][0]:.2f} p99 {ours[mode][1] / theirs[mode][1]:.2f}"
            for mode in MODES))


if __name__ == "__main__":
    main()
