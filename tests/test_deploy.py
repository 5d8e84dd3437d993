"""`obstack deploy` against real Prometheus 2.42 and Alertmanager 0.25 processes: files land,
the servers serve them, failures roll back to the previous files, nothing foreign is touched."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from obstack.stack.deploy import files
from obstack.stack.deploy.audit import audit_log_path, default_audit_log
from obstack.stack.deploy.errors import DeployError
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.writer import write_tree
from tests.support.monitoring import AlertmanagerServer, PrometheusServer, RejectingProxy

pytestmark = pytest.mark.long_running(45)  # seconds in one process: scheduled first (tests/conftest.py)

REPO = Path(__file__).parent.parent

SPEC = """
project: shop
team: platform
services:
  - name: api
    targets: [api:8080]
    slos: []
    thresholds:
      error_rate: {critical: ERROR_RATE, warning: 1%}
host:
  node_exporter_targets: [host:9100]
DATASTORES
notifications:
  receivers:
    - name: pager
      type: webhook
      url: http://127.0.0.1:9/pager
  routes:
    - severity: critical
      receiver: pager
  group_wait: 1s
"""
POSTGRES = """
datastores:
  - name: orders
    kind: postgres
    dsn_env: ORDERS_DSN
"""
FOREIGN_RULES = "groups:\n- name: hand-written\n  rules:\n  - record: team:hand_written:one\n    expr: vector(1)\n"


def tree(tmp_path: Path, name: str, error_rate: str = "5%", datastores: str = "") -> tuple[Path, Path]:
    """A spec file and its generated tree (as `obstack generate` writes it)."""
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPEC.replace("ERROR_RATE", error_rate).replace("DATASTORES", datastores), encoding="utf-8")
    out = tmp_path / f"{name}-build"
    write_tree(out, generate(load_spec(spec)))
    return spec, out


def deploy(spec: Path, out: Path, audit: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "obstack", "deploy", "--spec", str(spec), "--out", str(out),
                           "--audit-log", str(audit), *targets],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def prometheus_args(server: PrometheusServer, url: str | None = None) -> list[str]:
    return ["--prometheus", url or server.url, "--rules-dir", str(server.rules_dir)]


def alertmanager_args(server: AlertmanagerServer, config: Path | None = None) -> list[str]:
    return ["--alertmanager", server.url, "--alertmanager-config", str(config or server.config_path)]


def snapshot_dir(directory: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(directory).as_posix(): (p.read_text(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def group_names(out: Path) -> set[str]:
    return {g["name"] for f in sorted((out / "prometheus/rules").glob("*.yml"))
            for g in yaml.safe_load(f.read_text())["groups"]}


def audit_lines(audit: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in audit.read_text().splitlines()]


@pytest.fixture
def prometheus() -> Iterator[PrometheusServer]:
    with PrometheusServer() as server:
        yield server


@pytest.fixture
def alertmanager() -> Iterator[AlertmanagerServer]:
    with AlertmanagerServer() as server:
        yield server


def assert_evaluating(server: PrometheusServer, names: set[str]) -> None:
    """Every named group served with health ok, and evaluation still going on (a newer lastEvaluation)."""
    first = {g["name"]: g["lastEvaluation"] for g in server.wait_evaluated(names)}
    time.sleep(1.5)
    again = {g["name"]: g["lastEvaluation"] for g in server.wait_evaluated(names)}
    assert all(again[name] > first[name] for name in names)


def test_a_valid_deploy_is_served_and_a_second_one_changes_nothing(
        tmp_path: Path, prometheus: PrometheusServer, alertmanager: AlertmanagerServer) -> None:
    spec, out = tree(tmp_path, "a")
    (prometheus.rules_dir / "hand-written.yml").write_text(FOREIGN_RULES)
    audit = tmp_path / "audit.jsonl"
    targets = [*prometheus_args(prometheus), *alertmanager_args(alertmanager)]

    first = deploy(spec, out, audit, *targets)
    assert first.returncode == 0, first.stderr
    assert_evaluating(prometheus, group_names(out) | {"hand-written"})
    served = yaml.safe_load(alertmanager.config_original())
    generated = yaml.safe_load((out / "alertmanager/alertmanager.yml").read_text())["route"]["routes"]
    assert [r["receiver"] for r in served["route"]["routes"]] == [r["receiver"] for r in generated]
    assert "pager" in [r["receiver"] for r in generated]
    assert (alertmanager.config_dir / "templates/obstack.tmpl").read_text() == (out / "alertmanager/templates/obstack.tmpl").read_text()
    assert (prometheus.rules_dir / "hand-written.yml").read_text() == FOREIGN_RULES

    before = snapshot_dir(prometheus.rules_dir), snapshot_dir(alertmanager.config_dir)
    second = deploy(spec, out, audit, *targets)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stderr
    assert (snapshot_dir(prometheus.rules_dir), snapshot_dir(alertmanager.config_dir)) == before

    records = audit_lines(audit)
    assert [r["result"] for r in records] == ["ok", "nothing to do"]
    assert set(records[0]) == {"time", "user", "spec", "spec_sha256", "targets", "changed", "result"}
    assert set(records[0]["targets"]) == {"prometheus", "alertmanager"}  # type: ignore[arg-type]
    assert "created services.yml" in records[0]["changed"]["prometheus"]  # type: ignore[index]
    assert records[0]["spec_sha256"] == load_spec(spec).sha256


def test_dry_run_and_diff_change_nothing_and_show_the_diff(tmp_path: Path, prometheus: PrometheusServer) -> None:
    spec_a, out_a = tree(tmp_path, "a")
    audit = tmp_path / "audit.jsonl"
    assert deploy(spec_a, out_a, audit, *prometheus_args(prometheus)).returncode == 0
    spec_b, out_b = tree(tmp_path, "b", error_rate="10%")
    before = snapshot_dir(prometheus.rules_dir)
    for flag in ("--dry-run", "--diff"):
        result = deploy(spec_b, out_b, audit, *prometheus_args(prometheus), flag)
        assert result.returncode == 0, result.stderr
        assert "+++ b/prometheus/services.yml" in result.stdout
        assert any(line.startswith("+") and "0.1" in line for line in result.stdout.splitlines())
        assert any(line.startswith("-") and "0.05" in line for line in result.stdout.splitlines())
    assert "updated" in deploy(spec_b, out_b, audit, *prometheus_args(prometheus), "--dry-run").stderr
    assert snapshot_dir(prometheus.rules_dir) == before
    assert [r["result"] for r in audit_lines(audit)] == ["ok"]  # previews are not deploys


def test_a_broken_tree_is_refused_and_the_previous_config_keeps_serving(
        tmp_path: Path, prometheus: PrometheusServer, alertmanager: AlertmanagerServer) -> None:
    spec, out = tree(tmp_path, "a")
    audit = tmp_path / "audit.jsonl"
    targets = [*prometheus_args(prometheus), *alertmanager_args(alertmanager)]
    assert deploy(spec, out, audit, *targets).returncode == 0
    served_config = alertmanager.config_original()
    before = snapshot_dir(prometheus.rules_dir), snapshot_dir(alertmanager.config_dir)

    rules = out / "prometheus/rules/services.yml"
    rules.write_text(rules.read_text().replace("expr: ", "expr: sum(", 1))
    broken_rules = deploy(spec, out, audit, *prometheus_args(prometheus))
    assert broken_rules.returncode == 1
    assert "promtool check rules" in broken_rules.stderr and "nothing changed" in broken_rules.stderr

    write_tree(out, generate(load_spec(spec)), force=True)  # the edited file put back
    config = out / "alertmanager/alertmanager.yml"
    config.write_text(config.read_text().replace("receiver: pager", "receiver: nobody", 1))
    broken_config = deploy(spec, out, audit, *alertmanager_args(alertmanager))
    assert broken_config.returncode == 1 and "amtool check-config" in broken_config.stderr

    assert (snapshot_dir(prometheus.rules_dir), snapshot_dir(alertmanager.config_dir)) == before
    assert_evaluating(prometheus, group_names(out))
    assert alertmanager.config_original() == served_config
    assert [r["result"] for r in audit_lines(audit)][1:] == ["refused: pre-flight validators failed"] * 2


def test_a_rejected_reload_restores_the_previous_files_which_keep_serving(
        tmp_path: Path, prometheus: PrometheusServer) -> None:
    spec_a, out_a = tree(tmp_path, "a")
    audit = tmp_path / "audit.jsonl"
    (prometheus.rules_dir / "hand-written.yml").write_text(FOREIGN_RULES)
    assert deploy(spec_a, out_a, audit, *prometheus_args(prometheus)).returncode == 0
    before = snapshot_dir(prometheus.rules_dir)
    spec_b, out_b = tree(tmp_path, "b", error_rate="10%", datastores=POSTGRES)
    with RejectingProxy(prometheus.url, reject=1) as proxy:
        result = deploy(spec_b, out_b, audit, *prometheus_args(prometheus, proxy.url))
        assert proxy.rejected == 1
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "prometheus rejected the reload (500)" in line and "prometheus restored" in line
    assert {k: v[0] for k, v in snapshot_dir(prometheus.rules_dir).items()} == {k: v[0] for k, v in before.items()}
    assert_evaluating(prometheus, group_names(out_a) | {"hand-written"})
    assert {g["name"] for g in prometheus.rules()} == group_names(out_a) | {"hand-written"}
    assert audit_lines(audit)[-1]["result"].startswith("failed: prometheus rejected the reload")  # type: ignore[union-attr]


def test_a_verification_mismatch_rolls_back(tmp_path: Path) -> None:
    """Prometheus loads a fixed list of rule files: a new file is written but never served."""
    spec_a, out_a = tree(tmp_path, "a")
    listed = tuple(f"rules/{p.name}" for p in sorted((out_a / "prometheus/rules").glob("*.yml")))
    audit = tmp_path / "audit.jsonl"
    with PrometheusServer(rule_files=listed) as prometheus:
        assert deploy(spec_a, out_a, audit, *prometheus_args(prometheus)).returncode == 0
        spec_b, out_b = tree(tmp_path, "b", datastores=POSTGRES)
        assert (out_b / "prometheus/rules/datastores.yml").exists()
        result = deploy(spec_b, out_b, audit, *prometheus_args(prometheus))
        assert result.returncode == 1
        assert "does not serve rule group" in result.stderr and "datastores.yml" in result.stderr
        assert not (prometheus.rules_dir / "datastores.yml").exists()
        assert sorted(p.name for p in prometheus.rules_dir.glob("*.yml")) == [Path(f).name for f in listed]
        assert_evaluating(prometheus, group_names(out_a))


def test_an_alertmanager_loading_another_file_is_a_mismatch_and_is_rolled_back(
        tmp_path: Path, alertmanager: AlertmanagerServer) -> None:
    spec, out = tree(tmp_path, "a")
    served = alertmanager.config_original()
    elsewhere = tmp_path / "elsewhere" / "alertmanager.yml"
    result = deploy(spec, out, tmp_path / "audit.jsonl", *alertmanager_args(alertmanager, elsewhere))
    assert result.returncode == 1
    assert "alertmanager does not serve the written config" in result.stderr
    assert "alertmanager restored" in result.stderr
    assert not elsewhere.exists() and not (elsewhere.parent / "templates/obstack.tmpl").exists()
    assert alertmanager.config_original() == served


def test_files_obstack_did_not_write_are_never_replaced(tmp_path: Path, prometheus: PrometheusServer) -> None:
    spec, out = tree(tmp_path, "a")
    (prometheus.rules_dir / "services.yml").write_text(FOREIGN_RULES)
    result = deploy(spec, out, tmp_path / "audit.jsonl", *prometheus_args(prometheus))
    assert result.returncode == 1
    assert "services.yml exists and was not written by obstack" in result.stderr
    assert sorted(p.name for p in prometheus.rules_dir.iterdir()) == ["services.yml"]
    assert (prometheus.rules_dir / "services.yml").read_text() == FOREIGN_RULES


def test_restore_puts_back_exactly_the_previous_files(tmp_path: Path) -> None:
    directory = tmp_path / "rules"
    files.write(directory, {"a.yml": "a\n", "b.yml": "b\n"})
    (directory / "mine.yml").write_text("someone else's\n")
    saved = files.snapshot(directory)
    files.write(directory, {"a.yml": "A\n", "c.yml": "c\n"})
    assert [c.state for c in files.plan(directory, {"a.yml": "a\n"})] == ["updated", "removed"]
    files.restore(saved)
    assert {p.name: p.read_text() for p in directory.glob("*.yml")} == {"a.yml": "a\n", "b.yml": "b\n", "mine.yml": "someone else's\n"}


@pytest.mark.parametrize("wanted", [{"a.yml": "new\n", "b.yml": "b\n"}, {"b.yml": "b\n"}], ids=["replace", "remove"])
def test_a_deployed_file_someone_edited_is_neither_replaced_nor_removed(tmp_path: Path, wanted: dict[str, str]) -> None:
    directory = tmp_path / "rules"
    files.write(directory, {"a.yml": "a\n", "b.yml": "b\n"})
    (directory / "a.yml").write_text("a, fixed by hand on the server\n")
    with pytest.raises(DeployError, match=r"a\.yml was edited since obstack wrote it .*: move it away"):
        files.plan(directory, wanted)
    with pytest.raises(DeployError, match="a.yml was edited since obstack wrote it"):
        files.write(directory, wanted)
    assert (directory / "a.yml").read_text() == "a, fixed by hand on the server\n"


def test_the_audit_log_defaults_to_the_users_state_directory_never_the_working_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_audit_log({}, home) == home / ".local/state/obstack/deploy-audit.jsonl"
    assert default_audit_log({"XDG_STATE_HOME": str(tmp_path / "state")}, home) == tmp_path / "state/obstack/deploy-audit.jsonl"
    # The XDG rule: a relative XDG_STATE_HOME is invalid and ignored.
    assert default_audit_log({"XDG_STATE_HOME": "state"}, home) == home / ".local/state/obstack/deploy-audit.jsonl"
    assert audit_log_path("/var/log/deploys.jsonl") == Path("/var/log/deploys.jsonl")
    assert audit_log_path(None).is_absolute()


def test_bad_target_options_are_bad_input(tmp_path: Path) -> None:
    spec, out = tree(tmp_path, "a")
    missing = deploy(spec, out, tmp_path / "audit.jsonl", "--prometheus", "http://127.0.0.1:9")
    assert missing.returncode == 2 and missing.stderr.strip() == \
        "--prometheus needs --rules-dir too (or set both under deploy: in the spec)"
    nothing = deploy(spec, out, tmp_path / "audit.jsonl")
    assert nothing.returncode == 2 and "nothing to deploy to" in nothing.stderr


def test_an_unreachable_server_fails_before_anything_is_written(tmp_path: Path) -> None:
    spec, out = tree(tmp_path, "a")
    rules = tmp_path / "rules"
    rules.mkdir()
    result = deploy(spec, out, tmp_path / "audit.jsonl", "--prometheus", "http://127.0.0.1:9", "--rules-dir", str(rules))
    assert result.returncode == 1
    assert "cannot reach prometheus" in result.stderr and "nothing changed" in result.stderr
    assert list(rules.iterdir()) == []
