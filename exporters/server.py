"""The exporter's HTTP server, on the event loop that runs the probes: one thread for everything.

A scrape crosses no thread: the connection's protocol parses the request head as its bytes
arrive (``httpwire.HeadReader``), answers /livez, / and 404 on the spot, and awaits the
scheduler's probes for /metrics, /health and /readyz in a task on the same loop. With http.server
each scrape went acceptor thread -> connection thread -> probe loop -> back, and those handoffs
cost about as much as the Redis round trip itself.

Connections are kept alive (Prometheus reuses them) with ``TCP_NODELAY``, and each response
leaves in one write, so a keep-alive scrape never waits for a delayed ACK. A burst waits in a
listen backlog of ``LISTEN_BACKLOG``, not in SYN retries. A connection gets
``exporter.idle_timeout`` to deliver each whole request head from the moment it is awaited (an
idle keep-alive connection, a client sending its request slowly) and to take each response (a
client that does not read), else it is closed: no client holds anything for ever. Requests on
one connection are answered in order, one at a time; no more is read while one is in progress
or while the client is not taking the answers (past asyncio's write high-water mark).
A request body is not read, as with http.server: its bytes are taken for the next request.
TLS handshakes run on the loop, each cut at ``TLS_HANDSHAKE_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from .httpwire import CONTINUE, HeadReader, Refusal, Request
from .routes import ExporterApp
from .tcp import Listener, write_last

TLS_HANDSHAKE_TIMEOUT = 10.0
LISTEN_BACKLOG = 1024  # the kernel caps it at net.core.somaxconn


class ExporterServer:
    """The listening socket and the connections served from it on the running loop."""

    def __init__(self, app: ExporterApp, address: tuple[str, int]) -> None:
        """Bind ``address`` now, so that an address in use fails in the caller (``start`` serves it)."""
        self.app = app
        self.connections: set[Connection] = set()
        self._socket = _listening_socket(address)
        self._server: asyncio.Server | Listener | None = None

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        """Serve on the running loop: plain TCP through ``tcp.Listener``, TLS through asyncio's server."""
        loop = asyncio.get_running_loop()
        if self.app.web.tls is None:
            self._server = Listener(loop, self._socket, lambda: Connection(self), self.app.log)
        else:
            self._server = await loop.create_server(
                lambda: Connection(self), sock=self._socket, backlog=LISTEN_BACKLOG, ssl=self.app.web.tls,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT)

    async def close(self) -> None:
        """Stop listening and drop every connection, finished or not."""
        if self._server is not None:
            self._server.close()
        else:
            self._socket.close()
        tasks = [task for connection in list(self.connections) if (task := connection.drop()) is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        self.app.close()


class Connection(asyncio.Protocol):
    """One client connection: its request heads in order, each answered in one write."""

    def __init__(self, server: ExporterServer) -> None:
        self._server = server
        self._app = server.app
        self._idle_timeout = server.app.idle_timeout
        self._tls = server.app.web.tls is not None
        self._buffer = bytearray()
        self._reader = HeadReader()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._eof = False
        self._blocked = False  # the client is not taking what was written (asyncio paused writing)

    # asyncio.Protocol

    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        raw = transport.get_extra_info("socket")
        if raw is not None and raw.family in (socket.AF_INET, socket.AF_INET6):
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._server.connections.add(self)
        self._deadline()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._serve()

    def eof_received(self) -> bool:
        self._eof = True
        self._serve()
        return not self._tls  # keep the write side open to answer (asyncio's TLS cannot)

    def pause_writing(self) -> None:
        self._blocked = True  # nor read more: a client that sends but never reads would fill memory
        if self._transport is not None:
            self._transport.pause_reading()
        self._deadline()

    def resume_writing(self) -> None:
        self._blocked = False
        if self._transport is not None and self._task is None:
            self._transport.resume_reading()
        self._deadline()
        self._serve()

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()  # the probes it waits on go on for whoever joined them

    # requests

    def _serve(self) -> None:
        """Answer every complete request head in the buffer until one must wait."""
        transport = self._transport
        while self._task is None and not self._blocked and transport is not None and not transport.is_closing():
            head = self._reader.scan(self._buffer, self._eof)
            if head is None:
                return
            self._reader.reset()
            request = head.request
            if request is None:
                transport.close()
                return
            prefix = CONTINUE if head.continue_first else b""
            if isinstance(request, Refusal):
                self._send(prefix + request.answer, keep_alive=False)
                return
            del self._buffer[:head.consumed]
            try:
                answer = self._app.immediate(request)
            except Exception as error:  # noqa: BLE001 - a 500, logged by class
                answer = self._app.failed(request, error)
            if answer is None:
                transport.pause_reading()
                self._task = asyncio.get_running_loop().create_task(self._respond(request, prefix))
                self._deadline()
                return
            self._send(prefix + answer, request.keep_alive)

    async def _respond(self, request: Request, prefix: bytes) -> None:
        try:
            answer = await self._app.respond(request)
        except Exception as error:  # noqa: BLE001 - a 500, logged by class
            answer = self._app.failed(request, error)
        self._task = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        self._send(prefix + answer, request.keep_alive)
        if not transport.is_closing() and not self._blocked:
            transport.resume_reading()
            self._serve()

    def _send(self, answer: bytes, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        if keep_alive:
            transport.write(answer)
        else:
            write_last(transport, answer)  # closed once what was written has left
        self._deadline()

    def _deadline(self) -> None:
        """(Re)arm the idle timeout while the connection waits on its client, else disarm it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        transport = self._transport
        waiting = self._blocked or (self._task is None and transport is not None)
        if waiting and self._idle_timeout is not None:
            self._timer = asyncio.get_running_loop().call_later(self._idle_timeout, self.abort)

    def abort(self) -> None:
        """Drop the connection now, with whatever it had not sent."""
        if self._transport is not None:
            self._transport.abort()

    def drop(self) -> asyncio.Task[None] | None:
        """Abort the connection and cancel its request in progress, returned to be awaited."""
        self.abort()
        task = self._task
        if task is not None:
            task.cancel()
        return task


def _listening_socket(address: tuple[str, int]) -> socket.socket:
    """A bound, listening, non-blocking socket; AF_INET6 for an IPv6 address, as http.server chose."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(LISTEN_BACKLOG)
        listener.setblocking(False)
    except OSError:
        listener.close()
        raise
    return listener
