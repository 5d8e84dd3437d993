"""BullMQ queues (``<prefix>:<queue>:<suffix>`` keys), read without BullMQ's getCounts script.

Layout checked against bullmq's own Lua (site-packages ``bullmq/commands``, v5 layout):
``wait`` list (LPUSH, so the oldest job is at index -1; ``lifo`` jobs RPUSH), legacy ``paused``
list, ``active`` list, ``prioritized`` zset (score = priority * 2^32 + counter, FIFO within a
priority), ``delayed``/``waiting-children``/``completed``/``failed`` zsets, ``meta`` hash whose
``paused`` field exists while paused, job hash ``<prefix>:<queue>:<id>`` with ``timestamp`` (ms).
getCounts is not used because it RPOPs legacy markers off ``wait``: a count must not write.

Job counters (npm ``bullmq`` 6.7.6 ``dist/cjs/commands``; the Python client's scripts agree):
``id`` is a string every add script INCRs before anything else (addStandardJob,
addPrioritizedJob, addDelayedJob, addParentJob, the job scheduler scripts, a deduplicated job's
re-queue), so it counts every add, including one BullMQ then drops as a duplicate custom id or a
deduplicated job. ``metrics:completed`` and ``metrics:failed`` are hashes whose ``count`` field
moveToFinished HINCRBYs once per job finished for good (failed: no retry left), but only when
the Worker was created with the ``metrics`` option (``maxMetricsSize`` empty skips it); the
``completed``/``failed`` zsets are trimmed by ``removeOnComplete``/``removeOnFail``, the counts
are not. Only obliterate deletes these keys.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from . import QueueReading, RedisQueueReader, age_seconds, count_at, int_at, text_at

STATES = ("waiting", "prioritized", "active", "delayed", "waiting-children", "completed", "failed")
# Reply layout: the state counts, paused, the three job counters, then the enqueue timestamps.
PAUSED = len(STATES)
ADDED, COMPLETED, FAILED = PAUSED + 1, PAUSED + 2, PAUSED + 3
STAMPS = FAILED + 1
# Enough priority levels for any real deployment; bounds the script's work per queue.
MAX_PRIORITY_LEVELS = 64

LUA = r"""
READERS["bullmq"] = function(prefix, name)
  local base = prefix .. ":" .. name .. ":"
  local wait = rcall("LLEN", base .. "wait")
  local legacy_paused = rcall("LLEN", base .. "paused")
  -- BullMQ < 5 left "0:<delay>" markers in the wait list; they are not jobs.
  local head = rcall("LINDEX", base .. "wait", -1)
  if head and string.sub(head, 1, 2) == "0:" then
    wait = wait - 1
    head = rcall("LINDEX", base .. "wait", -2)
  end
  local prioritized = rcall("ZCARD", base .. "prioritized")
  local stamps = {}
  local function stamp(id)
    if id then
      local ts = rcall("HGET", base .. id, "timestamp")
      if ts then stamps[#stamps + 1] = ts end
    end
  end
  stamp(head)
  if legacy_paused > 0 then stamp(rcall("LINDEX", base .. "paused", -1)) end
  -- Oldest prioritized job: the first member of each priority level (FIFO within a level).
  local step = 4294967296
  local low = "-inf"
  local seen = 0
  for _ = 1, MAX_LEVELS do
    if seen >= prioritized then break end
    local first = rcall("ZRANGEBYSCORE", base .. "prioritized", low, "+inf", "WITHSCORES", "LIMIT", 0, 1)
    if #first == 0 then break end
    stamp(first[1])
    local level = math.floor(tonumber(first[2]) / step)
    low = string.format("%.0f", (level + 1) * step)
    seen = seen + rcall("ZCOUNT", base .. "prioritized", string.format("%.0f", level * step), "(" .. low)
  end
  local reply = {
    wait + legacy_paused,
    prioritized,
    rcall("LLEN", base .. "active"),
    rcall("ZCARD", base .. "delayed"),
    rcall("ZCARD", base .. "waiting-children"),
    rcall("ZCARD", base .. "completed"),
    rcall("ZCARD", base .. "failed"),
    rcall("HEXISTS", base .. "meta", "paused"),
    rcall("GET", base .. "id"),
    rcall("HGET", base .. "metrics:completed", "count"),
    rcall("HGET", base .. "metrics:failed", "count"),
  }
  for _, ts in ipairs(stamps) do reply[#reply + 1] = ts end
  return reply
end
""".replace("MAX_LEVELS", str(MAX_PRIORITY_LEVELS))


def worker_names(prefix: str, name: str) -> tuple[str, str]:
    """Client names BullMQ workers set: Node uses the base64 queue name, Python the plain one."""
    encoded = base64.b64encode(name.encode()).decode()
    return f"{prefix}:{encoded}", f"{prefix}:{name}"


def count_workers(prefix: str, name: str, client_names: Sequence[str]) -> int:
    """Connections BullMQ's own getWorkers would list (name == clientName or clientName:w:*)."""
    if not client_names:
        return 0
    bases = worker_names(prefix, name)
    return sum(1 for n in client_names if any(n == b or n.startswith(f"{b}:w:") for b in bases))


def parse(reply: Sequence[object], now: float, prefix: str, name: str, client_names: Sequence[str]) -> QueueReading:
    states = {state: int_at(reply, i) for i, state in enumerate(STATES)}
    stamps = [float(t) / 1000.0 for t in (text_at(reply, i) for i in range(STAMPS, len(reply))) if t and _number(t)]
    return QueueReading(
        states=states,
        backlog=states["waiting"] + states["prioritized"],
        oldest_age=age_seconds(now, min(stamps) if stamps else None),
        paused=int_at(reply, PAUSED) == 1,
        workers=count_workers(prefix, name, client_names),
        added_total=count_at(reply, ADDED) or 0,  # no id key yet: nothing was ever added
        completed_total=count_at(reply, COMPLETED),  # no hash: no Worker with `metrics` finished a job
        failed_total=count_at(reply, FAILED),
    )


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


READER = RedisQueueReader("bullmq", LUA, parse)
