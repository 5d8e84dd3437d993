"""The Redis probe: one pipeline per scrape (INFO, CLIENT LIST when BullMQ queues need it, and
one read-only script for every queue stored in this Redis) on one reused redis-py connection.

The queue script runs with EVAL_RO and the ``no-writes`` flag, so Redis itself refuses any
write it might attempt. Socket and connect timeouts come from the scrape deadline.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Any

import redis.exceptions as redis_errors
from redis.asyncio.connection import AbstractConnection, Connection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from stack.spec.model import Queue, RedisDatastore

from ..reasons import classify
from ..results import ProbeResult, Reason, Sample, failed
from ..secrets import read_secret
from .base import ConnectionProbe
from .queues import QueueReading, RedisQueueReader, queue_samples
from .queues import bullmq, celery, rq

CLIENT_NAME = "obstack-exporter"
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


def parse_info(text: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#") and ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value
    return fields


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
        if self._script is not None:
            commands.append(("EVAL_RO", self._script, 0, *(part for read in self._reads for part in read)))
        await connection.send_packed_command(connection.pack_commands(commands))
        replies: list[Any] = []
        for _ in commands:  # read every reply, even after an error reply, to keep the stream in sync
            try:
                replies.append(await connection.read_response())
            except redis_errors.ResponseError as error:
                replies.append(error)
        if isinstance(replies[0], Exception):
            raise replies[0]
        duration = time.monotonic() - started
        info = parse_info(replies[0])
        server = ProbeResult("redis", self.target, True, None, duration, tuple(self._server_samples(info)))
        return [server, *self._queue_results(replies[1:], duration)]

    async def _connection_for(self, budget: float) -> Connection:
        if self._connection is None:
            url = read_secret(self.datastore.url_env, self.datastore.url_file)
            options = {k: v for k, v in parse_url(url).items() if k in _URL_KEYS}
            connection_class = options.pop("connection_class", Connection)
            connection = connection_class(
                **options, socket_timeout=budget, socket_connect_timeout=budget, client_name=CLIENT_NAME,
                retry=Retry(NoBackoff(), 0), health_check_interval=0, **_NO_SETINFO)
            await connection.connect()
            self._connection = connection
        else:
            self._connection.socket_timeout = budget
        return self._connection  # type: ignore[no-any-return]

    def _server_samples(self, info: dict[str, str]) -> list[Sample]:
        target = {"target": self.target}
        samples = [Sample(metric, target, float(info[key])) for key, metric in _INFO_GAUGES if key in info]
        rdb_ok = info.get("rdb_last_bgsave_status", "ok") == "ok"
        aof_ok = info.get("aof_enabled", "0") == "0" or (
            info.get("aof_last_write_status", "ok") == "ok" and info.get("aof_last_bgrewrite_status", "ok") == "ok")
        samples.append(Sample("obstack_redis_last_save_success", target, 1.0 if rdb_ok and aof_ok else 0.0))
        return samples

    def _queue_results(self, replies: list[Any], duration: float) -> list[ProbeResult]:
        clients: list[str] = []
        if self._needs_clients:
            listing = replies.pop(0)
            if not isinstance(listing, Exception):
                clients = [part[5:] for line in listing.decode("utf-8", "replace").splitlines()
                           for part in line.split(" ") if part.startswith("name=") and len(part) > 5]
        script_reply = replies.pop(0) if self._script is not None else []
        now = time.time()
        readings: dict[tuple[str, str], QueueReading | Reason] = {}
        for index, (backend, prefix, name) in enumerate(self._reads):
            readings[(backend, name)] = self._reading(script_reply, index, backend, prefix, name, now, clients)
        results = []
        for queue in self.queues:
            identity = {"queue": queue.name, "backend": queue.backend}
            reading = readings[(queue.backend, queue.name)]
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
    def _reading(script_reply: Any, index: int, backend: str, prefix: str, name: str, now: float,
                 clients: list[str]) -> QueueReading | Reason:
        if isinstance(script_reply, Exception):
            return classify(script_reply)
        reply = script_reply[index] if index < len(script_reply) else None
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
