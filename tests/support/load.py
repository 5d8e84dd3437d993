"""Client traffic for a real HTTP service: random (Poisson) arrivals from a seeded generator, over
several keep-alive connections, in a background thread, mostly reads with some writes.

Several connections, because a cluster (PM2, Node's cluster module) balances connections, not
requests: one keep-alive connection would keep every request on one worker."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time


class Load:
    """``rate`` requests per second to the bookmark API at ``host:port`` until stopped: GET
    /bookmarks (70%), GET /bookmarks/1 (20%), POST /bookmarks (10%). Answers are counted by status."""

    def __init__(self, host: str, port: int, rate: float, seed: int = 11, connections: int = 6) -> None:
        self.host, self.port, self.rate, self.connections = host, port, rate, connections
        self.random = random.Random(seed)
        self.answered: dict[int, int] = {}
        self.failed = 0  # connection errors (a worker restarting)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _request(self, connection: http.client.HTTPConnection) -> None:
        pick = self.random.random()
        if pick < 0.7:
            connection.request("GET", "/bookmarks")
        elif pick < 0.9:
            connection.request("GET", "/bookmarks/1")
        else:
            body = json.dumps({"url": f"https://example.com/{self.random.randrange(10**6)}", "title": "t"})
            connection.request("POST", "/bookmarks", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        self.answered[response.status] = self.answered.get(response.status, 0) + 1

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=5)

    def _run(self) -> None:
        pool = [self._connect() for _ in range(self.connections)]
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += self.random.expovariate(self.rate)
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            index = self.random.randrange(len(pool))
            try:
                self._request(pool[index])
            except (OSError, http.client.HTTPException):
                self.failed += 1
                pool[index].close()
                pool[index] = self._connect()
        for connection in pool:
            connection.close()
