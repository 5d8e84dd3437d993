"""The stack spec: one pydantic model, the single source of truth for every artifact.

Field defaults are the plan's numbers; cross-references between entries are checked
in ``checks.py`` so that each problem can point at the exact YAML path.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import Field, PositiveFloat, PrivateAttr, ValidationInfo, field_validator, model_validator

from .base import (
    HttpUrl,
    EnvVarName,
    LabelName,
    MetricName,
    Name,
    NonEmptyTargets,
    QueueName,
    Re2Regex,
    SecretFile,
    StrictModel,
    Target,
    UrlPath,
)
from .alert_overrides import AlertOverride
from .deploy import DeploySettings
from .exporter import Exporter
from .grafana import GrafanaSettings
from .notifications import Notifications, Receiver, Route, Watchdog, WebhookReceiver
from .selectors import CounterSelector, CounterSelectorText, parse_counter_selector
from .request_presets import STATUS_EXAMPLES, PresetName, StatusFormat, fill_from_preset
from .platform import ComposeSettings, KubernetesSettings, LogsSettings, TracingSettings
from .thresholds import DatastoreThresholds, HostThresholds, QueueThresholds, ServiceThresholds
from .values import ByteSize, Duration, Ratio, Version

# Debian's prometheus and prometheus-alertmanager: the oldest releases the output must load in.
PROMETHEUS_FLOOR = Version(2, 42)
ALERTMANAGER_FLOOR = Version(0, 25)

# Scrape jobs of the monitoring stack itself: rules select on them, services must not reuse them.
PROMETHEUS_JOB = "prometheus"
ALERTMANAGER_JOB = "alertmanager"
NODE_JOB = "node"  # the default of host.job
EXPORTER_JOB = "obstack-exporter"



class TargetVersions(StrictModel):
    """Oldest releases that must accept the generated files (floor: what Debian ships)."""

    prometheus: Version = Field(PROMETHEUS_FLOOR, description="Oldest Prometheus that must accept the output.")
    alertmanager: Version = Field(ALERTMANAGER_FLOOR, description="Oldest Alertmanager that must accept the output.")


class PrometheusSettings(StrictModel):
    """Prometheus server settings: intervals, retention, labels, where alerts go."""

    scrape_interval: Duration = Field(Duration.parse("15s"), description="How often every target is scraped.")
    scrape_timeout: Duration = Field(
        Duration.parse("10s"), description="Per-scrape deadline; the exporter answers within it (must be <= scrape_interval)."
    )
    evaluation_interval: Duration = Field(Duration.parse("15s"), description="How often rules are evaluated.")
    retention: Duration = Field(
        Duration.parse("35d"),
        description="TSDB retention (passed to Prometheus as a flag). Must cover every SLO window (the window's SLI "
        "and budget read it all back); the default is the plan's 30d window plus 5 days to look at the start of one.",
    )
    external_labels: dict[LabelName, str] = Field(
        default_factory=dict, description="Labels added to every series and alert leaving Prometheus (environment is added by default)."
    )
    self_target: Target = Field("localhost:9090", description="Where Prometheus scrapes itself.")
    alertmanager_targets: NonEmptyTargets = Field(
        default_factory=lambda: ["alertmanager:9093"], description="Alertmanagers Prometheus sends alerts to (host:port)."
    )
    target_versions: TargetVersions = Field(default_factory=TargetVersions)
    extra_rule_files: list[str] = Field(
        default_factory=list,
        description="Rule files of your own (paths relative to the spec), copied into prometheus/rules/ under their "
                    "file name: Prometheus loads them, `obstack validate` lints them and runs promtool on them. A name "
                    "of a generated file (services.yml, ...) is refused.",
    )
    extra_rule_tests: list[str] = Field(
        default_factory=list,
        description="promtool test files of your own rule files (paths relative to the spec), copied into "
                    "prometheus/tests/ and run by `obstack validate`; their rule_files are named by file name "
                    "(e.g. orders.yml) and point at the copies.",
    )
    # Read by `obstack validate` alone: left out of the exporter's copy of the spec (compose/build.py).
    lint_exclusions: str | None = Field(
        None,
        exclude=True,
        description="YAML file (relative to the spec) of rule lint exclusions; every entry needs a rule and a reason, "
                    "and may narrow it to a rule file (file) and an alert, recorded series, service or datastore "
                    "(name), each a name or glob.",
    )


class RequestMetrics(StrictModel):
    """How a service exposes its requests: a preset for the library it uses (default: prom-client's
    Node convention), every key of which can be set by hand."""

    derived_fields = ("histogram", "requests", "method_label", "route_label", "status_label", "status_format",
                      "error_status_regex", "buckets")
    preset: PresetName = Field(
        "prom-client",
        description="The instrumentation library, whose defaults fill every key left out: prom-client, "
                    "express-prom-bundle, fastapi-instrumentator or opentelemetry (docs/instrumenting.md).",
    )
    histogram: MetricName = Field(description="Request duration histogram in seconds (default: the preset's).")
    requests: MetricName | None = Field(
        description="Counter of requests carrying the status label (e.g. http_requests_total); null: requests and "
                    "errors are counted from the histogram's _count (default: the preset's).")
    method_label: LabelName | None = Field(description="Label holding the HTTP method; null: none (default: the preset's).")
    route_label: LabelName | None = Field(
        description="Label holding the route pattern; null: none, panels show the service as one (default: the preset's).")
    status_label: LabelName = Field(description="Label holding the HTTP status (default: the preset's).")
    status_format: StatusFormat = Field(
        description="How the status label spells a status: code ('503') or class ('5xx') (default: the preset's).")
    error_status_regex: Re2Regex = Field(
        description="Statuses that count as errors, a regex on status_label (default: 5.. for codes, 5xx for classes).")
    buckets: tuple[PositiveFloat, ...] = Field(
        min_length=1, description="The histogram's bucket bounds in seconds, its le values (default: the preset's).")

    @model_validator(mode="before")
    @classmethod
    def _preset_defaults(cls, data: Any) -> Any:
        return fill_from_preset(data)

    @field_validator("error_status_regex")
    @classmethod
    def _counts_server_errors(cls, regex: str, info: ValidationInfo) -> str:
        """The regex must count a server error and not a success (Prometheus anchors it at both ends),
        else every error rule reads zero: a pasted matcher such as '5..", method="GET' counts nothing."""
        status_format = info.data.get("status_format")
        if status_format is None:
            return regex
        error, ok = STATUS_EXAMPLES[status_format]["error"], STATUS_EXAMPLES[status_format]["ok"]
        if not re.fullmatch(regex, error) or re.fullmatch(regex, ok):
            raise ValueError(f"'{regex}' must match a server error such as '{error}' and not a success such as "
                             f"'{ok}' (it is matched against the whole {status_format} in the status label)")
        return regex

    @property
    def request_counter(self) -> str:
        """The counter requests and errors are counted from."""
        return self.requests or f"{self.histogram}_count"

    @property
    def request_labels(self) -> tuple[str, ...]:
        """The labels of the request counter (method, route and status where the library has them)."""
        return tuple(label for label in (self.method_label, self.route_label, self.status_label) if label)

    @property
    def histogram_labels(self) -> tuple[str, ...]:
        """The histogram's labels besides le: with a separate request counter, no status."""
        if self.requests is None:
            return self.request_labels
        return tuple(label for label in (self.method_label, self.route_label) if label)

    def status_example(self, kind: Literal["error", "ok", "client_error"]) -> str:
        """A status value of this format: what generated test inputs carry."""
        return STATUS_EXAMPLES[self.status_format][kind]

    def has_edge(self, seconds: float) -> bool:
        return any(abs(b - seconds) < 1e-9 for b in self.buckets)

    def edge_at_or_above(self, seconds: float) -> float | None:
        """The lowest bucket bound at or above ``seconds``: where a latency threshold between two
        bounds is compared (p95 above it is certain; inside a bucket it is interpolated)."""
        return min((b for b in self.buckets if b >= seconds - 1e-9), default=None)


class AppMetric(StrictModel):
    """A metric of the service's own (beyond its request metrics), which rules and dashboards may select."""

    name: MetricName = Field(description="Metric name as the service exposes it, e.g. orders_created_total.")
    type: Literal["counter", "gauge", "histogram"] = Field(
        description="counter, gauge or histogram (whose _bucket, _count and _sum series are declared with it).")
    labels: list[LabelName] = Field(
        default_factory=list,
        description="Labels the service puts on it (job, instance, service and team are added by the scrape).")
    help: str = Field("", description="What it counts or measures (shown in lint messages).")


class Slo(StrictModel):
    name: Name = Field(description="SLO name, the 'slo' label of its rules and alerts.")
    kind: Literal["availability", "errors", "latency", "events"] = Field(
        description="availability: targets up; errors: requests without a 5xx; latency: requests faster than "
                    "threshold; events: good events of your own counters (errors or good, over total)."
    )
    objective: Ratio = Field(description="Share of good events over the window, e.g. '99.9%'.")
    threshold: Duration | None = Field(
        None, description="latency only: a request is good when faster than this; must be one of the histogram buckets."
    )
    errors: CounterSelectorText | None = Field(
        None, description="events only: a counter of bad events, a PromQL selector with label matchers if need be, "
                          "e.g. orders_failed_total{queue=\"orders\"} (exactly one of errors and good).")
    good: CounterSelectorText | None = Field(
        None, description="events only: a counter of good events, as errors (exactly one of errors and good).")
    total: CounterSelectorText | None = Field(
        None, description="events only: the counter of all events, the bad ones included, e.g. "
                          "orders_processed_total{queue=\"orders\"}. Each selector is scoped to the service's job; "
                          "its metric counts as declared (services[].metrics) where it is not.")
    window: Duration = Field(Duration.parse("30d"), description="The SLO's compliance window.")

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> Slo:
        if self.kind == "latency" and self.threshold is None:
            raise ValueError("a latency SLO needs 'threshold' (e.g. '100ms')")
        if self.kind != "latency" and self.threshold is not None:
            raise ValueError(f"'threshold' applies to latency SLOs only, not to kind '{self.kind}'")
        counters = [key for key in ("errors", "good", "total") if getattr(self, key) is not None]
        if self.kind != "events" and counters:
            raise ValueError(f"'{counters[0]}' applies to events SLOs only, not to kind '{self.kind}'")
        if self.kind == "events" and (self.errors is None) == (self.good is None):
            raise ValueError("an events SLO needs exactly one of 'errors' (a counter of bad events) and 'good' "
                             "(a counter of good events), beside 'total'")
        if self.kind == "events" and self.total is None:
            raise ValueError("an events SLO needs 'total', the counter of all its events (the bad ones included)")
        if not Ratio.of("0%") < self.objective < Ratio.of("100%"):
            raise ValueError(f"objective {self.objective} must be strictly between 0% and 100%")
        return self

    @property
    def event_counters(self) -> tuple[str, CounterSelector, CounterSelector] | None:
        """An events SLO's counters: ("errors" or "good", that selector, the total's); None for other kinds."""
        if self.total is None:
            return None
        form = "errors" if self.errors is not None else "good"
        counted = self.errors if self.errors is not None else self.good
        assert counted is not None
        return form, parse_counter_selector(counted), parse_counter_selector(self.total)


def _plan_slos() -> list[Slo]:
    """The plan's SLOs: 99.9% uptime, error rate < 0.1%, p95 < 100 ms."""
    return [
        Slo(name="availability", kind="availability", objective=Ratio.of("99.9%")),
        Slo(name="errors", kind="errors", objective=Ratio.of("99.9%")),
        Slo(name="latency", kind="latency", objective=Ratio.of("95%"), threshold=Duration.parse("100ms")),
    ]


# prom-client's AggregatorRegistry drops this gauge (aggregator 'omit'): an aggregated PM2 endpoint lacks it.
OMITTED_BY_AGGREGATION = "process_start_time_seconds"


class Pm2Cluster(StrictModel):
    """A service run by PM2 in cluster mode, and how its workers are scraped (docs/instrumenting.md)."""

    layout: Literal["worker-ports", "aggregated"] = Field(
        "worker-ports",
        description="worker-ports: each worker serves /metrics on its own port (PORT + NODE_APP_INSTANCE), every "
                    "port a target; aggregated: one endpoint merges the workers' metrics (prom-client's "
                    "AggregatorRegistry), each worker's series told apart by worker_label.",
    )
    worker_label: LabelName = Field(
        "worker", description="aggregated only: the label each worker's series carry (registry.setDefaultLabels); "
                              "without it the workers' counters are summed, and drop at every worker restart.")


# Where a service runs: in the generated docker-compose, in a Kubernetes cluster, or on another host.
RunsOn = Literal["compose", "kubernetes", "external"]


class Service(StrictModel):
    """A service Prometheus scrapes: its targets, request metrics, SLOs and thresholds."""

    derived_fields = ("job", "team", "health_url")
    name: Name = Field(description="Service name: the 'service' label of its series and alerts.")
    job: Name = Field(description="Prometheus job name (default: the service name).")
    team: Name = Field(description="Owning team (default: the spec's team).")
    targets: NonEmptyTargets = Field(description="Scrape targets as host:port.")
    runs_on: RunsOn = Field(
        "compose",
        description="Where the service runs: compose (the generated docker-compose runs it from its compose.apps "
                    "entry, as the compose service its first target's host names), kubernetes (in a cluster) or "
                    "external (on another host). Its targets are scraped wherever it runs; only a compose service's "
                    "are expected to be compose services, and the Kubernetes output scrapes an external one through "
                    "additional scrape configs instead of a ServiceMonitor.",
    )
    metrics_path: UrlPath = Field("/metrics", description="Path of the metrics endpoint.")
    scheme: Literal["http", "https"] = Field("http", description="Scrape scheme.")
    health_url: HttpUrl = Field(description="Health endpoint (default: scheme://<first target>/health).")
    request_metrics: RequestMetrics = Field(default_factory=RequestMetrics)
    process_start_metric: MetricName | None = Field(
        "process_start_time_seconds",
        description="Gauge of the process start time (prom-client default metrics), for restart alerts; null turns them off.",
    )
    max_memory_restart: ByteSize | None = Field(
        None,
        description="PM2's max_memory_restart of the service's workers (e.g. '500M'): PM2 reloads a worker whose "
                    "resident memory exceeds it; WorkerMemoryNearRestart warns at 90% (null: no such limit).",
    )
    pm2: Pm2Cluster | None = Field(None, description="PM2 cluster mode: how its workers are scraped (null: not PM2).")
    metrics: list[AppMetric] = Field(
        default_factory=list,
        description="The service's own metrics, declared for the rule and dashboard lints (which refuse metrics "
                    "nobody declares), e.g. {name: orders_created_total, type: counter, labels: [payment_method]}.")
    slos: list[Slo] = Field(default_factory=_plan_slos, description="Service level objectives (default: the plan's three).")
    thresholds: ServiceThresholds = Field(default_factory=ServiceThresholds)
    depends_on: list[Name] = Field(default_factory=list, description="Services, datastores and queues it needs.")

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            data = {"job": data["name"], **data}
            targets = data.get("targets")
            if "health_url" not in data and isinstance(targets, list) and targets and isinstance(targets[0], str):
                data["health_url"] = f"{data.get('scheme', 'http')}://{targets[0]}/health"
        return data


class _Datastore(StrictModel):
    derived_fields = ("team",)
    name: Name = Field(description="Datastore name: the 'datastore' label of its alerts.")
    team: Name = Field(description="Owning team (default: the spec's team).")
    thresholds: DatastoreThresholds = Field(default_factory=DatastoreThresholds)

    @staticmethod
    def _exactly_one(key: str, env: str | None, file: str | None) -> None:
        if (env is None) == (file is None):
            raise ValueError(f"set exactly one of '{key}_env' and '{key}_file'")


class PostgresDatastore(_Datastore):
    kind: Literal["postgres"] = Field(description="A PostgreSQL server.")
    role: Literal["primary", "replica"] = Field("primary", description="A replica gets replication-lag alerts.")
    dsn_env: EnvVarName | None = Field(None, description="Environment variable holding the connection string.")
    dsn_file: SecretFile | None = Field(None, description="File holding the connection string.")

    @model_validator(mode="after")
    def _one_source(self) -> PostgresDatastore:
        self._exactly_one("dsn", self.dsn_env, self.dsn_file)
        return self


class RedisDatastore(_Datastore):
    kind: Literal["redis"] = Field(description="A Redis server.")
    url_env: EnvVarName | None = Field(None, description="Environment variable holding the redis:// URL.")
    url_file: SecretFile | None = Field(None, description="File holding the redis:// URL.")

    @model_validator(mode="after")
    def _one_source(self) -> RedisDatastore:
        self._exactly_one("url", self.url_env, self.url_file)
        return self


Datastore = Annotated[Union[PostgresDatastore, RedisDatastore], Field(discriminator="kind")]

QueueBackend = Literal["bullmq", "rq", "celery", "pgboss"]
# Which datastore kind each backend lives in, and its key prefix (schema for pg-boss).
BACKEND_DATASTORE_KIND: dict[str, str] = {"bullmq": "redis", "rq": "redis", "celery": "redis", "pgboss": "postgres"}
BACKEND_DEFAULT_PREFIX: dict[str, str | None] = {"bullmq": "bull", "rq": None, "celery": "", "pgboss": "pgboss"}


class Queue(StrictModel):
    """A job queue: where it lives, its dead-letter queue, its backlog thresholds."""

    derived_fields = ("team",)
    name: QueueName = Field(description="Queue name as the backend knows it: the 'queue' label.")
    backend: QueueBackend = Field(description="bullmq, rq, celery (Redis transport) or pgboss.")
    datastore: Name = Field(description="Name of the datastore holding the queue (redis; postgres for pgboss).")
    prefix: str | None = Field(
        None, description="Key prefix (bullmq: default 'bull'; celery: kombu global_keyprefix; pgboss: schema). Not for rq."
    )
    dead_letter: QueueName | None = Field(None, description="Name of the queue's dead-letter queue, if it has one.")
    team: Name = Field(description="Owning team (default: the spec's team).")
    thresholds: QueueThresholds = Field(default_factory=QueueThresholds)

    @model_validator(mode="before")
    @classmethod
    def _default_prefix(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("backend"), str):
            backend = data["backend"]
            if backend == "rq" and data.get("prefix") is not None:
                raise ValueError("rq has no configurable key prefix; remove 'prefix'")
            if data.get("prefix") is None and backend in BACKEND_DEFAULT_PREFIX:
                data = {**data, "prefix": BACKEND_DEFAULT_PREFIX[backend]}
        return data

    @property
    def datastore_kind(self) -> str:
        return BACKEND_DATASTORE_KIND[self.backend]


class Host(StrictModel):
    """The hosts the stack runs on, seen through node-exporter."""

    derived_fields = ("team",)
    node_exporter_targets: NonEmptyTargets = Field(
        default_factory=lambda: ["node-exporter:9100"], description="node-exporter targets (host:port)."
    )
    job: Name = Field(
        NODE_JOB,
        description="Prometheus job name node-exporter is scraped as; the host rules and dashboard select on it. "
                    "kube-prometheus-stack scrapes it as 'node-exporter'.",
    )
    team: Name = Field(description="Team owning the hosts (default: the spec's team).")
    thresholds: HostThresholds = Field(default_factory=HostThresholds)

    @model_validator(mode="before")
    @classmethod
    def _no_empty_targets(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("node_exporter_targets") == []:
            raise ValueError("an empty node_exporter_targets watches no host; "
                             "set 'host: null' to turn host monitoring off")
        return data


def _plan_notifications() -> Notifications:
    return Notifications(
        receivers=[
            WebhookReceiver(type="webhook", name="pager", url="http://obstack-receiver:9095/pager"),
            WebhookReceiver(type="webhook", name="chat", url="http://obstack-receiver:9095/chat"),
            WebhookReceiver(type="webhook", name="heartbeat", url="http://obstack-receiver:9095/heartbeat"),
        ],
        routes=[Route(severity="critical", receiver="pager"), Route(severity="warning", receiver="chat")],
        default_receiver="chat",
        watchdog=Watchdog(receiver="heartbeat"),
    )


_TEAM_OWNED_SECTIONS = ("services", "datastores", "queues")


class Spec(StrictModel):
    """The whole stack: what runs, what it exposes, what to alert on and whom to tell."""

    derived_fields = ("host",)

    version: Literal[1] = Field(1, description="Spec format version.")
    project: Name = Field(description="Project name, used in labels, uids and file names.")
    environment: str = Field("production", description="Environment, added as an external label.")
    team: Name = Field("platform", description="Default owning team for every entry that names none.")
    runbook_url: str = Field(
        "https://runbooks.example.com/{project}/{alert}",
        description="Runbook link pattern; placeholders {project}, {alert} (alert name) and {alert_lower}.",
    )
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    services: list[Service] = Field(default_factory=list, description="Services scraped and alerted on.")
    datastores: list[Datastore] = Field(default_factory=list, description="Postgres and Redis instances probed.")
    queues: list[Queue] = Field(default_factory=list, description="Job queues probed.")
    host: Host | None = Field(
        description="Host (node-exporter) targets and thresholds; null: no host monitoring (no node-exporter job, "
                    "host alerts, NodeExporterDown or Host dashboard). Left out: node-exporter:9100 with the defaults.")
    exporter: Exporter = Field(default_factory=Exporter)
    notifications: Notifications = Field(default_factory=_plan_notifications)
    alerts: dict[str, AlertOverride] = Field(
        default_factory=dict,
        description="Overrides of generated alerts by alert name (docs/alerts.md lists them): turn one off, change "
                    "its severity, for, labels or annotations.",
    )
    alert_labels: dict[LabelName, str] = Field(
        default_factory=dict,
        description="Labels added to every generated alert (e.g. tier: backend); an alert's own labels cannot be replaced.",
    )
    grafana: GrafanaSettings = Field(default_factory=GrafanaSettings)
    logs: LogsSettings = Field(default_factory=LogsSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    compose: ComposeSettings = Field(default_factory=ComposeSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    # How many times faster than production the generated rules' clock runs (alerts/timing.py):
    # set by `obstack local --fast` (stack/local_config.py), never by stack.yaml.
    _time_scale: int = PrivateAttr(default=1)

    @property
    def time_scale(self) -> int:
        return self._time_scale

    def with_time_scale(self, time_scale: int) -> Spec:
        """This spec, generated on a clock ``time_scale`` times faster (its own durations as they are)."""
        scaled = self.model_copy()
        scaled._time_scale = time_scale
        return scaled

    @model_validator(mode="before")
    @classmethod
    def _inherit_team(cls, data: Any) -> Any:
        """Entries without a team inherit the spec's, so every alert carries a team label."""
        if not isinstance(data, dict):
            return data
        team = data.get("team", "platform")
        data = dict(data)
        for section in _TEAM_OWNED_SECTIONS:
            entries = data.get(section)
            if isinstance(entries, list):
                data[section] = [{"team": team, **e} if isinstance(e, dict) else e for e in entries]
        host = data.get("host", {})
        data["host"] = {"team": team, **host} if isinstance(host, dict) else host
        return data

    def datastore(self, name: str) -> PostgresDatastore | RedisDatastore | None:
        return next((d for d in self.datastores if d.name == name), None)

    @property
    def stack_jobs(self) -> tuple[str, ...]:
        """Scrape jobs of the monitoring stack itself (services must not reuse them)."""
        host_jobs = (self.host.job,) if self.host is not None else ()
        return (PROMETHEUS_JOB, ALERTMANAGER_JOB, *host_jobs, EXPORTER_JOB)

    @property
    def teams(self) -> list[str]:
        """Every team that owns something, in first-seen order."""
        hosts = [self.host.team] if self.host is not None else []
        owners = [self.team, *(e.team for e in [*self.services, *self.datastores, *self.queues]), *hosts]
        return list(dict.fromkeys(owners))


__all__ = [
    "ALERTMANAGER_FLOOR",
    "PROMETHEUS_FLOOR",
    "Datastore",
    "Exporter",
    "Host",
    "Notifications",
    "PostgresDatastore",
    "PrometheusSettings",
    "Queue",
    "Receiver",
    "RedisDatastore",
    "RequestMetrics",
    "Route",
    "RunsOn",
    "Service",
    "Slo",
    "Spec",
]
