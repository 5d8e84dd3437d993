"""A small local HTTP server enforcing the parts of Grafana's HTTP API that `obstack deploy` uses.

Grafana cannot be installed where the tests run, so this stands in for it, following Grafana's
documented contract and, where the documentation is silent, what Grafana 10.4's code does:
- ``Authorization: Bearer <token>`` on every call but ``/api/health`` (401 without a valid
  token, 403 for a token without write permission); errors answer ``{"message": ...}``.
- Folders by uid: ``GET``/``DELETE /api/folders/<uid>``, ``POST /api/folders``; deleting a
  folder deletes its dashboards. ``GET /api/search`` by ``folderUIDs``, ``query``, ``type``.
- Dashboards by uid (``GET``/``DELETE /api/dashboards/uid/<uid>``) and ``POST
  /api/dashboards/db`` with the body ``{dashboard, folderUid, overwrite, message}`` into an
  existing folder. Without ``overwrite`` a stale version answers 412 ``version-mismatch`` and
  another dashboard with the title in the folder 412 ``name-exists``; with it, Grafana before
  11.3 saves over that other dashboard (taking its uid and id), and so does this fake.
- Datasources by uid (``GET``/``PUT``/``DELETE /api/datasources/uid/<uid>``, ``GET``/``POST
  /api/datasources``; 409 on a duplicate name or uid, or a PUT with an older ``version``;
  ``readOnly`` ones answer 403 to writes). A PUT replaces the non-secret fields (unsent ones
  fall back to their zero value, except that an empty url, access or basicAuthUser keeps the
  old one) and keeps the secrets it is not sent; secrets are never answered, only
  ``secureJsonFields``. One datasource is the default: saving another with ``isDefault``
  clears the flag elsewhere.
It records every request so tests can check the order, and ``fail`` makes chosen requests fail.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DASHBOARD_BODY_KEYS = {"dashboard", "folderUid", "folderId", "overwrite", "message"}
# The non-secret datasource fields the API takes, with the value Grafana stores when one is not sent.
DATASOURCE_DEFAULTS: dict[str, Any] = {"access": "", "url": "", "user": "", "database": "", "basicAuth": False,
                                       "basicAuthUser": "", "withCredentials": False, "isDefault": False,
                                       "jsonData": {}}
# Grafana's update writes through xorm, which skips empty strings unless a column is forced
# (user and database are): an empty or unsent url, access or basicAuthUser keeps its old value.
KEPT_WHEN_EMPTY = ("url", "access", "basicAuthUser")
# What GET /api/datasources leaves out of each item (its list DTO is smaller than the single one).
NOT_LISTED = ("basicAuthUser", "withCredentials", "secureJsonFields", "version")


@dataclass
class Failure:
    """Answer ``status`` to matching requests once ``skip`` of them went through, ``times`` times
    (None: from then on). ``route`` is exact, or a prefix when it ends with "/"."""

    method: str
    route: str
    status: int
    skip: int
    times: int | None
    message: str
    seen: int = 0

    def strikes(self, method: str, route: str) -> bool:
        if method != self.method or not (route == self.route or (self.route.endswith("/") and route.startswith(self.route))):
            return False
        self.seen += 1
        nth = self.seen - self.skip
        return nth > 0 and (self.times is None or nth <= self.times)


class FakeGrafana:
    def __init__(self, token: str = "editor-token", viewer_token: str = "viewer-token") -> None:
        self.token = token
        self.viewer_token = viewer_token
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}  # uid -> {"dashboard", "folderUid", "message"}
        self.datasources: dict[str, dict[str, Any]] = {}  # uid -> what GET answers
        self.secrets: dict[str, dict[str, str]] = {}  # uid -> secureJsonData, never answered
        self.requests: list[tuple[str, str, Any]] = []
        self.fail_next: list[int] = []  # statuses to answer the next requests with (e.g. 503)
        self.failures: list[Failure] = []
        self._next_id = 1
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def fail(self, method: str, route: str, status: int = 500, skip: int = 0, times: int | None = None,
             message: str = "injected failure") -> None:
        """Make matching requests fail, e.g. ``fail("POST", "/api/dashboards/db", skip=1, times=3)``:
        the second dashboard save and its two retries answer 500."""
        self.failures.append(Failure(method, route, status, skip, times, message))

    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _ in self.requests if method != "GET"]

    # ---- the API

    def handle(self, method: str, path: str, auth: str, body: Any) -> tuple[int, Any]:
        with self._lock:
            return self._handle(method, path, auth, body)

    def _handle(self, method: str, path: str, auth: str, body: Any) -> tuple[int, Any]:
        if self.fail_next:
            return self.fail_next.pop(0), {"message": "injected failure"}
        url = urlsplit(path)
        route, query = url.path, parse_qs(url.query)
        for failure in self.failures:
            if failure.strikes(method, route):
                return failure.status, {"message": failure.message}
        if method == "GET" and route == "/api/health":
            return 200, {"commit": "fake", "database": "ok", "version": "10.4.0"}
        if auth not in (f"Bearer {self.token}", f"Bearer {self.viewer_token}"):
            return 401, {"message": "Unauthorized"}
        if method != "GET" and auth == f"Bearer {self.viewer_token}":
            return 403, {"message": "You'll need additional permissions to perform this action."}
        parts = route.strip("/").split("/")
        if parts[:2] == ["api", "folders"]:
            return self._folders(method, parts[2:], body)
        if route == "/api/search" and method == "GET":
            return 200, self._search(query)
        if parts[:3] == ["api", "dashboards", "uid"] and len(parts) == 4:
            return self._dashboard(method, parts[3])
        if route == "/api/dashboards/db" and method == "POST":
            return self._save_dashboard(body)
        if parts[:2] == ["api", "datasources"]:
            return self._datasources(method, parts[2:], body)
        return 404, {"message": "Not found"}

    def _folders(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if method == "GET" and not rest:
            return 200, list(self.folders.values())
        if method in ("GET", "DELETE") and len(rest) == 1:
            folder = self.folders.get(rest[0])
            if folder is None:
                return 404, {"message": "folder not found"}
            if method == "GET":
                return 200, folder
            # Grafana deletes the dashboards in it too (alert rules only with forceDeleteRules=true).
            for uid in [u for u, d in self.dashboards.items() if d["folderUid"] == rest[0]]:
                del self.dashboards[uid]
            del self.folders[rest[0]]
            return 200, {"message": "Folder deleted", "id": folder["id"]}
        if method == "POST" and not rest:
            if not isinstance(body, dict) or not body.get("title"):
                return 400, {"message": "folder title cannot be empty"}
            uid = body.get("uid") or f"f{self.new_id()}"
            if uid in self.folders or any(f["title"] == body["title"] for f in self.folders.values()):
                return 409, {"message": "a folder with the same name already exists"}
            self.folders[uid] = {"id": self.new_id(), "uid": uid, "title": body["title"], "version": 1}
            return 200, self.folders[uid]
        return 405, {"message": "method not allowed"}

    def _search(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        in_folders = set(",".join(query.get("folderUIDs", [])).split(",")) - {""}
        text = (query.get("query") or [""])[0].lower()
        kind = (query.get("type") or [""])[0]
        hits = []
        if kind in ("", "dash-folder") and not in_folders:  # no nested folders here
            hits += [{"id": f["id"], "uid": f["uid"], "title": f["title"], "type": "dash-folder",
                      "url": f"/dashboards/f/{f['uid']}"} for f in self.folders.values()]
        if kind in ("", "dash-db"):
            hits += [{"id": d["dashboard"]["id"], "uid": uid, "title": d["dashboard"]["title"], "type": "dash-db",
                      "url": f"/d/{uid}", "folderUid": d["folderUid"]} for uid, d in self.dashboards.items()
                     if not in_folders or d["folderUid"] in in_folders]
        hits = [h for h in hits if text in h["title"].lower()]
        return hits[:int((query.get("limit") or ["1000"])[0])]

    def _dashboard(self, method: str, uid: str) -> tuple[int, Any]:
        stored = self.dashboards.get(uid)
        if stored is None:
            return 404, {"message": "Dashboard not found"}
        if method == "GET":
            return 200, {"dashboard": stored["dashboard"], "meta": {"folderUid": stored["folderUid"], "url": f"/d/{uid}"}}
        if method == "DELETE":
            del self.dashboards[uid]
            title = stored["dashboard"]["title"]
            return 200, {"title": title, "message": f"Dashboard {title} deleted", "id": stored["dashboard"]["id"]}
        return 405, {"message": "method not allowed"}

    def _save_dashboard(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or set(body) - DASHBOARD_BODY_KEYS or not isinstance(body.get("dashboard"), dict):
            return 400, {"message": "bad request: body must be {dashboard, folderUid, overwrite, message}"}
        dashboard = dict(body["dashboard"])
        folder = body.get("folderUid") or ""
        if folder and folder not in self.folders:
            return 400, {"message": "folder not found"}  # folders must exist before their dashboards
        if not dashboard.get("title"):
            return 400, {"message": "Dashboard title cannot be empty"}
        uid = dashboard.get("uid") or f"d{self.new_id()}"
        current = self.dashboards.get(uid)
        if current and not body.get("overwrite") and dashboard.get("version") != current["dashboard"]["version"]:
            return 412, {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"}
        for other_uid, other in self.dashboards.items():
            if other_uid != uid and other["folderUid"] == folder and other["dashboard"]["title"] == dashboard["title"]:
                if not body.get("overwrite"):
                    return 412, {"status": "name-exists",
                                 "message": "A dashboard with the same name in the folder already exists"}
                uid, current = other_uid, other  # Grafana < 11.3 overwrites the dashboard holding the title
                break
        version = current["dashboard"]["version"] + 1 if current else 1
        dashboard.update(uid=uid, version=version, id=current["dashboard"]["id"] if current else self.new_id())
        self.dashboards[uid] = {"dashboard": dashboard, "folderUid": folder, "message": body.get("message")}
        return 200, {"id": dashboard["id"], "uid": uid, "url": f"/d/{uid}", "status": "success",
                     "version": version, "slug": dashboard["title"].lower().replace(" ", "-")}

    def _datasources(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if method == "GET" and not rest:
            return 200, [{k: v for k, v in s.items() if k not in NOT_LISTED} for s in self.datasources.values()]
        if rest[:1] == ["uid"] and len(rest) == 2 and method in ("GET", "DELETE"):
            source = self.datasources.get(rest[1])
            if source is None:
                return 404, {"message": "Data source not found"}
            if method == "GET":
                return 200, source
            if source.get("readOnly"):
                return 403, {"message": "Cannot delete read-only data source"}
            del self.datasources[rest[1]]
            self.secrets.pop(rest[1], None)
            return 200, {"message": "Data source deleted", "id": source["id"]}
        if not isinstance(body, dict) or not body.get("name") or not body.get("type"):
            return 400, {"message": "name and type are required"}
        if method == "POST" and not rest:
            return self._create_datasource(body)
        if method == "PUT" and rest[:1] == ["uid"] and len(rest) == 2:
            return self._update_datasource(rest[1], body)
        return 405, {"message": "method not allowed"}

    def _name_taken(self, name: str, uid: str) -> bool:
        return any(s["name"] == name and u != uid for u, s in self.datasources.items())

    def _store_datasource(self, uid: str, body: dict[str, Any], source_id: int, version: int,
                          secrets: dict[str, str]) -> dict[str, Any]:
        fields = {k: body.get(k, default) for k, default in DATASOURCE_DEFAULTS.items()}
        self.secrets[uid] = secrets
        self.datasources[uid] = {"id": source_id, "uid": uid, "orgId": 1, "name": body["name"], "type": body["type"],
                                 "typeLogoUrl": "", **fields, "secureJsonFields": dict.fromkeys(secrets, True),
                                 "version": version, "readOnly": False}
        if fields["isDefault"]:
            for other_uid, other in self.datasources.items():
                if other_uid != uid:
                    other["isDefault"] = False
        return self.datasources[uid]

    def _create_datasource(self, body: dict[str, Any]) -> tuple[int, Any]:
        uid = body.get("uid") or f"ds{self.new_id()}"
        if uid in self.datasources:
            return 409, {"message": "data source with the same uid already exists"}
        if self._name_taken(body["name"], uid):
            return 409, {"message": "data source with the same name already exists"}
        source = self._store_datasource(uid, body, self.new_id(), 1, dict(body.get("secureJsonData") or {}))
        return 200, {"datasource": source, "id": source["id"], "message": "Datasource added", "name": body["name"]}

    def _update_datasource(self, uid: str, body: dict[str, Any]) -> tuple[int, Any]:
        current = self.datasources.get(uid)
        if current is None:
            return 404, {"message": "Data source not found"}
        if current.get("readOnly"):
            return 403, {"message": "Cannot update read-only data source"}
        if self._name_taken(body["name"], uid):
            return 409, {"message": "data source with the same name already exists"}
        if body.get("version") and body["version"] < current.get("version", 1):
            return 409, {"message": "Datasource has already been updated by someone else. Please reload and try again"}
        secrets = {**self.secrets.get(uid, {}), **(body.get("secureJsonData") or {})}
        kept = {k: current[k] for k in KEPT_WHEN_EMPTY if not body.get(k) and current.get(k)}
        source = self._store_datasource(uid, {**body, **kept}, current["id"], current.get("version", 1) + 1, secrets)
        return 200, {"datasource": source, "id": source["id"], "message": "Datasource updated", "name": body["name"]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        grafana = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if raw and "application/json" not in (self.headers.get("Content-Type") or ""):
                    code, answer = 415, {"message": "Content-Type must be application/json"}
                else:
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        code, answer = 400, {"message": "bad request data"}
                    else:
                        grafana.requests.append((self.command, self.path, body))
                        code, answer = grafana.handle(self.command, self.path, self.headers.get("Authorization", ""), body)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
