"""Rule evaluation cost in a real Prometheus loaded with series for N services (default 100).

Run: python bench/rule_eval.py [--services 100] [--seconds 90] [--json FILE]
A spec with N services (bench/generation.py's) is generated; Prometheus (the installed binary)
loads the generated rule files and scrapes every service job of the generated prometheus.yml,
each pointed at one in-process HTTP server that serves that service's
``http_request_duration_seconds`` histogram (3 routes x 2 status codes x 11 buckets) with
counters growing at a steady rate. Scrape and evaluation run every 5 s; after ``--seconds`` of
data the per-group ``prometheus_rule_group_last_duration_seconds`` is sampled on every
evaluation for 30 s and the median printed, in two variants: the generated rules ("with
recording rules") and the same alerts with each recorded series replaced by the expression
that records it ("without"): what the alerts would cost if they did the work themselves.
Results also go to bench/results/rule_eval.json for bench/plot.py.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from common import free_port, results_path, wait_http, write_results
from generation import spec_with

from alerts.prometheus_config import prometheus_config_artifacts
from alerts.rule_files import rule_file_artifacts

INTERVAL = 5
PER_SERVICE = re.compile(r"slo-.+")  # the per-service SLO groups (slo-<service>)
SERVICE_RECORDING = re.compile(r"service-.+-recording")  # the per-service request recordings
ROUTES = ("/api/a", "/api/b", "/api/c")
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf")
START = time.time()


def exposition(service: str) -> bytes:
    """One service's histogram; counters grow with time (50 req/s per route, 1% errors)."""
    elapsed = time.time() - START
    lines = []
    for route in ROUTES:
        for code, share in (("200", 0.99), ("500", 0.01)):
            count = int(50 * share * elapsed)
            labels = f'method="GET",route="{route}",status_code="{code}"'
            for index, le in enumerate(BUCKETS):
                lines.append(f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} '
                             f"{int(count * min(1.0, (index + 1) / 6))}")
            lines.append(f"http_request_duration_seconds_count{{{labels}}} {count}")
            lines.append(f"http_request_duration_seconds_sum{{{labels}}} {count * 0.04:.3f}")
    return ("\n".join(lines) + "\n").encode()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = exposition(self.path.rsplit("/", 1)[-1])
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def inline_recording_rules(documents: dict[str, Any]) -> dict[str, Any]:
    """The rule files without recording rules: each reference ``record{k="v",...}`` in an alert is
    replaced by the expression of the recording rule with that name whose static labels agree."""
    records: dict[str, list[dict[str, Any]]] = {}
    for doc in documents.values():
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    records.setdefault(rule["record"], []).append(rule)
    reference = re.compile(r"([a-z_]+:[a-z0-9_:]+)(\{([^}]*)\})?")

    def agrees(rule: dict[str, Any], matchers: list[tuple[str, str, str]]) -> bool:
        static = rule.get("labels", {})
        return all(key not in static or (static[key] == value if op == "=" else re.fullmatch(value, static[key]))
                   for key, op, value in matchers)

    def inline(rule: dict[str, Any]) -> str:
        expr = f"({rule['expr']})"
        for key, value in rule.get("labels", {}).items():  # the labels the recording rule adds
            expr = f'label_replace({expr}, "{key}", "{value}", "", "")'
        return expr

    def replace(match: re.Match[str]) -> str:
        matchers = re.findall(r'(\w+)\s*(=~|=)\s*"([^"]*)"', match.group(3) or "")
        found = [r for r in records.get(match.group(1), []) if agrees(r, matchers)]
        if not found:
            raise ValueError(f"{match.group(0)}: no recording rule matches; cannot inline")
        return "(" + " or ".join(inline(r) for r in found) + ")" if len(found) > 1 else inline(found[0])

    result: dict[str, Any] = {}
    for name, doc in documents.items():
        groups = []
        for group in doc["groups"]:
            rules = [rule for rule in group["rules"] if "alert" in rule]
            for rule in rules:
                for _ in range(5):  # recorded series built on recorded series
                    expanded = reference.sub(replace, str(rule["expr"]))
                    if expanded == rule["expr"]:
                        break
                    rule["expr"] = expanded
            if rules:
                groups.append({**group, "rules": rules})
        result[name] = {"groups": groups}
    return result


def one_slo_alert_group(documents: dict[str, Any]) -> dict[str, Any]:
    """The layout before per-service SLO groups: every service's burn alerts in one serial
    ``slo-alerts`` group, the recordings left in per-service groups."""
    result = {}
    for name, doc in documents.items():
        groups, alerts = [], []
        for group in doc["groups"]:
            if PER_SERVICE.fullmatch(group["name"]):
                groups.append({**group, "name": f"{group['name']}-recording",
                               "rules": [r for r in group["rules"] if "record" in r]})
                alerts += [r for r in group["rules"] if "alert" in r]
            else:
                groups.append(group)
        result[name] = {"groups": groups + ([{"name": "slo-alerts", "rules": alerts}] if alerts else [])}
    return result


def measure(rule_docs: dict[str, Any], config: dict[str, Any], seconds: float) -> dict[str, float]:
    """Median last-duration (ms) per rule group after ``seconds`` of data."""
    root = Path(tempfile.mkdtemp(prefix="bench-rule-eval-"))
    port = free_port()
    try:
        (root / "rules").mkdir()
        for name, doc in rule_docs.items():
            (root / "rules" / name).write_text(yaml.safe_dump(doc, sort_keys=False))
        (root / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        process = subprocess.Popen([shutil.which("prometheus") or "prometheus", f"--config.file={root / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={root / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_http(f"http://127.0.0.1:{port}/-/ready")
            time.sleep(seconds)  # a bench accumulates data on purpose: evaluation cost grows with it
            samples: dict[str, list[float]] = {}
            for _ in range(30 // INTERVAL):
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
                for group, value in re.findall(
                        r'prometheus_rule_group_last_duration_seconds\{rule_group="[^"]*;([^"]+)"\} (\S+)', text):
                    samples.setdefault(group, []).append(float(value) * 1000)
                time.sleep(INTERVAL)
            return {group: statistics.median(values) for group, values in samples.items()}
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--json", type=Path, default=results_path("rule_eval"))
    args = parser.parse_args()
    spec = spec_with(args.services).spec
    rule_docs = {a.path.name: yaml.safe_load(a.content) for a in rule_file_artifacts(spec)}
    config = yaml.safe_load(prometheus_config_artifacts(spec)[0].content)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{server.server_address[1]}"
    services = {s.job for s in spec.services}
    jobs = [{**job, "metrics_path": f"/metrics/{job['job_name']}",
             "static_configs": [{**sc, "targets": [address]} for sc in job["static_configs"]]}
            for job in config["scrape_configs"] if job["job_name"] in services]
    config = {"global": {"scrape_interval": f"{INTERVAL}s", "scrape_timeout": f"{INTERVAL - 1}s",
                         "evaluation_interval": f"{INTERVAL}s", "external_labels": config["global"]["external_labels"]},
              "rule_files": ["rules/*.yml"], "scrape_configs": jobs}
    with_records = measure(rule_docs, config, args.seconds)
    one_group = measure(one_slo_alert_group(rule_docs), config, args.seconds)
    without = measure(inline_recording_rules(rule_docs), config, args.seconds)
    server.shutdown()
    print(f"{args.services} services, {len(jobs)} scrape jobs, {args.seconds:g}s of data at {INTERVAL}s; "
          "median of 6 evaluations, ms\n")
    print("| rule group | generated (ms) | without recording rules (ms) |")
    print("|---|---:|---:|")
    for group, w, wo in rows(with_records, without):
        print(f"| {group} | {w} | {wo} |")
    print(f"| **total per evaluation** | {sum(with_records.values()):.1f} | {sum(without.values()):.1f} |")
    print(f"| **largest group** | {max(with_records.values()):.1f} | {max(without.values()):.1f} |")
    print(f"\nPrevious layout (every service's burn alerts in one slo-alerts group): largest group "
          f"{max(one_group.values()):.1f} ms ({max(one_group, key=one_group.__getitem__)}), "
          f"total {sum(one_group.values()):.1f} ms")
    write_results(args.json, "python bench/rule_eval.py " + " ".join(sys.argv[1:]), {
        "services": args.services, "seconds_of_data": args.seconds, "interval_s": INTERVAL,
        "with_recording_rules_ms": with_records, "one_slo_alert_group_ms": one_group,
        "without_recording_rules_ms": without})


# Groups that exist once per service, shown as one row each: (row name, pattern).
FOLDS = (("slo-SERVICE", PER_SERVICE), ("service-SERVICE-recording", SERVICE_RECORDING))


def folded(groups: dict[str, float], pattern: re.Pattern[str]) -> tuple[float, float, int] | None:
    """The per-service groups matching ``pattern`` as (sum, median, count), or None when there are none."""
    values = [v for g, v in groups.items() if pattern.fullmatch(g)]
    return (sum(values), statistics.median(values), len(values)) if values else None


def rows(with_records: dict[str, float], without: dict[str, float]) -> list[tuple[str, str, str]]:
    """One row per group, each family of per-service groups folded into one (sum; median each)."""
    def per_service(group: str) -> bool:
        return any(pattern.fullmatch(group) for _, pattern in FOLDS)

    def cell(fold: tuple[float, float, int] | None) -> str:
        return "-" if fold is None else f"{fold[0]:.1f} (median {fold[1]:.1f} each)"

    result = []
    for group in sorted({g for g in (*with_records, *without) if not per_service(g)}):
        w, wo = with_records.get(group), without.get(group)
        result.append((group, "-" if w is None else f"{w:.1f}", "-" if wo is None else f"{wo:.1f}"))
    for name, pattern in FOLDS:
        fold_w, fold_wo = folded(with_records, pattern), folded(without, pattern)
        if fold_w or fold_wo:
            count = (fold_w or fold_wo)[2]  # type: ignore[index]
            result.append((f"{name} ({count} groups)", cell(fold_w), cell(fold_wo)))
    return result


if __name__ == "__main__":
    main()
