"""foundation.yaml_text writes PyYAML's bytes: on random documents and on every YAML file obstack generates."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from obstack.foundation import artifacts
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec

GOLDEN = Path(__file__).parent / "golden"
ORDERS = Path(__file__).parent / "specs" / "orders.yaml"  # every extension a user writes

# Words and the characters that change a scalar's style or where it folds: spaces (runs of them),
# quotes, YAML indicators, non-ASCII, tabs, line breaks; values that read as other types.
_WORD = st.sampled_from(["a", "word", "longer-word", "x" * 30, "'", '"', ":", "- ", "#", "{", "é", "\t", "", "yes",
                         "null", "1.5", "~", "%", "@", "\\"])
_SEPARATOR = st.sampled_from([" ", " ", " ", "  ", "\n", ": ", " #"])


@st.composite
def _texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(_WORD, max_size=60))
    return "".join(word + draw(_SEPARATOR) for word in words)[: draw(st.integers(0, 400))]


# What rule files, tests and manifests are made of: ASCII words, spaces, line breaks, quotes, colons.
_ASCII_WORD = st.sampled_from(["a", "word", "longer-word", "x" * 30, "'", '"', ":", "{", "yes", "1.5", "$labels"])
_ASCII_SEPARATOR = st.sampled_from([" ", " ", " ", "  ", "\n", ": "])


@st.composite
def _ascii_texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(_ASCII_WORD, min_size=1, max_size=40))
    return words[0] + "".join(draw(_ASCII_SEPARATOR) + word for word in words[1:])


_SCALARS = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False)
            | _texts() | st.text(max_size=20))
_KEYS = st.sampled_from(["alert", "expr", "for", "labels", "annotations", "a key", "é", "", "yes", "- x"]) | _texts()
_ASCII_SCALARS = st.none() | st.booleans() | st.integers(-10**6, 10**6) | _ascii_texts()
_ASCII_KEYS = st.sampled_from(["alert", "expr", "for", "labels", "annotations", "a key", "yes", "- x"])
_DOCUMENTS = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(_KEYS, inner, max_size=5), max_leaves=40)


@settings(max_examples=250, deadline=None)
@given(_DOCUMENTS | st.recursive(_ASCII_SCALARS, lambda inner: st.lists(inner, max_size=4)
                                 | st.dictionaries(_ASCII_KEYS, inner, max_size=5), max_leaves=30))
def test_random_documents_are_written_as_pyyaml_writes_them(document: object) -> None:
    fast = artifacts._block_yaml(document)
    if fast is not None:
        assert fast == artifacts._pyyaml(document)


def test_random_documents_mostly_take_the_fast_path() -> None:
    """The equality above is not bought by declining: documents of the kind obstack writes take the
    fast path (it declines multi-line text with a trailing space or several final breaks)."""
    written = []

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.recursive(_ASCII_SCALARS, lambda inner: st.lists(inner, min_size=1, max_size=4)
                        | st.dictionaries(_ASCII_KEYS, inner, min_size=1, max_size=5), max_leaves=30)
           .filter(lambda document: isinstance(document, (dict, list))))
    def collect(document: dict[str, object]) -> None:
        written.append(artifacts._block_yaml(document) is not None)

    collect()
    assert sum(written) > 0.6 * len(written)


def _documents(text: str) -> list[object]:
    body = "\n".join(line for line in text.split("\n") if not line.startswith("# "))
    return [document for part in body.split("---\n") if isinstance(document := yaml.load(part, Loader=yaml.CSafeLoader), (dict, list))
            and document]


def _declined(texts: dict[str, str]) -> list[str]:
    declined = []
    for path, text in texts.items():
        for document in _documents(text):
            fast = artifacts._block_yaml(document)
            assert fast is None or fast == artifacts._pyyaml(document), path
            declined += [path] if fast is None else []
    return declined


def test_every_yaml_file_of_the_golden_tree_takes_the_fast_path_with_pyyamls_bytes() -> None:
    texts = {str(path): path.read_text() for path in GOLDEN.rglob("*") if path.suffix in (".yml", ".yaml")}
    assert len(texts) > 15 and _declined(texts) == []


def test_every_yaml_file_of_a_spec_using_every_extension_takes_the_fast_path() -> None:
    texts = {str(a.path): a.content for a in generate(load_spec(ORDERS)) if a.path.suffix in (".yml", ".yaml")}
    assert len(texts) > 15 and _declined(texts) == []


def test_folding_at_the_width_matches_around_every_column() -> None:
    """Long text broken at spaces past column 120: runs of spaces, quotes and a quoted style near
    the width, as a mapping value and a sequence item, at several depths."""
    for column in range(105, 135):
        for middle in ("  ", " ' ", "''", " : ", "   x"):
            for start, end in (("", ""), ("'", ""), ("- ", ""), ("", " "), (" ", "")):
                text = start + "w" * (column - 20) + middle + " word" * 12 + end
                deep: object = {"k" * 100: text}
                for _ in range(12):
                    deep = {"a": deep}
                for document in ({"k": text}, [text], {"a": {"bb": [{"c": text, "d": [text]}]}}, deep,
                                 {"k": "w" * column + " "}, {"k": " " + "w" * column + " " + "w" * 9}):
                    fast = artifacts._block_yaml(document)
                    assert fast == artifacts._pyyaml(document), (column, middle, start)
