"""A local HTTP server enforcing the rule-configuration API of a Mimir/Cortex ruler, as `obstack deploy
--ruler` uses it. No Mimir, Cortex or Thanos can be installed where the tests run, so this stands in
for one, following Mimir's HTTP API reference ("Ruler") and, where it is silent, Mimir's
``pkg/ruler/api.go``:

- under ``<prefix>/config/v1/rules`` (``prefix`` as Mimir's default ``/prometheus``): ``GET`` of all
  namespaces or of one (YAML ``{namespace: [group, ...]}``; an empty one answers ``{}``, or with
  ``legacy_empty_404`` the 404 "no rule groups found" of Cortex and older Mimir), ``GET``/``DELETE``
  of one group (404 "group does not exist"), ``DELETE`` of a namespace, and ``POST`` of ONE group
  into a namespace, answered ``202``; path segments are percent-decoded;
- the ``POST`` body must be ``Content-Type: application/yaml`` (415 otherwise) holding exactly one
  rule group: a mapping with a non-empty ``name``, a non-empty ``rules`` list and no other keys
  than Mimir's group fields (stricter than Mimir, whose YAML decoding drops unknown keys), each
  rule with exactly one of ``alert``/``record``, an expression that parses, ``for``,
  ``keep_firing_for`` and ``annotations`` on alerts only; and the real ``promtool check rules``
  must accept it (400 with the reason otherwise);
- the tenant comes from ``X-Scope-OrgID`` when ``multitenant`` (401 "no org id" without it), else
  it is ``anonymous``; with ``token`` set, ``Authorization: Bearer <token>`` is required (401), as
  a gateway in front of the ruler does;
- per tenant at most ``max_groups`` rule groups and ``max_rules`` rules per group (400 with
  Mimir's "... limit (limit: N actual: M) exceeded");
- stored groups are answered re-marshalled as Mimir does: durations in Prometheus' own spelling
  (``60m`` -> ``1h``), empty maps left out.

Faults: ``fail`` (a status, e.g. 500, for matching requests once ``skip`` went through) and
``slow`` (answer only after some seconds). Every request is recorded with its relevant headers.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import promql_parser
import yaml

from obstack.stack.spec.values import Duration
from tests.support.fake_grafana import Failure
from tests.support.local_http import ServedInThread, answer
from tests.support.servers import require_binary

API = "/config/v1/rules"
GROUP_KEYS = {"name", "interval", "rules", "source_tenants", "evaluation_delay", "query_offset", "limit",
              "align_evaluation_time_on_interval"}
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
DURATION_KEYS = ("interval", "evaluation_delay", "query_offset", "for", "keep_firing_for")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
ACCEPTED = json.dumps({"status": "success", "data": None, "errorType": "", "error": ""})

Answer = tuple[int, str, str]  # status, content type, body


class Refused(Exception):
    """A request the contract refuses: its status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Slow:
    method: str
    route: str  # a prefix of the path after the API root ("" for every request)
    seconds: float
    times: int


def _duration(value: Any, where: str) -> str:
    try:
        return str(Duration.parse(value))
    except ValueError:
        raise Refused(400, f"{where}: not a valid duration: {value!r}") from None


def _string_map(value: Any, where: str, names: bool) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise Refused(400, f"{where}: must map strings to strings")
    bad = [k for k in value if names and not LABEL_NAME.match(k)]
    if bad:
        raise Refused(400, f"{where}: invalid label name: {bad[0]}")
    return value


def check_rule(rule: Any, group: str, index: int) -> dict[str, Any]:
    """One rule as Mimir stores it; Refused when Prometheus' rule format would refuse it."""
    where = f"group {group!r}, rule {index + 1}"
    if not isinstance(rule, dict) or set(rule) - RULE_KEYS:
        raise Refused(400, f"{where}: not a rule (fields: {', '.join(sorted(RULE_KEYS))})")
    if ("alert" in rule) == ("record" in rule):
        raise Refused(400, f"{where}: one of 'record' or 'alert' must be set")
    expr = rule.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        raise Refused(400, f"{where}: field 'expr' must be set in rule")
    try:
        promql_parser.parse(expr)
    except ValueError as error:
        raise Refused(400, f"{where}: could not parse expression: {' '.join(str(error).split())[:200]}") from None
    stored: dict[str, Any] = {}
    if "record" in rule:
        if not isinstance(rule["record"], str) or not METRIC_NAME.match(rule["record"]):
            raise Refused(400, f"{where}: invalid recording rule name: {rule['record']!r}")
        for field in ("for", "keep_firing_for", "annotations"):
            if field in rule:
                raise Refused(400, f"{where}: invalid field '{field}' in recording rule")
        stored["record"] = rule["record"]
    else:
        if not isinstance(rule["alert"], str) or not rule["alert"]:
            raise Refused(400, f"{where}: invalid alert name")
        stored["alert"] = rule["alert"]
    stored["expr"] = expr
    for field in ("for", "keep_firing_for"):
        if field in rule and Duration.parse(_duration(rule[field], where)).milliseconds:
            stored[field] = _duration(rule[field], where)
    for field in ("labels", "annotations"):
        if rule.get(field):
            stored[field] = _string_map(rule[field], f"{where}: {field}", field == "labels")
    return stored


def check_group(body: bytes, promtool: str | None) -> dict[str, Any]:
    """The one rule group a POST body holds, as stored; Refused when the contract refuses it."""
    try:
        group = yaml.safe_load(body.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        raise Refused(400, "unable to decode rule group") from None
    if not isinstance(group, dict):
        raise Refused(400, "unable to decode rule group")
    if not group.get("name"):
        raise Refused(400, "invalid rules configuration: rule group name must not be empty")
    if set(group) - GROUP_KEYS:
        raise Refused(400, f"unknown rule group fields: {', '.join(sorted(set(group) - GROUP_KEYS))} "
                           "(the body must be ONE rule group, not a rule file)")
    name = str(group["name"])
    if not isinstance(group.get("rules"), list) or not group["rules"]:
        raise Refused(400, f"invalid rules configuration: rule group '{name}' has no rules")
    stored: dict[str, Any] = {"name": name}
    for field in DURATION_KEYS[:3]:
        if field in group and Duration.parse(_duration(group[field], f"group {name!r}")).milliseconds:
            stored[field] = _duration(group[field], f"group {name!r}")
    for field in ("source_tenants", "limit", "align_evaluation_time_on_interval"):
        if group.get(field):
            stored[field] = group[field]
    stored["rules"] = [check_rule(rule, name, index) for index, rule in enumerate(group["rules"])]
    if promtool:
        _promtool_accepts(promtool, stored)
    return stored


def _promtool_accepts(binary: str, group: dict[str, Any]) -> None:
    """The real `promtool check rules` on a rule file holding just this group."""
    with tempfile.TemporaryDirectory(prefix="fake-ruler-") as directory:
        path = Path(directory) / "group.yml"
        path.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
        run = subprocess.run([binary, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        lines = [line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
        raise Refused(400, "promtool check rules: " + " | ".join(lines[-3:]))


class FakeRuler(ServedInThread):
    def __init__(self, prefix: str = "/prometheus", multitenant: bool = False, token: str | None = None,
                 max_groups: int = 70, max_rules: int = 200, legacy_empty_404: bool = False,
                 promtool: bool = True) -> None:
        self.prefix, self.multitenant, self.token = prefix, multitenant, token
        self.max_groups, self.max_rules, self.legacy_empty_404 = max_groups, max_rules, legacy_empty_404
        self.promtool = require_binary("promtool", "prometheus") if promtool else None
        self.store: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}  # tenant -> namespace -> name -> group
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, the headers that matter
        self.failures: list[Failure] = []
        self.delays: list[Slow] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        """What `obstack deploy --ruler` takes: the server and its Prometheus prefix."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{self.prefix}"

    def fail(self, method: str, route: str, status: int = 500, skip: int = 0, times: int | None = None,
             message: str = "injected failure") -> None:
        """Matching requests answer ``status`` once ``skip`` went through; ``route`` is the path after
        ``<prefix>/config/v1/rules`` (ending in "/": a prefix), e.g. ``fail("POST", "/obstack-shop", skip=2)``."""
        self.failures.append(Failure(method, route, status, skip, times, message))

    def slow(self, method: str, route: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` matching requests answer only after ``seconds``."""
        self.delays.append(Slow(method, route, seconds, times))

    def groups(self, namespace: str, tenant: str = "anonymous") -> dict[str, dict[str, Any]]:
        return self.store.get(tenant, {}).get(namespace, {})

    def put(self, namespace: str, group: dict[str, Any], tenant: str = "anonymous") -> None:
        """Store a group as if someone else had posted it (a scene for the tests)."""
        self.store.setdefault(tenant, {}).setdefault(namespace, {})[group["name"]] = check_group(
            yaml.safe_dump(group).encode(), promtool=None)

    def writes(self) -> list[tuple[str, str]]:
        return [(method, unquote(path)) for method, path, _ in self.requests if method != "GET"]

    # ---- the API

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        route = urlsplit(path).path
        if not route.startswith(self.prefix + API):
            return 404, "text/plain", "404 page not found\n"
        rest = route[len(self.prefix + API):]
        delay = next((d for d in self.delays if d.method == method and rest.startswith(d.route) and d.times > 0), None)
        if delay is not None:
            delay.times -= 1
            time.sleep(delay.seconds)
        with self._lock:
            for failure in self.failures:
                if failure.strikes(method, rest):
                    return failure.status, "text/plain", failure.message + "\n"
            try:
                return self._handle(method, rest, headers, body)
            except Refused as refused:
                return refused.status, "text/plain", str(refused) + "\n"

    def _tenant(self, headers: dict[str, str]) -> str:
        if self.token is not None and headers.get("Authorization") != f"Bearer {self.token}":
            raise Refused(401, "unauthorized")
        if not self.multitenant:
            return "anonymous"
        tenant = headers.get("X-Scope-OrgID", "")
        if not tenant:
            raise Refused(401, "no org id")
        if "|" in tenant:
            raise Refused(400, "multiple org IDs present")
        return tenant

    def _handle(self, method: str, rest: str, headers: dict[str, str], body: bytes) -> Answer:
        tenant = self._tenant(headers)
        segments = [unquote(part) for part in rest.split("/")[1:]] if rest else []
        namespaces = self.store.setdefault(tenant, {})
        if method == "GET" and len(segments) <= 1:
            chosen = {ns: groups for ns, groups in namespaces.items() if groups and (not segments or ns == segments[0])}
            if not chosen and self.legacy_empty_404:
                raise Refused(404, "no rule groups found")
            return self._yaml({ns: [groups[n] for n in sorted(groups)] for ns, groups in sorted(chosen.items())})
        if len(segments) == 2 and method in ("GET", "DELETE"):
            groups = namespaces.get(segments[0], {})
            if segments[1] not in groups:
                raise Refused(404, "group does not exist")
            if method == "GET":
                return self._yaml(groups[segments[1]])
            del groups[segments[1]]
            return 202, "application/json", ACCEPTED
        if len(segments) == 1 and method == "DELETE":
            if not namespaces.get(segments[0]):
                raise Refused(404, "group namespace does not exist")
            del namespaces[segments[0]]
            return 202, "application/json", ACCEPTED
        if len(segments) == 1 and method == "POST":
            return self._post(namespaces, segments[0], headers, body)
        return 404, "text/plain", "404 page not found\n"

    def _post(self, namespaces: dict[str, dict[str, dict[str, Any]]], namespace: str, headers: dict[str, str],
              body: bytes) -> Answer:
        if headers.get("Content-Type", "").split(";")[0].strip() != "application/yaml":
            raise Refused(415, f"unsupported Content-Type {headers.get('Content-Type', '')!r}: expected application/yaml")
        group = check_group(body, self.promtool)
        if len(group["rules"]) > self.max_rules:
            raise Refused(400, f"per-user rules per rule group limit (limit: {self.max_rules} actual: "
                               f"{len(group['rules'])}) exceeded")
        groups = namespaces.setdefault(namespace, {})
        if group["name"] not in groups:
            count = sum(len(g) for g in namespaces.values()) + 1
            if count > self.max_groups:
                raise Refused(400, f"per-user rule groups limit (limit: {self.max_groups} actual: {count}) exceeded")
        groups[group["name"]] = group
        return 202, "application/json", ACCEPTED

    @staticmethod
    def _yaml(value: Any) -> Answer:
        return 200, "application/yaml", yaml.safe_dump(value, sort_keys=False, allow_unicode=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        ruler = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name: self.headers[name] for name in ("X-Scope-OrgID", "Authorization", "Content-Type")
                           if self.headers.get(name) is not None}
                ruler.requests.append((self.command, self.path, headers))
                code, content_type, text = ruler.handle(self.command, self.path, headers, body)
                answer(self, code, text.encode(), {"Content-Type": content_type})

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *_: Any) -> None:  # quiet
                return None

        return Handler
