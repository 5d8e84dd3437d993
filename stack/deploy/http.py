"""HTTP for deploy and drill: a total deadline on every request, bounded answers, no redirects,
bounded retries with backoff and jitter.

Connection errors, timeouts and 5xx answers are retried (exponential backoff, full jitter,
a bounded number of times): a server restarting or briefly overloaded must not fail a deploy,
and many clients retrying at once must not hit it in lockstep. Other answers are returned to
the caller, which knows what a 4xx means for its API.

A server must not hold or exhaust the client, whatever it answers:

* every request ends within ``HttpSettings.timeout`` seconds in total (headers and body; not
  per read, so a server trickling a byte a second cannot keep it going) and within the shared
  ``Deadline`` of the operation (one deploy), whichever comes first;
* an answer body larger than ``HttpSettings.max_body`` fails the request once that many bytes
  are read (nothing larger is ever held in memory);
* redirects are never followed: a 3xx fails the request naming where it points (a redirect
  to another host could leak the Grafana token; following a 302 turns a POST into a GET).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from obstack.stack.deploy.errors import DeployError

MiB = 1024 * 1024


@dataclass(frozen=True)
class HttpSettings:
    timeout: float = 10.0  # seconds, per request in total (connect, headers and body)
    retries: int = 3  # after the first attempt
    backoff: float = 0.5  # seconds: the first retry waits up to this long, doubling each time
    backoff_max: float = 8.0
    max_body: int = 16 * MiB  # bytes: the largest answer read (Prometheus' rules of a big server fit)


class Deadline:
    """The end of one operation (a deploy) on the monotonic clock, shared by all its clients.
    Unstarted, it never expires; ``start`` (again) gives a fresh budget (e.g. for the rollback)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end: float | None = None

    def start(self) -> None:
        self._end = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return float("inf") if self._end is None else self._end - time.monotonic()


def backoff_delay(attempt: int, settings: HttpSettings) -> float:
    """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
    return random.uniform(0, min(settings.backoff_max, settings.backoff * 2**attempt))


def _short(error: Exception) -> str:
    # requests' messages nest the whole urllib3 chain; the innermost reason is what helps.
    text = str(error)
    for marker in ("Connection refused", "timed out", "Name or service not known", "No route to host"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200] if text else type(error).__name__


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class Raw:
    """A request body sent as is (e.g. YAML), with its content type; any other body is sent as JSON."""

    data: bytes
    content_type: str


Body = Any  # a Raw, or a value sent as JSON (None: no body)


class _Exchange:
    """One request in a worker thread, so that the caller can stop waiting at the deadline
    whatever the server does (a trickled status line or header blocks inside http.client)."""

    def __init__(self, session: requests.Session, method: str, url: str, body: Body,
                 headers: dict[str, str], timeout: float, max_body: int) -> None:
        self.done = threading.Event()
        self.response: requests.Response | None = None
        self.error: BaseException | None = None
        self.end = time.monotonic() + timeout
        threading.Thread(target=self._run, args=(session, method, url, body, headers, timeout, max_body),
                         name="obstack-http", daemon=True).start()

    def _run(self, session: requests.Session, method: str, url: str, body: Body, headers: dict[str, str],
             timeout: float, max_body: int) -> None:
        try:
            if isinstance(body, Raw):
                content: dict[str, Any] = {"data": body.data}
                headers = {**headers, "Content-Type": body.content_type}
            else:
                content = {"json": body}
            response = session.request(method, url, headers=headers, timeout=timeout,
                                       allow_redirects=False, stream=True, **content)
            with response:
                body = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > max_body:
                        raise _TooLarge()
                    if time.monotonic() > self.end:
                        raise requests.Timeout("timed out")
                # The whole (bounded) body, so that .content, .text and .json() work as usual.
                response._content = bytes(body)
                response._content_consumed = True
            self.response = response
        except BaseException as error:  # handed to the caller's thread
            self.error = error
        finally:
            self.done.set()


@dataclass
class HttpClient:
    """Requests to one server (``name`` is how messages call it, e.g. "prometheus")."""

    base_url: str
    name: str
    settings: HttpSettings = field(default_factory=HttpSettings)
    headers: dict[str, str] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)
    deadline: Deadline | None = None  # the operation's, shared with its other clients

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def _remaining(self, method: str, path: str) -> float:
        left = self.deadline.remaining() if self.deadline is not None else float("inf")
        if left <= 0:
            raise DeployError(f"{self.name}: {method} {path}: the deploy's deadline of "
                              f"{self.deadline.seconds:g}s passed")  # type: ignore[union-attr]
        return min(self.settings.timeout, left)

    def _send(self, method: str, path: str, json_body: Body) -> requests.Response:
        """One attempt; requests' exceptions for connection errors and timeouts, DeployError otherwise."""
        timeout = self._remaining(method, path)
        exchange = _Exchange(self.session, method, self.url(path), json_body, self.headers, timeout,
                             self.settings.max_body)
        if not exchange.done.wait(timeout + 0.5):
            raise requests.Timeout(f"timed out: no complete answer within {timeout:g}s")
        if isinstance(exchange.error, _TooLarge):
            raise DeployError(f"{self.name}: {method} {path} answered more than {self.settings.max_body // MiB} MiB; "
                              "refusing to read it (is this the right server?)")
        if exchange.error is not None:
            raise exchange.error
        response = exchange.response
        assert response is not None
        if response.is_redirect:
            raise DeployError(f"{self.name}: {method} {path} answered {response.status_code} redirecting to "
                              f"{response.headers.get('Location', '?')!r}; deploy follows no redirects: "
                              "give the server's final URL")
        return response

    def request(self, method: str, path: str, json_body: Body = None, retry_server_errors: bool = True) -> requests.Response:
        """The response (any status); DeployError once the retries are spent on errors or 5xx.
        ``json_body`` is sent as JSON, or as is when it is a ``Raw``."""
        attempts = self.settings.retries + 1
        problem = ""
        for attempt in range(attempts):
            try:
                response = self._send(method, path, json_body)
            except requests.RequestException as error:
                problem = f"cannot reach {self.name} at {self.url(path)}: {_short(error)}"
            else:
                if response.status_code < 500 or not retry_server_errors:
                    return response
                problem = f"{self.name}: {method} {path} answered {response.status_code}: {body_excerpt(response)}"
            if attempt + 1 < attempts:
                left = self.deadline.remaining() if self.deadline is not None else float("inf")
                if left <= 0:
                    raise DeployError(f"{problem} (after {attempt + 1} attempts, at the deploy's deadline)")
                time.sleep(min(backoff_delay(attempt, self.settings), left))
        raise DeployError(f"{problem} (after {attempts} attempts)")

    def json(self, method: str, path: str, json_body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        """The decoded JSON answer (None for an empty body) of a request that must succeed with one of ``ok``."""
        response = self.request(method, path, json_body)
        if response.status_code not in ok:
            raise DeployError(f"{self.name}: {method} {path} answered {response.status_code}: {body_excerpt(response)}")
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise DeployError(f"{self.name}: {method} {path} did not answer JSON") from None


def answer_field(answer: Any, where: str, *keys: str, kind: type = object) -> Any:
    """``answer[keys[0]][keys[1]]…`` of a server's JSON answer, which must be a ``kind``;
    DeployError naming what is missing otherwise (a server answering something else is a failure)."""
    value = answer
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            path = ".".join(keys[:depth + 1])
            raise DeployError(f"{where}: the answer has no {path} (is this the right server and version?)")
        value = value[key]
    if not isinstance(value, kind):
        raise DeployError(f"{where}: {'.'.join(keys)} is {type(value).__name__}, expected {kind.__name__}")
    return value


def body_excerpt(response: requests.Response, limit: int = 200) -> str:
    """The first line of a response body, for one-line messages."""
    text = " ".join(response.text[:limit * 4].split())
    return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")
