"""The connection worker pool: threads reused, started when none is idle, gone when idle long."""

from __future__ import annotations

import threading
import time

import pytest

from exporters.workers import WorkerPool


def _run(pool: WorkerPool, work) -> str:  # type: ignore[no-untyped-def]
    done = threading.Event()
    names: list[str] = []

    def call() -> None:
        names.append(threading.current_thread().name)
        work()
        done.set()

    pool.submit(call)
    assert done.wait(5)
    return names[0]


def _until(condition, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_an_idle_worker_takes_the_next_call_instead_of_a_new_thread() -> None:
    pool = WorkerPool("t")
    first = _run(pool, lambda: None)
    assert _until(lambda: pool.idle() == 1)
    assert _run(pool, lambda: None) == first
    pool.close()


def test_calls_that_overlap_get_threads_of_their_own() -> None:
    pool = WorkerPool("t")
    release = threading.Event()
    started = threading.Barrier(4, timeout=5)

    def blocked() -> None:
        started.wait()
        release.wait(5)

    for _ in range(3):
        pool.submit(blocked)
    started.wait()  # three calls running at once: three workers, none capped
    release.set()
    assert _until(lambda: pool.idle() == 3)
    pool.close()
    assert _until(lambda: not [t for t in threading.enumerate() if t.name.startswith("t-")])


def test_idle_workers_leave_after_their_idle_time() -> None:
    pool = WorkerPool("idle", idle_exit=0.2)
    _run(pool, lambda: None)
    assert _until(lambda: not [t for t in threading.enumerate() if t.name.startswith("idle-")])
    assert pool.idle() == 0
    # A later call starts a worker again.
    _run(pool, lambda: None)
    pool.close()


def test_a_closed_pool_refuses_work() -> None:
    pool = WorkerPool("closed")
    pool.close()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
