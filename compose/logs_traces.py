"""Compose services of the logs part (Elasticsearch, Logstash, Kibana) and the traces part (Jaeger v2).

Both parts sit in compose profiles, so ``docker compose up`` starts metrics only and
``COMPOSE_PROFILES=all`` adds logs and traces. Jaeger stores spans in the same
Elasticsearch when logs are enabled (Elasticsearch then also belongs to the traces profile),
in memory otherwise.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import jinja2

from obstack.compose.build import ComposeBuild, healthy, stack_service
from obstack.compose.monitoring import bind
from obstack.foundation.artifacts import Artifact, dump_yaml

LOGSTASH_PIPELINE = PurePosixPath("compose/logstash/pipeline/obstack.conf")
LOGSTASH_PIPELINES_YML = PurePosixPath("compose/logstash/pipelines.yml")
JAEGER_CONFIG = PurePosixPath("compose/jaeger/config.yaml")
ELASTICSEARCH_URL = "http://elasticsearch:9200"

# Field of our JSON log lines -> its ECS name (correlation_id is the request id of ECS' http.request).
ECS_FIELDS: tuple[tuple[str, str], ...] = (
    ("level", "[log][level]"),
    ("service", "[service][name]"),
    ("correlation_id", "[http][request][id]"),
    ("trace_id", "[trace][id]"),
    ("span_id", "[span][id]"),
)

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("obstack.compose", "templates"),
    undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # Logstash config, not HTML
)


def _data_stream_part(value: str) -> str:
    """Data stream dataset and namespace may not contain '-' (nor upper case, nor most symbols)."""
    return re.sub(r"[^a-z0-9_]", "_", value.lower())


def logstash_pipeline(build: ComposeBuild) -> str:
    spec = build.spec
    return _TEMPLATES.get_template("logstash.conf.j2").render(
        fields=ECS_FIELDS,
        tcp_port=spec.logs.tcp_port,
        beats_port=spec.logs.beats_port,
        elasticsearch_url=ELASTICSEARCH_URL,
        dataset=_data_stream_part(spec.project),
        namespace=_data_stream_part(spec.environment),
    )


def _heap(size: str) -> str:
    return f"-Xms{size} -Xmx{size}"


def _twice(size: str) -> str:
    """Container limit for a JVM: the heap plus as much again for metaspace, threads and buffers."""
    return f"{int(size[:-1]) * 2}{size[-1]}"


def add_logs_part(build: ComposeBuild, profiles: list[str], es_profiles: list[str]) -> None:
    logs = build.spec.logs
    es = stack_service(
        build, "elasticsearch", "elasticsearch",
        profiles=es_profiles,
        environment={
            "discovery.type": "single-node",
            "ES_JAVA_OPTS": _heap(logs.elasticsearch_heap),
            # Reachable on the compose network only (its port is not published).
            "xpack.security.enabled": "false",
        },
        ulimits={"nofile": {"soft": 65535, "hard": 65535}},
        volumes=[build.volume("elasticsearch-data", "/usr/share/elasticsearch/data")],
    )
    es["mem_limit"] = build.memory("elasticsearch", _twice(logs.elasticsearch_heap))
    logstash = stack_service(
        build, "logstash", "logstash",
        profiles=profiles,
        environment={"LS_JAVA_OPTS": _heap(logs.logstash_heap), "XPACK_MONITORING_ENABLED": "false"},
        volumes=[
            bind("./logstash/pipeline", "/usr/share/logstash/pipeline"),
            bind("./logstash/pipelines.yml", "/usr/share/logstash/config/pipelines.yml"),
            build.volume("logstash-data", "/usr/share/logstash/data"),
        ],
        depends_on=healthy("elasticsearch"),
    )
    logstash["mem_limit"] = build.memory("logstash", _twice(logs.logstash_heap))
    stack_service(
        build, "kibana", "kibana",
        profiles=profiles,
        environment={"ELASTICSEARCH_HOSTS": f'["{ELASTICSEARCH_URL}"]'},
        volumes=[build.volume("kibana-data", "/usr/share/kibana/data")],
        depends_on=healthy("elasticsearch"),
    )
    pipelines = [{"pipeline.id": "obstack", "path.config": "/usr/share/logstash/pipeline/*.conf"}]
    build.files.append(Artifact(LOGSTASH_PIPELINE, logstash_pipeline(build), "compose"))
    build.files.append(Artifact(LOGSTASH_PIPELINES_YML, dump_yaml(pipelines), "compose"))


def jaeger_config(build: ComposeBuild) -> dict[str, Any]:
    """Jaeger v2 (an OpenTelemetry Collector distribution): OTLP in, storage, query UI, health."""
    project = _data_stream_part(build.spec.project)
    if build.spec.logs.enabled:
        single_node = {"shards": 1, "replicas": 0}  # one Elasticsearch node: replicas would never assign
        backend: dict[str, Any] = {"elasticsearch": {
            "server_urls": [ELASTICSEARCH_URL],
            "indices": {"index_prefix": f"jaeger-{project}", "spans": single_node, "services": single_node},
        }}
    else:
        backend = {"memory": {"max_traces": 100000}}
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["jaeger_storage_exporter"]}},
        },
        "extensions": {
            # Collector components listen on localhost unless told otherwise: bind every port explicitly.
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": "0.0.0.0:13133"}},
            "jaeger_query": {"storage": {"traces": "traces"}, "http": {"endpoint": "0.0.0.0:16686"}},
            "jaeger_storage": {"backends": {"traces": backend}},
        },
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"}, "http": {"endpoint": "0.0.0.0:4318"}}}},
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "traces"}},
    }


def add_traces_part(build: ComposeBuild, profiles: list[str]) -> None:
    extra: dict[str, Any] = {}
    if build.spec.logs.enabled:
        extra["depends_on"] = healthy("elasticsearch")
    stack_service(
        build, "jaeger", "jaeger",
        profiles=profiles,
        command=["--config", "/etc/jaeger/config.yaml"],
        volumes=[bind("./jaeger/config.yaml", "/etc/jaeger/config.yaml")],
        **extra,
    )
    build.files.append(Artifact(JAEGER_CONFIG, dump_yaml(jaeger_config(build)), "compose"))
