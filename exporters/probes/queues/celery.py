"""Celery queues on kombu's Redis transport, with the layout of kombu's own source
(site-packages ``kombu/transport/redis.py``).

A list named after the queue (with kombu's ``global_keyprefix``, the spec's ``prefix``) and one
list per priority step, ``<queue>\\x06\\x16<n>``; messages are LPUSHed and RPOPed. kombu's
default steps are 3, 6 and 9 but ``priority_steps`` is configurable, so every step 1-9 is read.
Reserved (prefetched, unacknowledged) messages sit in the ``unacked`` hash as
``[message, exchange, routing_key]``; its size is bounded by workers x prefetch.
Celery messages carry no enqueue time, so no oldest-job age is reported; the broker keeps no
worker registry and has no pause, so workers are not reported and ``paused`` is always 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import QueueReading, RedisQueueReader, int_at

PRIORITY_STEPS = tuple(range(1, 10))

LUA = r"""
READERS["celery"] = function(prefix, name)
  local base = prefix .. name
  local reply = {rcall("LLEN", base)}
  for step = 1, 9 do reply[#reply + 1] = rcall("LLEN", base .. "\6\22" .. step) end
  local reserved = 0
  for _, entry in ipairs(rcall("HVALS", prefix .. "unacked")) do
    local ok, decoded = pcall(cjson.decode, entry)
    if ok and type(decoded) == "table" and decoded[3] == name then reserved = reserved + 1 end
  end
  reply[#reply + 1] = reserved
  return reply
end
"""


def parse(reply: Sequence[object], now: float, prefix: str, name: str, client_names: Sequence[str]) -> QueueReading:
    waiting = int_at(reply, 0)
    prioritized = sum(int_at(reply, i) for i in range(1, 1 + len(PRIORITY_STEPS)))
    states = {"waiting": waiting, "prioritized": prioritized, "reserved": int_at(reply, 1 + len(PRIORITY_STEPS))}
    return QueueReading(states=states, backlog=waiting + prioritized, oldest_age=None, paused=False, workers=None)


READER = RedisQueueReader("celery", LUA, parse)
