"""HTTP/1.x on the wire: request heads read and responses written as http.server did, byte for byte.

``HeadReader`` scans a connection's buffer as it fills and says what came: nothing yet, a
request head, a head to refuse (with the answer ready), or a blank request line (close
silently). It keeps http.server's limits and answers: a request line over ``MAX_LINE`` (65,536)
bytes is 414, a header line over it 431 "Line too long", ``MAX_HEADER_LINES`` (100) lines
counting the blank one 431 "Too many headers", a malformed request line 400 (505 for HTTP/2+),
and every refusal closes the connection. A request line without a version is HTTP/0.9: its
answer is the body alone, as are the refusals of request lines whose version is unknown.
Stricter than http.server in one place: a header line that is not ``name: value`` (also an
obsolete folded line) is 400, where the email parser behind http.server dropped it and every
header after it without a word.

Why not h11: it parses a Prometheus scrape's head in ~20 us against ~10 here, and answers
malformed input its own way, where the exporter keeps http.server's answers.

No I/O here: ``exporters/server.py`` feeds the bytes and writes what comes back.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import DEFAULT_ERROR_CONTENT_TYPE, DEFAULT_ERROR_MESSAGE

MAX_LINE = 65536  # http.server's readline(65537) and http.client._MAXLINE
MAX_HEADER_LINES = 100  # http.client._MAXHEADERS, the blank line included
PROTOCOL = "HTTP/1.1"
SERVER = "obstack-exporter "  # http.server's version_string(): server_version, a space, sys_version ("")
HTTP09 = "HTTP/0.9"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# A header line as the email parser behind http.server recognises one: printable ASCII but ':'.
_HEADER_NAME = re.compile(rb"[!-9;-~]+")
_PHRASES = {status.value: (status.phrase, status.description) for status in HTTPStatus}


@dataclass(slots=True)
class Request:
    """A request head: what the routes and the connection's keep-alive need of it."""

    method: str
    path: str  # as sent, a leading run of slashes made one, as http.server does
    version: str
    headers: dict[str, str]  # lower-cased name -> its first value
    keep_alive: bool


@dataclass(slots=True)
class Refusal:
    """A head refused before any route saw it: the bytes to send, then close."""

    answer: bytes


@dataclass(slots=True)
class Head:
    """A complete head: ``request`` (or ``refusal``), and how many buffer bytes it took."""

    request: Request | Refusal | None  # None: a blank request line, closed without an answer
    consumed: int
    continue_first: bool = False  # "Expect: 100-continue" on HTTP/1.1: 100 Continue goes first


class HeadReader:
    """Scans one request head at a time out of a growing buffer; ``reset`` between requests.
    A method not in ``methods`` is refused with 501, as http.server refuses one without do_<METHOD>."""

    __slots__ = ("_methods", "_scanned", "_lines", "_words", "_keep_alive", "_version")

    def __init__(self, methods: frozenset[str] = frozenset({"GET"})) -> None:
        self._methods = methods
        self.reset()

    def reset(self) -> None:
        self._scanned = 0  # the buffer before this offset holds no newline past the last line
        self._lines: list[int] = []  # offsets just past each complete line's newline
        self._words: list[str] = []
        self._keep_alive = False
        self._version = HTTP09

    def scan(self, buffer: bytes | bytearray, eof: bool = False) -> Head | None:
        """The head at the start of ``buffer`` when it is complete (or refused), else None.
        At ``eof`` what arrived is the whole head, as http.server's readline took it."""
        while True:
            start = self._lines[-1] if self._lines else 0
            newline = buffer.find(b"\n", self._scanned)
            end = len(buffer) if newline < 0 else newline + 1
            if end - start > MAX_LINE:
                return self._too_long()
            if newline < 0:
                self._scanned = end
                if not eof:
                    return None
                if end == start:  # nothing after the last line
                    return self._at_end(buffer) if self._lines else Head(None, 0)
            self._scanned = end
            self._lines.append(end)  # at eof, the last line cut short by the end of input
            head = self._line_done(buffer)
            if head is not None:
                return head
            if newline < 0:
                return self._at_end(buffer)

    def _too_long(self) -> Head:
        if len(self._lines) == 0:  # the request line: http.server answers before knowing any version
            return Head(Refusal(error_answer(HTTPStatus.REQUEST_URI_TOO_LONG, version="")), 0)
        return Head(Refusal(error_answer(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long",
                                         f"got more than {MAX_LINE} bytes when reading header line",
                                         version=self._version)), 0)

    def _line_done(self, buffer: bytes | bytearray) -> Head | None:
        """Judge the line just completed: the request line, a header line, or the blank end."""
        lines = self._lines
        if len(lines) == 1:
            return self._request_line(bytes(buffer[:lines[0]]))
        if len(lines) - 1 > MAX_HEADER_LINES:
            return Head(Refusal(error_answer(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers",
                                             f"got more than {MAX_HEADER_LINES} headers", version=self._version)), 0)
        if lines[-1] - lines[-2] <= 2 and buffer[lines[-2]:lines[-1]] in (b"\r\n", b"\n"):
            return self._at_end(buffer)
        return None

    def _request_line(self, raw: bytes) -> Head | None:
        line = raw.decode("iso-8859-1").rstrip("\r\n")
        words = line.split()
        if not words:
            return Head(None, len(raw))
        if len(words) >= 3:
            version = words[-1]
            number = _version_number(version)
            if number is None:
                return self._refused(HTTPStatus.BAD_REQUEST, f"Bad request version ({version!r})")
            self._keep_alive = number >= (1, 1)
            if number >= (2, 0):
                return self._refused(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                                     f"Invalid HTTP version ({version.split('/', 1)[1]})")
            self._version = version
        if not 2 <= len(words) <= 3:
            return self._refused(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({line!r})")
        if len(words) == 2:
            self._keep_alive = False
            if words[0] != "GET":
                return self._refused(HTTPStatus.BAD_REQUEST, f"Bad HTTP/0.9 request type ({words[0]!r})")
        self._words = words
        return None

    def _refused(self, status: HTTPStatus, message: str) -> Head:
        return Head(Refusal(error_answer(status, message, version=self._version)), 0)

    def _at_end(self, buffer: bytes | bytearray) -> Head:
        """The head is complete: parse its header lines into a Request."""
        lines = self._lines
        headers: dict[str, str] = {}
        for begin, end in zip(lines, lines[1:]):
            line = bytes(buffer[begin:end]).rstrip(b"\r\n")
            if not line:
                break
            name, colon, value = line.partition(b":")
            if not colon or _HEADER_NAME.fullmatch(name) is None:
                return self._refused(HTTPStatus.BAD_REQUEST, "Bad header line")
            headers.setdefault(name.decode("ascii").lower(), value.lstrip(b" \t").decode("iso-8859-1"))
        keep_alive = self._keep_alive
        connection = headers.get("connection", "").lower()
        if connection == "close":
            keep_alive = False
        elif connection == "keep-alive":
            keep_alive = True
        method, path = self._words[0], self._words[1]
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        continue_first = (self._version >= PROTOCOL and headers.get("expect", "").lower() == "100-continue")
        if method not in self._methods:
            refusal = error_answer(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({method!r})",
                                   version=self._version, method=method)
            return Head(Refusal(refusal), lines[-1], continue_first)
        return Head(Request(method, path, self._version, headers, keep_alive), lines[-1], continue_first)


def _version_number(version: str) -> tuple[int, int] | None:
    """``HTTP/x.y`` as (x, y), None where http.server refuses it."""
    if not version.startswith("HTTP/"):
        return None
    parts = version[5:].split(".")
    if len(parts) != 2 or any(not part.isdigit() or len(part) > 10 for part in parts):
        return None
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:  # str.isdigit() takes digits int() does not, e.g. superscripts
        return None


class _Clock:
    """The Date header's text, formatted once a second."""

    __slots__ = ("second", "text")

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def date(self) -> str:
        now = time.time()
        if int(now) != self.second:
            self.second = int(now)
            self.text = formatdate(now, usegmt=True)
        return self.text


_CLOCK = _Clock()


def answer(status: int, content_type: str, body: bytes, headers: tuple[tuple[str, str], ...] = (),
           version: str = PROTOCOL) -> bytes:
    """One whole response: status line, Server, Date, Content-Type, Content-Length, ``headers``, body."""
    if version == HTTP09:
        return body
    lines = [f"{PROTOCOL} {status} {_PHRASES[status][0]}\r\nServer: {SERVER}\r\nDate: {_CLOCK.date()}\r\n"
             f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers]
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + body


def error_answer(status: int, message: str | None = None, explain: str | None = None, *, version: str,
                 method: str | None = None) -> bytes:
    """http.server's send_error(): its HTML page, ``Connection: close``, no body for HEAD."""
    phrase, description = _PHRASES.get(status, ("???", "???"))
    message = phrase if message is None else message
    explain = description if explain is None else explain
    page = (DEFAULT_ERROR_MESSAGE % {"code": status, "message": html.escape(message, quote=False),
                                     "explain": html.escape(explain, quote=False)}).encode("utf-8", "replace")
    body = b"" if method == "HEAD" else page
    if version == HTTP09:
        return body
    head = (f"{PROTOCOL} {status} {message}\r\nServer: {SERVER}\r\nDate: {_CLOCK.date()}\r\nConnection: close\r\n"
            f"Content-Type: {DEFAULT_ERROR_CONTENT_TYPE}\r\nContent-Length: {len(page)}\r\n\r\n")
    return head.encode("latin-1", "strict") + body
