"""`obstack receiver`: a small webhook receiver for Alertmanager's payload (version 4).

It validates every notification against the fields Alertmanager 0.25 sends, prints one line
per notification, keeps them in memory (``GET /notifications``, which `obstack drill` polls to
confirm delivery) and can append them to a JSON-lines file. A payload that is not version 4
is answered 400, so a wrong sender shows up in Alertmanager's logs and metrics as a failure.

Hostile or broken senders are answered, never crash a request and never forge output:

* the body must come with a decimal ``Content-Length`` (missing: 411; negative, non-numeric or
  chunked: 400) of at most ``MAX_BODY`` bytes (larger: 413); a refused body is not read beyond a
  bounded drain, and the connection is closed;
* the JSON must nest at most ``MAX_DEPTH`` levels (Alertmanager's nests 4) and contain no
  ``NaN``/``Infinity`` (not JSON, and Alertmanager never sends them): 400 otherwise, so the
  record holds strict JSON only;
* the line printed per notification escapes control and line-separator characters of every
  field (a newline in a label cannot start a second line); the JSON-lines record escapes them
  as JSON does.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from obstack.stack.spec.errors import one_line

# The webhook message of Alertmanager 0.25 (notify/webhook): field -> JSON type.
PAYLOAD_FIELDS: dict[str, type] = {
    "receiver": str, "status": str, "alerts": list, "groupLabels": dict, "commonLabels": dict,
    "commonAnnotations": dict, "externalURL": str, "version": str, "groupKey": str, "truncatedAlerts": int,
}
ALERT_FIELDS: dict[str, type] = {
    "status": str, "labels": dict, "annotations": dict, "startsAt": str, "endsAt": str,
    "generatorURL": str, "fingerprint": str,
}
STATUSES = ("firing", "resolved")
MAX_BODY = 10 * 1024 * 1024  # Alertmanager batches alerts; anything larger is not a notification
MAX_DEPTH = 16  # JSON nesting; Alertmanager's payload nests 4 (payload, alerts, alert, labels)
LINGER_SECONDS = 2.0  # how long a refused body is drained before closing (so the client reads the answer)
READ_TIMEOUT = 30.0  # seconds a request may stall between reads


class RefusedBody(ValueError):
    """A request body the receiver does not read: ``code`` and ``reason`` are the answer."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def body_length(content_length: str | None, transfer_encoding: str | None) -> int:
    """The declared body length; RefusedBody (400/411/413) unless it is a decimal within MAX_BODY."""
    if transfer_encoding:
        raise RefusedBody(411, "Transfer-Encoding is not supported: send a Content-Length")
    if content_length is None:
        raise RefusedBody(411, "Content-Length required")
    text = content_length.strip()
    if not (text.isascii() and text.isdigit()):
        raise RefusedBody(400, f"Content-Length must be a non-negative decimal number, got {content_length[:40]!r}")
    length = int(text)
    if length > MAX_BODY:
        raise RefusedBody(413, f"payload too large: {length} bytes, the limit is {MAX_BODY} bytes")
    return length


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_depth(value: Any) -> int:
    """How deep ``value`` nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_payload(body: bytes) -> tuple[Any, list[str]]:
    """The decoded body and the problems that make it no JSON the receiver accepts."""
    try:
        payload = json.loads(body or b"null", parse_constant=_refuse_constant)
    except RecursionError:
        return None, [f"payload: nested deeper than {MAX_DEPTH} levels"]
    except ValueError as error:
        reason = str(error) if "is not JSON" in str(error) else "not JSON"
        return None, [f"payload: {reason}"]
    if json_depth(payload) > MAX_DEPTH:
        return None, [f"payload: nested deeper than {MAX_DEPTH} levels"]
    return payload, []


def _type_problems(data: dict[str, Any], fields: dict[str, type], where: str) -> list[str]:
    problems = []
    for name, kind in fields.items():
        if name not in data:
            problems.append(f"{where}{name}: missing")
        elif not isinstance(data[name], kind) or (kind is int and isinstance(data[name], bool)):
            problems.append(f"{where}{name}: expected {kind.__name__}, got {type(data[name]).__name__}")
    return problems


def _string_map_problems(data: dict[str, Any], names: tuple[str, ...], where: str) -> list[str]:
    return [f"{where}{name}: values must be strings" for name in names
            if isinstance(data.get(name), dict) and not all(isinstance(v, str) for v in data[name].values())]


def validate_payload(payload: Any) -> list[str]:
    """Problems with ``payload`` as an Alertmanager webhook message (version 4); empty when valid."""
    if not isinstance(payload, dict):
        return ["payload: expected a JSON object"]
    problems = _type_problems(payload, PAYLOAD_FIELDS, "")
    if payload.get("version") not in (None, "4"):
        problems.append(f"version: expected \"4\", got {payload['version']!r}")
    if isinstance(payload.get("status"), str) and payload["status"] not in STATUSES:
        problems.append(f"status: expected firing or resolved, got {payload['status']!r}")
    problems += _string_map_problems(payload, ("groupLabels", "commonLabels", "commonAnnotations"), "")
    for index, alert in enumerate(payload.get("alerts") or []):
        where = f"alerts[{index}]."
        if not isinstance(alert, dict):
            problems.append(f"alerts[{index}]: expected an object")
            continue
        problems += _type_problems(alert, ALERT_FIELDS, where)
        problems += _string_map_problems(alert, ("labels", "annotations"), where)
        if isinstance(alert.get("status"), str) and alert["status"] not in STATUSES:
            problems.append(f"{where}status: expected firing or resolved, got {alert['status']!r}")
    if isinstance(payload.get("alerts"), list) and not payload["alerts"]:
        problems.append("alerts: empty (Alertmanager never sends a notification without alerts)")
    return problems


def notification_line(received_at: str, path: str, payload: dict[str, Any]) -> str:
    """One line per notification: when, where, receiver, status and the alerts it carries."""
    names: dict[str, int] = {}
    for alert in payload["alerts"]:
        name = alert["labels"].get("alertname", "?")
        names[name] = names.get(name, 0) + 1
    alerts = ", ".join(f"{name}×{count}" if count > 1 else name for name, count in names.items())
    subject = " ".join(f"{k}={v}" for k, v in sorted(payload["groupLabels"].items()) if k != "alertname")
    drill = " [drill]" if any(a["labels"].get("drill") == "true" for a in payload["alerts"]) else ""
    return one_line(f"{received_at} {path} receiver={payload['receiver']} {payload['status'].upper()} "
                     f"{len(payload['alerts'])} alert(s): {alerts}{' ' + subject if subject else ''}{drill}")


class NotificationLog:
    """Received notifications, in memory and optionally appended to a JSON-lines file."""

    def __init__(self, record: Path | None = None) -> None:
        self.record = record
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if record is not None:
            record.parent.mkdir(parents=True, exist_ok=True)

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)
            if self.record is not None:
                with self.record.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, sort_keys=True, allow_nan=False) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)


def _handler(log: NotificationLog, out: TextIO, err: TextIO) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "obstack-receiver"
        timeout = READ_TIMEOUT

        def _answer(self, code: int, body: Any, close: bool = False) -> None:
            data = json.dumps(body, allow_nan=False).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def _refuse_unread(self, refused: RefusedBody) -> None:
            """Answer without reading the body, then drain what the client still sends for a
            bounded time and size (closing with unread data would reset the connection before
            the client reads the answer), and close."""
            print(one_line(f"refused request on {self.path}: {refused}"), file=err, flush=True)
            self._answer(refused.code, {"error": str(refused)}, close=True)
            self.wfile.flush()
            try:
                self.connection.shutdown(socket.SHUT_WR)
                end, drained = time.monotonic() + LINGER_SECONDS, 0
                while drained <= MAX_BODY and (left := end - time.monotonic()) > 0:
                    self.connection.settimeout(left)
                    chunk = self.rfile.read1(64 * 1024)
                    if not chunk:
                        break
                    drained += len(chunk)
            except OSError:
                pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?")[0] == "/notifications":
                self._answer(200, log.entries())
            elif self.path in ("/-/healthy", "/-/ready"):
                self._answer(200, {"status": "ok"})
            else:
                self._answer(404, {"error": "POST notifications to any path; GET /notifications lists them"})

        def do_POST(self) -> None:  # noqa: N802
            try:
                length = body_length(self.headers.get("Content-Length"), self.headers.get("Transfer-Encoding"))
            except RefusedBody as refused:
                self._refuse_unread(refused)
                return
            try:
                body = self.rfile.read(length)
            except OSError:  # READ_TIMEOUT without a byte, or the connection broke
                body = b""
            if len(body) < length:
                self.close_connection = True  # the client stopped sending: nothing to answer
                return
            payload, problems = parse_payload(body)
            if not problems:
                problems = validate_payload(payload)
            if problems:
                print(one_line(f"rejected notification on {self.path}: {'; '.join(problems)}"), file=err, flush=True)
                self._answer(400, {"error": "not an Alertmanager webhook payload (version 4)", "problems": problems})
                return
            received_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            log.add({"received_at": received_at, "path": self.path, "payload": payload})
            print(notification_line(received_at, self.path, payload), file=out, flush=True)
            self._answer(200, {"status": "received"})

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the one line per notification is the output."""

    return Handler


class ReceiverServer:
    """The receiver on ``host:port`` in a background thread (``start``/``stop``) or the foreground."""

    def __init__(self, host: str, port: int, record: Path | None = None,
                 out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.log = NotificationLog(record)
        handler = _handler(self.log, out or sys.stdout, err or sys.stderr)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="obstack-receiver", daemon=True)
        self._thread.start()

    def serve_forever(self, ready: Callable[[str], None] | None = None) -> None:
        if ready is not None:
            ready(self.url)
        try:
            self.httpd.serve_forever()
        finally:
            self.httpd.server_close()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT`` for all interfaces) -> (host, port); ValueError with a one-line reason."""
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:9095")
    return host.strip("[]") or "0.0.0.0", int(port)
