"""Property: any string in a spec's string field is either refused (exit 2, located lines) or generates
output that parses and means what the spec says.

Random text (quotes, braces, ``{{``, newlines, backslashes, unicode) goes into one field at a time:
service and queue names, the environment, an external label, a Kubernetes label, the error regex, the
runbook URL, a webhook URL and a Slack channel. When the spec loads, the tree is generated (without
the promtool tests, the slow part, whose inputs the rule model also feeds) and checked: every rule
expression parses with promql-parser, the label matchers built from the field carry the exact value,
every YAML and JSON file parses, the value arrives unchanged where it belongs, and the output holds
no Go template delimiter more than it does for a harmless value (no '{{' from user input).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from obstack.alerts.alerting import rule_and_test_artifacts
from obstack.alerts.promql_tree import match_op, walk
from obstack.alerts.rule_files import rule_file_artifacts
from obstack.foundation.artifacts import Artifact
from obstack.stack.cli import app
from obstack.stack.pipeline import RENDERERS, generate
from obstack.stack.spec.base import promql_string
from obstack.stack.spec.errors import SpecError
from obstack.stack.spec.loader import load_spec_text
from obstack.stack.spec.model import Spec

runner = CliRunner()


# The promtool tests are the slow part, and these tests read the other outputs.
FAST_RENDERERS = tuple(rule_file_artifacts if r is rule_and_test_artifacts else r for r in RENDERERS)


def base_spec() -> dict[str, Any]:
    return {
        "project": "shop",
        "runbook_url": "https://wiki.acme.io/runbooks/{alert}",
        "grafana": {"url": "https://grafana.acme.io"},
        "services": [{"name": "api", "targets": ["api:3000"]}],
        "datastores": [{"name": "cache", "kind": "redis", "url_env": "SHOP_REDIS"}],
        "queues": [{"name": "jobs", "backend": "bullmq", "datastore": "cache"}],
        "notifications": {"receivers": [
            {"name": "ops", "type": "webhook", "url": "http://hooks.acme.io/ops"},
            {"name": "chat", "type": "slack", "api_url_file": "/run/secrets/slack", "channel": "#alerts"},
        ]},
    }


Setter = Callable[[dict[str, Any], str], str]  # sets the field from the drawn text, returns what it set


def _set(*path: str | int) -> Setter:
    return _prefixed("", *path)


def _prefixed(prefix: str, *path: str | int) -> Setter:
    def setter(data: dict[str, Any], value: str) -> str:
        node: Any = data
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
        node[path[-1]] = prefix + value
        return prefix + value
    return setter


FIELDS: dict[str, Setter] = {
    "service name": _set("services", 0, "name"),
    "queue name": _set("queues", 0, "name"),
    "environment": _set("environment"),
    "external label": _set("prometheus", "external_labels", "cluster"),
    "kubernetes label": _set("kubernetes", "labels", "release"),
    "error regex": _set("services", 0, "request_metrics", "error_status_regex"),
    # An alternative after one that counts server errors: most such regexes are usable, so their
    # escaping into PromQL is what gets tested.
    "error regex alternative": _prefixed("5..|", "services", 0, "request_metrics", "error_status_regex"),
    "runbook url": _prefixed("https://wiki.acme.io/", "runbook_url"),
    "webhook url": _prefixed("http://hooks.acme.io/", "notifications", "receivers", 0, "url"),
    "slack channel": _set("notifications", "receivers", 1, "channel"),
}
HARMLESS = {"service name": "api", "queue name": "jobs", "error regex": "5..", "error regex alternative": "x"}

PIECES = ['"', "'", "\\", "{", "}", "{{", "}}", "{{ .Value }}", "\n", "\t", "\x00", "é", "🙂", "\u2028", ":", "#",
          "=", ",", "$", "|", "(", ")", "[", "]", ".", "*", "?", "5", "..", "\\d", "[0-9]", "x", "a-b", " ", "%",
          "&token=1", "@", "/", "api"]
hostile = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join),
    st.text(min_size=1, max_size=12),
)


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=False, sort_keys=False)


def generated(data: dict[str, Any]) -> tuple[Spec, list[Artifact]] | SpecError:
    try:
        loaded = load_spec_text(dump(data), "stack.yaml")
    except SpecError as error:
        return error
    return loaded.spec, generate(loaded, FAST_RENDERERS)


@functools.cache
def template_delimiters_for_harmless(field: str) -> int:
    data = base_spec()
    FIELDS[field](data, HARMLESS.get(field, "ok"))
    result = generated(data)
    assert not isinstance(result, SpecError), result
    return sum(a.content.count("{{") + a.content.count("}}") for a in result[1])


def parsed_files(artifacts: list[Artifact]) -> dict[str, Any]:
    documents: dict[str, Any] = {}
    for artifact in artifacts:
        if artifact.path.suffix in (".yml", ".yaml"):
            documents[artifact.path.as_posix()] = list(yaml.safe_load_all(artifact.content))
        elif artifact.path.suffix == ".json":
            documents[artifact.path.as_posix()] = json.loads(artifact.content)
    return documents


def rule_matchers(documents: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, operator, value) of every matcher of every generated rule expression (each must parse)."""
    found = []
    for path, (document,) in ((p, d) for p, d in documents.items() if p.startswith("prometheus/rules/")):
        for group in document["groups"]:
            for rule in group["rules"]:
                for _, node in walk(promql_parser.parse(rule["expr"])):
                    if isinstance(node, (promql_parser.VectorSelector, promql_parser.MatrixSelector)):
                        selector = node if isinstance(node, promql_parser.VectorSelector) else node.vector_selector
                        found += [(m.name, match_op(m.op), m.value) for m in selector.matchers.matchers]
    return found


def dashboard_exprs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return own + [e for v in node.values() for e in dashboard_exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in dashboard_exprs(v)]
    return []


def check_refused(tmp_path: Path, data: dict[str, Any]) -> None:
    spec = tmp_path / "stack.yaml"
    spec.write_text(dump(data), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["generate", "--spec", str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith(f"{spec}:") and line.count(": ") >= 2 for line in lines), lines
    assert not out.exists()


def check_meaning(field: str, value: str, spec: Spec, documents: dict[str, Any]) -> None:
    matchers = rule_matchers(documents)
    service = spec.services[0]
    if field.startswith("error regex"):
        status = [v for name, op, v in matchers if name == service.request_metrics.status_label and op == "=~"]
        assert status and set(status) == {value}
        dashboard = documents[f"grafana/dashboards/obstack/shop-service-{service.name}.json"]
        assert any(f"=~{promql_string(value)}" in expr for expr in dashboard_exprs(dashboard))
    if field == "service name":
        assert ("job", "=", service.job) in matchers and service.job == value
    if field in ("environment", "external label"):
        (prometheus,) = documents["prometheus/prometheus.yml"]
        key = "environment" if field == "environment" else "cluster"
        assert prometheus["global"]["external_labels"][key] == value
    if field == "kubernetes label":
        labelled = [d for docs in documents.values() if isinstance(docs, list) for d in docs
                    if isinstance(d, dict) and d.get("metadata", {}).get("labels", {}).get("release") == value]
        assert labelled
    if field in ("webhook url", "slack channel"):
        (alertmanager,) = documents["alertmanager/alertmanager.yml"]
        receivers = {r["name"]: r for r in alertmanager["receivers"]}
        if field == "webhook url":
            assert receivers["ops"]["webhook_configs"][0]["url"] == spec.notifications.receivers[0].url
        else:
            assert receivers["chat"]["slack_configs"][0]["channel"] == value


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(sorted(FIELDS)), value=hostile)
# Quotes and backslashes that must survive escaping, whatever the random draw reaches.
@example(field="error regex alternative", value='a"b')
@example(field="error regex alternative", value='\\d\\.x\\\\')
@example(field="error regex", value="5\\d\\d")
@example(field="runbook url", value='{alert}?q="x"')
@example(field="kubernetes label", value='a"b\\c')
@example(field="external label", value="it's \\ \"x\"")
@example(field="slack channel", value='#al{e}rts "x"')
@example(field="environment", value="pröd 🙂")
@example(field="webhook url", value='a?b="c"')
def test_a_hostile_string_is_refused_or_generates_what_the_spec_says(tmp_path: Path, field: str, value: str) -> None:
    data = base_spec()
    value = FIELDS[field](data, value)
    result = generated(data)
    if isinstance(result, SpecError):
        event(f"{field}: refused")
        check_refused(tmp_path, data)
        return
    event(f"{field}: generated")
    spec, artifacts = result
    documents = parsed_files(artifacts)
    check_meaning(field, value, spec, documents)
    delimiters = sum(a.content.count("{{") + a.content.count("}}") for a in artifacts)
    assert delimiters == template_delimiters_for_harmless(field), "a Go template delimiter came from the spec"


def test_the_escaped_digit_class_reaches_promql_as_written() -> None:
    r"""'5\d\d' is a valid RE2 regex; the rules must carry it as the PromQL string "5\\d\\d"."""
    data = base_spec()
    FIELDS["error regex"](data, "5\\d\\d")
    result = generated(data)
    assert not isinstance(result, SpecError), result
    spec, artifacts = result
    documents = parsed_files(artifacts)
    check_meaning("error regex", "5\\d\\d", spec, documents)
    services = "".join(a.content for a in artifacts if a.path.as_posix() == "prometheus/rules/services.yml"
                       or a.path.name.startswith("service-"))  # the alerts and the services' recordings
    assert 'status_code=~"5\\\\d\\\\d"' in services
