"""Putting Grafana back after a failed deploy: what its changes will touch is read just before
the first write, and restored newest first when anything fails.

Grafana keeps no transaction we could abort, so a rollback is a new round of writes: dashboards
that existed are saved again from the snapshot (a new version in their history, with a message
saying so), dashboards and datasources the deploy created are deleted, datasources it updated get
their previous non-secret fields back, folders it created are deleted when nothing is in them.
Then every restored object is read back and compared with the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obstack.stack.deploy.errors import DeployError
from obstack.stack.deploy.grafana import (DATASOURCE_FIELDS, GrafanaChange, GrafanaRefused, GrafanaTarget, dashboard_body,
                                  folder_of, mismatch)

# Message order: the kinds in the order people think of them.
KINDS: tuple[str, ...] = ("dashboard", "datasource", "folder")


@dataclass(frozen=True)
class Saved:
    """One object as Grafana had it before the deploy."""

    kind: str  # "folder", "dashboard" or "datasource"
    uid: str
    label: str  # what messages call it
    before: dict[str, Any] | None  # Grafana's answer (GET) before the deploy; None: it did not exist
    step: int  # the index of the change whose write touches it


@dataclass
class GrafanaUndo:
    """The snapshot of what a deploy's Grafana changes touch, and how many changes were sent.

    A write that failed without an answer (a timeout, 5xx after the retries) counts as sent: it
    may have landed, and restoring an object that did not change is harmless. One Grafana refused
    (4xx) does not: nothing of it was saved, and restoring it would likely be refused as well."""

    saved: tuple[Saved, ...]
    sent: int = 0

    def apply(self, target: GrafanaTarget, changes: list[GrafanaChange]) -> None:
        for change in changes:
            self.sent += 1
            try:
                target.send(change)
            except GrafanaRefused:
                self.sent -= 1
                raise

    def touched(self) -> list[Saved]:
        return [item for item in self.saved if item.step < self.sent]

    def restore(self, target: GrafanaTarget, message: str) -> str:
        """Restore every touched object, newest first, then verify; what was restored, e.g.
        "2 dashboards, 1 datasource". DeployError (one line) when something could not be."""
        restored: list[Saved] = []
        kept: list[Saved] = []
        problems: list[str] = []
        for item in reversed(self.touched()):
            try:
                (restored if restore_one(target, item, message) else kept).append(item)
            except DeployError as error:
                problems.append(str(error))
        if problems:
            raise DeployError(f"{problems[0]} ({len(problems)} of {len(problems) + len(restored) + len(kept)} "
                              "objects not restored)")
        for item in restored:
            problem = mismatch(item.kind, item.before, target.read(item.kind, item.uid))
            if problem:
                raise DeployError(f"grafana: after the rollback {item.kind} {item.label} {problem}")
        summary = counted(restored)
        if kept:
            summary += f"; {counted(kept)} left in place: not empty"
        return summary


def restore_one(target: GrafanaTarget, item: Saved, message: str) -> bool:
    """Put one object back as it was; False for a created folder left in place because it is not empty."""
    what = f"restoring {item.kind} {item.label}"
    if item.before is not None:
        if item.kind == "dashboard":
            body = dashboard_body(item.before["dashboard"], folder_of(item.before), message)
            target.send(GrafanaChange("dashboard", item.uid, item.label, "updated", "", "", body), "restoring")
        elif item.kind == "datasource":
            body = {k: v for k, v in item.before.items() if k in DATASOURCE_FIELDS}
            target.send(GrafanaChange("datasource", item.uid, item.label, "updated", "", "", body), "restoring")
        return True  # a folder that existed was not changed: deploy only creates folders
    if item.kind == "folder" and not target.folder_is_empty(item.uid):
        return False
    target.delete(item.kind, item.uid, what)
    return True


def take_snapshot(target: GrafanaTarget, changes: list[GrafanaChange]) -> GrafanaUndo:
    """Read every object the changes will touch, in write order. Saving a datasource with
    ``isDefault`` also touches the org's current default, which loses the flag."""
    saved: dict[tuple[str, str], Saved] = {}

    def keep(kind: str, uid: str, label: str, step: int) -> None:
        if (kind, uid) not in saved:  # the first write that touches an object is the one to undo last
            saved[(kind, uid)] = Saved(kind, uid, label, target.read(kind, uid), step)

    for step, change in enumerate(changes):
        if change.kind == "datasource" and change.body.get("isDefault"):
            default = target.default_datasource()
            if default and default != change.uid:
                keep("datasource", default, f"{default} (the default before)", step)
        keep(change.kind, change.uid, change.label, step)
    return GrafanaUndo(tuple(saved.values()))


def counted(items: list[Saved]) -> str:
    """E.g. "2 dashboards, 1 datasource"."""
    counts = {kind: sum(1 for item in items if item.kind == kind) for kind in KINDS}
    return ", ".join(f"{n} {kind}{'' if n == 1 else 's'}" for kind, n in counts.items() if n) or "nothing to restore"
