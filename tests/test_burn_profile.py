"""What each window of a burn-rate pair reads as the input's level changes once (alerts/burn_profile.py)."""

from __future__ import annotations

import pytest

from obstack.alerts.burn_profile import Pair, TwoLevels, above, firing
from obstack.stack.spec.values import Duration

SECOND = 1000


@pytest.mark.parametrize(("counter", "straddling"), [(True, 5 / 6), (False, 5 / 6)])
def test_a_window_reads_the_samples_of_its_closed_range(counter: bool, straddling: float) -> None:
    levels = TwoLevels(0.0, 1.0, switch=4, sample_ms=15 * SECOND, counter=counter)
    # At 120s a 60s range holds samples 4..8: all of the second level (the increments 5..8 for counters).
    assert levels.ratio(120 * SECOND, 60 * SECOND) == 1.0
    # 75s: samples 3..8. Gauges: one sample of the first level in six. Counters: increments 4..8, and
    # increment 4 (the switch) carries one interval of each level, as _then resumes a counter.
    assert levels.ratio(120 * SECOND, 75 * SECOND) == pytest.approx(straddling)
    # Before the input starts a range holds nothing (counters need two samples).
    assert levels.ratio(0, 60 * SECOND) == (None if counter else 0.0)


def test_values_near_a_threshold_are_too_close_to_call() -> None:
    assert above(0.0105, 0.01) is True and above(0.0095, 0.01) is False
    assert above(0.0101, 0.01) is None and above(None, 0.01) is False


def test_an_alert_fires_only_after_its_condition_surely_held_through_for() -> None:
    def condition(at_ms: int) -> bool:
        return at_ms >= 60 * SECOND
    step, margin, hold = 15 * SECOND, 30 * SECOND, 60 * SECOND
    assert firing(condition, 180 * SECOND, hold, step, margin) is True
    assert firing(condition, 120 * SECOND, hold, step, margin) is None  # held for about `for`: a lag tips it
    assert firing(condition, 45 * SECOND, hold, step, margin) is False  # not holding yet
    assert firing(condition, 90 * SECOND, 2 * hold, step, margin) is False  # shorter than `for`


def test_a_pair_needs_both_windows_and_no_faster_burn() -> None:
    # The last 10 minutes at 2% errors: the 5m window reads 2%, the 1h window a sixth of it.
    levels = TwoLevels(0.0, 0.02, switch=200, sample_ms=15 * SECOND, counter=True)
    at = 240 * 15 * SECOND
    fast = Pair(0.0144, Duration.parse("1h"), Duration.parse("5m"), Duration.parse("2m"))
    assert fast.condition(levels, at) is False
    assert fast.condition(levels, at, "short") is True and fast.condition(levels, at, "long") is False
    slow = Pair(0.003, Duration.parse("1d"), Duration.parse("2h"), Duration.parse("15m"),
                blocked_above=0.0144, blocked_window=Duration.parse("5m"))
    assert slow.blocked(levels, at) is True and slow.condition(levels, at) is False
