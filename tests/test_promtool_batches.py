"""`promtool check rules` runs the rule files in two promtool processes, not one each: a run that
fails is repeated file by file, so each finding still names its file, and the Go tools run with
a larger GC target unless GOGC is set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.validate.prometheus_tools import promtool_rules_validator
from obstack.stack.validate.tools import GO_GC_PERCENT, tool_environment
from obstack.stack.validate.validator import ValidationContext
from obstack.stack.writer import write_tree
from tests.support.servers import require_binary


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> ValidationContext:
    loaded = load_spec(Path(__file__).parent / "specs" / "shop.yaml")
    artifacts = generate(loaded)
    root = tmp_path_factory.mktemp("batches") / "build"
    write_tree(root, artifacts)
    return ValidationContext(root, loaded, artifacts)


def test_a_broken_rule_file_among_many_is_named_alone(tree: ValidationContext, tmp_path: Path) -> None:
    require_binary("promtool", "prometheus")
    passed = promtool_rules_validator(tree)
    rules = sorted(p.name for p in (tree.out / "prometheus/rules").glob("*.yml"))
    assert passed.status == "pass" and len(rules) > 4 and passed.summary == f"{len(rules)} files: " + ", ".join(rules)
    copy = tmp_path / "build"
    shutil.copytree(tree.out, copy)
    for name, breakage in (("services.yml", ("expr: ", "expr: sum(")), ("stack.yml", ("for: ", "for: soon "))):
        path = copy / "prometheus/rules" / name
        path.write_text(path.read_text().replace(*breakage, 1))
    broken = promtool_rules_validator(ValidationContext(copy, tree.loaded, tree.artifacts))
    assert sorted(f.file for f in broken.findings) == ["prometheus/rules/services.yml", "prometheus/rules/stack.yml"]
    assert all(f.message for f in broken.findings)


def test_go_tools_get_a_larger_gc_target_unless_gogc_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    assert tool_environment()["GOGC"] == GO_GC_PERCENT
    monkeypatch.setenv("GOGC", "50")
    assert tool_environment()["GOGC"] == "50"
