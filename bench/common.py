"""Shared bench plumbing: start processes, wait for them, time scrapes, summarise."""

from __future__ import annotations

import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TIMEOUT_HEADER = {"X-Prometheus-Scrape-Timeout-Seconds": "10"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(argv), env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout} s") from None
            time.sleep(0.1)


def scrape_seconds(url: str) -> float:
    """Wall time of one full scrape (fresh connection, body read), as Prometheus does it."""
    request = urllib.request.Request(url, headers=TIMEOUT_HEADER)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=15) as response:
        response.read()
    return time.perf_counter() - started


def fresh_scrape_seconds(url: str) -> float:
    """Wall time of one scrape on a new connection, with as little client as a socket allows:
    connect (TCP_NODELAY), one ``Connection: close`` request with the scrape-timeout header, read
    to the server's close. urllib adds ~0.2 ms of its own per request, which would be counted
    against both servers alike and squeeze their ratio towards 1; Prometheus' Go client costs a
    fraction of that."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    headers = "".join(f"{name}: {value}\r\n" for name, value in TIMEOUT_HEADER.items())
    request = (f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}"
               "Connection: close\r\n\r\n").encode()
    started = time.perf_counter()
    with socket.create_connection((host, port), timeout=15) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(1 << 16):
            chunks.append(chunk)
    elapsed = time.perf_counter() - started
    status_line = b"".join(chunks).split(b"\r\n", 1)[0]
    if status_line.split(b" ")[1:2] != [b"200"]:
        raise RuntimeError(f"{url}: {status_line.decode(errors='replace')}")
    return elapsed


class KeepAliveScraper:
    """Scrapes one URL over one kept-alive HTTP/1.1 connection, as Prometheus does between target changes."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self._path = parts.path or "/"
        self._connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=15)

    def scrape_seconds(self) -> float:
        """Wall time of one scrape on the kept-alive connection (reconnects only if the server closed it)."""
        started = time.perf_counter()
        self._connection.request("GET", self._path, headers=TIMEOUT_HEADER)
        response = self._connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{self._path}: HTTP {response.status}")
        return time.perf_counter() - started

    def close(self) -> None:
        self._connection.close()


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summary(values: Sequence[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    return statistics.median(values) * 1000, percentile(values, 0.99) * 1000


def write_spec(directory: Path, text: str) -> Path:
    path = directory / "stack.yaml"
    path.write_text(text)
    return path


def results_path(name: str) -> Path:
    """Where a bench writes its results by default: bench/results/<name>.json (plotted by bench/plot.py)."""
    return RESULTS / f"{name}.json"


def write_results(path: Path, command: str, data: dict[str, object]) -> None:
    """The results as JSON, with the command that reproduces them and the machine they came from."""
    document = {"command": command.strip(), "date": time.strftime("%Y-%m-%d"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
                **data}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n")
    print(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
