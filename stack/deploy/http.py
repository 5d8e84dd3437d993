"""HTTP for deploy and drill: a timeout on every request, bounded retries with backoff and jitter.

Connection errors, timeouts and 5xx answers are retried (exponential backoff, full jitter,
a bounded number of times): a server restarting or briefly overloaded must not fail a deploy,
and many clients retrying at once must not hit it in lockstep. Other answers are returned to
the caller, which knows what a 4xx means for its API.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from stack.deploy.errors import DeployError


@dataclass(frozen=True)
class HttpSettings:
    timeout: float = 10.0  # seconds, per request
    retries: int = 3  # after the first attempt
    backoff: float = 0.5  # seconds: the first retry waits up to this long, doubling each time
    backoff_max: float = 8.0


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


@dataclass
class HttpClient:
    """Requests to one server (``name`` is how messages call it, e.g. "prometheus")."""

    base_url: str
    name: str
    settings: HttpSettings = field(default_factory=HttpSettings)
    headers: dict[str, str] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def request(self, method: str, path: str, json_body: Any = None, retry_server_errors: bool = True) -> requests.Response:
        """The response (any status); DeployError once the retries are spent on errors or 5xx."""
        attempts = self.settings.retries + 1
        problem = ""
        for attempt in range(attempts):
            try:
                response = self.session.request(method, self.url(path), json=json_body, headers=self.headers,
                                                timeout=self.settings.timeout)
            except requests.RequestException as error:
                problem = f"cannot reach {self.name} at {self.url(path)}: {_short(error)}"
            else:
                if response.status_code < 500 or not retry_server_errors:
                    return response
                problem = f"{self.name}: {method} {path} answered {response.status_code}: {body_excerpt(response)}"
            if attempt + 1 < attempts:
                time.sleep(backoff_delay(attempt, self.settings))
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


def body_excerpt(response: requests.Response, limit: int = 200) -> str:
    """The first line of a response body, for one-line messages."""
    text = " ".join(response.text.split())
    return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")
