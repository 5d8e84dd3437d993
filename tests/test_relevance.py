"""Which rules a promtool test group loads in mutation runs: only those that can change the alerts
it checks (the mutation runner's baseline check proves it on every generated tree it runs)."""

from __future__ import annotations

from typing import Any

from obstack.alerts.relevance import GroupInput, live_rules, needed_rules, reads_label

RULES: dict[str, Any] = {"groups": [
    {"name": "fast", "rules": [
        {"record": "events:rate5m", "expr": 'sum by (service) (rate(requests_total{job="api"}[5m]))'},
        {"record": "error:ratio5m", "labels": {"slo": "errors"},
         "expr": '(sum by (service) (rate(requests_total{job="api", code=~"5.."}[5m])) or 0 * events:rate5m)'
                 ' / events:rate5m'},
        {"record": "error:ratio5m", "labels": {"slo": "latency"},
         "expr": '(events:rate5m - sum by (service) (rate(latency_bucket{job="api", le="0.1"}[5m])))'
                 ' / events:rate5m'},
        {"record": "error:ratio5m", "labels": {"slo": "availability"},
         "expr": '1 - avg by (service) (avg_over_time(up{job="api"}[5m]))'},
        {"alert": "Burn", "expr": 'error:ratio5m{slo="errors"} > 0.1 or error:ratio5m{slo="errors"} > 0.05'
                                  ' and on (service) ALERTS{alertname="Burn", alertstate="firing"}'},
        {"alert": "BurnAvailability", "expr": 'error:ratio5m{slo="availability"} > 0.1'},
        {"alert": "Missing", "expr": 'absent(up{job="api"})'},
    ]},
]}


def kept(alerts: set[str], series: list[str]) -> list[str]:
    document = needed_rules({"f.yml": RULES}, alerts, series)["f.yml"]
    return [f'{rule.get("alert") or rule["record"]}{rule.get("labels", {}).get("slo", "")}'
            for group in document["groups"] for rule in group["rules"]]


def test_a_group_loads_its_alert_and_the_recordings_it_reads() -> None:
    requests = ['requests_total{job="api", code="200"}', 'requests_total{job="api", code="500"}']
    assert kept({"Burn"}, requests) == ["events:rate5m", "error:ratio5merrors", "Burn"]


def test_a_recording_with_nothing_to_read_is_left_out() -> None:
    # No 5xx series: the errors ratio still reads 0 through its "or" branch, so it stays.
    assert kept({"Burn"}, ['requests_total{job="api", code="200"}']) == ["events:rate5m", "error:ratio5merrors", "Burn"]
    # No request series at all: nothing the Burn alert reads can have data.
    assert kept({"Burn"}, ['up{job="api"}']) == []
    # The latency ratio needs both sides of its "-": with no buckets it never outputs a series.
    assert "error:ratio5mlatency" not in kept({"Burn", "BurnAvailability"}, ['requests_total{job="api"}'])


def test_a_matcher_on_a_recording_s_static_label_tells_which_rules_feed_it() -> None:
    assert kept({"BurnAvailability"}, ['up{job="api"}']) == ["error:ratio5mavailability", "BurnAvailability"]
    assert kept({"Burn"}, ['up{job="api"}']) == []  # only the availability ratio has data: Burn reads errors


def test_alerts_made_out_of_nothing_are_always_kept() -> None:
    assert kept({"Missing"}, []) == ["Missing"]
    assert kept({"Missing"}, ['up{job="other"}']) == ["Missing"]


def test_a_label_is_read_where_an_input_series_or_a_recording_may_carry_it() -> None:
    inputs = [GroupInput(['requests_total{job="api", code="200", route="/a"}', 'up{job="api"}'])]
    documents = {"f.yml": RULES}
    assert reads_label(documents, 'sum by (service) (rate(requests_total{job="api"}[5m]))', "route", inputs)
    assert not reads_label(documents, 'max by (job) (up{job="api"})', "route", inputs)
    # events:rate5m keeps only service: the route never reaches a rule reading it.
    assert not reads_label(documents, "sum by (service) (events:rate5m)", "route", inputs)
    assert reads_label(documents, 'sum by (service) (error:ratio5m{slo="errors"})', "slo", inputs)  # a static label
    assert reads_label(documents, 'count by (service) (ALERTS{alertname="Burn"})', "route", inputs)  # may: any label


def live(series: list[str], rules: dict[str, Any] = RULES) -> list[str]:
    return [f'{rule.get("alert") or rule["record"]}{rule.get("labels", {}).get("slo", "")}'
            for rule in live_rules({"f.yml": rules}, series)]


def test_the_validator_keeps_every_rule_that_may_output_checked_or_not() -> None:
    # Requests only: the availability ratio and its alert read nothing; Missing (absent()) always
    # outputs. Unlike needed_rules, no alert named: every rule that may write a series stays.
    assert live(['requests_total{job="api", code="500"}']) == ["events:rate5m", "error:ratio5merrors", "Burn",
                                                              "Missing"]
    assert live(['up{job="api"}']) == ["error:ratio5mavailability", "BurnAvailability", "Missing"]


def test_a_rule_that_outputs_nothing_stays_where_what_it_reads_can_fail_it() -> None:
    def rule(expr: str) -> dict[str, Any]:
        return {"groups": [{"name": "g", "rules": [{"record": "r", "expr": expr}]}]}
    fed = ['a{i="1"}', 'b{i="1"}']
    # Empty either way: an operation with one side empty returns nothing without matching.
    assert live(fed, rule("a / on () missing")) == []
    assert live(fed, rule("sum by (i) (rate(a[5m])) and on (i) missing")) == []
    # Both sides fed: duplicate matches would fail it, whatever the "and" then keeps.
    assert live(fed, rule("(a / on () b) and on (i) missing")) == ["r"]
    # A function not known to take any input (invalid label names), an aggregation with a
    # parameter, a selector without a name (rate() may leave two series of one labelset).
    assert live(fed, rule('label_join(a, "x-y", ",", "i") and missing')) == ["r"]
    assert live(fed, rule("topk(1, a) and missing")) == ["r"]
    assert live(fed, rule('rate({i="1"}[5m]) and missing')) == ["r"]
    assert live(fed, rule('rate({i="2"}[5m]) and missing')) == []  # finds nothing


def test_an_input_series_named_like_a_recording_is_read() -> None:
    # A ruler's rules read series a shard recorded: its tests feed them as input.
    assert live(['error:ratio5m{slo="errors", service="api"}']) == ["Burn", "Missing"]
