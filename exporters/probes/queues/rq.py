"""RQ queues, read with the key layout of rq's own source (site-packages ``rq``, 2.x/3.x).

``rq:queue:<name>`` list (RPUSH, oldest at index 0), ``rq:queue:<name>:intermediate`` (popped,
not yet started), registries ``rq:wip|failed|finished|deferred|scheduled|canceled:<name>``
(sorted sets, counted with ZCARD: the registries' ``count`` runs a cleanup that writes), workers
in ``rq:workers:<name>``, job hash ``rq:job:<id>`` with ``enqueued_at`` (UTC ISO 8601).
RQ has no per-queue pause; ``rq suspend`` (key ``rq:suspended``) pauses every worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from . import QueueReading, RedisQueueReader, age_seconds, int_at, text_at

STATES = ("waiting", "active", "failed", "completed", "deferred", "scheduled", "canceled")

LUA = r"""
READERS["rq"] = function(prefix, name)
  local queue = "rq:queue:" .. name
  local oldest = rcall("LINDEX", queue, 0)
  local enqueued_at = false
  if oldest then enqueued_at = rcall("HGET", "rq:job:" .. oldest, "enqueued_at") end
  return {
    rcall("LLEN", queue),
    rcall("ZCARD", "rq:wip:" .. name) + rcall("LLEN", queue .. ":intermediate"),
    rcall("ZCARD", "rq:failed:" .. name),
    rcall("ZCARD", "rq:finished:" .. name),
    rcall("ZCARD", "rq:deferred:" .. name),
    rcall("ZCARD", "rq:scheduled:" .. name),
    rcall("ZCARD", "rq:canceled:" .. name),
    rcall("SCARD", "rq:workers:" .. name),
    rcall("EXISTS", "rq:suspended"),
    enqueued_at,
  }
end
"""


def parse_enqueued_at(text: str | None) -> float | None:
    """rq's utcformat ('%Y-%m-%dT%H:%M:%S.%fZ', older '%Y-%m-%dT%H:%M:%SZ') to epoch seconds."""
    if not text:
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def parse(reply: Sequence[object], now: float, prefix: str, name: str, client_names: Sequence[str]) -> QueueReading:
    states = {state: int_at(reply, i) for i, state in enumerate(STATES)}
    waiting = states["waiting"]
    enqueued = parse_enqueued_at(text_at(reply, 9)) if waiting else None
    return QueueReading(
        states=states,
        backlog=waiting,
        oldest_age=age_seconds(now, enqueued),
        paused=int_at(reply, 8) == 1,
        workers=int_at(reply, 7),
    )


READER = RedisQueueReader("rq", LUA, parse)
