"""A per-service rule file written by renaming another's text has ``dump_yaml``'s bytes: on fleets
of awkward names (YAML booleans, nulls, numbers and dates, names in the rules' own words, names
starting with a JSON escape's letter, names of one length and of many), and on documents built to
break each step of the argument in alerts/renamed_texts.py."""

from __future__ import annotations

import random
from pathlib import PurePosixPath
from typing import Any

import pytest

from obstack.alerts import renamed_texts
from obstack.alerts.renamed_texts import rule_texts
from obstack.foundation.artifacts import dump_yaml
from obstack.stack.spec.loader import load_spec_text
from obstack.stack.stack_model import build_stack_model

# Grouped by length: renaming happens between names of one length.
AWKWARD = [
    "on", "db", "n1", "t1", "e1",  # a YAML boolean, plain names, JSON escape letters, a number's characters
    "yes", "api", "web", "sum", "job", "rate", "true", "null", "svcx", "1234", "12ab", "e2e0",
    "2001-12-14", "service-ab", "0x1f-0x2f", "1_000", "9_999", "nvc-search",
]


def _fleet(names: list[str], slos: str = "") -> str:
    # A host name holds no '_': the target is the name with 'x' for it.
    entries = "\n".join(f"  - name: '{name}'\n    targets: ['{name.replace('_', 'x')}:8080']{slos}" for name in names)
    return f"project: fleet\nservices:\n{entries}\n"


def _documents(spec_text: str) -> list[tuple[PurePosixPath, Any]]:
    model = build_stack_model(load_spec_text(spec_text, "fleet.yaml").spec)
    return [(document.path, document.body) for document in model.loaded_rule_documents]


def _renamed(documents: list[tuple[PurePosixPath, Any]], monkeypatch: pytest.MonkeyPatch
             ) -> tuple[dict[PurePosixPath, str], set[str]]:
    """``rule_texts`` of the documents, and the stems of the files it wrote by renaming."""
    dumped: set[int] = set()

    def dump(body: Any) -> str:
        dumped.add(id(body))
        return dump_yaml(body)
    monkeypatch.setattr(renamed_texts, "dump_yaml", dump)
    texts = rule_texts(documents)
    return texts, {path.stem for path, body in documents if id(body) not in dumped}


def test_a_fleet_of_awkward_names_is_written_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    documents = _documents(_fleet(AWKWARD))
    texts, renamed = _renamed(documents, monkeypatch)
    assert list(texts) == [path for path, _ in documents]
    for path, body in documents:
        assert texts[path] == dump_yaml(body), path
    # Renamed: a plain name from the first plain one of its length ("web" from "api", past the
    # quoted "yes"; "12ab" from "svcx"). Written anew: a first of its length or quoting, a name in
    # the rules' own words ("sum", "job", "rate"), a name a JSON number could hold ("1234", "e2e0").
    assert {"slo-web", "service-web", "slo-12ab", "slo-nvc-search", "slo-t1"} <= renamed
    assert not {"slo-yes", "slo-api", "slo-sum", "slo-job", "slo-rate", "slo-1234", "slo-e2e0", "slo-on"} & renamed
    slo = {path.stem: text for path, text in texts.items()}
    assert "service: 'yes'" in slo["slo-yes"] and "service: api" in slo["slo-api"]
    assert "service: '2001-12-14'" in slo["slo-2001-12-14"] and "service: service-ab" in slo["slo-service-ab"]


def test_random_fleets_are_written_byte_for_byte() -> None:
    rng = random.Random(19)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_"
    for _ in range(3):
        names: set[str] = set()
        while len(names) < 40:
            length = rng.choice([2, 3, 3, 4, 5, 5, 8, 12])
            middle = "".join(rng.choice(alphabet) for _ in range(length - 2))
            names.add(rng.choice("abcnte019") + middle + rng.choice("abcz0189"))
        objective = rng.choice(["99.9%", "99.5%"])
        slos = f"\n    slos: [{{name: errors, kind: errors, objective: {objective}}}]"
        documents = _documents(_fleet(sorted(names), slos))
        texts = rule_texts(documents)
        assert all(texts[path] == dump_yaml(body) for path, body in documents)


def _slo_file(name: str, expr_head: str = "") -> tuple[PurePosixPath, dict[str, Any]]:
    rule = {"alert": "ErrorBudgetBurn", "expr": f'{expr_head}slo:x{{service="{name}"}} > 1\nand on () vector(1)',
            "labels": {"service": name, "team": "t", "line": f"{name} " + "word " * 30}}
    return PurePosixPath(f"prometheus/rules/slo-{name}.yml"), {"groups": [{"name": f"slo-{name}", "rules": [rule]}]}


@pytest.mark.parametrize(("first", "second"), [
    ("api", "yes"),  # the label's value turns into a YAML boolean: quoted
    ("yes", "api"),
    ("2001-12-13", "service-ab"),  # a date
    ("abc1", "1234"),  # a number: never renamed (JSON numbers)
    ("nvc", "tvc"),  # a JSON escape's letter
    ("svc", "rul"),  # "rul" sits in the rules' own words ("rules"): another shape
    ("a", "b"),
])
def test_names_that_change_a_scalar_s_style_or_hide_in_text_are_written_as_dump_yaml_writes(
        first: str, second: str) -> None:
    documents = [_slo_file(first), _slo_file(second)]
    texts = rule_texts(documents)
    assert [texts[path] for path, _ in documents] == [dump_yaml(body) for _, body in documents]


def test_a_newline_before_a_name_starting_with_the_escape_s_letter_is_not_renamed() -> None:
    """'\\n' + "vc" in one file and '\\t' + "vc" in the other: their JSON differ only where the names
    "nvc" and "tvc" would be, yet the two documents are not one renamed (a newline against a tab)."""
    one = (PurePosixPath("slo-nvc.yml"), {"groups": [{"name": "g", "rules": [{"record": "r", "expr": "a\nvc nvc"}]}]})
    other = (PurePosixPath("slo-tvc.yml"), {"groups": [{"name": "g", "rules": [{"record": "r", "expr": "a\tvc tvc"}]}]})
    texts = rule_texts([one, other])
    assert texts[other[0]] == dump_yaml(other[1]) and "\t" not in texts[one[0]]


def test_documents_json_cannot_hold_are_dumped() -> None:
    """A file of your own may hold what JSON cannot write (a date): it is written by dump_yaml."""
    import datetime
    body = {"groups": [{"name": "g", "rules": [{"record": "r", "expr": "up", "labels": {"d": datetime.date(2024, 1, 1)}}]}]}
    documents = [(PurePosixPath("slo-aa.yml"), body), (PurePosixPath("slo-bb.yml"), body)]
    assert rule_texts(documents) == {path: dump_yaml(body) for path, body in documents}


def test_a_name_inside_a_number_is_not_renamed() -> None:
    """JSON writes 1e16 as 1e+16 and YAML as 1.0e+16: names "1e" and "2e" sit in the JSON of
    1e16 and 2e16, which differ only there, but not in their YAML."""
    def document(name: str, value: float) -> tuple[PurePosixPath, dict[str, Any]]:
        rule = {"record": "r", "expr": "up", "labels": {"service": f"x{name}"}, "value": value}
        return PurePosixPath(f"slo-{name}.yml"), {"groups": [{"name": f"g{name}", "rules": [rule]}]}
    documents = [document("1e", 1e16), document("2e", 2e16)]
    assert rule_texts(documents) == {path: dump_yaml(body) for path, body in documents}


def test_a_name_in_what_yaml_escapes_and_json_does_not_is_not_renamed() -> None:
    """YAML writes U+0080 as the escape \\x80, JSON as the character: in YAML "x80bc" follows it."""
    def document(name: str) -> tuple[PurePosixPath, dict[str, Any]]:
        rule = {"record": "r", "expr": "up", "labels": {"service": name, "note": "\u0080bc"}}
        return PurePosixPath(f"slo-{name}.yml"), {"groups": [{"name": "g", "rules": [rule]}]}
    documents = [document("x80bc"), document("x80bd")]
    assert rule_texts(documents) == {path: dump_yaml(body) for path, body in documents}


def test_a_name_that_makes_a_number_after_the_rules_own_digit_is_quoted() -> None:
    """"1" + "a_b" is a string, "1" + "2_3" a YAML 1.1 integer (underscores allowed): quoted. No
    scalar starts with the name, so only the rules' own first digit can tell."""
    def document(name: str) -> tuple[PurePosixPath, dict[str, Any]]:
        rule = {"record": "r", "expr": "up", "labels": {"service": f"s-{name}", "code": f"1{name}"}}
        return PurePosixPath(f"slo-{name}.yml"), {"groups": [{"name": "g", "rules": [rule]}]}
    documents = [document("a_b"), document("2_3")]
    texts = rule_texts(documents)
    assert texts == {path: dump_yaml(body) for path, body in documents} and "code: '12_3'" in texts[documents[1][0]]


def test_a_name_inside_a_json_unicode_escape_is_not_renamed() -> None:
    """JSON writes ESC as \\u001b, YAML as \\e: "1bc-x" sits in the JSON of ESC + "c-x" alone."""
    def document(name: str) -> tuple[PurePosixPath, dict[str, Any]]:
        rule = {"record": "r", "expr": "up", "labels": {"service": f"s-{name}", "note": "\x1b" + name[2:]}}
        return PurePosixPath(f"slo-{name}.yml"), {"groups": [{"name": "g", "rules": [rule]}]}
    documents = [document("1bc-x"), document("1bc-y")]
    assert rule_texts(documents) == {path: dump_yaml(body) for path, body in documents}
