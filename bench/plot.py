"""Draw the benchmark results (bench/results/*.json) as the PNG plots docs/benchmarks.md shows.

Run: python bench/plot.py [--results bench/results] [--out docs/img]
Each plot is drawn from one results file when it is present; a missing file is reported and
skipped, so one bench can be rerun and replotted alone. The PNGs are deterministic for the
same results (no timestamps in the image metadata).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OURS, REFERENCE, BOUND = "#1f77b4", "#ff7f0e", "#d62728"
PNG_METADATA = {"Software": None}  # keep the bytes independent of the matplotlib build


def plain_numbers(axis: Axes, *, x: bool = True, y: bool = True) -> None:
    """Log axes labelled 2, 10, 300 rather than 2×10⁰, 10¹, 3×10²."""
    formatter = FuncFormatter(lambda value, _: f"{value:g}")
    for wanted, ticks in ((x, axis.xaxis), (y, axis.yaxis)):
        if wanted:
            ticks.set_major_formatter(formatter)
            ticks.set_minor_formatter(FuncFormatter(lambda value, _: ""))


def generation(data: dict[str, Any]) -> Figure:
    sizes = data["sizes"]
    services = [row["services"] for row in sizes]
    seconds = [row["seconds"] for row in sizes]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    per_service = seconds[0] / services[0]
    left.loglog(services, seconds, "o-", color=OURS, label="measured")
    left.loglog(services, [per_service * n for n in services], "--", color="grey", label="linear from the smallest")
    left.set(xlabel="services in the spec", ylabel="generation time (s, log)", title="Generation time")
    left.set_xticks(services)
    plain_numbers(left)
    left.legend()
    right.bar([str(n) for n in services], [row["ratio"] for row in sizes], color=OURS)
    right.axhline(1.0, color="grey", linestyle="--")
    right.set(xlabel="services in the spec", ylabel="time per service / smallest's",
              title="Per-service cost (1.0 = linear)")
    for index, row in enumerate(sizes):
        right.annotate(f"{row['ratio']:.2f}", (index, row["ratio"]), ha="center", va="bottom")
    return figure


def scrape_latency(data: dict[str, Any]) -> Figure:
    exporters = data["exporters"]
    versions = data.get("references", {})
    pairs = [("Postgres", "obstack postgres", "postgres_exporter", versions.get("postgres")),
             ("Redis", "obstack redis", "redis_exporter", versions.get("redis"))]
    modes = ("fresh", "keep-alive")
    figure, grid = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for row, (title, ours, reference, version) in zip(grid, pairs):
        for axis, mode in zip(row, modes):
            for name, color, label in ((ours, OURS, "obstack exporter"),
                                       (reference, REFERENCE, f"{reference} {version or ''}".strip())):
                measured = exporters[name][mode]
                values = sorted(measured["scrapes_ms"])
                share = [(index + 1) / len(values) for index in range(len(values))]
                axis.plot(values, share, color=color, label=f"{label} (p50 {measured['p50_ms']:.1f} ms)")
            axis.set_xscale("log")
            plain_numbers(axis, y=False)
            axis.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}" if str(value)[0] in "25" else ""))
            axis.set(xlabel="scrape time (ms, log)", ylabel="share of scrapes",
                     title=f"{title}, {mode} connection: {data['scrapes']} scrapes each")
            axis.axhline(0.5, color="grey", linewidth=0.5)
            axis.axhline(0.99, color="grey", linewidth=0.5)
            axis.legend(loc="lower right", fontsize="small")
    return figure


def scrape_concurrency(data: dict[str, Any]) -> Figure:
    bursts = data["bursts"]
    names = list(dict.fromkeys(row["exporter"] for row in bursts))
    figure, axis = plt.subplots(figsize=(7, 4))
    for name in names:
        rows = [row for row in bursts if row["exporter"] == name]
        axis.loglog([row["scrapers"] for row in rows], [row["max_ms"] for row in rows],
                    "o-" if name.startswith("obstack") else "s:", label=f"{name} (slowest scrape)",
                    color=OURS if name.startswith("obstack") else REFERENCE,
                    alpha=1.0 if name.endswith("postgres") or name.startswith("postgres") else 0.6)
    axis.axhline(data["deadline_s"] * 1000, color=BOUND, linestyle="--", label=f"deadline ({data['deadline_s']:g} s)")
    axis.set_xticks(sorted({row["scrapers"] for row in bursts}))
    plain_numbers(axis)
    axis.set(xlabel="scrapers released at once", ylabel="slowest scrape (ms, log)",
             title=f"Concurrent scrapes: slowest of {data['rounds']} bursts")
    axis.legend(fontsize="small")
    return figure


def queue_probe(data: dict[str, Any]) -> Figure:
    counts = data["counts"]
    queues = [row["queues"] for row in counts]
    figure, axis = plt.subplots(figsize=(7, 4))
    for key, label, style in (("probe_p50_ms", "probe p50", "o-"), ("probe_p99_ms", "probe p99", "o:"),
                              ("scrape_p50_ms", "full scrape p50", "s-"), ("scrape_p99_ms", "full scrape p99", "s:")):
        axis.loglog(queues, [row[key] for row in counts], style, label=label,
                    color=OURS if key.startswith("probe") else REFERENCE)
    axis.axhline(100, color=BOUND, linestyle="--", label="target: 1000 queues probed in 100 ms")
    axis.set(xlabel="BullMQ queues on one Redis", ylabel="ms (log)", title="Redis probe and /metrics scrape")
    axis.set_xticks(queues)
    plain_numbers(axis)
    axis.legend(fontsize="small")
    return figure


def rule_eval(data: dict[str, Any]) -> Figure:
    """Before/after: evaluation time per minute, and per group kind per evaluation."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    variants = [("before", f"before ({data['before_revision']})", REFERENCE), ("after", "after", OURS)]
    per_minute = [data["per_minute_ms"][key] for key, _, _ in variants]
    left.barh([label for _, label, _ in variants], per_minute, color=[color for _, _, color in variants])
    cores = data.get("prometheus_cpu_cores")
    used = f"\nPrometheus CPU: {cores['before']:.2f} / {cores['after']:.2f} cores" if cores else ""
    left.set(xlabel="ms of rule evaluation per minute (all groups)",
             title=f"{data['services']} services, {data['days']:g} days of data{used}")
    for index, value in enumerate(per_minute):
        left.annotate(f" {value:.0f}", (value, index), va="center", ha="left", fontsize="small")
    # Orders of magnitude apart (an overloaded Prometheus beside one that keeps up): a log scale.
    wide = max(per_minute) > 50 * min(per_minute)
    if wide:
        left.set_xscale("log")
        left.set_xlim(min(per_minute) / 2, max(per_minute) * 20)
    else:
        left.set_xlim(0, max(per_minute) * 1.2)
    left.invert_yaxis()
    kinds = data["by_kind_ms"]
    labels = sorted({k for values in kinds.values() for k in values if max(
        kinds["before"].get(k, 0), kinds["after"].get(k, 0)) >= 1})
    height = 0.4
    for offset, (key, label, color) in enumerate(variants):
        right.barh([i + offset * height for i in range(len(labels))], [kinds[key].get(k, 0) for k in labels],
                   height=height, color=color, label=label)
    right.set_yticks([i + height / 2 for i in range(len(labels))], labels, fontsize="small")
    right.set(xlabel="ms per evaluation (groups of one kind summed)" + (", log scale" if wide else ""),
              title="By group kind")
    if wide:
        right.set_xscale("log")
    right.invert_yaxis()
    right.legend(fontsize="small")
    return figure


def detection(data: dict[str, Any]) -> Figure:
    faults = data["faults"]
    names = list(faults)
    figure, axis = plt.subplots(figsize=(8, 4))
    for index, name in enumerate(names):
        latencies = faults[name]["latencies"]
        axis.scatter(latencies, [index] * len(latencies), color=OURS, zorder=3,
                     label="measured (one dot per run)" if index == 0 else None)
        axis.plot([statistics.median(latencies)] * 2, [index - 0.3, index + 0.3], color=OURS, linewidth=2)
        axis.plot([faults[name]["bound"]] * 2, [index - 0.35, index + 0.35], color=BOUND, linewidth=2,
                  label="bound: scrape + evaluation + for + group_wait + slack" if index == 0 else None)
    axis.set_yticks(range(len(names)), names)
    axis.set_ylim(len(names) - 0.5, -1.8)  # inverted, with room for the legend on top
    axis.set_xlim(0, max(fault["bound"] for fault in faults.values()) * 1.1)
    axis.set(xlabel="seconds from fault to notification (obstack local --fast); bar: median",
             title="Detection latency per fault")
    axis.legend(loc="upper center", fontsize="small", ncols=1)
    return figure


def validate(data: dict[str, Any]) -> Figure:
    """Seconds per validator for each spec size (and `--changed` after one service's change,
    where measured); validators under 2% of every total share a bar."""
    runs = [(f"{size['services']} services", size["seconds"]) for size in data["sizes"]]
    runs += [(f"{size['services']} services, one changed, --changed", size["changed"])
             for size in data["sizes"] if "changed" in size]
    totals = [sum(seconds.values()) for _, seconds in runs]
    names = [name for name in runs[0][1]
             if any(seconds[name] >= 0.02 * total for (_, seconds), total in zip(runs, totals))]
    rows = names + ["all others"]

    def value(seconds: dict[str, float], row: str) -> float:
        if row != "all others":
            return float(seconds[row])
        return sum(v for name, v in seconds.items() if name not in names)

    figure, axis = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.5))
    height = 0.8 / len(runs)
    for index, (label, seconds) in enumerate(runs):
        positions = [row + index * height for row in range(len(rows))]
        axis.barh(positions, [value(seconds, row) for row in rows], height=height,
                  label=f"{label}: {totals[index]:.0f} s in all")
    axis.set_yticks([row + height * (len(runs) - 1) / 2 for row in range(len(rows))], rows)
    axis.invert_yaxis()
    axis.set(xlabel="seconds (wall time)", title="obstack validate, per validator")
    axis.legend(loc="lower right", fontsize="small")
    return figure


def mutation(data: dict[str, Any]) -> Figure:
    """Before/after per service count: seconds a mutant, and the whole services.yml estimated."""
    rows = data["rows"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    labels = [f"{row['services']} services\n({row['sample']} of {row['mutants']} mutants)" for row in rows]
    height = 0.4
    for offset, (key, color) in enumerate((("before", REFERENCE), ("after", OURS))):
        measured = [(index, row[key]) for index, row in enumerate(rows) if row.get(key) is not None]
        positions = [index + offset * height for index, _ in measured]
        per_mutant = [run["per_mutant"] for _, run in measured]
        whole = [run["whole_file"] / 60 for _, run in measured]
        left.barh(positions, per_mutant, height=height, color=color, label=key)
        right.barh(positions, whole, height=height, color=color, label=key)
        for axis, values, unit in ((left, per_mutant, "s"), (right, whole, "min")):
            for position, value in zip(positions, values):
                axis.annotate(f" {value:.1f} {unit}", (value, position), va="center", ha="left", fontsize="small")
    for axis, title, xlabel in ((left, "Seconds a mutant (sample, 2 cores)", "seconds"),
                                (right, "Whole services.yml, estimated", "minutes")):
        axis.set_yticks([index + height / 2 for index in range(len(rows))], labels, fontsize="small")
        axis.invert_yaxis()
        axis.set(title=title, xlabel=xlabel)
        axis.set_xlim(0, axis.get_xlim()[1] * 1.25)
        axis.legend(fontsize="small", loc="upper right")
    return figure


PLOTS: dict[str, Callable[[dict[str, Any]], Figure]] = {
    "generation": generation, "scrape_latency": scrape_latency, "scrape_concurrency": scrape_concurrency,
    "queue_probe": queue_probe,
    "rule_eval": rule_eval, "rule_eval_1000": rule_eval, "detection": detection, "validate": validate, "mutation": mutation,
}


def image_name(bench: str) -> str:
    return f"bench-{bench.replace('_', '-')}.png"


def draw(results: Path, out: Path) -> list[Path]:
    """Every plot whose results file exists, written to ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for bench, plot in PLOTS.items():
        source = results / f"{bench}.json"
        if not source.exists():
            print(f"skipped {bench}: no {source} (run bench/{bench}.py)", file=sys.stderr)
            continue
        figure = plot(json.loads(source.read_text()))
        figure.tight_layout()
        target = out / image_name(bench)
        figure.savefig(target, dpi=100, metadata=PNG_METADATA)
        plt.close(figure)
        written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    for path in draw(args.results, args.out):
        print(path)


if __name__ == "__main__":
    main()
