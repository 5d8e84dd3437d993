"""Dashboard identities: stable uids derived from the spec, titles, and the URLs alerts link to.

A uid is ``<project>-<dashboard>``: readable, and the same on every run, so an alert's
``dashboard_url`` annotation keeps resolving. Grafana caps uids at 40 characters; a longer one is
cut and made unique again with a short hash. A dashboard of your own keeps its uid, which must be
no generated dashboard's (checked when the spec loads).

Services of one shape (the same request metrics, thresholds, SLOs, restart and memory settings
and dependencies: everything their dashboard draws) share one dashboard with a ``service``
variable, named after the shape's first service in the spec: ``<project>-service-<first>``. A
link to a service is that dashboard's uid with ``?var-service=<name>``.
Names derived from the spec alone, so they sit beside it: the alerts link the dashboards and
the dashboards read the alerts' thresholds, and neither imports the other for these.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .model import Service, Spec

SubjectKind = Literal["service", "datastore", "queue", "host", "slo"]
MAX_UID_LENGTH = 40  # Grafana's limit on dashboard uids


@dataclass(frozen=True)
class DashboardId:
    """What identifies a dashboard: its uid, title and URL slug."""

    uid: str
    title: str
    service: str | None = None  # the service a link selects on a service dashboard (var-service)

    @property
    def slug(self) -> str:
        return slugify(self.title)

    def path(self) -> str:
        """The dashboard's path under Grafana's base URL. A link selecting a service is
        ``/d/<uid>?var-service=<name>``, without the slug: a shape dashboard's title counts its
        services, and a link that changed with every service added would change every rule file
        of the shape (Grafana resolves the uid alone and redirects to the current slug)."""
        if self.service is not None:
            return f"/d/{self.uid}?{SERVICE_VARIABLE_PARAMETER}={self.service}"
        return f"/d/{self.uid}/{self.slug}"


def slugify(text: str) -> str:
    """Grafana's URL slug of a title: lower case, runs of other characters as one dash."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _uid(*parts: str) -> str:
    # Spec names are already uid-safe ([a-z0-9_-]); keeping '_' keeps "my_api" and "my-api" apart.
    text = "-".join(re.sub(r"[^A-Za-z0-9_-]+", "-", part) for part in parts if part)
    if len(text) <= MAX_UID_LENGTH:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[:MAX_UID_LENGTH - 9].rstrip('-')}-{digest}"


SERVICE_VARIABLE = "service"
SERVICE_VARIABLE_PARAMETER = f"var-{SERVICE_VARIABLE}"
# What a service's dashboard draws: services equal in these share one dashboard. Anything else
# (name, job, team, targets, health URL, PM2 scraping, metrics of its own) it reads from no panel.
DASHBOARD_SHAPE_FIELDS = frozenset({"request_metrics", "thresholds", "slos", "process_start_metric",
                                    "max_memory_restart", "depends_on"})


@dataclass(frozen=True)
class ServiceDashboardGroup:
    """One service dashboard and the services of one shape it shows (spec order; the first names it)."""

    dashboard: DashboardId
    services: tuple[Service, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(service.name for service in self.services)


@dataclass(frozen=True)
class ServiceDashboards:
    """Every service dashboard of a spec, and which one shows each service."""

    groups: tuple[ServiceDashboardGroup, ...]
    by_service: dict[str, ServiceDashboardGroup]

    def of(self, service: str) -> DashboardId:
        """The dashboard showing ``service``, with the service selected; KeyError for an unknown one."""
        board = self.by_service[service].dashboard
        return DashboardId(board.uid, board.title, service)


def dashboard_shape(service: Service) -> str:
    """What a service's dashboard is built from, as text: equal for services one dashboard can show."""
    return service.model_dump_json(include=set(DASHBOARD_SHAPE_FIELDS))


def services_label(names: Sequence[str]) -> str:
    """How a shape's services are named in titles: ``api``, or ``api and 99 more``."""
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"


def _group_title(spec: Spec, names: Sequence[str]) -> str:
    kind = "service" if len(names) == 1 else "services"
    return f"{spec.project} / {kind} / {services_label(names)}"


def _service_dashboards(spec: Spec) -> ServiceDashboards:
    shapes: dict[str, list[Service]] = {}
    for service in spec.services:
        shapes.setdefault(dashboard_shape(service), []).append(service)
    groups = []
    for members in shapes.values():
        names = [service.name for service in members]
        ident = DashboardId(_uid(spec.project, "service", names[0]), _group_title(spec, names))
        groups.append(ServiceDashboardGroup(ident, tuple(members)))
    return ServiceDashboards(tuple(groups), {name: group for group in groups for name in group.names})


_last: tuple[Spec, ServiceDashboards] | None = None


def service_dashboards(spec: Spec) -> ServiceDashboards:
    """The service dashboards of ``spec`` (computed once per spec: every alert of every service asks)."""
    global _last
    if _last is None or _last[0] is not spec:
        _last = (spec, _service_dashboards(spec))
    return _last[1]


def service_dashboard(spec: Spec, service: str) -> DashboardId:
    """The dashboard showing ``service``, with it selected; KeyError when the spec has no such service."""
    return service_dashboards(spec).of(service)


def postgres_dashboard(spec: Spec) -> DashboardId:
    return DashboardId(_uid(spec.project, "postgres"), f"{spec.project} / Postgres")


def redis_dashboard(spec: Spec) -> DashboardId:
    return DashboardId(_uid(spec.project, "redis"), f"{spec.project} / Redis")


def queues_dashboard(spec: Spec) -> DashboardId:
    return DashboardId(_uid(spec.project, "queues"), f"{spec.project} / Queues")


def host_dashboard(spec: Spec) -> DashboardId:
    return DashboardId(_uid(spec.project, "host"), f"{spec.project} / Host")


def alerts_dashboard(spec: Spec) -> DashboardId:
    return DashboardId(_uid(spec.project, "alerts-slos"), f"{spec.project} / Alerts & SLOs")


def subject_dashboard(spec: Spec, subject_kind: SubjectKind, name: str) -> DashboardId:
    """The dashboard showing one subject; ValueError when the spec has no such subject."""
    if subject_kind == "service":
        if name not in service_dashboards(spec).by_service:
            raise ValueError(f"no service named {name!r} in the spec")
        return service_dashboard(spec, name)
    if subject_kind == "datastore":
        store = spec.datastore(name)
        if store is None:
            raise ValueError(f"no datastore named {name!r} in the spec")
        return postgres_dashboard(spec) if store.kind == "postgres" else redis_dashboard(spec)
    if subject_kind == "queue":
        if not any(q.name == name for q in spec.queues):
            raise ValueError(f"no queue named {name!r} in the spec")
        return queues_dashboard(spec)
    if subject_kind == "host":
        return host_dashboard(spec)  # hosts are node-exporter instances, not spec entries
    if subject_kind == "slo":
        if not any(slo.name == name for s in spec.services for slo in s.slos):
            raise ValueError(f"no SLO named {name!r} in the spec")
        return alerts_dashboard(spec)
    raise ValueError(f"unknown subject kind {subject_kind!r}")


def dashboard_url(spec: Spec, subject_kind: SubjectKind, name: str) -> str:
    """``<grafana.url>/d/<uid>/<slug>`` of the dashboard showing the subject (for alerts' dashboard_url)."""
    return spec.grafana.url.rstrip("/") + subject_dashboard(spec, subject_kind, name).path()


def own_dashboards(spec: Spec, files: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(path, text) of the user files that are dashboards of your own (grafana.extra_dashboards_dir)."""
    folder = spec.grafana.extra_dashboards_dir
    if folder is None:
        return []
    prefix = folder.rstrip("/") + "/"
    return [(path, text) for path, text in files if path.startswith(prefix) and path.endswith(".json")]


def reserved_uids(spec: Spec) -> set[str]:
    """Every uid a generated dashboard of ``spec`` may take."""
    boards = [postgres_dashboard(spec), redis_dashboard(spec), queues_dashboard(spec),
              host_dashboard(spec), alerts_dashboard(spec)]
    boards += [group.dashboard for group in service_dashboards(spec).groups]
    return {board.uid for board in boards}


def _parsed(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def user_dashboard_problems(spec: Spec, files: Sequence[tuple[str, str]]) -> list[str]:
    """Each file is a JSON object with a uid of its own (not a generated dashboard's, not another file's)."""
    problems, seen, reserved = [], {}, reserved_uids(spec)
    for path, text in own_dashboards(spec, files):
        data = _parsed(text)
        uid = data.get("uid") if data is not None else None
        if data is None:
            problems.append(f"{path} is not a dashboard: not a JSON object")
        elif not isinstance(uid, str) or not uid:
            problems.append(f"{path} has no uid: give it one (it names the provisioned file and its links)")
        elif uid in reserved:
            problems.append(f"{path}: uid '{uid}' is a generated dashboard's; pick another")
        elif uid in seen:
            problems.append(f"{path}: uid '{uid}' is also the uid of {seen[uid]}")
        else:
            seen[uid] = path
    return problems
