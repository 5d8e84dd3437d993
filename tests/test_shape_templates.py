"""Per-service rules built once per shape and renamed (alerts/shape_templates.py) are the rules
built for each service: every artifact, byte for byte, on fleets of awkward names and on the
test specs, generated both ways; and the renamer itself."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from obstack.alerts import rule_files, shape_templates
from obstack.alerts.shape_templates import STAND_IN, ShapeTemplates, renamer
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec, load_spec_text
from tests.test_renamed_texts import AWKWARD, _fleet

SPECS = Path(__file__).parent / "specs"
THREE_SLOS = """
    slos:
      - {name: errors, kind: errors, objective: 99.9%}
      - {name: fast, kind: latency, objective: 99%, threshold: 250ms}
      - {name: up, kind: availability, objective: 99.5%}"""


def _both_ways(spec: str | Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], dict[str, str]]:
    """Every artifact of a spec (its text, or its file with what lies beside it) generated with the
    shape templates, and with each service built on its own."""
    loaded = load_spec(spec) if isinstance(spec, Path) else load_spec_text(spec, "fleet.yaml")
    shaped = {a.path.as_posix(): a.content for a in generate(loaded)}
    with monkeypatch.context() as patch:
        patch.setattr(rule_files, "ShapeTemplates", lambda build: build)
        direct = {a.path.as_posix(): a.content for a in generate(loaded)}
    return shaped, direct


def _assert_same(shaped: dict[str, str], direct: dict[str, str]) -> None:
    assert shaped.keys() == direct.keys()
    different = [path for path in direct if shaped[path] != direct[path]]
    assert not different, different[:5]


def test_a_fleet_of_awkward_names_generates_the_same_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    shaped, direct = _both_ways(_fleet(AWKWARD, THREE_SLOS), monkeypatch)
    _assert_same(shaped, direct)
    assert sum(path.startswith("prometheus/rules/slo-") for path in direct) == len(AWKWARD)


def test_random_fleets_generate_the_same_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(20)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_"
    for _ in range(2):
        names = {rng.choice("abnt19") + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
                 + rng.choice("az09") for _ in range(30)}
        _assert_same(*_both_ways(_fleet(sorted(names), THREE_SLOS), monkeypatch))


@pytest.mark.parametrize("name", ["events.yaml", "shop.yaml", "orders.yaml"])
def test_the_test_specs_generate_the_same_artifacts(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(*_both_ways(SPECS / name, monkeypatch))


def test_a_service_of_a_shape_of_its_own_and_one_of_a_shared_shape_build_once_each() -> None:
    spec = load_spec_text(_fleet(["api", "web", "db"]).replace("  - name: 'db'", "  - name: 'db'\n    team: data"),
                          "fleet.yaml").spec
    built: list[str] = []
    templates = ShapeTemplates(lambda service: built.append(service.name) or service.name + "!")
    assert [templates(service) for service in spec.services] == ["api!", "web!", "db!"]
    assert built == [STAND_IN, STAND_IN]  # api and web share a shape; db's team makes its own


def test_names_a_number_could_spell_or_the_spec_would_refuse_renamed_are_built_on_their_own() -> None:
    spec = load_spec_text(_fleet(["1234", "e2e0", "http"]), "fleet.yaml").spec
    built: list[str] = []
    templates = ShapeTemplates(lambda service: built.append(service.name))
    for service in spec.services:
        templates(service)
    # "http" sits in the health URL's scheme: replaced, the URL is no URL, and the spec refuses it.
    assert built == ["1234", "e2e0", "http"]


@dataclass(frozen=True)
class _Pair:
    text: str
    count: int
    labels: dict[str, str]


def test_the_renamer_replaces_in_strings_keys_and_fields_and_shares_what_holds_no_name() -> None:
    plain = _Pair("no name here", 1, {"a": "b"})
    value: Any = {"x-old": ("old", "old-tail", "head-old", plain, [_Pair("in old", 2, {"old": "old"})])}
    renamed = renamer(value, "old")
    assert renamed is not None
    assert renamed("new") == {"x-new": ("new", "new-tail", "head-new", plain,
                                        [_Pair("in new", 2, {"new": "new"})])}
    assert renamed("new")["x-new"][3] is plain  # shared, not copied
    assert renamer(plain, "old") is None


def test_a_renamed_builder_renames_what_it_builds() -> None:
    rename = renamer(lambda level: _Pair(f"old at {level}", 0, {}), "old")
    assert rename is not None and rename("new")(3) == _Pair("new at 3", 0, {})
    with pytest.raises(TypeError):
        renamer(object(), "old")


def test_the_stand_in_is_no_word_of_the_generators() -> None:
    sources = Path(shape_templates.__file__).parent.parent.rglob("*.py")
    holders = [path.name for path in sources if STAND_IN in path.read_text() and path.name != "shape_templates.py"
               and not path.name.startswith("test_")]
    assert holders == []


def test_a_builder_failing_on_the_stand_in_fails_naming_the_service() -> None:
    spec = load_spec_text(_fleet(["api"]), "fleet.yaml").spec

    def build(service: Any) -> None:
        raise ValueError(f"service {service.name}: no rules")
    with pytest.raises(ValueError, match="service api: no rules"):
        ShapeTemplates(build)(spec.services[0])
