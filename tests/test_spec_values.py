"""Value types of the spec (durations, ratios, versions) and the plan's defaults."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from obstack.stack.spec.loader import load_spec, load_spec_text
from obstack.stack.spec.model import ALERTMANAGER_FLOOR, PROMETHEUS_FLOOR
from obstack.stack.spec.values import ByteSize, Duration, Ratio, Version

# prometheus/common model/time.go: durationRE, as ParseDuration uses it (it also refuses "",
# accepts the bare "0", and refuses more than 1<<63-1 milliseconds).
PROMETHEUS_DURATION_RE = re.compile(
    r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$"
)
PROMETHEUS_MAX_MS = (1 << 63) - 1

UNIT_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}

milliseconds = st.integers(min_value=0, max_value=PROMETHEUS_MAX_MS)
# Percentages as written in a spec: up to 4 decimal places between 0% and 100%.
percents = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)


def _prometheus_parse(text: str) -> int:
    """Milliseconds of a Prometheus duration, the way model.ParseDuration computes them."""
    if text == "0":
        return 0
    match = PROMETHEUS_DURATION_RE.match(text)
    assert text and match, text
    total = sum(int(n) * UNIT_MS[u] for n, u in re.findall(r"(\d+)(ms|y|w|d|h|m|s)", text))
    assert total <= PROMETHEUS_MAX_MS
    return total


def _minimal(number: Decimal) -> str:
    """The shortest plain decimal for ``number``: no exponent, no trailing zeros, no trailing '.'."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


# ---------------------------------------------------------------------------
# Duration


@given(milliseconds)
@example(0)
@example(1)
@example(365 * 86_400_000)
@example(30 * 86_400_000)
@example(90 * 60_000)
def test_duration_round_trips_through_its_text(ms: int) -> None:
    duration = Duration(ms)
    assert Duration.parse(str(duration)) == duration


@given(milliseconds)
@example(0)
@example(372 * 86_400_000 + 1)
def test_duration_text_is_a_prometheus_duration(ms: int) -> None:
    text = str(Duration(ms))
    assert text, "Prometheus refuses an empty duration"
    assert PROMETHEUS_DURATION_RE.match(text), text
    assert _prometheus_parse(text) == ms


@pytest.mark.parametrize(
    ("text", "ms", "canonical"),
    [
        ("0s", 0, "0s"),
        ("500ms", 500, "500ms"),
        ("30s", 30_000, "30s"),
        ("90s", 90_000, "1m30s"),
        ("1h30m", 5_400_000, "1h30m"),
        ("30d", 30 * 86_400_000, "30d"),
        ("2w", 14 * 86_400_000, "2w"),
        ("1y", 365 * 86_400_000, "1y"),
        ("1d1ms", 86_400_001, "1d1ms"),
    ],
)
def test_duration_examples(text: str, ms: int, canonical: str) -> None:
    assert Duration.parse(text).milliseconds == ms
    assert str(Duration.parse(text)) == canonical


@pytest.mark.parametrize("bad", ["", "5", "5 minutes", "1m1h", "-1s", "1.5s", "5M", 60, 1.5, True, None])
def test_duration_refuses(bad: object) -> None:
    with pytest.raises(ValueError):
        Duration.parse(bad)


# ---------------------------------------------------------------------------
# Ratio


@given(percents)
@example(Decimal("5"))
@example(Decimal("14.4"))
@example(Decimal("99.9"))
@example(Decimal("0"))
@example(Decimal("100"))
def test_ratio_percent_equals_its_decimal_fraction(percent: Decimal) -> None:
    as_percent = Ratio.parse(f"{_minimal(percent)}%")
    # The same fraction written as a bare YAML number, e.g. 0.144 (PyYAML reads a float).
    as_number = Ratio.parse(yaml.safe_load(_minimal(percent / 100)))
    assert as_percent == as_number
    assert as_percent.value == percent / 100


@given(percents)
@example(Decimal("0.0001"))
@example(Decimal("100"))
def test_ratio_decimal_text_is_plain_and_minimal(percent: Decimal) -> None:
    ratio = Ratio.parse(f"{_minimal(percent)}%")
    text = ratio.decimal_text()
    assert "e" not in text.lower()
    assert text == _minimal(percent / 100)
    assert Decimal(text) == percent / 100
    assert Ratio.parse(ratio.percent) == ratio


@pytest.mark.parametrize(
    ("written", "decimal", "percent"),
    [
        ("5%", "0.05", "5%"),
        ("1%", "0.01", "1%"),
        ("99.9%", "0.999", "99.9%"),
        ("14.4%", "0.144", "14.4%"),
        ("80%", "0.8", "80%"),
        ("0.1%", "0.001", "0.1%"),
        ("0%", "0", "0%"),
        ("100%", "1", "100%"),
        ("5.000%", "0.05", "5%"),
        (" 5 % ", "0.05", "5%"),
        (0.144, "0.144", "14.4%"),
        (0.05, "0.05", "5%"),
        (1, "1", "100%"),
        (0, "0", "0%"),
    ],
)
def test_ratio_examples(written: object, decimal: str, percent: str) -> None:
    ratio = Ratio.parse(written)
    assert ratio.decimal_text() == decimal
    assert ratio.percent == percent
    assert str(ratio) == percent


@pytest.mark.parametrize("bad", ["5x", "5", "", "-5%", "101%", "5%%", 80, 1.5, -0.1, True, None, float("nan"), float("inf")])
def test_ratio_refuses(bad: object) -> None:
    with pytest.raises(ValueError):
        Ratio.parse(bad)


def test_ratio_bare_number_above_one_hints_at_percent() -> None:
    with pytest.raises(ValueError, match=r"did you mean '80%'\?"):
        Ratio.parse(80)


# ---------------------------------------------------------------------------
# Version

versions = st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999))


@given(versions, versions)
def test_version_orders_numerically(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    va, vb = Version(*a), Version(*b)
    assert (va < vb) == (a < b)
    assert (va == vb) == (a == b)
    assert Version.parse(str(va)) == va
    assert Version.parse(".".join(map(str, a))) == va


@pytest.mark.parametrize(
    ("lower", "higher"),
    [("2.5", "2.40"), ("2.9", "2.10"), ("2.41.9", "2.42"), ("0.25", "0.25.1"), ("1.99.99", "2.0")],
)
def test_version_examples_order(lower: str, higher: str) -> None:
    assert Version.parse(lower) < Version.parse(higher)


def test_version_forms() -> None:
    assert Version.parse("2.42") == Version.parse("2.42.0") == Version.parse("v2.42") == Version(2, 42, 0)
    assert str(Version.parse("2.42.0")) == "2.42"
    assert str(Version.parse("0.25.1")) == "0.25.1"


@pytest.mark.parametrize("bad", [2.42, 2, "2", "2.x", "2.42.0.1", "", None])
def test_version_refuses(bad: object) -> None:
    with pytest.raises(ValueError):
        Version.parse(bad)


# ---------------------------------------------------------------------------
# The plan's numbers


def _assert_plan_service(service) -> None:  # type: ignore[no-untyped-def]
    thresholds = service.thresholds
    assert thresholds.down_for == Duration.parse("1m")
    assert thresholds.error_rate.critical == Ratio.of("5%")
    assert thresholds.error_rate.critical.decimal_text() == "0.05"
    assert thresholds.error_rate.warning == Ratio.of("1%")
    assert thresholds.error_rate.warning.decimal_text() == "0.01"
    assert thresholds.latency_p95.critical == Duration.parse("2s")
    assert thresholds.latency_p95.critical.seconds == 2
    assert thresholds.latency_p95.warning == Duration.parse("500ms")
    assert thresholds.latency_p95.warning.seconds == 0.5
    slos = [(s.name, s.kind, s.objective.percent, str(s.threshold) if s.threshold else None, str(s.window))
            for s in service.slos]
    assert slos == [
        ("availability", "availability", "99.9%", None, "30d"),
        ("errors", "errors", "99.9%", None, "30d"),
        ("latency", "latency", "95%", "100ms", "30d"),
    ]


def test_default_spec_thresholds_are_the_plan_numbers() -> None:
    spec = load_spec().spec
    assert spec.project == "bookmark"
    (service,) = spec.services
    _assert_plan_service(service)
    assert spec.host.thresholds.memory_used.critical == Ratio.of("80%")
    assert spec.host.thresholds.memory_used.warning is None
    assert spec.host.thresholds.disk_free.critical == Ratio.of("10%")
    assert spec.host.thresholds.disk_free.critical.decimal_text() == "0.1"
    assert {d.kind for d in spec.datastores} == {"postgres", "redis"}
    for store in spec.datastores:
        assert store.thresholds.connections.warning == Ratio.of("80%")
        assert store.thresholds.connections.critical is None
        assert store.thresholds.down_for == Duration.parse("1m")
    assert spec.queues
    for queue in spec.queues:
        assert (queue.thresholds.backlog.critical, queue.thresholds.backlog.warning) == (1000, 500)
    assert spec.prometheus.target_versions.prometheus == PROMETHEUS_FLOOR == Version(2, 42)
    assert spec.prometheus.target_versions.alertmanager == ALERTMANAGER_FLOOR == Version(0, 25)


def test_minimal_spec_gets_every_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "stack.yaml"
    path.write_text("project: demo\nservices:\n  - name: web\n    targets: [web:8080]\n", encoding="utf-8")
    spec = load_spec(path).spec
    (service,) = spec.services
    assert service.job == "web"
    assert service.team == spec.team == "platform"
    assert service.health_url == "http://web:8080/health"
    assert service.metrics_path == "/metrics"
    assert service.scheme == "http"
    assert service.depends_on == []
    assert service.request_metrics.histogram == "http_request_duration_seconds"
    assert 0.1 in service.request_metrics.buckets  # the latency SLO's 100ms bucket
    _assert_plan_service(service)
    assert spec.host.team == "platform"
    assert spec.host.thresholds.memory_used.critical == Ratio.of("80%")
    assert spec.host.thresholds.disk_free.critical == Ratio.of("10%")
    assert str(spec.prometheus.scrape_interval) == "15s"
    assert str(spec.prometheus.scrape_timeout) == "10s"
    assert spec.prometheus.target_versions.prometheus == PROMETHEUS_FLOOR
    assert spec.notifications.fallback_receiver == "chat"


def test_minimal_entries_inherit_team_and_derive_fields() -> None:
    text = (
        "project: demo\nteam: payments\n"
        "services:\n  - name: web\n    scheme: https\n    targets: [web:8443]\n"
        "  - name: admin\n    job: admin-ui\n    team: backoffice\n    targets: [admin:80]\n"
        "datastores:\n  - name: pg\n    kind: postgres\n    dsn_env: DEMO_PG_DSN\n"
        "  - name: cache\n    kind: redis\n    url_file: /run/secrets/redis_url\n"
        "queues:\n  - name: mail\n    backend: bullmq\n    datastore: cache\n"
        "  - name: jobs\n    backend: pgboss\n    datastore: pg\n"
    )
    spec = load_spec_text(text, "minimal.yaml").spec
    web, admin = spec.services
    assert (web.job, web.team, web.health_url) == ("web", "payments", "https://web:8443/health")
    assert (admin.job, admin.team, admin.health_url) == ("admin-ui", "backoffice", "http://admin:80/health")
    assert [s.team for s in spec.datastores] == ["payments", "payments"]
    for store in spec.datastores:
        assert store.thresholds.connections.warning == Ratio.of("80%")
        assert store.thresholds.down_for == Duration.parse("1m")
    mail, jobs = spec.queues
    assert (mail.team, mail.prefix, mail.datastore_kind) == ("payments", "bull", "redis")
    assert (jobs.prefix, jobs.datastore_kind) == ("pgboss", "postgres")
    for queue in spec.queues:
        assert (queue.thresholds.backlog.critical, queue.thresholds.backlog.warning) == (1000, 500)
    assert spec.host.team == "payments"
    assert spec.teams == ["payments", "backoffice"]


# PM2 7.0.4, lib/API/schema.json: max_memory_restart matches ^\d+(G|M|K)?$ (or is a number of
# bytes); lib/tools/Config.js multiplies K, M and G by 1024, 1024**2 and 1024**3.
PM2_BYTE_SIZE_RE = re.compile(r"^\d+(G|M|K)?$")
PM2_UNITS = {"G": 1024**3, "M": 1024**2, "K": 1024}


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(["", "K", "M", "G"]))
def test_byte_size_reads_pm2_s_notation_as_pm2_does(count: int, unit: str) -> None:
    text = f"{count}{unit}"
    assert PM2_BYTE_SIZE_RE.match(text)
    size = ByteSize.parse(text)
    assert size.bytes == count * PM2_UNITS.get(unit, 1)
    assert ByteSize.parse(str(size)) == size and PM2_BYTE_SIZE_RE.match(str(size))  # its text is PM2's too


@pytest.mark.parametrize("bad", ["1.5G", "500MB", "0M", "", "-1M", "M", True, 0, -5, 1.5, None])
def test_byte_size_refuses_what_pm2_refuses(bad: object) -> None:
    with pytest.raises(ValueError, match="not a memory size"):
        ByteSize.parse(bad)


def test_the_default_spec_carries_the_plan_s_max_memory_restart() -> None:
    service = load_spec().spec.services[0]
    assert service.max_memory_restart == ByteSize(500 * 1024**2)
