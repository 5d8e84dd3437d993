"""`obstack validate` wall time for 10 and 100 services, per validator.

Run: python bench/validate.py [--sizes 10,100] [--json FILE]
Each spec is bench/generation.py's (N services with the plan's three SLOs, a Postgres, a Redis,
one BullMQ queue). The tree is generated and written to a temp directory, then every validator
runs as `obstack validate` runs it (the real promtool, amtool and docker-compose); each one's
wall time is printed and written to bench/results/validate.json for bench/plot.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import results_path, write_results
from generation import spec_with

from obstack.stack.pipeline import generate
from obstack.stack.validate.checks import run_validators
from obstack.stack.validate.validator import ValidationContext
from obstack.stack.writer import write_tree


def measure(services: int) -> dict[str, float]:
    """Seconds per validator (in the order they run); a failing validator is reported (its
    findings on stderr) and measured all the same."""
    loaded = spec_with(services)
    artifacts = generate(loaded)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "build"
        write_tree(out, artifacts)
        results = run_validators(ValidationContext(out, loaded, artifacts))
    for result in results:
        if result.failed:
            print(f"{services} services: {result.name} FAILED: " + "; ".join(str(f) for f in result.findings[:3]),
                  file=sys.stderr)
    return {result.name: result.seconds for result in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100")
    parser.add_argument("--json", type=Path, default=results_path("validate"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = {services: measure(services) for services in sizes}
    names = list(runs[sizes[0]])
    print("| validator | " + " | ".join(f"{n} services (s)" for n in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{runs[n][name]:.1f}" for n in sizes) + " |")
    print("| **total** | " + " | ".join(f"{sum(runs[n].values()):.1f}" for n in sizes) + " |")
    write_results(args.json, "python bench/validate.py " + " ".join(sys.argv[1:]), {
        "sizes": [{"services": n, "seconds": runs[n]} for n in sizes]})


if __name__ == "__main__":
    main()
