"""json_text, the JSON writer of dashboards and their ConfigMaps: the json module's text, faster."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from obstack.foundation.artifacts import json_text

# Floats the json module writes with an exponent below 1e-4 (1e-05) are written by orjson without
# one or with a shorter one (0.00001, 1e-7): same value, other text. Every other value is
# byte-identical, which keeps the golden trees stable.
_FLOATS = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or abs(x) >= 1e-4)
_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _FLOATS | st.text()
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(), inner, max_size=4), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_indented_text_equals_the_json_modules(value: object) -> None:
    expected = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert json_text(value, indent=True) == expected


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_compact_text_equals_the_json_modules(value: object) -> None:
    assert json_text(value) == json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_float_reads_back_as_itself(value: float) -> None:
    assert json.loads(json_text([value]))[0] == value


def test_integers_beyond_64_bits_take_the_json_module() -> None:
    value = {"big": 2**70, "small": -(2**64)}
    assert json_text(value) == '{"big":1180591620717411303424,"small":-18446744073709551616}'
    assert json.loads(json_text(value, indent=True)) == value
