"""`obstack drill`: prove every route of the generated Alertmanager config delivers.

For each route (each severity and team the spec routes, and the fallback when some alert can
reach it) one synthetic alert labelled ``drill="true"`` is posted to Alertmanager; the drill
waits until `obstack receiver` has received it from the expected receiver, then resolves it.
Each drill alert carries its own ``instance`` (a grouping label), so it starts its own group and
is sent after ``group_wait`` — never held back behind an open group's ``group_interval``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from obstack.alerts.alertmanager_config import route_tree, stack_routes
from obstack.alerts.routing import Matcher, matches_all, parse_matcher, receiver_for
from obstack.stack.deploy.errors import DeployError
from obstack.stack.deploy.http import HttpClient
from obstack.stack.spec.model import Spec

DRILL_ALERTNAME = "ObstackDrill"
SEVERITIES = ("critical", "warning", "info")
UNROUTED_TEAM = "obstack-drill"  # a team no route names, to reach the fallback receiver
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class DrillCase:
    route: str  # how the summary names the route, e.g. "severity=critical team=payments"
    receiver: str  # where the spec says it must arrive
    labels: dict[str, str]


@dataclass(frozen=True)
class DrillResult:
    case: DrillCase
    delivered: bool
    latency: float | None  # seconds from posting to seeing it at the receiver
    detail: str


def _routes(spec: Spec) -> list[tuple[list[Matcher], str]]:
    """The spec's routes (by severity and team); the stack's own routes by alert name (the Watchdog,
    the notification-failure fan-out) are not drilled: the Watchdog itself exercises its route."""
    stack = {(child["receiver"], tuple(child["matchers"])) for child in stack_routes(spec)}
    return [([parse_matcher(m) for m in child["matchers"]], child["receiver"])
            for child in route_tree(spec).get("routes", []) if (child["receiver"], tuple(child["matchers"])) not in stack]


def _first_match(routes: list[tuple[list[Matcher], str]], labels: dict[str, str]) -> int | None:
    return next((index for index, (matchers, _) in enumerate(routes) if matches_all(matchers, labels)), None)


def _labels_reaching(routes: list[tuple[list[Matcher], str]], target: int | None, fixed: dict[str, str],
                     teams: tuple[str, ...]) -> dict[str, str] | None:
    """Severity and team labels (``fixed`` ones kept) that the route tree sends to ``target``."""
    for severity in ([fixed["severity"]] if "severity" in fixed else SEVERITIES):
        for team in ([fixed["team"]] if "team" in fixed else teams):
            labels = {"severity": severity, "team": team}
            if _first_match(routes, labels) == target:
                return labels
    return None


def drill_cases(spec: Spec, run_id: str) -> tuple[list[DrillCase], list[str]]:
    """One case per route (and the fallback when reachable); also the routes no alert can reach."""
    routes = _routes(spec)
    cases, unreachable = [], []
    for index, (matchers, receiver) in enumerate(routes):
        fixed = {m.name: m.value for m in matchers if m.op == "="}
        labels = _labels_reaching(routes, index, fixed, (spec.team, UNROUTED_TEAM))
        described = " ".join(str(m) for m in matchers) or "(matches everything)"
        if labels is None:
            unreachable.append(f"route {described} -> {receiver}: an earlier route takes every alert it matches")
            continue
        cases.append(DrillCase(described, receiver, labels))
    fallback = _labels_reaching(routes, None, {}, (UNROUTED_TEAM,))
    if fallback is not None:
        cases.append(DrillCase("fallback (no route matches)", route_tree(spec)["receiver"], fallback))
    for number, case in enumerate(cases):
        # The spec's own first-match reading must agree with the generated tree.
        expected = receiver_for(spec, case.labels["severity"], case.labels["team"])
        if expected != case.receiver:
            unreachable.append(f"route {case.route}: the generated config sends to {case.receiver}, the spec to {expected}")
        case.labels.update(alertname=DRILL_ALERTNAME, drill="true", instance=f"drill-{run_id}-{number}")
    return cases, unreachable


def real_receivers(spec: Spec, cases: list[DrillCase]) -> list[str]:
    """Receivers of the drilled routes that reach people or paid services (anything but a webhook):
    a synthetic critical alert sent there pages someone."""
    kinds = {receiver.name: receiver.type for receiver in spec.notifications.receivers}
    return sorted({f"{case.receiver} ({kinds[case.receiver]})" for case in cases
                   if kinds.get(case.receiver, "webhook") != "webhook"})


def _alert(case: DrillCase, starts: datetime, ends: datetime) -> dict[str, Any]:
    return {"labels": case.labels, "startsAt": starts.isoformat(), "endsAt": ends.isoformat(),
            "annotations": {"summary": "obstack drill: a synthetic alert testing the notification path; no action needed.",
                            "description": f"Drill of route {case.route}, expected at receiver {case.receiver}."}}


def _received(receiver: HttpClient) -> dict[str, str]:
    """instance label of each firing drill alert seen -> the receiver it came through."""
    seen: dict[str, str] = {}
    for entry in receiver.json("GET", "/notifications"):
        payload = entry.get("payload") or {}
        for alert in payload.get("alerts") or []:
            labels = alert.get("labels") or {}
            if labels.get("drill") == "true" and alert.get("status") == "firing":
                seen.setdefault(labels.get("instance", ""), payload.get("receiver", ""))
    return seen


def run_drill(cases: list[DrillCase], alertmanager: HttpClient, receiver: HttpClient, timeout: float) -> list[DrillResult]:
    """Post every case, wait for each delivery (up to ``timeout``), resolve them all."""
    receiver.json("GET", "/notifications")  # the receiver must answer before anything is sent
    starts = datetime.now(timezone.utc)
    # endsAt in the future: should the drill die, Alertmanager resolves its alerts by itself.
    alertmanager.json("POST", "/api/v2/alerts", [_alert(c, starts, starts + timedelta(seconds=timeout + 300)) for c in cases])
    sent = time.monotonic()
    results: dict[str, DrillResult] = {}
    try:
        while len(results) < len(cases) and time.monotonic() - sent < timeout:
            seen = _received(receiver)
            for case in cases:
                instance = case.labels["instance"]
                if instance in results or instance not in seen:
                    continue
                ok = seen[instance] == case.receiver
                detail = "delivered" if ok else f"delivered to {seen[instance]}, expected {case.receiver}"
                results[instance] = DrillResult(case, ok, time.monotonic() - sent, detail)
            time.sleep(POLL_SECONDS)
    finally:
        now = datetime.now(timezone.utc)
        try:
            alertmanager.json("POST", "/api/v2/alerts", [_alert(c, starts, now) for c in cases])
        except DeployError:
            pass  # the alerts still end by themselves at their endsAt
    return [results.get(c.labels["instance"]) or DrillResult(c, False, None, f"not delivered within {timeout:g}s")
            for c in cases]


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]
