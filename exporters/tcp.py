"""Plain-TCP connections for the HTTP server, straight on the event loop's selector.

asyncio's own server costs ~0.1 ms of CPU per connection, about a sixth of a fresh scrape:
it starts a task to set up each accepted socket, then waits a loop iteration each for the
protocol's ``connection_made``, the reader's registration and the first read. Here the
listener's reader callback accepts, hands the socket to its protocol and reads at once (the
request has usually arrived with the connection), so a fresh scrape is answered in the same
loop iteration that accepted it when no probe is needed.

``TcpTransport`` is the part of ``asyncio.Transport`` the HTTP protocol uses: ``write`` (sends
now, buffers the rest; ``pause_writing`` past ``HIGH_WATER`` buffered bytes), ``close`` (after
what is buffered), ``abort``, ``pause_reading``/``resume_reading``, ``eof_received`` (a true
answer keeps the connection open for writing), and ``write_last``: the answer to a request that
closes the connection, corked so that the FIN leaves in the segment that ends it (3% off a
fresh scrape). TLS connections go through asyncio's server, which owns the handshake.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from typing import Any

from .logs import JsonLog

RECV_SIZE = 256 * 1024  # asyncio's read size
HIGH_WATER = 64 * 1024  # asyncio's default write high-water mark
ACCEPT_RETRY = 1.0  # out of file descriptors or memory: stop accepting this long, as asyncio does
ACCEPT_BATCH = 128  # connections accepted per wakeup before other callbacks get their turn
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_CORK = getattr(socket, "TCP_CORK", None)  # Linux only


class Listener:
    """Accepts connections on a listening socket from the loop's reader callback."""

    def __init__(self, loop: asyncio.AbstractEventLoop, listening: socket.socket,
                 protocol_factory: Callable[[], asyncio.Protocol], log: JsonLog) -> None:
        self._loop = loop
        self._socket = listening
        self._factory = protocol_factory
        self._log = log
        self._closed = False
        listening.setblocking(False)
        loop.add_reader(listening.fileno(), self._accept)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self._socket.fileno())
            self._socket.close()

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                connection, _ = self._socket.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as error:
                self._log.warning("accept_failed", error=type(error).__name__, errno=error.errno)
                if error.errno in _OUT_OF_RESOURCES:  # let them come back before trying again
                    self._loop.remove_reader(self._socket.fileno())
                    self._loop.call_later(ACCEPT_RETRY, self._resume)
                return
            connection.setblocking(False)
            TcpTransport(self._loop, connection, self._factory()).start()

    def _resume(self) -> None:
        if not self._closed:
            self._loop.add_reader(self._socket.fileno(), self._accept)


class TcpTransport(asyncio.Transport):
    """One accepted connection's socket, driven by the loop's reader and writer callbacks."""

    def __init__(self, loop: asyncio.AbstractEventLoop, connection: socket.socket,
                 protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._loop = loop
        self._socket = connection
        self._fd = connection.fileno()
        self._protocol = protocol
        self._unsent = bytearray()
        self._reading = False  # the reader callback is registered
        self._paused = False  # the protocol paused reading
        self._at_eof = False
        self._closing = False
        self._lost = False
        self._writes_paused = False

    def start(self) -> None:
        try:
            self._protocol.connection_made(self)
        except Exception as error:  # noqa: BLE001 - a bug in the protocol: drop this connection alone
            self._fail(error)
            return
        self._read()  # the request usually came with the connection: no loop iteration to wait
        self._follow_reading()

    # what the protocol calls

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._lost or not data:
            return
        if not self._unsent:
            try:
                sent = self._socket.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as error:
                self._lose(error)
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            self._loop.add_writer(self._fd, self._flush)
        self._unsent += data
        if len(self._unsent) > HIGH_WATER and not self._writes_paused:
            self._writes_paused = True
            self._protocol.pause_writing()

    def write_last(self, data: bytes) -> None:
        """Write ``data`` and close: corked, so the FIN leaves in the segment that ends the data and
        the client reads the answer and the end of the connection in one wakeup, not two."""
        if not self._lost and _CORK is not None:
            try:
                self._socket.setsockopt(socket.IPPROTO_TCP, _CORK, 1)
            except OSError as error:
                self._lose(error)
                return
        self.write(data)
        self.close()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._follow_reading()
        if not self._unsent:
            self._lose(None)

    def abort(self) -> None:
        self._closing = True
        self._lose(None)

    def is_closing(self) -> bool:
        return self._closing

    def pause_reading(self) -> None:
        self._paused = True
        self._follow_reading()

    def resume_reading(self) -> None:
        self._paused = False
        self._follow_reading()

    def is_reading(self) -> bool:
        return self._reading

    def get_write_buffer_size(self) -> int:
        return len(self._unsent)

    # loop callbacks

    def _read(self) -> None:
        try:
            data = self._socket.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._lose(error)
            return
        try:
            if data:
                self._protocol.data_received(data)
                return
            self._at_eof = True
            self._follow_reading()
            if not self._protocol.eof_received():
                self.close()
        except Exception as error:  # noqa: BLE001 - a bug in the protocol: drop this connection alone
            self._fail(error)

    def _flush(self) -> None:
        try:
            sent = self._socket.send(self._unsent)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._lose(error)
            return
        del self._unsent[:sent]
        if self._unsent:
            return
        self._loop.remove_writer(self._fd)
        if self._writes_paused:
            self._writes_paused = False
            self._protocol.resume_writing()
        if self._closing:
            self._lose(None)

    def _follow_reading(self) -> None:
        """Register the reader callback exactly while the connection wants to read."""
        wanted = not (self._paused or self._closing or self._at_eof or self._lost)
        if wanted and not self._reading:
            self._loop.add_reader(self._fd, self._read)
        elif self._reading and not wanted:
            self._loop.remove_reader(self._fd)
        self._reading = wanted

    def _fail(self, error: Exception) -> None:
        """What asyncio's transports do when their protocol raises: report it, drop the connection."""
        self._loop.call_exception_handler({"message": "protocol callback failed", "exception": error,
                                           "transport": self})
        self._lose(error)

    def _lose(self, error: Exception | None) -> None:
        """Close the socket now; the protocol hears of it on the next loop iteration, as with asyncio."""
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._follow_reading()
        if self._unsent:
            self._loop.remove_writer(self._fd)
            self._unsent.clear()
        self._socket.close()
        self._loop.call_soon(self._protocol.connection_lost, error)

    def __repr__(self) -> str:
        return f"<TcpTransport fd={self._fd}{' closing' if self._closing else ''}>"

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._socket if name == "socket" and not self._lost else default


def write_last(transport: asyncio.WriteTransport, data: bytes) -> None:
    """Write ``data`` as the connection's last bytes, then close it (FIN with the data where it can)."""
    if isinstance(transport, TcpTransport):
        transport.write_last(data)
    else:
        transport.write(data)
        transport.close()
