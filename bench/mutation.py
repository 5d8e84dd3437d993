"""Mutation testing time at 10 and 100 services: before and after batching and staging.

Run: python bench/mutation.py [--services 10,100] [--sample 120,12] [--seed 1] [--before e5eefbe] [--skip-before]
                              [--json FILE]

For each size, bench/generation.py's spec with that many services, and the mutants of its
``services.yml`` (the rule file that grows with the services: 17 to 18 mutants a service). A
seeded random sample of ``--sample`` of them (one size per service count; the same mutants for
both runs: both revisions' engines make the same mutants in the same order, which the bench
checks) runs, one run after the other, with:

* **before**: the obstack at ``--before`` (a git revision, checked out in a temporary worktree),
  its own generated tree and runner: one promtool process per mutant running every test group
  that can see it;
* **after**: this checkout: richer generated tests (neighbour series, recovery, spike and late
  quiet cases), and the runner that proves join-pinned filter drops equivalent without running
  them, runs each mutant's cheap groups first (its dear ones only if it survives them) and
  judges up to 24 mutants per promtool process.

Measured per run: wall seconds for the sample, including the check that the tests pass on the
unmutated rules (paid once a run); seconds a mutant past that check; the whole file's wall
time estimated from it (per-mutant time x mutant count + the check); the sample's kill rate.
Results go to bench/results/mutation.json for bench/plot.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import ROOT, results_path, write_results
from generation import spec_with

BEFORE = "e5eefbe"  # one promtool run per mutant, every selected group, tests without neighbours

# Run in a subprocess with PYTHONPATH set to the revision under test: generate its tree, time
# its baseline check (the tests on the unmutated rules), then its run over the sampled mutants.
RUNNER = """
import json, sys, time
from pathlib import Path
import yaml
from obstack.alerts.mutation import rule_mutants
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.validate import mutation
from obstack.stack.writer import write_tree

spec, tree, chosen = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
write_tree(tree, generate(load_spec(spec)))
mutants = list(rule_mutants("services.yml", yaml.safe_load((tree / "prometheus/rules/services.yml").read_text())))
start = time.perf_counter()
if hasattr(mutation, "_baseline_groups"):  # the check covers the groups the mutants run: time it for the whole file
    stages, mutation._run_stages = mutation._run_stages, lambda *args: set()
    mutation.run_mutants(tree, mutants)
    mutation._run_stages = stages
else:  # an older runner checks every test file, mutants or none
    mutation.run_mutants(tree, [])
baseline = time.perf_counter() - start
mutation._check_baseline = lambda *args: None  # checked (and timed) above
start = time.perf_counter()
report = mutation.run_mutants(tree, [mutants[i] for i in chosen])
print(json.dumps({"seconds": time.perf_counter() - start + baseline, "baseline": baseline, "mutants": len(mutants),
                  "keys": [mutants[i].key for i in chosen], "killed": len(report.killed),
                  "equivalent": len(report.equivalent), "survived": len(report.survived),
                  "unread": len(report.unread)}))
"""


def _run(source: Path, spec: Path, workdir: Path, chosen: list[int]) -> dict[str, Any]:
    completed = subprocess.run([sys.executable, "-c", RUNNER, str(spec), str(workdir / "tree"), json.dumps(chosen)],
                               check=True, capture_output=True, text=True, cwd=source,
                               env={**os.environ, "PYTHONPATH": str(source)})
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    tested = result["killed"] + result["equivalent"] + result["survived"]
    per_mutant = (result["seconds"] - result["baseline"]) / max(1, len(chosen))
    result.update(per_mutant=per_mutant, whole_file=per_mutant * result["mutants"] + result["baseline"],
                  kill_rate=(result["killed"] + result["equivalent"]) / tested if tested else 1.0)
    return result


def _mutant_count(spec: Path) -> int:
    import yaml

    from obstack.alerts.mutation import rule_mutants
    from obstack.stack.pipeline import generate
    from obstack.stack.spec.loader import load_spec
    rules = next(a for a in generate(load_spec(spec)) if a.path.name == "services.yml")
    return len(list(rule_mutants("services.yml", yaml.safe_load(rules.content))))


def measure(services: int, sample: int, seed: int, before: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="obstack-bench-mutation-") as scratch:
        root = Path(scratch)
        spec = root / "stack.yaml"
        spec.write_text(spec_with(services).text)
        count = _mutant_count(spec)
        chosen = sorted(random.Random(seed).sample(range(count), min(sample, count)))
        old = None
        if before is not None:
            worktree = root / "before-src"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(worktree), before],
                           check=True, capture_output=True)
            try:
                (root / "before").mkdir()
                old = _run(worktree, spec, root / "before", chosen)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                               capture_output=True)
        (root / "after").mkdir()
        new = _run(ROOT, spec, root / "after", chosen)
        if old is not None and old.pop("keys") != new["keys"]:
            raise RuntimeError("the two revisions made different mutants: the sample is not comparable")
        new.pop("keys")
        revision = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                                  text=True, check=False).stdout.strip()
        return {"services": services, "mutants": count, "sample": len(chosen), "before_revision": before,
                "after_revision": revision, "before": old, "after": new}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", default="10,100")
    parser.add_argument("--sample", default="120,12", help="mutants sampled, per service count")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--skip-before", action="store_true",
                        help="only this checkout (the before runner's baseline check alone outlasts its 15-minute "
                             "timeout at 100 services)")
    parser.add_argument("--json", type=Path, default=results_path("mutation"))
    args = parser.parse_args()
    sizes = [int(n) for n in args.services.split(",")]
    samples = [int(n) for n in args.sample.split(",")]
    samples += samples[-1:] * (len(sizes) - len(samples))
    rows = [measure(n, sample, args.seed, None if args.skip_before else args.before)
            for n, sample in zip(sizes, samples)]
    print("| services | services.yml mutants | sample | run | sample wall s | baseline s | s per mutant "
          "| whole file, estimated | sample kill rate |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        for run in ("before", "after"):
            r = row[run]
            if r is None:
                continue
            print(f"| {row['services']} | {row['mutants']} | {row['sample']} | {run} | {r['seconds']:.0f} "
                  f"| {r['baseline']:.0f} | {r['per_mutant']:.2f} | {r['whole_file'] / 60:.0f} min "
                  f"| {r['kill_rate']:.1%} |")
        if row["before"] is not None:
            print(f"| {row['services']} | | | after/before | {row['after']['seconds'] / row['before']['seconds']:.2f} "
                  f"| | {row['after']['per_mutant'] / row['before']['per_mutant']:.2f} | | |")
    write_results(args.json, " ".join(["python", *sys.argv]), {"rows": rows})


if __name__ == "__main__":
    main()
