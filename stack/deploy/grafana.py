"""Deploying dashboards and datasources to Grafana through its HTTP API.

Order matters and follows Grafana's contract: ``/api/health`` first (is it up, is its database
ok), then the token is tried on a read, folders are created before the dashboards that go in
them, dashboards are saved with ``POST /api/dashboards/db`` (``overwrite`` and ``folderUid``),
datasources are upserted by uid, then everything written is read back and compared. The token
comes from ``GRAFANA_TOKEN`` or a token file, never from the command line (where it would sit in
shell history and ``ps``). Taking a snapshot and rolling back live in grafana_rollback.py.

Written against Grafana's documented API; tested against tests/support/fake_grafana.py, not a
live Grafana (none can be installed where obstack's tests run).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlencode

import requests
import yaml

from obstack.stack.deploy.diff import dashboard_text
from obstack.stack.deploy.errors import DeployError
from obstack.stack.deploy.files import tree_files
from obstack.stack.deploy.http import HttpClient, body_excerpt
from obstack.stack.deploy.tokens import token_from

DASHBOARDS_DIR = PurePosixPath("grafana/dashboards")
DATASOURCES_DIR = PurePosixPath("grafana/provisioning/datasources")
TOKEN_ENV = "GRAFANA_TOKEN"
# Datasource fields the HTTP API takes; provisioning-only keys (orgId, version, editable,
# deleteDatasources) and secureJsonData (env-interpolated secrets) are not sent. These are also
# the fields a rollback puts back: Grafana never answers with secrets, so they are all it can.
DATASOURCE_FIELDS: tuple[str, ...] = ("uid", "name", "type", "url", "access", "isDefault", "basicAuth",
                                      "basicAuthUser", "database", "user", "jsonData", "withCredentials")
# Where each kind of object lives, by uid (GET reads it, DELETE removes it).
OBJECT_PATHS: dict[str, str] = {"folder": "/api/folders/{uid}", "dashboard": "/api/dashboards/uid/{uid}",
                                "datasource": "/api/datasources/uid/{uid}"}
# Deleting a folder deletes every dashboard in it; alert rules only with forceDeleteRules=true.
DELETE_QUERY: dict[str, str] = {"folder": "?forceDeleteRules=false"}


def read_token(token_file: str | None) -> str:
    """The Grafana token: GRAFANA_TOKEN, else the content of ``token_file``."""
    token = token_from(TOKEN_ENV, token_file, "Grafana")
    if token is None:
        raise DeployError(f"no Grafana token: set {TOKEN_ENV} or deploy.grafana.token_file (--grafana-token-file)")
    return token


def folder_uid(title: str) -> str:
    """A stable folder uid from its title (Grafana uids: at most 40 characters)."""
    return re.sub(r"[^a-z0-9_-]+", "-", title.lower()).strip("-")[:40] or "obstack"


class GrafanaRefused(DeployError):
    """Grafana answered a write with an error (4xx): nothing of it was saved."""


@dataclass(frozen=True)
class GrafanaChange:
    kind: str  # "folder", "dashboard" or "datasource"
    uid: str
    label: str  # what messages call it, e.g. the tree path of a dashboard
    state: str  # "created" or "updated"
    old: str  # normalised text, "" when created
    new: str
    body: dict[str, Any]  # what is sent


def dashboard_body(dashboard: dict[str, Any], folder: str, message: str) -> dict[str, Any]:
    """The ``POST /api/dashboards/db`` body saving ``dashboard`` (matched by uid) into ``folder``."""
    return {"dashboard": {**dashboard, "id": None}, "folderUid": folder, "overwrite": True, "message": message}


def folder_of(state: dict[str, Any]) -> str:
    """The folder uid of a dashboard as Grafana answers it ("" for the General folder)."""
    return (state.get("meta") or {}).get("folderUid") or ""


def expected_state(change: GrafanaChange) -> dict[str, Any]:
    """What Grafana answers for the object once ``change`` is saved (in the shape of its GET)."""
    if change.kind == "dashboard":
        return {"dashboard": change.body["dashboard"], "meta": {"folderUid": change.body["folderUid"]}}
    return change.body


def mismatch(kind: str, wanted: dict[str, Any] | None, actual: dict[str, Any] | None) -> str | None:
    """How ``actual`` (Grafana's answer, None: absent) differs from ``wanted``; None when it does not.
    Dashboards compare as the diff does (id and version normalised away) plus their folder;
    datasources on the fields ``wanted`` has among those the API takes."""
    if wanted is None:
        return None if actual is None else "still exists"
    if actual is None:
        return "is missing"
    if kind == "dashboard":
        if dashboard_text(wanted["dashboard"]) != dashboard_text(actual["dashboard"]):
            return "has other content"
        if folder_of(wanted) != folder_of(actual):
            return f"is in folder {folder_of(actual)!r}, not {folder_of(wanted)!r}"
    if kind == "datasource":
        keys = [k for k in DATASOURCE_FIELDS if k in wanted]
        differing = [k for k in keys if wanted[k] != actual.get(k)]
        if differing:
            return "differs in " + ", ".join(differing)
    return None


def _error(response: requests.Response, what: str) -> DeployError:
    """Grafana's documented failure answers as one-line messages."""
    code = response.status_code
    if code == 401:
        return DeployError(f"grafana rejected the token (401 Unauthorized) while {what}: check {TOKEN_ENV} or the token file")
    if code == 403:
        return DeployError(f"grafana token lacks permission (403 Forbidden) for {what}: "
                           "give its service account the Editor role (Admin for datasources)")
    try:
        body = response.json()
    except ValueError:
        body = {}
    status = body.get("status") if isinstance(body, dict) else None
    if code == 412 and status == "version-mismatch":
        return DeployError(f"grafana: {what}: the dashboard changed in Grafana meanwhile (412 version-mismatch); deploy again")
    if code == 412 and status == "name-exists":
        return DeployError(f"grafana: {what}: another dashboard with this title exists in the folder (412 name-exists); "
                           "rename or delete one of them")
    return DeployError(f"grafana: {what} answered {code}: {body_excerpt(response)}")


def _json(response: requests.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise DeployError(f"grafana: {what}: the answer is not JSON: {body_excerpt(response)}") from None


@dataclass
class GrafanaTarget:
    client: HttpClient  # with the Authorization: Bearer header
    folder_title: str  # the spec's grafana.folder: where top-level dashboards go
    name: str = "grafana"

    # ---- reading the tree

    def wanted(self, out: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        """Dashboards by tree path and datasources from the generated provisioning files."""
        dashboards = {}
        for relative, text in tree_files(out, DASHBOARDS_DIR).items():
            if not relative.endswith(".json"):
                continue
            try:
                dashboard = json.loads(text)
            except ValueError as error:
                raise DeployError(f"{DASHBOARDS_DIR / relative}: not JSON: {error}") from None
            if not isinstance(dashboard, dict) or not dashboard.get("uid"):
                raise DeployError(f"{DASHBOARDS_DIR / relative}: a dashboard needs a uid to be updated in place")
            dashboards[relative] = dashboard
        datasources = []
        for relative, text in tree_files(out, DATASOURCES_DIR).items():
            for source in (yaml.safe_load(text) or {}).get("datasources") or []:
                if not source.get("uid"):
                    raise DeployError(f"{DATASOURCES_DIR / relative}: datasource {source.get('name')!r} has no uid to upsert by")
                datasources.append({k: source[k] for k in DATASOURCE_FIELDS if k in source})
        return dashboards, datasources

    # ---- talking to Grafana

    def check_reachable(self) -> None:
        """Health first (no auth needed), then one authenticated read so a bad token fails before any write."""
        health = self.client.request("GET", "/api/health")
        if health.status_code != 200:
            raise DeployError(f"grafana is not healthy: /api/health answered {health.status_code}: {body_excerpt(health)}")
        database = (health.json() or {}).get("database")
        if database != "ok":
            raise DeployError(f"grafana is not healthy: its database is {database!r}")
        response = self.client.request("GET", "/api/folders?limit=1")
        if response.status_code != 200:
            raise _error(response, "listing folders")

    def read(self, kind: str, uid: str) -> dict[str, Any] | None:
        """Grafana's answer for one object (None when it does not exist)."""
        response = self.client.request("GET", OBJECT_PATHS[kind].format(uid=uid))
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _error(response, f"reading {kind} {uid}")
        return _json(response, f"reading {kind} {uid}")

    def delete(self, kind: str, uid: str, what: str) -> bool:
        """Delete one object by uid; False when it was already gone."""
        response = self.client.request("DELETE", OBJECT_PATHS[kind].format(uid=uid) + DELETE_QUERY.get(kind, ""))
        if response.status_code not in (200, 404):
            raise _error(response, what)
        return response.status_code == 200

    def folder_is_empty(self, uid: str) -> bool:
        """Whether Grafana's search finds no dashboard or folder in the folder."""
        response = self.client.request("GET", f"/api/search?folderUIDs={uid}&limit=1")
        if response.status_code != 200:
            raise _error(response, f"searching folder {uid}")
        return not _json(response, f"searching folder {uid}")

    def refuse_title_taken(self, dashboard: dict[str, Any], folder: str, label: str) -> None:
        """DeployError when another dashboard in ``folder`` has this title: saving with ``overwrite``
        would overwrite that one instead (Grafana before 11.3), beyond the reach of a rollback."""
        query = urlencode({"type": "dash-db", "folderUIDs": folder, "query": dashboard.get("title", "")})
        response = self.client.request("GET", f"/api/search?{query}")
        if response.status_code != 200:
            raise _error(response, f"searching folder {folder}")
        for hit in _json(response, f"searching folder {folder}") or []:
            if hit.get("title") == dashboard.get("title") and hit.get("uid") != dashboard["uid"]:
                raise DeployError(f"grafana: dashboard {label}: another dashboard ({hit.get('uid')}) has the title "
                                  f"{hit.get('title')!r} in folder {folder}; rename or delete one of them")

    def default_datasource(self) -> str | None:
        """The uid of the org's default datasource (saving another with isDefault takes it over)."""
        response = self.client.request("GET", "/api/datasources")
        if response.status_code != 200:
            raise _error(response, "listing datasources")
        return next((s.get("uid") for s in _json(response, "listing datasources") or [] if s.get("isDefault")), None)

    def plan(self, dashboards: dict[str, dict[str, Any]], datasources: list[dict[str, Any]],
             message: str) -> list[GrafanaChange]:
        """Folders, then dashboards, then datasources that differ from what Grafana has."""
        changes: list[GrafanaChange] = []
        folders: dict[str, str] = {}
        for relative, dashboard in sorted(dashboards.items()):
            title = PurePosixPath(relative).parent.as_posix()
            folders[relative] = folder_uid(self.folder_title if title == "." else title)
            uid = folders[relative]
            if uid not in {c.uid for c in changes if c.kind == "folder"} and self.read("folder", uid) is None:
                folder_title = self.folder_title if title == "." else title
                changes.append(GrafanaChange("folder", uid, folder_title, "created", "", folder_title + "\n",
                                             {"uid": uid, "title": folder_title}))
        for relative, dashboard in sorted(dashboards.items()):
            uid = dashboard["uid"]
            current = self.read("dashboard", uid)
            old = dashboard_text(current["dashboard"]) if current else ""
            moved = current is not None and folder_of(current) != folders[relative]
            new = dashboard_text(dashboard)
            if old != new or moved:
                self.refuse_title_taken(dashboard, folders[relative], (DASHBOARDS_DIR / relative).as_posix())
                changes.append(GrafanaChange("dashboard", uid, (DASHBOARDS_DIR / relative).as_posix(),
                                             "updated" if current else "created", old, new,
                                             dashboard_body(dashboard, folders[relative], message)))
        for source in datasources:
            current = self.read("datasource", source["uid"])
            old = json.dumps({k: current.get(k) for k in source}, indent=2, sort_keys=True) + "\n" if current else ""
            new = json.dumps(source, indent=2, sort_keys=True) + "\n"
            if old != new:
                changes.append(GrafanaChange("datasource", source["uid"], source["name"],
                                             "updated" if current else "created", old, new, source))
        return changes

    def send(self, change: GrafanaChange, verb: str = "saving") -> None:
        """Write one change (``verb`` says what for in the error message)."""
        what = f"{verb} {change.kind} {change.label}"
        if change.kind == "folder":
            method, path = "POST", "/api/folders"
        elif change.kind == "dashboard":
            method, path = "POST", "/api/dashboards/db"
        elif change.state == "created":
            method, path = "POST", "/api/datasources"
        else:
            method, path = "PUT", f"/api/datasources/uid/{change.uid}"
        try:
            response = self.client.request(method, path, change.body)
        except DeployError as error:  # unreachable, or 5xx after the retries: it may have been saved
            raise DeployError(f"grafana: {what}: {str(error).removeprefix('grafana: ')}") from None
        if response.status_code != 200:
            raise GrafanaRefused(str(_error(response, what)))

    def apply(self, changes: list[GrafanaChange]) -> None:
        """Send the changes in plan order (folders before the dashboards in them)."""
        for change in changes:
            self.send(change)

    def verify(self, changes: list[GrafanaChange]) -> None:
        """Every change is what Grafana now answers for its object."""
        for change in changes:
            problem = mismatch(change.kind, expected_state(change), self.read(change.kind, change.uid))
            if problem:
                raise DeployError(f"grafana: {change.kind} {change.label} {problem} after saving it")
