"""Dashboards of your own (grafana.extra_dashboards_dir): provisioned beside the generated ones, packaged
for Kubernetes, run through the dashboard lint; a uid that clashes or a file that is no dashboard is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from obstack.stack.pipeline import generate
from obstack.stack.spec.errors import SpecError
from obstack.stack.spec.loader import LoadedSpec, load_spec_text
from obstack.stack.validate.dashboard_lint_validator import dashboard_lint_validator
from obstack.stack.validate.validator import ValidationContext
from tests.test_user_rules import DECLARED

SPECS = Path(__file__).parent / "specs"
ORDERS = (SPECS / "orders.yaml").read_text()
OWN = "grafana/dashboards/obstack/checkout-orders-business.json"


def load(text: str = ORDERS, where: Path = SPECS) -> LoadedSpec:
    return load_spec_text(text, str(where / "orders.yaml"))


def test_own_dashboard_is_provisioned_in_the_generated_folder_and_packaged_for_kubernetes() -> None:
    generated = {a.path.as_posix(): a.content for a in generate(load())}
    board = json.loads(generated[OWN])
    assert board["title"] == "checkout / Orders business"
    assert "orders_created_total" in board["panels"][0]["targets"][0]["expr"]
    assert "checkout-orders-business.json" in generated["kubernetes/dashboards.yaml"]


def test_the_dashboard_lint_reads_own_dashboards_against_the_declared_metrics(tmp_path: Path) -> None:
    def lint(loaded: LoadedSpec, out: Path) -> list:
        artifacts = generate(loaded)
        for artifact in artifacts:
            (out / artifact.path).parent.mkdir(parents=True, exist_ok=True)
            (out / artifact.path).write_text(artifact.content)
        return dashboard_lint_validator(ValidationContext(out, loaded, artifacts)).findings

    assert lint(load(), tmp_path / "declared") == []
    findings = lint(load(ORDERS.replace(DECLARED, "")), tmp_path / "undeclared")
    assert findings and {f.file for f in findings} == {OWN}
    assert any("orders_created_total" in f.message for f in findings)


def own_folder(tmp_path: Path, **boards: object) -> Path:
    """A copy of tests/specs/orders/ whose dashboards folder holds ``boards`` (file stem -> JSON text or object)."""
    shutil.copytree(SPECS / "orders", tmp_path / "orders")
    folder = tmp_path / "orders" / "dashboards"
    for stem, board in boards.items():
        (folder / f"{stem}.json").write_text(board if isinstance(board, str) else json.dumps(board))
    return tmp_path


@pytest.mark.parametrize(("boards", "phrase"), [
    ({"clash": {"uid": "orders-postgres", "title": "x"}}, "uid 'orders-postgres' is a generated dashboard's"),
    ({"again": {"uid": "checkout-orders-business", "title": "x"}}, "is also the uid of"),
    ({"nouid": {"title": "x"}}, "has no uid"),
    ({"broken": "{not json"}, "is not a dashboard: not a JSON object"),
], ids=["generated-uid", "duplicate-uid", "no-uid", "not-json"])
def test_a_file_that_cannot_be_provisioned_is_refused_on_the_spec_line(tmp_path: Path, boards: dict, phrase: str) -> None:
    with pytest.raises(SpecError) as raised:
        load(where=own_folder(tmp_path, **boards))
    assert phrase in str(raised.value) and "grafana.extra_dashboards_dir" in str(raised.value)


def test_a_missing_folder_is_refused() -> None:
    with pytest.raises(SpecError, match="orders/nowhere .relative to the spec. is not a directory"):
        load(ORDERS.replace("extra_dashboards_dir: orders/dashboards", "extra_dashboards_dir: orders/nowhere"))
