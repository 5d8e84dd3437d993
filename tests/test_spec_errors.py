"""Bad specs through the real CLI: one line per problem on stderr, exit 2, nothing written.

Every case is a small text edit of ``BASE`` (so the expected line numbers can be read
off the listing below) run as ``python -m obstack generate`` in a subprocess. The runs
are independent; a module fixture starts them concurrently so the file stays fast.

Each error line reads ``FILE:LINE: yaml.path: message``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A valid spec: one service, one postgres, one redis, one bullmq queue.
BASE_LINES = (
    "project: shop",  # 1
    "environment: production",  # 2
    "services:",  # 3
    "  - name: api",  # 4
    "    targets: [api:3000]",  # 5
    "    metrics_path: /metrics",  # 6
    "    thresholds:",  # 7
    "      down_for: 1m",  # 8
    "      error_rate:",  # 9
    "        critical: 5%",  # 10
    "        warning: 1%",  # 11
    "    depends_on: [db, cache]",  # 12
    "datastores:",  # 13
    "  - name: db",  # 14
    "    kind: postgres",  # 15
    "    dsn_env: SHOP_PG_DSN",  # 16
    "  - name: cache",  # 17
    "    kind: redis",  # 18
    "    url_env: SHOP_REDIS_URL",  # 19
    "queues:",  # 20
    "  - name: jobs",  # 21
    "    backend: bullmq",  # 22
    "    datastore: cache",  # 23
)
BASE = "\n".join(BASE_LINES) + "\n"
NEXT = len(BASE_LINES) + 1  # first line of text appended to BASE

# A notifications section appended to BASE; its lines are NEXT + offset.
NOTIFICATIONS = """\
notifications:
  receivers:
    - name: ops
      type: webhook
      url: http://hooks.example.com/ops
  routes:
    - severity: critical
      receiver: ops
  default_receiver: ops
"""

CANARY = "s3cr3t-canary"


def notifications(old: str = "", new: str = "") -> str:
    """NOTIFICATIONS with ``old`` (which must occur once) replaced by ``new``."""
    if not old:
        return NOTIFICATIONS
    assert NOTIFICATIONS.count(old) == 1, f"{old!r} must occur exactly once in NOTIFICATIONS"
    return NOTIFICATIONS.replace(old, new)


def edit(*replacements: tuple[str, str], append: str = "") -> str:
    """BASE with each (old, new) replaced exactly once, then ``append`` added at the end."""
    text = BASE
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur exactly once in the base spec"
        text = text.replace(old, new)
    return text + append


@dataclass(frozen=True)
class Problem:
    line: int
    path: str
    phrase: str


@dataclass(frozen=True)
class Case:
    id: str
    text: str | None  # None: the spec path is not a readable file (see ``source``)
    problems: tuple[Problem, ...]
    source: str = "file"  # "file", "dir" (the path is a directory) or "missing"
    exact: bool = True  # stderr holds exactly these problems, one line each
    secrets: tuple[str, ...] = ()  # must never appear in stdout or stderr

    def __str__(self) -> str:
        return self.id


def case(id: str, text: str | None, line: int, path: str, phrase: str, **kwargs: object) -> Case:
    return Case(id, text, (Problem(line, path, phrase),), **kwargs)  # type: ignore[arg-type]


CASES: list[Case] = [
    # --- types and keys -------------------------------------------------------
    case("targets-as-string", edit(("targets: [api:3000]", "targets: api:3000")),
         5, "services[0].targets", "Input should be a valid list", exact=False),
    case("unknown-key-did-you-mean", edit(("metrics_path: /metrics", "metrics_pth: /metrics")),
         6, "services[0].metrics_pth", "unknown key 'metrics_pth'; did you mean 'metrics_path'?"),
    case("unknown-top-level-key", edit(("environment: production", "enviroment: production")),
         2, "enviroment", "unknown key 'enviroment'; did you mean 'environment'?"),
    case("unknown-key-no-suggestion", edit(("metrics_path: /metrics", "zzzqqq: 1")),
         6, "services[0].zzzqqq", "see `obstack schema`"),
    case("duplicate-yaml-key", edit(("metrics_path: /metrics", "targets: [api:3001]")),
         6, "services[0].targets", "duplicate key 'targets'"),
    case("missing-project", edit(("project: shop", "# no project here")),
         2, "project", "missing required key 'project'"),
    case("missing-service-targets", edit(("    targets: [api:3000]", "    # no targets")),
         4, "services[0].targets", "missing required key 'targets'"),
    case("datastore-kind-mysql", edit(("kind: postgres", "kind: mysql")),
         15, "datastores[0].kind", "kind 'mysql' is not one of: postgres, redis"),
    case("datastore-inline-dsn", edit(("dsn_env: SHOP_PG_DSN", "dsn: postgres://app@db:5432/shop")),
         16, "datastores[0].dsn", "inline 'dsn' is not allowed"),
    case("target-without-port", edit(("targets: [api:3000]", "targets: [api]")),
         5, "services[0].targets[0]", "'api' is not a scrape target"),
    case("name-upper-case", edit(("name: api", "name: API")),
         4, "services[0].name", "'API' is not a valid name"),
    # --- values ---------------------------------------------------------------
    case("duration-in-words", edit(("down_for: 1m", "down_for: 5 minutes")),
         8, "services[0].thresholds.down_for", "'5 minutes' is not a duration"),
    case("duration-bare-integer", edit(("down_for: 1m", "down_for: 60")),
         8, "services[0].thresholds.down_for", "a duration must be a string with a unit"),
    case("percentage-garbage", edit(("critical: 5%", "critical: 5x")),
         10, "services[0].thresholds.error_rate.critical", "'5x' is not a percentage"),
    case("percentage-bare-number-hint", edit(("critical: 5%", "critical: 80")),
         10, "services[0].thresholds.error_rate.critical", "did you mean '80%'?"),
    case("warning-not-below-critical", edit(("warning: 1%", "warning: 10%")),
         9, "services[0].thresholds.error_rate", "warning (10%) must be below critical (5%)"),
    case("version-below-floor",
         edit(append="prometheus:\n  target_versions:\n    prometheus: '2.30'\n"),
         NEXT + 2, "prometheus.target_versions.prometheus", "older than the supported floor 2.42"),
    case("version-bare-float",
         edit(append="prometheus:\n  target_versions:\n    prometheus: 2.42\n"),
         NEXT + 2, "prometheus.target_versions.prometheus", "write it as a quoted string"),
    case("scrape-timeout-above-interval",
         edit(append="prometheus:\n  scrape_interval: 10s\n  scrape_timeout: 15s\n"),
         NEXT + 2, "prometheus.scrape_timeout", "scrape_timeout (15s) must not exceed scrape_interval (10s)"),
    case("retention-shorter-than-an-slo-window",
         edit(append="prometheus:\n  retention: 15d\n"),
         NEXT + 1, "prometheus.retention",
         "15d is shorter than the 30d window of SLO 'availability' of services[0] (api): its SLI and error budget "
         "would read only 15d; set retention to at least 30d (services[0].slos[0].window)"),
    case("latency-slo-threshold-not-a-bucket",
         edit(("    metrics_path: /metrics\n",
               "    slos:\n"  # 6
               "      - name: latency\n"  # 7
               "        kind: latency\n"  # 8
               "        objective: 95%\n"  # 9
               "        threshold: 150ms\n")),  # 10
         10, "services[0].slos[0].threshold", "150ms (0.15s) is not a bucket of http_request_duration_seconds"),
    case("latency-p95-never-fires",
         edit(("        warning: 1%\n", "        warning: 1%\n      latency_p95: {critical: 7s, warning: 500ms}\n")),
         12, "services[0].thresholds.latency_p95.critical",
         "7s can never fire: a p95 read from http_request_duration_seconds never exceeds its highest bucket (10s)"),
    case("pm2-aggregated-without-a-start-time-it-keeps",
         edit(("    metrics_path: /metrics\n", "    metrics_path: /metrics\n    pm2: {layout: aggregated}\n")),
         4, "services[0].process_start_metric",
         "process_start_time_seconds is dropped by prom-client's AggregatorRegistry (pm2.layout: aggregated)"),
    case("pm2-unknown-layout",
         edit(("    metrics_path: /metrics\n", "    metrics_path: /metrics\n    pm2: {layout: shared}\n")),
         7, "services[0].pm2.layout", "'worker-ports' or 'aggregated'"),
    case("runbook-unknown-placeholder",
         edit(append="runbook_url: https://runbooks.example.com/{project}/{service}\n"),
         NEXT, "runbook_url", "unknown placeholder {service}"),
    # --- names and references -------------------------------------------------
    case("duplicate-name-queue-datastore", edit(("name: jobs", "name: db")),
         21, "queues[0].name", "duplicate name 'db' (already used by datastores[0])"),
    case("duplicate-name-queue-service", edit(("name: jobs", "name: api")),
         21, "queues[0].name", "duplicate name 'api' (already used by services[0])"),
    case("reserved-job-name", edit(("metrics_path: /metrics", "job: node")),
         6, "services[0].job", "job 'node' is taken by the monitoring stack"),
    case("reserved-job-name-follows-host-job", edit(("metrics_path: /metrics", "job: node-exporter"),
                                                     append="host: {job: node-exporter}\n"),
         6, "services[0].job", "job 'node-exporter' is taken by the monitoring stack"),
    case("host-job-taken-by-stack", edit(append="host: {job: prometheus}\n"),
         NEXT, "host.job", "job 'prometheus' is taken by the monitoring stack"),
    case("queue-unknown-datastore", edit(("datastore: cache", "datastore: redis2")),
         23, "queues[0].datastore", "unknown datastore 'redis2' (known: db, cache)"),
    case("pgboss-on-redis", edit(("backend: bullmq", "backend: pgboss")),
         23, "queues[0].datastore", "a pgboss queue lives in postgres, but 'cache' is redis"),
    case("depends-on-unknown", edit(("depends_on: [db, cache]", "depends_on: [db, cach]")),
         12, "services[0].depends_on[1]", "unknown service, datastore or queue 'cach'"),
    case("depends-on-cycle",
         edit(("name: api", "name: a"),
              ("    depends_on: [db, cache]\n",
               "    depends_on: [db, b]\n"  # 12
               "  - name: b\n"  # 13
               "    targets: [b:3000]\n"  # 14
               "    depends_on: [c]\n"  # 15
               "  - name: c\n"  # 16
               "    targets: [c:3000]\n"  # 17
               "    depends_on: [a]\n")),  # 18
         12, "services[0].depends_on", "dependency cycle: a -> b -> c -> a"),
    case("route-unknown-receiver", edit(append=notifications("      receiver: ops", "      receiver: opps")),
         NEXT + 7, "notifications.routes[0].receiver", "unknown receiver 'opps' (known: ops)"),
    case("unknown-default-receiver",
         edit(append=notifications("default_receiver: ops", "default_receiver: nobody")),
         NEXT + 8, "notifications.default_receiver", "unknown receiver 'nobody' (known: ops)"),
    case("unknown-watchdog-receiver",
         edit(append=notifications("default_receiver: ops", "default_receiver: ops\n  watchdog: {receiver: beat}")),
         NEXT + 9, "notifications.watchdog.receiver", "unknown receiver 'beat' (known: ops)"),
    case("watchdog-receiver-shared-with-alerts",
         edit(append=notifications("default_receiver: ops", "default_receiver: ops\n  watchdog: {receiver: ops}")),
         NEXT + 9, "notifications.watchdog.receiver",
         "receiver 'ops' also receives other alerts (a route or the default receiver); give the heartbeat a "
         "receiver of its own"),
    case("compose-app-for-a-service-that-runs-elsewhere",
         edit(("metrics_path: /metrics", "runs_on: kubernetes"),
              append="compose:\n  apps:\n    - {service: api, image: api:1.0.0}\n"),
         NEXT + 2, "compose.apps[0].service",
         "'api' runs on kubernetes (services[0].runs_on), so compose does not run it; remove this entry, or set its "
         "runs_on to compose"),
    case("runs-on-unknown-place", edit(("metrics_path: /metrics", "runs_on: cloud")),
         6, "services[0].runs_on", "'compose', 'kubernetes' or 'external' (got 'cloud')"),
    # --- the file itself ------------------------------------------------------
    case("malformed-unclosed-bracket", edit(("targets: [api:3000]", "targets: [api:3000")),
         5, "services[0].targets", "malformed YAML"),
    case("empty-file", "", 1, "(root)", "the spec is empty"),
    case("comments-only-file", "# nothing yet\n", 1, "(root)", "the spec is empty"),
    case("top-level-list", "- project: shop\n- services: []\n", 1, "(root)", "must be a mapping of keys, not a list"),
    case("spec-is-a-directory", None, 1, "(root)", "is a directory", source="dir"),
    case("spec-file-missing", None, 1, "(root)", "file not found", source="missing"),
    # --- alert overrides: names and labels are the generated alerts' -------------
    case("alert-override-unknown-name", edit(append="alerts:\n  HighErrorRates: {enabled: false}\n"),
         NEXT + 1, "alerts.HighErrorRates", "no generated alert is named 'HighErrorRates'; did you mean 'HighErrorRate'?"),
    case("alert-override-replaces-a-label", edit(append="alerts:\n  HighErrorRate:\n    labels: {service: x}\n"),
         NEXT + 2, "alerts.HighErrorRate.labels.service", "'service' is a label HighErrorRate carries already"),
    case("alert-labels-replace-a-label", edit(append="alert_labels: {team: x}\n"),
         NEXT, "alert_labels.team", "'team' is a label the generated alerts carry already"),
    case("alert-override-watchdog-off", edit(append="alerts:\n  Watchdog: {enabled: false}\n"),
         NEXT + 1, "alerts.Watchdog", "set notifications.watchdog.receiver: null"),
    case("alert-override-value-of-a-state", edit(append="alerts:\n  PostgresDown:\n    annotations: {summary: 'down {value}'}\n"),
         NEXT + 2, "alerts.PostgresDown.annotations.summary", "remove {value}"),
    case("alert-override-unknown-placeholder", edit(append="alerts:\n  HighErrorRate:\n    annotations: {summary: 'on {queue}'}\n"),
         NEXT + 2, "alerts.HighErrorRate.annotations.summary", "{queue} is not a label of HighErrorRate"),
    case("alert-override-severity-unknown", edit(append="alerts:\n  HighErrorRate: {severity: page}\n"),
         NEXT + 1, "alerts.HighErrorRate.severity", "'critical', 'warning' or 'info'", exact=False),
    # --- several problems at once: all of them, one line each, in line order --
    Case(
        "several-model-problems",
        edit(
            ("queues:", "queues:\n  - name: jobs2\n    backend: sidekiq\n    datastore: cache"),
            ("critical: 5%", "critical: 5x"),
            ("down_for: 1m", "down_for: 60"),
            ("targets: [api:3000]", "targets: [api]"),
            ("kind: postgres", "kind: mysql"),
        ),
        (
            Problem(5, "services[0].targets[0]", "'api' is not a scrape target"),
            Problem(8, "services[0].thresholds.down_for", "a duration must be a string"),
            Problem(10, "services[0].thresholds.error_rate.critical", "'5x' is not a percentage"),
            Problem(15, "datastores[0].kind", "kind 'mysql' is not one of"),
            Problem(22, "queues[0].backend", "'sidekiq'"),
        ),
    ),
    Case(
        "several-reference-problems",
        edit(
            ("depends_on: [db, cache]", "depends_on: [db, cach]"),
            ("datastore: cache", "datastore: redis2"),
            append="prometheus:\n  scrape_interval: 10s\n  scrape_timeout: 15s\n"
            + notifications("      receiver: ops", "      receiver: opps"),
        ),
        (
            Problem(12, "services[0].depends_on[1]", "unknown service, datastore or queue 'cach'"),
            Problem(23, "queues[0].datastore", "unknown datastore 'redis2'"),
            Problem(NEXT + 2, "prometheus.scrape_timeout", "must not exceed scrape_interval"),
            Problem(NEXT + 3 + 7, "notifications.routes[0].receiver", "unknown receiver 'opps'"),
        ),
    ),
]

# A password put where it does not belong is refused and never echoed back.
SECRET_CASES: list[Case] = [
    case("secret-inline-dsn",
         edit(("dsn_env: SHOP_PG_DSN", f"dsn: postgres://app:{CANARY}@db:5432/shop")),
         16, "datastores[0].dsn", "inline 'dsn' is not allowed", secrets=(CANARY,)),
    case("secret-url-env-holds-url",
         edit(("url_env: SHOP_REDIS_URL", f"url_env: redis://:{CANARY}@cache:6379/0")),
         19, "datastores[1].url_env", "must name an environment variable", secrets=(CANARY,)),
    case("secret-webhook-userinfo",
         edit(append=notifications("http://hooks.example.com/ops", f"http://ops:{CANARY}@hooks.example.com/ops")),
         NEXT + 4, "notifications.receivers[0].url", "must not carry credentials in the URL", secrets=(CANARY,)),
    Case(
        "secret-all-three",
        edit(
            ("dsn_env: SHOP_PG_DSN", f"dsn: postgres://app:{CANARY}@db:5432/shop"),
            ("url_env: SHOP_REDIS_URL", f"url_env: redis://:{CANARY}@cache:6379/0"),
            append=notifications("http://hooks.example.com/ops", f"http://ops:{CANARY}@hooks.example.com/ops"),
        ),
        (
            Problem(16, "datastores[0].dsn", "inline 'dsn' is not allowed"),
            Problem(19, "datastores[1].url_env", "must name an environment variable"),
            Problem(NEXT + 4, "notifications.receivers[0].url", "must not carry credentials"),
        ),
        secrets=(CANARY, "app:", "ops:"),
    ),
]

# A field derived from another one (health_url from targets, job from name, team from
# the spec's team) must not repeat the error of its source.
ONE_MISTAKE_CASES: list[Case] = [
    case("once-missing-targets", edit(("    targets: [api:3000]", "    # no targets")),
         4, "services[0].targets", "missing required key 'targets'"),
    case("once-targets-as-string", edit(("targets: [api:3000]", "targets: api:3000")),
         5, "services[0].targets", "Input should be a valid list"),
    case("once-service-name-upper-case", edit(("name: api", "name: API")),
         4, "services[0].name", "'API' is not a valid name"),
    case("once-spec-team-upper-case", edit(("environment: production", "team: Platform")),
         2, "team", "'Platform' is not a valid name"),
]

# A key valid elsewhere but not here is never "corrected" to itself; it is told where it belongs.
MISPLACED_KEY = case("misplaced-key", edit(("environment: production", "targets: [api:3000]")),
                     2, "targets", "'targets' is not allowed here; it belongs under")

# Credentials in health_url would reach the generated docs: refused.
HEALTH_URL_SECRET = case(
    "secret-health-url-userinfo",
    edit(("metrics_path: /metrics", f"health_url: http://ops:{CANARY}@api:3000/health")),
    6, "services[0].health_url", "credentials", secrets=(CANARY,),
)

# ---------------------------------------------------------------------------
# Running the CLI


@dataclass
class Run:
    spec: Path
    out: Path
    returncode: int
    stdout: str
    stderr: str
    out_entries: list[str] = field(default_factory=list)


def _run(spec_case: Case, directory: Path) -> Run:
    out = directory / "out"
    if spec_case.source == "dir":
        spec = directory / "spec.d"
        spec.mkdir()
    elif spec_case.source == "missing":
        spec = directory / "no-such-spec.yaml"
    else:
        assert spec_case.text is not None
        spec = directory / "stack.yaml"
        spec.write_text(spec_case.text, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "obstack", "generate", "--spec", str(spec), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,  # `-m obstack` imports this checkout
        # A copy of the environment, read before the fork: these runs go on in threads while pytest
        # sets PYTEST_CURRENT_TEST for the next test, and a child exec'ing with the live environ
        # (env=None) can read it mid-update (seen: execve failing with EFAULT, "Bad address").
        env=dict(os.environ),
    )
    entries = sorted(p.name for p in out.iterdir()) if out.exists() else []
    return Run(spec, out, proc.returncode, proc.stdout, proc.stderr, entries)


@pytest.fixture(scope="module")
def run_cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Case], Run]]:
    """Run each case in its own temporary directory; every selected case starts up front, in parallel."""
    pool = ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2)))
    futures: dict[str, Future[Run]] = {}

    def submit(spec_case: Case) -> Future[Run]:
        if spec_case.id not in futures:
            futures[spec_case.id] = pool.submit(_run, spec_case, tmp_path_factory.mktemp(spec_case.id))
        return futures[spec_case.id]

    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and getattr(item, "module", None) is request.module:
            for value in callspec.params.values():
                if isinstance(value, Case):
                    submit(value)
    yield lambda spec_case: submit(spec_case).result()
    pool.shutdown(wait=True, cancel_futures=True)


_LINE_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<path>\S+): (?P<message>.+)$")


def _assert_refused(run: Run, spec_case: Case) -> list[str]:
    """The common contract of a refused spec; returns the stderr lines."""
    both = run.stdout + run.stderr
    assert run.returncode == 2, both
    assert "Traceback" not in both
    assert run.stdout == "", run.stdout
    assert run.out_entries == [], f"{run.out} was written: {run.out_entries}"
    assert str(run.spec) in run.stderr
    lines = run.stderr.splitlines()
    for line in lines:
        match = _LINE_RE.match(line)
        assert match, f"not a FILE:LINE: path: message line: {line!r}"
        assert match["file"] == str(run.spec), line
    for problem in spec_case.problems:
        prefix = f"{run.spec}:{problem.line}: {problem.path}: "
        assert any(line.startswith(prefix) and problem.phrase in line for line in lines), (
            f"expected a line starting {prefix!r} containing {problem.phrase!r}; stderr:\n{run.stderr}"
        )
    if spec_case.exact:
        assert len(lines) == len(spec_case.problems), run.stderr
    line_numbers = [int(_LINE_RE.match(line)["line"]) for line in lines]  # type: ignore[index]
    assert line_numbers == sorted(line_numbers), run.stderr
    for secret in spec_case.secrets:
        assert secret not in both, f"{secret!r} leaked:\n{both}"
    return lines


# ---------------------------------------------------------------------------
# Tests


def test_base_spec_is_valid(tmp_path: Path) -> None:
    """The cases below fail because of their edit, not because the base is wrong."""
    from obstack.stack.spec.loader import load_spec_text

    loaded = load_spec_text(BASE, "base.yaml")
    assert [s.name for s in loaded.spec.services] == ["api"]
    assert [(d.name, d.kind) for d in loaded.spec.datastores] == [("db", "postgres"), ("cache", "redis")]
    assert [(q.name, q.backend) for q in loaded.spec.queues] == [("jobs", "bullmq")]
    load_spec_text(edit(append=NOTIFICATIONS), "base+notifications.yaml")


@pytest.mark.parametrize("spec_case", CASES, ids=str)
def test_bad_spec_is_refused_with_file_line_and_path(spec_case: Case, run_cli: Callable[[Case], Run]) -> None:
    _assert_refused(run_cli(spec_case), spec_case)


@pytest.mark.parametrize("spec_case", SECRET_CASES, ids=str)
def test_secrets_are_refused_and_never_echoed(spec_case: Case, run_cli: Callable[[Case], Run]) -> None:
    _assert_refused(run_cli(spec_case), spec_case)


def test_dependency_cycle_is_printed_once_in_order(run_cli: Callable[[Case], Run]) -> None:
    spec_case = next(c for c in CASES if c.id == "depends-on-cycle")
    run = run_cli(spec_case)
    assert run.stderr.count("dependency cycle") == 1
    assert run.stderr.rstrip().endswith("dependency cycle: a -> b -> c -> a")


@pytest.mark.parametrize("spec_case", ONE_MISTAKE_CASES, ids=str)
def test_one_mistake_is_reported_once(spec_case: Case, run_cli: Callable[[Case], Run]) -> None:
    _assert_refused(run_cli(spec_case), spec_case)  # exact: one line, at the key the user wrote


@pytest.mark.parametrize("spec_case", [MISPLACED_KEY], ids=str)
def test_misplaced_key_is_not_corrected_to_itself(spec_case: Case, run_cli: Callable[[Case], Run]) -> None:
    lines = _assert_refused(run_cli(spec_case), spec_case)
    assert not any("did you mean 'targets'" in line for line in lines), lines


@pytest.mark.parametrize("spec_case", [HEALTH_URL_SECRET], ids=str)
def test_health_url_with_credentials_is_refused(spec_case: Case, run_cli: Callable[[Case], Run]) -> None:
    _assert_refused(run_cli(spec_case), spec_case)
