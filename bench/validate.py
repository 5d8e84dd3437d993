"""`obstack validate` wall time for 10, 100 and 1000 services, per validator.

Run: python bench/validate.py [--sizes 10,100,1000] [--changed 100] [--json FILE]
Each spec is bench/generation.py's (N services with the plan's three SLOs, a Postgres, a Redis,
one BullMQ queue). The tree is generated and written to a temp directory, then every validator
runs as `obstack validate` runs it (the real promtool, amtool and docker-compose); each one's
wall time is printed and written to bench/results/validate.json for bench/plot.py. At the
``--changed`` size it then changes one service (its SLOs: a shape of its own), regenerates and
times `obstack validate --changed` on the record the full run left.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import results_path, write_results
from generation import spec_with

from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import LoadedSpec, load_spec_text
from obstack.stack.validate.checks import run_validators
from obstack.stack.validate.incremental import ValidationRecord
from obstack.stack.validate.validator import ValidationContext
from obstack.stack.writer import write_tree


# The change `--changed` is measured on: svc-1 keeps one SLO, at 99.5% (a shape of its own, so
# its SLO rules and their tests are new; every other service's files are unchanged).
CHANGED_SERVICE = "  - name: svc-1\n    targets: [svc-1:8080]"
CHANGE = "\n    slos:\n      - {name: availability, kind: availability, objective: 99.5%}"


def measure(services: int, changed: bool) -> dict[str, dict[str, float]]:
    """Seconds per validator (in the order they run) of the full run, and with ``changed`` of
    `validate --changed` after one service's SLO changed; a failing validator is reported (its
    findings on stderr) and measured all the same."""
    loaded = spec_with(services)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "build"
        runs["full"] = _run(services, out, loaded, reuse=False)
        if changed:
            edited = load_spec_text(loaded.text.replace(CHANGED_SERVICE, CHANGED_SERVICE + CHANGE), loaded.name)
            runs["changed"] = _run(services, out, edited, reuse=True)
    return runs


def _run(services: int, out: Path, loaded: LoadedSpec, reuse: bool) -> dict[str, float]:
    artifacts = generate(loaded)
    write_tree(out, artifacts)
    record = ValidationRecord.load(out, loaded.sha256, reuse=reuse)
    results = run_validators(ValidationContext(out, loaded, artifacts, record))
    for result in results:
        if result.failed:
            print(f"{services} services: {result.name} FAILED: " + "; ".join(str(f) for f in result.findings[:3]),
                  file=sys.stderr)
    return {result.name: result.seconds for result in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--changed", type=int, default=100,
                        help="also time `validate --changed` after one service's change at this size (0: never)")
    parser.add_argument("--json", type=Path, default=results_path("validate"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = {services: measure(services, services == args.changed) for services in sizes}
    columns = [(n, kind) for n in sizes for kind in runs[n]]
    names = list(runs[sizes[0]]["full"])
    print("| validator | " + " | ".join(f"{n} services{', one changed, --changed' if kind == 'changed' else ''} (s)"
                                       for n, kind in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{runs[n][kind][name]:.1f}" for n, kind in columns) + " |")
    print("| **total** | " + " | ".join(f"{sum(runs[n][kind].values()):.1f}" for n, kind in columns) + " |")
    write_results(args.json, "python bench/validate.py " + " ".join(sys.argv[1:]), {
        "sizes": [{"services": n, "seconds": runs[n]["full"], **({"changed": runs[n]["changed"]} if "changed" in runs[n]
                                                                 else {})} for n in sizes]})


if __name__ == "__main__":
    main()
