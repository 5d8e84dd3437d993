"""Concurrent scrapers against the obstack exporter and Debian's reference exporters: 1, 20 and
200 scrapers starting at once, each on a fresh connection with a 10 s scrape-timeout header.

    python bench/scrape_concurrency.py [--scrapers 1 20 200] [--rounds 5] [--json FILE]

Every scrape must be answered (HTTP 200) inside its 10 s deadline; the bench reports, per
exporter and number of scrapers, the slowest scrape, p50 and p99, and how many missed the
deadline. Writes bench/results/scrape_concurrency.json for bench/plot.py.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import urllib.request
from pathlib import Path

from common import TIMEOUT_HEADER, percentile, results_path, write_results
from scrape_latency import running_exporters

DEADLINE = float(TIMEOUT_HEADER["X-Prometheus-Scrape-Timeout-Seconds"])


def _one_scrape(url: str) -> float | None:
    """Seconds to a complete 200 answer, None when there was none within twice the deadline."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=TIMEOUT_HEADER),
                                    timeout=2 * DEADLINE) as response:
            response.read()
            ok = response.status == 200
    except OSError:
        ok = False
    return time.perf_counter() - started if ok else None


def burst(url: str, scrapers: int) -> list[float | None]:
    """``scrapers`` scrapes released at once (a barrier), each on its own connection."""
    barrier = threading.Barrier(scrapers)
    outcomes: list[float | None] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        seconds = _one_scrape(url)
        with lock:
            outcomes.append(seconds)

    threads = [threading.Thread(target=run) for _ in range(scrapers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapers", type=int, nargs="+", default=[1, 20, 200])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=results_path("scrape_concurrency"))
    args = parser.parse_args()
    rows = []
    with running_exporters() as urls:
        for scrapers in args.scrapers:
            for name, url in urls.items():  # one exporter at a time: a burst is the only load on it
                outcomes = [seconds for _ in range(args.rounds) for seconds in burst(url, scrapers)]
                answered = [s for s in outcomes if s is not None]
                missed = sum(1 for s in outcomes if s is None or s > DEADLINE)
                rows.append({"exporter": name, "scrapers": scrapers, "scrapes": len(outcomes),
                             "max_ms": max(answered) * 1000 if answered else None,
                             "p50_ms": percentile(answered, 0.5) * 1000 if answered else None,
                             "p99_ms": percentile(answered, 0.99) * 1000 if answered else None,
                             "missed_deadline": missed})
    print(f"{args.rounds} bursts per exporter and size; deadline {DEADLINE:g} s")
    print(f"{'exporter':<22}{'scrapers':>9}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'missed':>8}")
    for row in rows:
        print(f"{row['exporter']:<22}{row['scrapers']:>9}{row['p50_ms']:>10.1f}{row['p99_ms']:>10.1f}"
              f"{row['max_ms']:>10.1f}{row['missed_deadline']:>8}")
    write_results(args.json, "python bench/scrape_concurrency.py " + " ".join(sys.argv[1:]),
                  {"rounds": args.rounds, "deadline_s": DEADLINE, "bursts": rows})


if __name__ == "__main__":
    main()
