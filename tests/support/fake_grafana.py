"""A small local HTTP server enforcing the parts of Grafana's HTTP API that `obstack deploy` uses.

Grafana cannot be installed where the tests run, so this stands in for it, following Grafana's
documented contract: ``Authorization: Bearer <token>`` on every call but ``/api/health``
(401 without a valid token, 403 for a token without write permission); folders by uid
(``GET /api/folders/<uid>``, ``POST /api/folders``); ``POST /api/dashboards/db`` with the body
``{dashboard, folderUid, overwrite, message}`` into an existing folder, answering 412 with
``status: version-mismatch`` (stale version without overwrite) or ``name-exists`` (another
dashboard with the title in the folder); datasources by uid (``GET``/``PUT
/api/datasources/uid/<uid>``, ``POST /api/datasources``, 409 on a duplicate name).
It records every request so tests can check the order.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DASHBOARD_BODY_KEYS = {"dashboard", "folderUid", "folderId", "overwrite", "message"}


class FakeGrafana:
    def __init__(self, token: str = "editor-token", viewer_token: str = "viewer-token") -> None:
        self.token = token
        self.viewer_token = viewer_token
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}  # uid -> {"dashboard", "folderUid"}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.fail_next: list[int] = []  # statuses to answer the next requests with (e.g. 503)
        self._next_id = 1
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

    # ---- the API

    def handle(self, method: str, path: str, auth: str, body: Any) -> tuple[int, Any]:
        if self.fail_next:
            return self.fail_next.pop(0), {"message": "injected failure"}
        route = path.split("?")[0]
        if method == "GET" and route == "/api/health":
            return 200, {"commit": "fake", "database": "ok", "version": "10.4.0"}
        if auth not in (f"Bearer {self.token}", f"Bearer {self.viewer_token}"):
            return 401, {"message": "Unauthorized"}
        if method != "GET" and auth == f"Bearer {self.viewer_token}":
            return 403, {"message": "You'll need additional permissions to perform this action."}
        parts = route.strip("/").split("/")
        if parts[:2] == ["api", "folders"]:
            return self._folders(method, parts[2:], body)
        if parts[:3] == ["api", "dashboards", "uid"] and method == "GET":
            stored = self.dashboards.get(parts[3])
            if stored is None:
                return 404, {"message": "Dashboard not found"}
            return 200, {"dashboard": stored["dashboard"], "meta": {"folderUid": stored["folderUid"]}}
        if route == "/api/dashboards/db" and method == "POST":
            return self._save_dashboard(body)
        if parts[:2] == ["api", "datasources"]:
            return self._datasources(method, parts[2:], body)
        return 404, {"message": "Not found"}

    def _folders(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if method == "GET" and not rest:
            return 200, list(self.folders.values())
        if method == "GET":
            folder = self.folders.get(rest[0])
            return (200, folder) if folder else (404, {"message": "folder not found"})
        if method == "POST" and not rest:
            if not isinstance(body, dict) or not body.get("title"):
                return 400, {"message": "folder title cannot be empty"}
            uid = body.get("uid") or f"f{self.new_id()}"
            if uid in self.folders or any(f["title"] == body["title"] for f in self.folders.values()):
                return 409, {"message": "a folder with the same name already exists"}
            self.folders[uid] = {"id": self.new_id(), "uid": uid, "title": body["title"], "version": 1}
            return 200, self.folders[uid]
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
        for other_uid, other in self.dashboards.items():
            if other_uid != uid and other["folderUid"] == folder and other["dashboard"]["title"] == dashboard["title"]:
                return 412, {"status": "name-exists", "message": "A dashboard with the same name in the folder already exists"}
        current = self.dashboards.get(uid)
        if current and not body.get("overwrite") and dashboard.get("version") != current["dashboard"]["version"]:
            return 412, {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"}
        version = current["dashboard"]["version"] + 1 if current else 1
        dashboard.update(uid=uid, version=version, id=current["dashboard"]["id"] if current else self.new_id())
        self.dashboards[uid] = {"dashboard": dashboard, "folderUid": folder, "message": body.get("message")}
        return 200, {"id": dashboard["id"], "uid": uid, "url": f"/d/{uid}", "status": "success",
                     "version": version, "slug": dashboard["title"].lower().replace(" ", "-")}

    def _datasources(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if rest[:1] == ["uid"] and method == "GET":
            source = self.datasources.get(rest[1])
            return (200, source) if source else (404, {"message": "Data source not found"})
        if not isinstance(body, dict) or not body.get("name") or not body.get("type"):
            return 400, {"message": "name and type are required"}
        uid = rest[1] if rest[:1] == ["uid"] else body.get("uid") or f"ds{self.new_id()}"
        if any(s["name"] == body["name"] and u != uid for u, s in self.datasources.items()):
            return 409, {"message": "data source with the same name already exists"}
        if method == "POST" and not rest:
            if uid in self.datasources:
                return 409, {"message": "data source with the same uid already exists"}
            self.datasources[uid] = {"id": self.new_id(), "orgId": 1, "readOnly": False, **body, "uid": uid}
            return 200, {"datasource": self.datasources[uid], "id": self.datasources[uid]["id"],
                         "message": "Datasource added", "name": body["name"]}
        if method == "PUT" and rest[:1] == ["uid"]:
            if uid not in self.datasources:
                return 404, {"message": "Data source not found"}
            self.datasources[uid] = {**self.datasources[uid], **body, "uid": uid}
            return 200, {"datasource": self.datasources[uid], "id": self.datasources[uid]["id"],
                         "message": "Datasource updated", "name": body["name"]}
        return 405, {"message": "method not allowed"}

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
