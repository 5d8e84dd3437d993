"""Deploying dashboards and datasources to Grafana through its HTTP API.

Order matters and follows Grafana's contract: ``/api/health`` first (is it up, is its database
ok), then the token is tried on a read, folders are created before the dashboards that go in
them, dashboards are saved with ``POST /api/dashboards/db`` (``overwrite`` and ``folderUid``),
datasources are upserted by uid. The token comes from ``GRAFANA_TOKEN`` or a token file, never
from the command line (where it would sit in shell history and ``ps``).

Written against Grafana's documented API; tested against tests/support/fake_grafana.py, not a
live Grafana (none can be installed where obstack's tests run).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import requests
import yaml

from stack.deploy.diff import dashboard_text
from stack.deploy.errors import DeployError
from stack.deploy.files import tree_files
from stack.deploy.http import HttpClient, body_excerpt

DASHBOARDS_DIR = PurePosixPath("grafana/dashboards")
DATASOURCES_DIR = PurePosixPath("grafana/provisioning/datasources")
TOKEN_ENV = "GRAFANA_TOKEN"
# Datasource fields the HTTP API takes; provisioning-only keys (orgId, version, editable,
# deleteDatasources) and secureJsonData (env-interpolated secrets) are not sent.
DATASOURCE_FIELDS: tuple[str, ...] = ("uid", "name", "type", "url", "access", "isDefault", "basicAuth",
                                      "database", "user", "jsonData", "withCredentials")


def read_token(token_file: str | None) -> str:
    """The Grafana token: GRAFANA_TOKEN, else the first line of ``token_file``."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise DeployError(f"{token_file}: cannot read the Grafana token file: {error.strerror}") from None
        if token:
            return token
        raise DeployError(f"{token_file}: the Grafana token file is empty")
    raise DeployError(f"no Grafana token: set {TOKEN_ENV} or deploy.grafana.token_file (--grafana-token-file)")


def folder_uid(title: str) -> str:
    """A stable folder uid from its title (Grafana uids: at most 40 characters)."""
    return re.sub(r"[^a-z0-9_-]+", "-", title.lower()).strip("-")[:40] or "obstack"


@dataclass(frozen=True)
class GrafanaChange:
    kind: str  # "folder", "dashboard" or "datasource"
    uid: str
    label: str  # what messages call it, e.g. the tree path of a dashboard
    state: str  # "created" or "updated"
    old: str  # normalised text, "" when created
    new: str
    body: dict[str, Any]  # what is sent


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

    def _get(self, path: str, what: str) -> dict[str, Any] | None:
        response = self.client.request("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _error(response, what)
        return response.json()

    def plan(self, dashboards: dict[str, dict[str, Any]], datasources: list[dict[str, Any]],
             message: str) -> list[GrafanaChange]:
        """Folders, then dashboards, then datasources that differ from what Grafana has."""
        changes: list[GrafanaChange] = []
        folders: dict[str, str] = {}
        for relative, dashboard in sorted(dashboards.items()):
            title = PurePosixPath(relative).parent.as_posix()
            folders[relative] = folder_uid(self.folder_title if title == "." else title)
            uid = folders[relative]
            if uid not in {c.uid for c in changes if c.kind == "folder"} and \
                    self._get(f"/api/folders/{uid}", f"reading folder {uid}") is None:
                folder_title = self.folder_title if title == "." else title
                changes.append(GrafanaChange("folder", uid, folder_title, "created", "", folder_title + "\n",
                                             {"uid": uid, "title": folder_title}))
        for relative, dashboard in sorted(dashboards.items()):
            uid = dashboard["uid"]
            current = self._get(f"/api/dashboards/uid/{uid}", f"reading dashboard {uid}")
            old = dashboard_text(current["dashboard"]) if current else ""
            moved = current is not None and (current.get("meta") or {}).get("folderUid") != folders[relative]
            new = dashboard_text(dashboard)
            if old != new or moved:
                body = {"dashboard": {**dashboard, "id": None}, "folderUid": folders[relative],
                        "overwrite": True, "message": message}
                changes.append(GrafanaChange("dashboard", uid, (DASHBOARDS_DIR / relative).as_posix(),
                                             "updated" if current else "created", old, new, body))
        for source in datasources:
            current = self._get(f"/api/datasources/uid/{source['uid']}", f"reading datasource {source['uid']}")
            old = json.dumps({k: current.get(k) for k in source}, indent=2, sort_keys=True) + "\n" if current else ""
            new = json.dumps(source, indent=2, sort_keys=True) + "\n"
            if old != new:
                changes.append(GrafanaChange("datasource", source["uid"], f"datasource {source['name']}",
                                             "updated" if current else "created", old, new, source))
        return changes

    def apply(self, changes: list[GrafanaChange]) -> None:
        """Send the changes in plan order (folders before the dashboards in them)."""
        for change in changes:
            if change.kind == "folder":
                response = self.client.request("POST", "/api/folders", change.body)
            elif change.kind == "dashboard":
                response = self.client.request("POST", "/api/dashboards/db", change.body)
            elif change.state == "created":
                response = self.client.request("POST", "/api/datasources", change.body)
            else:
                response = self.client.request("PUT", f"/api/datasources/uid/{change.uid}", change.body)
            if response.status_code != 200:
                raise _error(response, f"saving {change.kind} {change.label}")
