"""`obstack validate --changed`: a check whose inputs passed before is reused with its outcome;
what changed (a validator's files, a rule file, a test file or a rule file the test loads) runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from obstack.foundation.findings import Finding
from obstack.stack.spec.loader import default_spec_text, load_spec_text
from obstack.stack.validate.incremental import RECORD_NAME, Outcome, ValidationRecord, file_check
from obstack.stack.validate.prometheus_tools import promtool_tests_validator
from obstack.stack.validate.validator import ValidationContext
from tests.support.servers import require_binary

CHEAP = ("promtool check config", "promtool check rules", "rule lint", "dashboard lint")


def obstack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "obstack", *args], capture_output=True, text=True, check=False,
                          timeout=600)  # a guard against a hang


def validate_json(out: Path, *args: str) -> dict[str, dict[str, object]]:
    only = [arg for name in CHEAP for arg in ("--only", name)]
    run = obstack("validate", "--out", str(out), "--format", "json", *only, *args)
    assert run.returncode == 0, run.stdout + run.stderr
    return {entry["name"]: entry for entry in json.loads(run.stdout)["validators"]}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("changed") / "build"
    assert obstack("generate", "--out", str(out)).returncode == 0
    return out


def test_unchanged_checks_are_reused_with_their_findings_and_changed_ones_run(generated: Path) -> None:
    require_binary("promtool", "prometheus")
    first = validate_json(generated, "--changed")
    assert not any(entry["reused"] for entry in first.values())
    assert (generated / RECORD_NAME).is_file()

    second = validate_json(generated, "--changed")
    assert all(entry["reused"] for entry in second.values())
    # The outcome replayed: rule lint's notes and each summary, as the first run found them.
    for name in CHEAP:
        assert second[name]["findings"] == first[name]["findings"]
        assert str(second[name]["summary"]).startswith(str(first[name]["summary"]))

    host = generated / "prometheus" / "rules" / "host.yml"
    host.write_text(host.read_text() + "# an edit: the rule file's bytes changed\n")
    third = validate_json(generated, "--changed")
    assert not third["promtool check rules"]["reused"] and not third["promtool check config"]["reused"]
    assert "1 of 7 files run, 6 reused" in str(third["promtool check rules"]["summary"])
    assert third["dashboard lint"]["reused"]

    full = validate_json(generated)  # without --changed everything runs, whatever the record says
    assert not any(entry["reused"] for entry in full.values())


def test_a_test_file_runs_again_when_a_rule_file_it_loads_changes(tmp_path: Path, generated: Path) -> None:
    require_binary("promtool", "prometheus")
    out = tmp_path / "build"
    shutil.copytree(generated, out)
    for test in (out / "prometheus" / "tests").glob("*.test.yml"):
        if test.name != "host.test.yml":
            test.unlink()  # one small test file: the per-service files are then reported untested
    loaded = load_spec_text(default_spec_text(), "obstack:default.yaml")
    check = file_check("promtool test rules", "prometheus/tests/host.test.yml")

    def run(reuse: bool) -> ValidationRecord:
        record = ValidationRecord.load(out, loaded.sha256, reuse=reuse)
        result = promtool_tests_validator(ValidationContext(out, loaded, [], record))
        record.save()
        assert not any(f.file == "prometheus/tests/host.test.yml" for f in result.findings) or check not in record.passed
        return record

    assert check in run(reuse=True).passed
    assert check in run(reuse=True).passed  # reused

    rules = out / "prometheus" / "rules" / "host.yml"
    rules.write_text(rules.read_text().replace("> 0.8", "> 0.95", 1))  # the test's cases now fail
    record = ValidationRecord.load(out, loaded.sha256, reuse=True)
    result = promtool_tests_validator(ValidationContext(out, loaded, [], record))
    assert any(f.file == "prometheus/tests/host.test.yml" and f.severity == "error" for f in result.findings)
    assert check not in record.passed


def test_the_record_is_a_cache_never_a_verdict(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("a: 1\n")
    files = [tmp_path / "a.yml"]
    warning = Finding("rule lint", "warning", "a.yml", "x", "a note", rule="R1", scope=(("rule", "x"),))
    record = ValidationRecord.load(tmp_path, "spec-1", reuse=True)
    assert record.reused("rule lint", files, spec=True) is None  # nothing recorded yet
    record.settle("rule lint", files, Outcome("1 file", [warning]), spec=True)
    record.save()

    again = ValidationRecord.load(tmp_path, "spec-1", reuse=True)
    assert again.reused("rule lint", files, spec=True) == Outcome("1 file", [warning])
    assert again.reused("rule lint", files, spec=True).findings[0].scope == (("rule", "x"),)
    assert ValidationRecord.load(tmp_path, "spec-2", reuse=True).reused("rule lint", files, spec=True) is None
    assert ValidationRecord.load(tmp_path, "spec-2", reuse=True).reused("rule lint", files, spec=False) is None
    assert ValidationRecord.load(tmp_path, "spec-1", reuse=False).reused("rule lint", files, spec=True) is None
    (tmp_path / "a.yml").write_text("a: 2\n")
    assert ValidationRecord.load(tmp_path, "spec-1", reuse=True).reused("rule lint", files, spec=True) is None

    again.settle("rule lint", files, None, spec=True)  # failed now: forgotten
    assert "rule lint" not in again.passed
    (tmp_path / RECORD_NAME).write_text("{not json")
    assert ValidationRecord.load(tmp_path, "spec-1", reuse=True).passed == {}
