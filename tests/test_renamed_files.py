"""Per-service rule files (recordings, SLO rules): services of one shape share one set of promtool
tests, and a file that is not the tested one renamed is caught (generation, the validator and the
mutation runner)."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

import pytest
import yaml

from obstack.alerts.mutation import Mutant
from obstack.alerts.renamed_files import (SharedServices, is_renamed, renamed_files, service_of,
                                          shared_services_document, swapped)
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec_text
from obstack.stack.validate.mutation import run_mutants
from obstack.stack.validate.prometheus_tools import _check_renamed, _check_shared_services, services_fed
from obstack.stack.validate.validator import ValidationContext, ValidatorResult
from obstack.stack.writer import write_tree

SLOS = "[{name: errors, kind: errors, objective: 99.9%}]"
FLEET = f"""project: fleet
services:
  - {{name: checkout, targets: [checkout:8080], slos: {SLOS}}}
  - {{name: search, targets: [search:8080], slos: {SLOS}}}
  - {{name: billing, targets: [billing:8080], slos: [{{name: errors, kind: errors, objective: 99.5%}}]}}
  - {{name: up, targets: [up:8080], slos: {SLOS}}}
"""
PAGE, TENTH = "> 0.0144", "> 0.00144"  # the fastest pair's threshold at 99.9%, and a tenth of it


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ValidationContext]:
    loaded = load_spec_text(FLEET, "fleet.yaml")
    artifacts = generate(loaded)
    root = tmp_path_factory.mktemp("fleet")
    write_tree(root, artifacts)
    return root, ValidationContext(root, loaded, artifacts)


def test_swapping_names_exchanges_both_ways() -> None:
    assert swapped('job="a-1" x="zz" "a-1zz"', "a-1", "zz") == 'job="zz" x="a-1" "zza-1"'
    assert is_renamed('slo-x1: {job="x1"}', "x1", 'slo-y2: {job="y2"}', "y2")
    assert not is_renamed('slo-x1: {job="x1"}', "x1", 'slo-y2: {job="y2", x="1"}', "y2")
    # A name inside the rules' own words ("b" in "job") is swapped there too: no match, tested apart.
    assert not is_renamed('slo-a: {job="a"}', "a", 'slo-b: {job="b"}', "b")
    assert not is_renamed("api", "api", "api-2", "api-2"), "names that contain each other never rename"
    assert service_of(PurePosixPath("slo-api.yml")) == "api" and service_of(PurePosixPath("services.yml")) is None


def test_services_of_one_shape_share_the_first_one_s_tests(fleet: tuple[Path, ValidationContext]) -> None:
    root, _ = fleet
    tested = {p.name.split(".")[0] for p in (root / "prometheus/tests").glob("slo-*.test.yml")}
    # search is checkout renamed; billing's objective differs; "up" is in the rules' own text
    # (`up{...}`), so blanking its name changes more than its name: it is tested on its own.
    assert tested == {"slo-checkout", "slo-billing", "slo-up"}
    texts = {PurePosixPath(p.name): p.read_text() for p in (root / "prometheus/rules").glob("slo-*.yml")}
    found = renamed_files(sorted(texts, key=lambda p: ["checkout", "search", "billing", "up"].index(p.stem[4:])), texts)
    assert {p.name: (r.source.name, r.source_name) for p, r in found.items()} == {
        "slo-search.yml": ("slo-checkout.yml", "checkout")}


def test_the_validator_accepts_renamed_copies_and_refuses_an_edited_one(fleet: tuple[Path, ValidationContext],
                                                                       tmp_path: Path) -> None:
    root, context = fleet
    result = ValidatorResult("promtool test rules")
    tests = sorted((root / "prometheus/tests").glob("*.test.yml"))
    # slo-search.yml is slo-checkout.yml renamed; service-search.yml and service-billing.yml are
    # service-checkout.yml renamed (billing's SLO differs, its recordings do not).
    assert _check_renamed(result, context, tests) == 3 and not result.findings
    copy = tmp_path / "tree"
    shutil.copytree(root / "prometheus/rules", copy / "prometheus/rules")
    search = copy / "prometheus/rules/slo-search.yml"
    search.write_text(search.read_text().replace(PAGE, TENTH, 1))
    edited = ValidatorResult("promtool test rules")
    _check_renamed(edited, ValidationContext(copy, context.loaded, context.artifacts), tests)
    assert [f.file for f in edited.findings] == ["prometheus/rules/slo-search.yml"]
    assert "no test loads it" in edited.findings[0].message


def test_a_mutant_of_a_renamed_copy_is_killed_by_the_rename_check(fleet: tuple[Path, ValidationContext]) -> None:
    root, _ = fleet
    document = yaml.safe_load((root / "prometheus/rules/slo-search.yml").read_text())
    group = document["groups"][0]
    position, rule = next((i, r) for i, r in enumerate(group["rules"]) if r.get("alert") == "ErrorBudgetBurn")
    mutant = Mutant("slo-search.yml", group["name"], position, "ErrorBudgetBurn", "page at a tenth of the burn",
                    f"{PAGE} -> {TENTH}", rule["expr"].replace(PAGE, TENTH, 1))
    assert mutant.expr != rule["expr"]
    report = run_mutants(root, [mutant])
    assert report.killed == [mutant] and not report.survived


def test_services_yml_feeds_one_service_of_each_shape(fleet: tuple[Path, ValidationContext]) -> None:
    root, _ = fleet
    texts = [p.read_text() for p in (root / "prometheus/tests").glob("services*.test.yml")]
    # billing differs from checkout in its SLO only, which services.yml does not read; "up" is a
    # word of the alert rules' own text, so exchanging it would change them: it is fed itself.
    assert services_fed(texts) == {"checkout", "up", "checkout-neighbour", "up-neighbour"}  # with their neighbours
    shared = SharedServices.of(_shared_document(root))
    assert shared.representatives() == {"checkout": "checkout", "search": "checkout", "billing": "checkout", "up": "up"}
    assert shared.uncovered({"checkout", "up"}) == [] and shared.uncovered({"checkout"}) == ["up"]


def _shared_document(root: Path) -> dict[str, object]:
    """services.yml and the recording files, in the spec's order (the first of a shape is tested)."""
    rules = root / "prometheus/rules"
    paths = [rules / "services.yml", *(rules / f"service-{name}.yml" for name in ("checkout", "search", "billing", "up"))]
    return shared_services_document({p.name: yaml.safe_load(p.read_text()) for p in paths})


def test_services_tests_load_only_the_fed_services_recording_files(fleet: tuple[Path, ValidationContext]) -> None:
    """Each service's recordings are a file of its own; the tests of services.yml load the files of
    the services they feed and no other (promtool evaluates every loaded rule at every step)."""
    root, _ = fleet
    assert sorted(p.name for p in (root / "prometheus/rules").glob("service-*.yml")) == [
        "service-billing.yml", "service-checkout.yml", "service-search.yml", "service-up.yml"]
    services = yaml.safe_load((root / "prometheus/rules/services.yml").read_text())
    assert [g["name"] for g in services["groups"]] == ["service-alerts"]
    for path in (root / "prometheus/tests").glob("services*.test.yml"):
        loaded = yaml.safe_load(path.read_text())["rule_files"]
        assert loaded == ["../rules/services.yml", "../rules/service-checkout.yml", "../rules/service-up.yml"], path.name


def _dropped_from_one_alternation(text: str, service: str) -> str:
    """services.yml with ``service`` left out of the first alert rule's name alternation."""
    start = text.index("service=~")
    end = text.index('"', text.index('"', start) + 1)
    return text[:start] + text[start:end].replace(f"|{service}", "") + text[end:]


def test_the_validator_refuses_a_service_the_alert_rules_no_longer_treat_alike(
        fleet: tuple[Path, ValidationContext], tmp_path: Path) -> None:
    root, context = fleet
    tests = sorted((root / "prometheus/tests").glob("*.test.yml"))
    result = ValidatorResult("promtool test rules")
    assert _check_shared_services(result, context, tests) == 2 and not result.findings
    copy = tmp_path / "tree"
    shutil.copytree(root / "prometheus/rules", copy / "prometheus/rules")
    services = copy / "prometheus/rules/services.yml"
    services.write_text(_dropped_from_one_alternation(services.read_text(), "search"))
    edited = ValidatorResult("promtool test rules")
    _check_shared_services(edited, ValidationContext(copy, context.loaded, context.artifacts), tests)
    assert [f.message.split(":")[0] for f in edited.findings] == ["service search"]


def test_a_mutant_leaving_a_service_out_of_an_alert_is_killed_by_the_swap_check(
        fleet: tuple[Path, ValidationContext]) -> None:
    root, _ = fleet
    document = yaml.safe_load((root / "prometheus/rules/services.yml").read_text())
    group = next(g for g in document["groups"] if g["name"] == "service-alerts")
    position, rule = next((i, r) for i, r in enumerate(group["rules"]) if "service=~" in r["expr"])
    mutant = Mutant("services.yml", group["name"], position, rule["alert"], "drop a service", "search",
                    _dropped_from_one_alternation(rule["expr"], "search"))
    assert mutant.expr != rule["expr"]
    report = run_mutants(root, [mutant])
    assert report.killed == [mutant]
