"""The /health document in the IETF health-check draft shape (application/health+json).

``checks`` are keyed ``"<component>:<measure>"``, each a list of observations with
``componentId``, ``componentType``, ``observedValue``, ``observedUnit``, ``status`` and
``time``. Datastores are the critical dependencies: one failing makes the document ``fail``
(HTTP 503). A queue that cannot be read, a health URL that is down, or a value past the spec's
warning level makes it ``warn`` (HTTP 200). A failed check's ``output`` is its bounded reason,
followed by the exporter's own words when it has some (``config: environment variable PG_DSN
is not set``), never a library's error text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from obstack.stack.spec.model import Spec

from .results import ProbeResult

Status = Literal["pass", "warn", "fail"]
CONTENT_TYPE = "application/health+json"
_RANK: dict[Status, int] = {"pass": 0, "warn": 1, "fail": 2}


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _check(result: ProbeResult, component_type: str, value: float, unit: str, status: Status) -> dict[str, Any]:
    check: dict[str, Any] = {"componentId": result.target, "componentType": component_type,
                             "observedValue": value, "observedUnit": unit, "status": status,
                             "time": _time(result.finished_at)}
    if result.reason is not None and status != "pass":
        check["output"] = f"{result.reason}: {result.message}" if result.message else result.reason
    return check


def _datastore_checks(spec: Spec, result: ProbeResult) -> dict[str, dict[str, Any]]:
    checks = {f"{result.target}:responseTime": _check(
        result, "datastore", round(result.duration * 1000, 1), "ms", "pass" if result.success else "fail")}
    if not result.success:
        return checks
    if result.kind == "postgres":
        used = sum(s.value for s in result.samples if s.name == "obstack_postgres_connections")
        maximum = result.sample("obstack_postgres_max_connections") or 0.0
    else:
        used = result.sample("obstack_redis_connected_clients") or 0.0
        maximum = result.sample("obstack_redis_max_clients") or 0.0
    store = spec.datastore(result.target)
    warning = store.thresholds.connections.warning if store is not None else None
    status: Status = "warn" if warning is not None and maximum > 0 and used / maximum > float(warning.value) else "pass"
    checks[f"{result.target}:connections"] = _check(result, "datastore", used, "connections", status)
    return checks


def _queue_checks(spec: Spec, result: ProbeResult) -> dict[str, dict[str, Any]]:
    if not result.success:
        return {f"{result.target}:backlog": _check(result, "queue", 0, "jobs", "warn")}
    backlog = result.sample("obstack_queue_backlog_jobs") or 0.0
    queue = next((q for q in spec.queues if q.name == result.target), None)
    levels = [] if queue is None else [queue.thresholds.backlog.warning, queue.thresholds.backlog.critical]
    status: Status = "warn" if any(level is not None and backlog > level for level in levels) else "pass"
    return {f"{result.target}:backlog": _check(result, "queue", backlog, "jobs", status)}


def _http_checks(result: ProbeResult) -> dict[str, dict[str, Any]]:
    return {f"{result.target}:responseTime": _check(
        result, "component", round(result.duration * 1000, 1), "ms", "pass" if result.success else "warn")}


def health_document(spec: Spec, results: Sequence[ProbeResult]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, document): 200 for pass and warn, 503 for fail."""
    checks: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        if result.kind in ("postgres", "redis"):
            entries = _datastore_checks(spec, result)
        elif result.kind == "queue":
            entries = _queue_checks(spec, result)
        else:
            entries = _http_checks(result)
        for key, check in entries.items():
            checks.setdefault(key, []).append(check)
    status: Status = "pass"
    for entries_list in checks.values():
        for check in entries_list:
            if _RANK[check["status"]] > _RANK[status]:
                status = check["status"]
    document = {"status": status, "serviceId": f"{spec.project}-obstack-exporter",
                "description": "obstack exporter: datastores, queues and health URLs of the stack", "checks": checks}
    return (503 if status == "fail" else 200), document


def ready(results: Sequence[ProbeResult]) -> bool:
    """Ready when every critical dependency (datastore) answers."""
    return all(r.success for r in results if r.kind in ("postgres", "redis"))
