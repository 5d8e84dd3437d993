"""Threads that serve connections, reused instead of started per connection.

Starting a thread costs ~0.1 ms, as much as the rest of a scrape on a fresh connection; an idle
worker waiting on a queue takes the next connection at once. Workers are started when none is
idle, never capped (a cap would let a few hundred slow clients lock every scrape out, where a
thread each costs them nothing but memory), and leave after ``IDLE_EXIT`` seconds without work,
so a burst of connections does not leave its threads behind. They are daemon threads: a client
holding a keep-alive connection open never keeps the process from exiting.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

IDLE_EXIT = 60.0


class WorkerPool:
    """Runs each submitted call on an idle worker thread, or on a new one when none is idle."""

    def __init__(self, name: str, idle_exit: float = IDLE_EXIT) -> None:
        self._name = name
        self._idle_exit = idle_exit
        self._work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0
        self._closed = False

    def submit(self, work: Callable[[], None]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is closed")
            if self._idle > 0:
                self._idle -= 1  # claimed: the next idle worker to wake takes this call
            else:
                self._started += 1
                threading.Thread(target=self._serve, name=f"{self._name}-{self._started}", daemon=True).start()
        self._work.put(work)

    def _serve(self) -> None:
        while True:
            try:
                work = self._work.get(timeout=self._idle_exit)
            except queue.Empty:
                with self._lock:
                    if self._idle == 0:
                        # Claimed by a submit between our timeout and this lock: its work is queued.
                        continue
                    self._idle -= 1
                    return
            if work is None:
                return
            try:
                work()
            finally:
                with self._lock:
                    closed = self._closed
                    if not closed:
                        self._idle += 1
            if closed:
                return

    def idle(self) -> int:
        """Workers waiting for work (for tests)."""
        with self._lock:
            return self._idle

    def close(self) -> None:
        """Stop idle workers; busy ones finish their call and stop."""
        with self._lock:
            self._closed = True
            waiting = self._idle
        for _ in range(waiting):
            self._work.put(None)
