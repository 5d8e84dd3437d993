"""Detection latency per fault (fault -> notification received) from the end-to-end suite.

Run: python bench/detection.py [--runs 3] [--json FILE]
Each run is `pytest tests/test_end_to_end.py` (the stack in `obstack local --fast`, the simulated
API), which writes its latencies to $OBSTACK_DETECTION_OUT, and `pytest tests/test_pm2_cluster.py`
(the reference bookmark API under PM2), which writes its error-rate page's to
$OBSTACK_PM2_DETECTION_OUT; this prints a Markdown table per fault: the
bound (scrape + evaluation + for + group_wait + slack), and the min/median/max latency; every
run's latencies go to bench/results/detection.json for bench/plot.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, results_path, write_results


def run_once(out: Path) -> dict:
    """One end-to-end run; its timing and per-fault latencies."""
    pm2 = out.with_suffix(".pm2.json")
    env = {**os.environ, "OBSTACK_DETECTION_OUT": str(out), "OBSTACK_PM2_DETECTION_OUT": str(pm2)}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "tests/test_end_to_end.py", "tests/test_pm2_cluster.py"],
                   cwd=ROOT, env=env, check=True)
    run = json.loads(out.read_text())
    run["faults"].update({f"{name} (PM2 reference app)": fault for name, fault in json.loads(pm2.read_text()).items()})
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=results_path("detection"))
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.runs):
            runs.append(run_once(Path(tmp) / f"run{index}.json"))
    timing = runs[0]["timing"]
    print(f"scrape {timing['scrape']:g}s, evaluation {timing['evaluation']:g}s, "
          f"group_wait {timing['group_wait']:g}s, slack {runs[0]['slack']:g}s; {args.runs} runs\n")
    print("| fault → alert | bound (s) | min (s) | median (s) | max (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, first in runs[0]["faults"].items():
        values = [run["faults"][name]["latency"] for run in runs]
        print(f"| {name} | {first['bound']:.1f} | {min(values):.2f} | {statistics.median(values):.2f} | {max(values):.2f} |")
    write_results(args.json, "python bench/detection.py " + " ".join(sys.argv[1:]), {
        "timing": timing, "slack": runs[0]["slack"],
        "faults": {name: {"bound": first["bound"], "latencies": [run["faults"][name]["latency"] for run in runs]}
                   for name, first in runs[0]["faults"].items()}})


if __name__ == "__main__":
    main()
