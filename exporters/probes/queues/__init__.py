"""What every queue backend reads, normalised: jobs per state, backlog, oldest age, paused, and
the job counters of a broker that keeps them.

Backends differ in key layout and state names; this module owns the common shape and how it
becomes samples, so ``obstack_queue_*`` series mean the same thing for every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from obstack.stack.spec.model import Queue

from obstack.foundation.exporter_metrics import ADDED_JOBS, COMPLETED_JOBS, FAILED_JOBS
from ...results import Sample


@dataclass(frozen=True)
class QueueReading:
    """One queue's state as read in one round trip."""

    states: Mapping[str, int]  # normalised state -> jobs; every state the backend has, 0 included
    backlog: int  # ready to run and not started: every waiting state (priority lists included)
    oldest_age: float | None  # seconds; 0 when empty; None when the backend records no enqueue time
    paused: bool
    workers: int | None  # None when the broker cannot tell
    # Monotonic job counters the broker keeps itself; None when it keeps none (or not yet).
    added_total: int | None = None
    completed_total: int | None = None
    failed_total: int | None = None


def age_seconds(now: float, enqueued_at: float | None) -> float:
    """Age of a job enqueued at ``enqueued_at`` (epoch seconds); 0 for none, never negative
    (clients' clocks may run ahead of the exporter's)."""
    return 0.0 if enqueued_at is None else max(0.0, now - enqueued_at)


def queue_samples(queue: Queue, reading: QueueReading, dead_letter: QueueReading | None) -> tuple[Sample, ...]:
    """The ``obstack_queue_*`` samples of one successfully read queue."""
    labels = {"queue": queue.name, "backend": queue.backend}
    samples = [Sample("obstack_queue_jobs", {**labels, "state": state}, float(count))
               for state, count in reading.states.items()]
    samples += [
        Sample("obstack_queue_backlog_jobs", labels, float(reading.backlog)),
        Sample("obstack_queue_paused", labels, 1.0 if reading.paused else 0.0),
    ]
    if reading.oldest_age is not None:
        samples.append(Sample("obstack_queue_oldest_job_age_seconds", labels, reading.oldest_age))
    if reading.workers is not None:
        samples.append(Sample("obstack_queue_workers", labels, float(reading.workers)))
    for metric, total in ((ADDED_JOBS, reading.added_total), (COMPLETED_JOBS, reading.completed_total),
                          (FAILED_JOBS, reading.failed_total)):
        if total is not None:
            samples.append(Sample(metric, labels, float(total)))
    if dead_letter is not None:
        # A dead-letter queue's jobs are the ones parked in it, waiting for someone to look.
        samples.append(Sample("obstack_queue_dead_letter_jobs", labels, float(dead_letter.backlog)))
    return tuple(samples)


def int_at(values: Sequence[object], index: int) -> int:
    """An integer from a Lua reply array (Lua numbers arrive as int; anything else counts 0)."""
    value = values[index] if index < len(values) else None
    return value if isinstance(value, int) else 0


def text_at(values: Sequence[object], index: int) -> str | None:
    """A string from a Lua reply array (Lua false/nil arrive as None)."""
    value = values[index] if index < len(values) else None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else None


def count_at(values: Sequence[object], index: int) -> int | None:
    """A counter Redis stores as a decimal string (INCR, HINCRBY), from a Lua reply array;
    None when the key or field is missing or holds no integer."""
    text = text_at(values, index)
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


@dataclass(frozen=True)
class RedisQueueReader:
    """A Redis-backed queue backend: a read-only Lua function and the parser of its reply.

    ``lua`` defines ``READERS["<backend>"] = function(prefix, name) ... end`` returning an
    array; the Redis probe runs every queue's reader in one read-only script (EVAL_RO), so
    the server itself refuses any write.
    """

    backend: str
    lua: str
    parse: Callable[[Sequence[object], float, str, str, Sequence[str]], QueueReading]
