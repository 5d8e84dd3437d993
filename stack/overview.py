"""docs/stack.md: what the spec declares, in words, with every threshold and where it goes."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from obstack.foundation.artifacts import Artifact
from obstack.stack.spec.model import Spec
from obstack.stack.spec.thresholds import Levels

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel

OVERVIEW_PATH = PurePosixPath("docs/stack.md")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines + [""]


def _level(levels: Levels) -> tuple[str, str]:
    return (str(levels.critical) if levels.critical is not None else "off",
            str(levels.warning) if levels.warning is not None else "off")


def _threshold_rows(spec: Spec) -> list[list[str]]:
    rows: list[list[str]] = []
    for service in spec.services:
        t = service.thresholds
        rows.append([f"service `{service.name}`", "down for", str(t.down_for), "-"])
        rows.append([f"service `{service.name}`", "5xx share above", *_level(t.error_rate)])
        rows.append([f"service `{service.name}`", "p95 latency above", *_level(t.latency_p95)])
    for store in spec.datastores:
        rows.append([f"{store.kind} `{store.name}`", "unreachable for", str(store.thresholds.down_for), "-"])
        rows.append([f"{store.kind} `{store.name}`", "connections above (of max)", *_level(store.thresholds.connections)])
    for queue in spec.queues:
        rows.append([f"queue `{queue.name}`", "waiting jobs above", *_level(queue.thresholds.backlog)])
    if spec.host is not None:
        rows.append(["host", "memory used above", *_level(spec.host.thresholds.memory_used)])
        rows.append(["host", "disk free below", *_level(spec.host.thresholds.disk_free)])
    return rows


def overview_markdown(spec: Spec) -> str:
    lines = [f"# {spec.project} ({spec.environment}): monitoring overview", ""]
    lines += ["## Services", ""]
    lines += _table(
        ["service", "job", "team", "targets", "health", "depends on"],
        [[s.name, s.job, s.team, ", ".join(s.targets), s.health_url, ", ".join(s.depends_on) or "-"] for s in spec.services],
    )
    lines += ["## SLOs", ""]
    lines += _table(
        ["service", "slo", "kind", "objective", "threshold", "window"],
        [[s.name, o.name, o.kind, str(o.objective), str(o.threshold or "-"), str(o.window)] for s in spec.services for o in s.slos],
    )
    lines += ["## Datastores and queues", ""]
    lines += _table(
        ["name", "kind", "team", "connection from"],
        [[d.name, d.kind, d.team, _secret_source(d)] for d in spec.datastores]
        + [[q.name, f"{q.backend} queue in `{q.datastore}`", q.team, f"dead letter: {q.dead_letter or '-'}"] for q in spec.queues],
    )
    lines += ["## Thresholds", "", "Each number is a spec value; alerts, tests and dashboards use the same one.", ""]
    lines += _table(["subject", "measure", "critical", "warning"], _threshold_rows(spec))
    lines += ["## Notification routing", ""]
    routes = spec.notifications.routes
    lines += _table(
        ["severity", "team", "receiver"],
        [[r.severity or "any", r.team or "any", r.receiver] for r in routes]
        + [["anything else", "", spec.notifications.fallback_receiver]],
    )
    return "\n".join(lines).rstrip() + "\n"


def _secret_source(store: object) -> str:
    for attribute in ("dsn_env", "url_env"):
        if getattr(store, attribute, None):
            return f"env `{getattr(store, attribute)}`"
    for attribute in ("dsn_file", "url_file"):
        if getattr(store, attribute, None):
            return f"file `{getattr(store, attribute)}`"
    return "-"


def overview_artifacts(model: StackModel) -> list[Artifact]:
    return [Artifact(OVERVIEW_PATH, overview_markdown(model.spec), "docs")]
