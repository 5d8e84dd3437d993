"""`obstack validate`: every validator reported in a table, errors and missing tools exit 1, warnings
only with --strict."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from obstack.stack.spec.loader import default_spec_text
from tests.support.servers import require_binary

pytestmark = pytest.mark.long_running(240)  # seconds in one process: scheduled first (tests/conftest.py)


def obstack(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # A guard against a hang, not a time limit: validating a two-service spec runs each service's
    # SLO tests (about 80 s on a busy 2-core machine).
    return subprocess.run(
        [sys.executable, "-m", "obstack", *args], capture_output=True, text=True, check=False, env=env,
        timeout=600,
    )


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    out = tmp_path / "build"
    assert obstack("generate", "--out", str(out)).returncode == 0
    return out


def test_a_freshly_generated_tree_passes_every_validator(generated: Path) -> None:
    require_binary("promtool", "prometheus")
    result = obstack("validate", "--out", str(generated))
    assert result.returncode == 0, result.stdout + result.stderr
    for validator in ("spec", "tree", "promtool check config"):
        assert validator in result.stdout
    assert "│ fail" not in result.stdout and "missing tool" not in result.stdout
    # Each validator's wall time, and the total, so a slow one stands out. The spec's placeholder
    # links are warnings: its row says warn, and the run passes.
    rows = [line for line in result.stdout.splitlines()
            if ("│ pass" in line or "│ warn" in line) and line.split("│")[1].strip()]
    assert [row.split("│")[1].strip() for row in rows if "│ warn" in row] == ["spec"]
    assert rows and all(re.search(r"│\s+\d+\.\ds\s+│", row) for row in rows), rows
    assert re.search(r"\d+ validators in \d+\.\ds", result.stdout)
    # Every validator ran, in the table under the name it is registered by (--only/--skip take it).
    from obstack.stack.validate.checks import NAMED_VALIDATORS

    names = [row.split("│")[1].strip() for row in rows]
    assert names == [name for name, _ in NAMED_VALIDATORS]


def test_an_edited_file_fails_the_tree_validator(generated: Path) -> None:
    config = generated / "prometheus" / "prometheus.yml"
    config.write_text(config.read_text() + "# edit\n")
    result = obstack("validate", "--out", str(generated), "--only", "tree")
    assert result.returncode == 1
    assert "differs" in result.stdout


def test_a_config_promtool_rejects_fails_validation(generated: Path) -> None:
    require_binary("promtool", "prometheus")
    config = generated / "prometheus" / "prometheus.yml"
    config.write_text(config.read_text().replace("scrape_timeout: 10s", "scrape_timeout: 1h"))
    result = obstack("validate", "--out", str(generated), "--only", "promtool check config")
    assert result.returncode == 1
    assert "promtool check config" in result.stdout and "fail" in result.stdout


def test_a_missing_promtool_is_reported_with_its_package_never_passed(generated: Path, tmp_path: Path) -> None:
    # A PATH holding only the Python interpreter: promtool cannot be found.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python3")
    env = {**os.environ, "PATH": str(bin_dir)}
    assert shutil.which("promtool", path=env["PATH"]) is None
    result = obstack("validate", "--out", str(generated), env=env)
    assert result.returncode == 1
    assert "missing tool" in result.stdout
    assert "'prometheus'" in result.stdout.replace("\n", " ").replace("│", " ")


def test_validating_a_tree_that_was_never_generated_fails(tmp_path: Path) -> None:
    result = obstack("validate", "--out", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'nothing'}: no generated tree (no .obstack-manifest.json); "
        f"run `obstack generate --out {tmp_path / 'nothing'}` first"]
    # Also when only a validator that would find nothing to check is asked for.
    empty = tmp_path / "empty"
    empty.mkdir()
    only = obstack("validate", "--out", str(empty), "--only", "promtool test rules")
    assert only.returncode == 1 and "no generated tree" in only.stderr


def test_validate_json_with_a_bad_spec_prints_a_json_document(tmp_path: Path) -> None:
    spec = tmp_path / "stack.yaml"
    spec.write_text("project: x\nprometheus: {scrape_interval: soon}\n")
    result = obstack("validate", "--spec", str(spec), "--out", str(tmp_path), "--format", "json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert [p.split(": ")[1] for p in document["problems"]] == ["prometheus.scrape_interval"]


def test_validate_with_a_bad_spec_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "stack.yaml"
    spec.write_text("project: x\nprometheus: {scrape_interval: soon}\n")
    result = obstack("validate", "--spec", str(spec), "--out", str(tmp_path))
    assert result.returncode == 2
    assert f"{spec}:2: prometheus.scrape_interval:" in result.stderr


def test_a_two_team_spec_validates_end_to_end(tmp_path: Path) -> None:
    """Generate and validate a spec with two services, two teams and custom thresholds."""
    require_binary("promtool", "prometheus")
    require_binary("amtool", "prometheus-alertmanager")
    from tests.test_alert_rules import TWO_TEAMS

    spec = tmp_path / "stack.yaml"
    spec.write_text(TWO_TEAMS)
    out = tmp_path / "build"
    assert obstack("generate", "--spec", str(spec), "--out", str(out)).returncode == 0
    result = obstack("validate", "--spec", str(spec), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "payments-oncall" in result.stdout


def test_the_spec_using_overrides_own_metrics_and_own_rules_validates_end_to_end(tmp_path: Path) -> None:
    """tests/specs/orders.yaml: alert overrides, alert_labels, services[].metrics, its own rule file
    and promtool test; every validator passes, the user's test among the promtool tests."""
    require_binary("promtool", "prometheus")
    require_binary("amtool", "prometheus-alertmanager")
    spec = Path(__file__).parent / "specs" / "orders.yaml"
    out = tmp_path / "build"
    assert obstack("generate", "--spec", str(spec), "--out", str(out)).returncode == 0
    assert (out / "prometheus" / "tests" / "orders.test.yml").is_file()
    result = obstack("validate", "--spec", str(spec), "--out", str(out), "--format", "json")
    report = json.loads(result.stdout)
    # Warnings (the default spec's placeholder links) are shown and pass; only errors fail.
    failed = [(v["name"], v["findings"]) for v in report["validators"] if v["status"] not in ("pass", "warn")]
    assert result.returncode == 0 and not failed, failed


def test_only_and_skip_choose_validators_by_their_table_name(generated: Path) -> None:
    only = obstack("validate", "--out", str(generated), "--only", "rule lint", "--only", "tree", "--format", "json")
    assert only.returncode == 0, only.stderr
    assert [v["name"] for v in json.loads(only.stdout)["validators"]] == ["tree", "rule lint"]
    skipped = obstack("validate", "--out", str(generated), "--skip", "promtool test rules", "--format", "json")
    names = [v["name"] for v in json.loads(skipped.stdout)["validators"]]
    assert "promtool test rules" not in names and "promtool check rules" in names


def test_an_unknown_validator_name_is_bad_input_listing_the_known_ones(generated: Path) -> None:
    result = obstack("validate", "--out", str(generated), "--skip", "promtool tests")
    assert result.returncode == 2
    assert "unknown validator 'promtool tests'" in result.stderr and "promtool test rules" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_report_says_what_failed_where(generated: Path) -> None:
    config = generated / "prometheus" / "prometheus.yml"
    config.write_text(config.read_text() + "# edit\n")
    result = obstack("validate", "--out", str(generated), "--only", "tree", "--only", "spec", "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    tree = next(v for v in report["validators"] if v["name"] == "tree")
    assert tree["status"] == "fail"
    assert {"severity": "error", "file": "prometheus/prometheus.yml"}.items() <= tree["findings"][0].items()
    assert all(isinstance(v["seconds"], float) for v in report["validators"])
    # The warnings: the default spec's placeholder runbook and Grafana links.
    assert (report["errors"], report["warnings"], report["strict"]) == (1, 2, False)


@pytest.fixture
def without_app(tmp_path: Path) -> tuple[Path, Path]:
    """The default spec without its compose.apps entry, generated: the API runs on compose (the
    default) but compose runs nothing for it, so the compose lint warns once."""
    data = yaml.safe_load(default_spec_text())
    data["compose"]["apps"] = []
    spec = tmp_path / "stack.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "build"
    assert obstack("generate", "--spec", str(spec), "--out", str(out)).returncode == 0
    return spec, out


def test_warnings_are_printed_and_fail_only_with_strict(without_app: tuple[Path, Path]) -> None:
    spec, out = without_app
    common = ("validate", "--spec", str(spec), "--out", str(out), "--only", "compose lint")
    table = obstack(*common)
    assert table.returncode == 0, table.stdout + table.stderr
    assert "│ warn " in table.stdout and "warning: " in table.stdout
    assert "1 validator in " in table.stdout and ": 0 errors, 1 warning (they fail only with --strict)" in table.stdout
    strict = obstack(*common, "--strict")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "│ fail " in strict.stdout and "0 errors, 1 warning (--strict: they fail)" in strict.stdout


def test_json_carries_each_finding_with_its_severity_and_the_counts(without_app: tuple[Path, Path]) -> None:
    spec, out = without_app
    common = ("validate", "--spec", str(spec), "--out", str(out), "--only", "compose lint", "--format", "json")
    for flags, code, ok, status in (((), 0, True, "warn"), (("--strict",), 1, False, "fail")):
        result = obstack(*common, *flags)
        assert result.returncode == code, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert (report["ok"], report["strict"], report["errors"], report["warnings"]) == (ok, bool(flags), 0, 1)
        (lint,) = report["validators"]
        assert lint["status"] == status
        assert [(f["severity"], f["location"]) for f in lint["findings"]] == [("warning", "services[0]")]
        assert "has no compose.apps entry" in lint["findings"][0]["message"]


def test_external_tools_run_without_obstacks_python_path(generated: Path) -> None:
    """docker-compose 1.29 is a Python program with a top-level package `compose`, as obstack has:
    with obstack's checkout on PYTHONPATH (a development set-up) it imported obstack's and crashed,
    and `obstack validate` failed on a valid compose file."""
    require_binary("docker-compose", "docker-compose")
    repo = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": repo}
    crashed = subprocess.run(["docker-compose", "version"], capture_output=True, text=True, env=env, check=False)
    assert crashed.returncode != 0 and "compose.cli" in crashed.stderr  # what the validator must not inherit
    result = obstack("validate", "--out", str(generated), "--only", "docker-compose config", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid compose file" in result.stdout


def test_a_crashed_python_tool_is_reported_by_its_exception() -> None:
    from obstack.stack.validate.tools import failure_text

    traceback = ("Traceback (most recent call last):\n  File \"/usr/bin/docker-compose\", line 33, in <module>\n"
                 "    sys.exit(load_entry_point())\nModuleNotFoundError: No module named 'compose.cli'\n")
    assert failure_text("docker-compose", traceback) == \
        "docker-compose crashed: ModuleNotFoundError: No module named 'compose.cli'"
    assert failure_text("docker-compose", "ERROR: a\n\n  b\n") == "ERROR: a | b"
    assert failure_text("docker-compose", "") == "docker-compose failed"
