"""Property: for any valid thresholds, the generated rules and their generated tests agree under promtool."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec_text
from tests.test_alert_rules import check_and_test

# The rule files (and their tests) the thresholds below reach; stack.yml reads none of them
# (test_only_the_threshold_files_depend_on_the_thresholds), so each example skips its 2 s of tests.
THRESHOLD_FILES = ("services", "datastores", "queues", "host")

SPEC = """
project: prop
services:
  - name: api
    targets: [api:80]
    thresholds:
      error_rate: {{critical: {critical_errors}%, warning: {warning_errors}%}}
      latency_p95: {{critical: {critical_latency}ms, warning: {warning_latency}ms}}
    slos: []
datastores:
  - {{name: cache, kind: redis, url_env: URL, thresholds: {{connections: {{warning: {pool}%}}}}}}
queues:
  - {{name: jobs, backend: bullmq, datastore: cache, thresholds: {{backlog: {{critical: {backlog}, warning: {depth}}}}}}}
host:
  thresholds:
    memory_used: {{critical: {memory}%}}
    disk_free: {{critical: {disk}%}}
"""


@st.composite
def thresholds(draw: st.DrawFn) -> dict[str, object]:
    warning_errors = draw(st.integers(1, 40))
    warning_latency = draw(st.integers(20, 4000))
    depth = draw(st.integers(1, 5000))
    return {
        "warning_errors": warning_errors,
        "critical_errors": draw(st.integers(warning_errors + 1, 60)),
        "warning_latency": warning_latency,
        # Above 5s the next bucket bound of prom-client's is its highest (10s), where a p95 can never
        # exceed it: the spec refuses such a threshold (tests/test_spec_errors.py).
        "critical_latency": draw(st.integers(warning_latency + 10, 5000)),
        "pool": draw(st.integers(30, 95)),
        "depth": depth,
        "backlog": draw(st.integers(depth + 1, 20000)),
        "memory": draw(st.integers(30, 95)),
        "disk": draw(st.integers(2, 40)),
    }


# 20 random examples and the two found ones: about 2.7 s of CPU each (promtool runs the four files'
# tests, two at a time), 59 s of CPU in all, 164 s of wall time on 2 cores at load average 12.
@pytest.mark.slow
@pytest.mark.timeout(600)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(thresholds())
# Found by this test: the synthesized p95 (343.75ms) sat on a rounding tie, which PromQL's floats
# printed as 343.7ms and the expectation as 343.8ms.
@example({"warning_errors": 1, "critical_errors": 2, "warning_latency": 172, "critical_latency": 182, "pool": 30,
          "depth": 1, "backlog": 2, "memory": 30, "disk": 2})
# Found by this test: a 5001ms p95 compared at the 10s bound could never fire (now a spec error);
# 5000ms is the highest threshold that can, and its firing level must stay under 10s.
@example({"warning_errors": 1, "critical_errors": 2, "warning_latency": 20, "critical_latency": 5000, "pool": 30,
          "depth": 1, "backlog": 2, "memory": 30, "disk": 2})
def test_generated_tests_pass_for_any_valid_thresholds(values: dict[str, object]) -> None:
    spec = load_spec_text(SPEC.format(**values), "prop.yaml").spec
    with tempfile.TemporaryDirectory() as directory:
        check_and_test(spec, Path(directory), only=THRESHOLD_FILES)


LOW = {"warning_errors": 1, "critical_errors": 2, "warning_latency": 20, "critical_latency": 30, "pool": 30,
       "depth": 1, "backlog": 2, "memory": 30, "disk": 2}
HIGH = {"warning_errors": 40, "critical_errors": 60, "warning_latency": 4000, "critical_latency": 5000, "pool": 95,
        "depth": 5000, "backlog": 20000, "memory": 95, "disk": 40}


def test_only_the_threshold_files_depend_on_the_thresholds() -> None:
    def prometheus_files(values: dict[str, object]) -> dict[str, str]:
        artifacts = generate(load_spec_text(SPEC.format(**values), "prop.yaml"))
        return {a.path.as_posix(): a.content for a in artifacts if a.path.parts[0] == "prometheus"}
    low, high = prometheus_files(LOW), prometheus_files(HIGH)
    changed = {path.split("/")[-1].split(".")[0] for path in low if low[path] != high[path]}
    assert changed == set(THRESHOLD_FILES)

