"""Inhibit rules from the spec's dependency graph: the cause pages, its symptoms stay quiet.

A service depending on a datastore — directly, through a queue that lives in it, or through a
service it depends on — shows that datastore's outage as errors, slow requests, a burning error
budget and a failing health check. While the datastore's down alert fires, those *symptom* alerts
of every dependent service are silenced, and so are the failure alerts of the queues those
services depend on (their jobs fail for the same reason). ``ServiceDown`` of a service silences
its own symptoms and those of the services depending on it.

Every rule names its targets by their subject (``service=~"a|b"``, ``queue=~"q"``), so a down
datastore can only silence what depends on it, and ``equal`` holds the external labels, so one
environment never silences another in a shared Alertmanager.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from obstack.alerts.routing import format_matcher, one_of
from obstack.alerts.rule_model import AlertRule
from obstack.stack.spec.model import Spec

SERVICE_DOWN = "ServiceDown"
DATASTORE_DOWN = {"postgres": "PostgresDown", "redis": "RedisDown"}


@dataclass(frozen=True)
class Dependents:
    """What depends on one cause (a datastore or a service), directly or transitively."""

    services: tuple[str, ...]
    queues: tuple[str, ...]  # queues those services name in depends_on


def reachable(spec: Spec) -> dict[str, set[str]]:
    """service -> every datastore and service it reaches through depends_on (queues lead to their datastore)."""
    services = {s.name: s for s in spec.services}
    queues = {q.name: q for q in spec.queues}
    reached: dict[str, set[str]] = {}

    def visit(name: str) -> set[str]:
        if name in reached:
            return reached[name]
        reached[name] = found = set()  # depends_on has no cycles (the spec checks), this only guards
        for target in services[name].depends_on:
            if target in queues:
                found.add(queues[target].datastore)
            elif target in services:
                found |= {target} | visit(target)
            else:
                found.add(target)
        return found

    for name in services:
        visit(name)
    return reached


def dependents(spec: Spec, cause: str, reached: dict[str, set[str]] | None = None) -> Dependents:
    """The services that reach ``cause`` (a datastore or service name) and the queues they name;
    ``reached``: ``reachable(spec)`` when the caller asks for many causes (computed once)."""
    reached = reachable(spec) if reached is None else reached
    services = [s for s in spec.services if cause in reached[s.name]]
    queue_names = {q.name for q in spec.queues}
    queues = dict.fromkeys(q for s in services for q in s.depends_on if q in queue_names)
    return Dependents(tuple(s.name for s in services), tuple(queues))


def _symptoms(rules: Sequence[AlertRule], subject: str) -> list[str]:
    return list(dict.fromkeys(r.name for r in rules if r.symptom and r.subject == subject))


def _symptoms_by_subject(rules: Sequence[AlertRule]) -> dict[str, list[str]]:
    """The symptom alert names of each subject kind, computed once: every cause reads them."""
    return {subject: _symptoms(rules, subject) for subject in ("service", "queue")}


def _rules_for(source: list[str], affected: Dependents, symptoms_of: dict[str, list[str]],
               equal: list[str]) -> list[dict[str, Any]]:
    result = []
    for subject, names in (("service", affected.services), ("queue", affected.queues)):
        symptoms = symptoms_of[subject]
        if names and symptoms:
            result.append({"source_matchers": source,
                           "target_matchers": [one_of("alertname", symptoms), one_of(subject, names)],
                           "equal": equal})
    return result


def dependency_inhibit_rules(spec: Spec, rules: Sequence[AlertRule], external: list[str]) -> list[dict[str, Any]]:
    """(d) A down datastore silences its dependents' symptoms; (e) ServiceDown silences its own
    service's symptoms and its dependents'. ``external``: the external label names."""
    present = {r.name for r in rules}
    reached = reachable(spec)
    symptoms_of = _symptoms_by_subject(rules)
    result: list[dict[str, Any]] = []
    for store in spec.datastores:
        alert = DATASTORE_DOWN[store.kind]
        if alert in present:
            source = [format_matcher("alertname", "=", alert), format_matcher("datastore", "=", store.name)]
            result += _rules_for(source, dependents(spec, store.name, reached), symptoms_of, external)
    if SERVICE_DOWN not in present:
        return result
    own = symptoms_of["service"]
    if own:
        result.append({"source_matchers": [format_matcher("alertname", "=", SERVICE_DOWN)],
                       "target_matchers": [one_of("alertname", own)], "equal": [*external, "service"]})
    for service in spec.services:
        source = [format_matcher("alertname", "=", SERVICE_DOWN), format_matcher("service", "=", service.name)]
        result += _rules_for(source, dependents(spec, service.name, reached), symptoms_of, external)
    return result


def explained_by(spec: Spec, rules: Sequence[AlertRule], alertname: str, subject: str) -> list[str]:
    """The down alerts (with their subject) that silence ``alertname`` about ``subject``, read from
    the dependency graph alone. docs/alerts.md reads the generated inhibit rules instead; this is
    the graph's side of the same answer, which the tests hold the rules to."""
    rule = next((r for r in rules if r.name == alertname), None)
    if rule is None or not rule.symptom:
        return []
    reached = reachable(spec)

    def hit(affected: Dependents) -> bool:
        return subject in (affected.services if rule.subject == "service" else affected.queues)

    causes = [f"{DATASTORE_DOWN[store.kind]} ({store.name})" for store in spec.datastores
              if hit(dependents(spec, store.name, reached))]
    causes += [f"{SERVICE_DOWN} ({service.name})" for service in spec.services
               if (rule.subject == "service" and subject == service.name)
               or hit(dependents(spec, service.name, reached))]
    return causes
