"""The Redis probe: per scrape, one pipeline (INFO, and CLIENT LIST when BullMQ queues need it),
then the queues stored in this Redis read by a read-only script, QUEUE_BATCH queues a call, on
one reused redis-py connection.

A script runs alone in Redis: every other client waits until it returns. One call over a
thousand BullMQ queues held Redis for hundreds of milliseconds, so the queues are read in
calls of QUEUE_BATCH, one round trip each, and other clients are served between them. The
script runs with EVAL_RO and the ``no-writes`` flag, so Redis itself refuses any write it might
attempt. The connect timeout and each reply's read timeout come from the scrape deadline, which
every call shares. Writes are not timed by redis-py, which would run each timed write as a task
of its own (asyncio.wait_for on Python 3.11), a loop iteration and a task more per scrape: a
pipeline of a few kilobytes never waits for buffer space, and the probe's deadline
(``ConnectionProbe.run``) bounds a write all the same.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Sequence
from typing import Any

import redis.exceptions as redis_errors
from redis.asyncio.connection import AbstractConnection, Connection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from obstack.stack.spec.model import Queue, RedisDatastore

from ..reasons import classify
from ..results import ProbeResult, Reason, Sample, failed
from ..secrets import read_secret
from .base import ConnectionProbe
from .queues import QueueReading, RedisQueueReader, queue_samples
from .queues import bullmq, celery, rq

CLIENT_NAME = "obstack-exporter"
# Queues (and dead-letter queues) one script call reads: a median call of 4.9 ms of Redis's time
# with BullMQ queues holding jobs at 16 priority levels, against 296 ms for one call over a
# thousand of them (docs/benchmarks.md, "Queue probe").
QUEUE_BATCH = 25
READERS: dict[str, RedisQueueReader] = {r.backend: r for r in (bullmq.READER, rq.READER, celery.READER)}
_URL_KEYS = ("host", "port", "db", "username", "password", "path", "connection_class")
# redis-py >= 7 announces itself with CLIENT SETINFO unless told not to; the least-privilege
# ACL need not allow it.
_NO_SETINFO: dict[str, Any] = (
    {"driver_info": None} if "driver_info" in inspect.signature(AbstractConnection.__init__).parameters
    else {"lib_name": None, "lib_version": None})

_INFO_GAUGES = (
    ("used_memory", "obstack_redis_memory_used_bytes"),
    ("maxmemory", "obstack_redis_memory_max_bytes"),
    ("connected_clients", "obstack_redis_connected_clients"),
    ("maxclients", "obstack_redis_max_clients"),
    ("blocked_clients", "obstack_redis_blocked_clients"),
    ("rejected_connections", "obstack_redis_rejected_connections_total"),
    ("evicted_keys", "obstack_redis_evicted_keys_total"),
    ("keyspace_hits", "obstack_redis_keyspace_hits_total"),
    ("keyspace_misses", "obstack_redis_keyspace_misses_total"),
)


def queue_script(backends: Sequence[str]) -> str:
    """One read-only Lua script reading every (backend, prefix, name) triple in ARGV.

    A reader's error (wrong key type, ACL) is returned for that queue alone, not raised.
    """
    readers = "".join(READERS[b].lua for b in sorted(set(backends)))
    return (
        "#!lua flags=no-writes\n"
        "local rcall = redis.call\nlocal READERS = {}\n" + readers +
        "local out = {}\n"
        "for i = 1, #ARGV, 3 do\n"
        "  local ok, reply = pcall(READERS[ARGV[i]], ARGV[i + 1], ARGV[i + 2])\n"
        "  if ok then out[#out + 1] = reply else out[#out + 1] = {'!error', tostring(reply)} end\n"
        "end\nreturn out\n"
    )


async def _round_trip(connection: Connection, commands: list[tuple[Any, ...]], timeout: float) -> list[Any]:
    """Send ``commands`` as one pipeline and read every reply, each within ``timeout`` seconds, an
    error reply as its exception (read on past it, to keep the stream in sync)."""
    await connection.send_packed_command(connection.pack_commands(commands))
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(await connection.read_response(timeout=timeout))
        except redis_errors.ResponseError as error:
            replies.append(error)
    return replies


_STATUS_FIELDS = ("rdb_last_bgsave_status", "aof_enabled", "aof_last_write_status", "aof_last_bgrewrite_status")
# Only the INFO fields the probe reads, found in one pass over the reply's bytes. A field starts
# a line: the pattern starts with the newline before it, a literal re finds 5x faster than ^
# under MULTILINE, which it tries at every byte (20 against 96 us for a 4.9 kB reply).
_INFO_FIELD = re.compile(
    rb"\n(" + b"|".join(re.escape(key.encode()) for key, _ in _INFO_GAUGES) + rb"|"
    + b"|".join(re.escape(key.encode()) for key in _STATUS_FIELDS) + rb"):([^\r\n]*)")


def parse_info(text: bytes) -> dict[str, str]:
    """The fields of an INFO reply the probe reads, by name."""
    return {key.decode(): value.decode("utf-8", "replace") for key, value in _INFO_FIELD.findall(b"\n" + text)}


class RedisProbe(ConnectionProbe):
    """A Redis datastore and its BullMQ, RQ and Celery queues."""

    kind = "redis"

    def __init__(self, datastore: RedisDatastore, queues: list[Queue]) -> None:
        super().__init__(datastore.name)
        self.datastore = datastore
        self.queues = [q for q in queues if q.backend in READERS and q.datastore == datastore.name]
        # Each queue, then its dead-letter queue (same backend and prefix), in ARGV order.
        self._reads: list[tuple[str, str, str]] = []
        for queue in self.queues:
            for name in filter(None, (queue.name, queue.dead_letter)):
                self._reads.append((queue.backend, queue.prefix or "", name))
        self._script = queue_script([q.backend for q in self.queues]) if self.queues else None
        self._needs_clients = any(q.backend == "bullmq" for q in self.queues)

    async def probe(self, budget: float, started: float) -> list[ProbeResult]:
        connection = await self._connection_for(budget)
        commands: list[tuple[Any, ...]] = [("INFO",)]
        if self._needs_clients:
            commands.append(("CLIENT", "LIST"))
        replies = await _round_trip(connection, commands, budget)
        if isinstance(replies[0], Exception):
            raise replies[0]
        reads: list[Any] = []  # one reply per queue read, in self._reads order
        for first in range(0, len(self._reads), QUEUE_BATCH):
            batch = self._reads[first:first + QUEUE_BATCH]
            left = budget - (time.monotonic() - started)
            if left <= 0:
                raise redis_errors.TimeoutError(f"scrape deadline passed after {first} of {len(self._reads)} queues")
            (reply,) = await _round_trip(connection, [("EVAL_RO", self._script, 0, *(p for r in batch for p in r))],
                                         left)
            reads += reply if isinstance(reply, list) else [reply] * len(batch)
        duration = time.monotonic() - started
        info = parse_info(replies[0])
        server = ProbeResult("redis", self.target, True, None, duration, tuple(self._server_samples(info)))
        return [server, *self._queue_results(replies[1] if self._needs_clients else None, reads, duration)]

    async def _connection_for(self, budget: float) -> Connection:
        if self._connection is None:
            url = read_secret(self.datastore.url_env, self.datastore.url_file)
            options = {k: v for k, v in parse_url(url).items() if k in _URL_KEYS}
            connection_class = options.pop("connection_class", Connection)
            connection = connection_class(
                **options, socket_timeout=budget, socket_connect_timeout=budget, client_name=CLIENT_NAME,
                retry=Retry(NoBackoff(), 0), health_check_interval=0, **_NO_SETINFO)
            await connection.connect()
            connection.socket_timeout = None  # from now on: untimed writes, reads timed one by one
            self._connection = connection
        return self._connection  # type: ignore[no-any-return]

    def _server_samples(self, info: dict[str, str]) -> list[Sample]:
        target = {"target": self.target}
        samples = [Sample(metric, target, float(info[key])) for key, metric in _INFO_GAUGES if key in info]
        rdb_ok = info.get("rdb_last_bgsave_status", "ok") == "ok"
        aof_ok = info.get("aof_enabled", "0") == "0" or (
            info.get("aof_last_write_status", "ok") == "ok" and info.get("aof_last_bgrewrite_status", "ok") == "ok")
        samples.append(Sample("obstack_redis_last_save_success", target, 1.0 if rdb_ok and aof_ok else 0.0))
        return samples

    def _queue_results(self, listing: Any, reads: list[Any], duration: float) -> list[ProbeResult]:
        clients: list[str] = []
        if isinstance(listing, bytes):
            clients = [part[5:] for line in listing.decode("utf-8", "replace").splitlines()
                       for part in line.split(" ") if part.startswith("name=") and len(part) > 5]
        now = time.time()
        readings: dict[tuple[str, str], QueueReading | Reason] = {}
        for (backend, prefix, name), reply in zip(self._reads, reads):
            readings[(backend, name)] = self._reading(reply, backend, prefix, name, now, clients)
        results = []
        for queue in self.queues:
            identity = {"queue": queue.name, "backend": queue.backend}
            reading = readings.get((queue.backend, queue.name), "protocol")
            dead = readings.get((queue.backend, queue.dead_letter or ""))
            problem = next((r for r in (reading, dead) if isinstance(r, str)), None)
            if problem is not None:
                results.append(failed("queue", queue.name, problem, duration, identity))
                continue
            assert isinstance(reading, QueueReading)
            samples = queue_samples(queue, reading, dead if isinstance(dead, QueueReading) else None)
            results.append(ProbeResult("queue", queue.name, True, None, duration, samples, identity))
        return results

    @staticmethod
    def _reading(reply: Any, backend: str, prefix: str, name: str, now: float,
                 clients: list[str]) -> QueueReading | Reason:
        """One queue's reading from its reply (an error reply of its script call counts for every
        queue of that call)."""
        if isinstance(reply, Exception):
            return classify(reply)
        if not isinstance(reply, list):
            return "protocol"
        if reply and reply[0] == b"!error":
            return classify(redis_errors.ResponseError(reply[1].decode("utf-8", "replace")))
        return READERS[backend].parse(reply, now, prefix, name, clients)

    async def disconnect(self, connection: Any) -> None:
        await connection.disconnect()

    def is_connection_lost(self, error: BaseException) -> bool:
        return isinstance(error, redis_errors.ConnectionError) and not isinstance(
            error, (redis_errors.TimeoutError, redis_errors.AuthenticationError))

    def failures(self, reason: Reason, duration: float) -> list[ProbeResult]:
        return [failed("redis", self.target, reason, duration)] + [
            failed("queue", q.name, reason, duration, {"queue": q.name, "backend": q.backend}) for q in self.queues]
