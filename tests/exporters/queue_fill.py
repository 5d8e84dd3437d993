"""Fill queues with the real client libraries (bullmq, rq, celery/kombu), for the exporter tests.

Each function returns what it put where, so tests assert the exporter's numbers against the
libraries' own notion of the queue rather than against a hand-written key layout.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import redis

NOW_MS = lambda: int(time.time() * 1000)  # noqa: E731 - BullMQ timestamps are milliseconds


async def _fill_bullmq(url: str, prefix: str) -> Any:
    from bullmq import Queue, Worker

    options = {"connection": url, "prefix": prefix}
    queue = Queue("jobs", options)
    dead_letter = Queue("jobs-dlq", options)

    async def process(job: Any, token: str) -> None:
        if job.name == "boom":
            raise RuntimeError("boom")

    done = await queue.add("done", {}, {"removeOnComplete": True})
    for index in range(2):
        await queue.add("boom", {"i": index}, {"attempts": 1})
    # With the metrics option BullMQ counts finished jobs (metrics:completed/failed count).
    worker = Worker("jobs", process, {**options, "metrics": {"maxDataPoints": 60}})
    for _ in range(200):
        if (await queue.getJobCounts("failed"))["failed"] == 2 and await queue.getJobState(done.id) == "unknown":
            break
        await asyncio.sleep(0.05)
    await queue.pause()  # the worker stays connected but takes nothing more
    await queue.add("wait", {}, {"timestamp": NOW_MS() - 120_000})
    for index in range(2):
        await queue.add("wait", {"i": index})
    await queue.add("urgent", {}, {"priority": 1})
    await queue.add("old-low", {}, {"priority": 5, "timestamp": NOW_MS() - 300_000})
    await queue.add("later", {}, {"delay": 3_600_000})
    for index in range(2):
        await dead_letter.add("dead", {"i": index})
    return queue, dead_letter, worker


def fill_bullmq(url: str, prefix: str = "bull") -> Any:
    """1 completed and removed at once, 2 failed (counted by a worker with the metrics option), then
    paused with 3 waiting (oldest 120 s), 2 prioritized (oldest 300 s), 1 delayed: 9 jobs added;
    2 jobs in the dead-letter queue; one worker connected (returned with the queues, to close)."""
    loop = asyncio.new_event_loop()
    handles = loop.run_until_complete(_fill_bullmq(url, prefix))
    return loop, handles


def close_bullmq(loop: asyncio.AbstractEventLoop, handles: Any) -> None:
    queue, dead_letter, worker = handles

    async def close() -> None:
        await worker.close(force=True)
        await queue.close()
        await dead_letter.close()
    loop.run_until_complete(close())
    loop.close()


def fill_rq(url: str) -> dict[str, int]:
    """1 finished and 1 failed (a burst worker ran them), then 3 waiting (oldest 180 s),
    1 scheduled, 1 deferred, one registered worker, every worker suspended."""
    from rq import Queue, SimpleWorker, Worker
    from rq.suspension import suspend

    connection = redis.Redis.from_url(url)
    queue = Queue("default", connection=connection)
    queue.enqueue("math.sqrt", 4)
    queue.enqueue("math.sqrt", -1)  # ValueError: fails
    class BurstWorker(SimpleWorker):
        """Without rq's command channel, a pub/sub thread for kill and shutdown commands a burst
        run never gets: stopping it can wait out its 60 s poll on a busy machine."""

        def subscribe(self) -> None:
            pass

        def unsubscribe(self) -> None:
            pass

    BurstWorker([queue], connection=connection).work(burst=True)
    first = queue.enqueue("math.sqrt", 9)
    # Backdate the oldest job's enqueue time (test data; the probe only reads it).
    old = datetime.now(timezone.utc) - timedelta(seconds=180)
    connection.hset(f"rq:job:{first.id}", "enqueued_at", old.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    queue.enqueue("math.sqrt", 16)
    queue.enqueue("math.sqrt", 25)
    queue.enqueue_in(timedelta(hours=1), "math.sqrt", 36)
    queue.enqueue("math.sqrt", 49, depends_on=first)
    Worker([queue], connection=connection, name="idle-worker").register_birth()
    suspend(connection)
    return {"waiting": 3, "failed": 1, "completed": 1, "scheduled": 1, "deferred": 1}


def fill_celery(url: str, prefix: str = "") -> Any:
    """4 default-priority messages of which one is reserved (fetched, not acked), 2 at priority
    5 and 1 at priority 9 (kombu's default steps put them in the \\x06\\x163 and \\x06\\x169 lists)."""
    from celery import Celery
    from kombu import Connection

    options = {"global_keyprefix": prefix} if prefix else {}
    app = Celery("filler", broker=url)
    app.conf.broker_transport_options = options
    for index in range(4):
        app.send_task("tasks.work", args=(index,), queue="celery")
    for priority in (5, 5, 9):
        app.send_task("tasks.work", args=(priority,), queue="celery", priority=priority)
    connection = Connection(url, transport_options=options)
    simple = connection.SimpleQueue("celery")
    reserved = simple.get(block=True, timeout=5)  # lands in kombu's unacked hash
    return app, connection, simple, reserved
