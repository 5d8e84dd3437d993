"""host: null turns host monitoring off: no node-exporter job, service, alert, test or dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from obstack.alerts.rule_files import rule_files
from obstack.stack.pipeline import generate
from obstack.stack.spec.errors import SpecError
from obstack.stack.spec.loader import load_spec_text
from tests.test_alert_rules import check_and_test

ORDERS_PATH = Path(__file__).parent / "specs" / "orders.yaml"
ORDERS = ORDERS_PATH.read_text()
NO_HOST = ORDERS.replace("\ndatastores:", "\nhost: null\ndatastores:", 1)


def test_host_null_leaves_no_trace_of_node_exporter_in_any_artifact() -> None:
    loaded = load_spec_text(NO_HOST, str(ORDERS_PATH))
    generated = {a.path.as_posix(): a.content for a in generate(loaded)}
    mentions = [path for path, text in generated.items()
                if path != "compose/exporter/stack.yaml" and path != "kubernetes/exporter.yaml"
                and any(word in text for word in ("node-exporter", "node_memory", "node_filesystem", "NodeExporterDown"))]
    assert mentions == []
    assert "prometheus/rules/host.yml" not in generated
    assert not [p for p in generated if p.endswith("-host.json")]
    jobs = [job["job_name"] for job in yaml.safe_load(generated["prometheus/prometheus.yml"])["scrape_configs"]]
    assert "node" not in jobs and "obstack-exporter" in jobs
    assert "node-exporter" not in yaml.safe_load(generated["compose/docker-compose.yml"])["services"]
    # With the host, all of them are there: the comparison is real.
    with_host = {a.path.as_posix() for a in generate(load_spec_text(ORDERS, str(ORDERS_PATH)))}
    assert "prometheus/rules/host.yml" in with_host and any(p.endswith("-host.json") for p in with_host)


def test_stack_rules_without_the_node_job_pass_promtool_and_their_tests(tmp_path: Path) -> None:
    spec = load_spec_text(NO_HOST, str(ORDERS_PATH)).spec
    assert "NodeExporterDown" not in {r.name for f in rule_files(spec) for r in f.alert_rules}
    check_and_test(spec, tmp_path, only=("stack",))


def test_empty_node_exporter_targets_point_at_host_null() -> None:
    text = ORDERS.replace("\ndatastores:", "\nhost: {node_exporter_targets: []}\ndatastores:", 1)
    with pytest.raises(SpecError, match="set 'host: null' to turn host monitoring off"):
        load_spec_text(text, str(ORDERS_PATH))


def test_an_alert_override_of_a_host_alert_without_host_is_an_unknown_name() -> None:
    text = NO_HOST.replace("\nalerts:\n", "\nalerts:\n  HighMemoryUsage: {severity: warning}\n", 1)
    load_spec_text(text.replace("host: null\n", ""), str(ORDERS_PATH))  # with the host, the name exists
    with pytest.raises(SpecError, match="no generated alert is named 'HighMemoryUsage'"):
        load_spec_text(text, str(ORDERS_PATH))
