"""What the tests' small HTTP servers share: serving from a daemon thread for a with block, and
sending one whole answer."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ServedInThread:
    """Serves ``self.httpd`` from a daemon thread inside a with block; shuts it down after."""

    httpd: ThreadingHTTPServer

    def __enter__(self) -> Any:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def answer(handler: BaseHTTPRequestHandler, code: int, data: bytes, headers: dict[str, str] | None = None) -> None:
    """The status line, ``headers``, Content-Length and the body."""
    handler.send_response(code)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
