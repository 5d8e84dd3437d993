"""The table of holds and windows (alerts/timing.py): complete, documented, and scaled as one."""

from __future__ import annotations

import re
from pathlib import Path

from obstack.alerts.rule_files import rule_files
from obstack.alerts.timing import TIMING
from obstack.alerts.timing_doc import with_timing_table
from obstack.stack.spec.loader import load_spec

ROOT = Path(__file__).parent.parent
ALERTING_DOC = ROOT / "docs" / "alerting.md"


def test_every_entry_says_why() -> None:
    assert TIMING.entries() and all(entry.reason.strip() for _, entry in TIMING.entries())


def test_the_documented_table_is_current() -> None:
    text = ALERTING_DOC.read_text()
    assert text == with_timing_table(text), "alerts/timing.py changed: run `make docs`"


def test_rule_builders_hold_no_duration_of_their_own() -> None:
    """A hold or window written into a rule module would not scale with the table (local --fast)."""
    literal = re.compile(r'Duration\.parse\("|Duration\.of_seconds\(\d|RATE_WINDOW|"\d+[smhd]"')
    found = [f"{path.name}:{number}: {line.strip()}" for path in sorted((ROOT / "alerts").glob("*_rules.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if literal.search(line)]
    assert not found, found


def test_the_scaled_table_divides_every_entry_by_its_kinds_floor() -> None:
    fast = TIMING.scaled(15)
    assert fast.time_scale == 15 and TIMING.time_scale == 1 and TIMING.scaled(1) is TIMING
    assert [str(fast.red_window.duration), str(fast.red_critical_hold.duration)] == ["20s", "8s"]
    assert str(fast.slo_slow_interval.duration) == "4s" and str(fast.slo_long_window.duration) == "24m"
    assert str(fast.watchdog_hold.duration) == "0s"
    assert [(str(w.long), str(w.short), str(w.for_)) for w in fast.burn_windows][:2] == [("4m", "20s", "8s"),
                                                                                         ("24m", "2m", "1m")]
    assert str(TIMING.scaled(600).red_window.duration) == "4s"  # a rate needs a few scrapes in its window


def test_a_time_scaled_spec_generates_the_scaled_table_and_keeps_its_own_holds() -> None:
    spec = load_spec(None).spec
    scaled = spec.with_time_scale(15)
    assert scaled.time_scale == 15 and spec.time_scale == 1
    holds = {rule.name: rule.for_ for f in rule_files(scaled) for rule in f.alert_rules}
    assert str(holds["HighErrorRate"]) == "8s" and str(holds["ExporterDown"]) == "4s"
    # down_for is the spec's: scaled by fast_spec (stack/local_config.py), not by the time scale.
    assert holds["ServiceDown"] == spec.services[0].thresholds.down_for
