"""Runs probes on scrape: in parallel, bounded by the deadline, one in flight per target.

Everything here runs on the exporter's one event loop (``exporters/loopthread.py``), the loop
that also serves HTTP: a request awaits ``ProbeScheduler.probe`` directly, with no thread
handoff. A request arriving while a target's probe is in flight joins that probe
(single-flight) instead of starting another, so concurrent /metrics and /health requests never
open a second connection. A joiner waits only its own deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from .logs import JsonLog
from .probes.base import ConnectionProbe
from .results import ProbeResult

# State changes logged one line each, per kind and way, per probe; more are logged as one line
# naming the first LOG_NAMED (a Redis outage failed a thousand queues in 2,003 lines).
LOG_EACH_UP_TO = 3
LOG_NAMED = 5


class ProbeScheduler:
    """The in-flight probe of each target, on the event loop that awaits ``probe``."""

    def __init__(self, probes: Sequence[ConnectionProbe], log: JsonLog | None = None) -> None:
        self.probes = list(probes)
        self._log = log or JsonLog()
        self._inflight: dict[str, asyncio.Task[list[ProbeResult]]] = {}
        self._last_reason: dict[str, str | None] = {}

    async def probe(self, budget: float) -> list[ProbeResult]:
        """Every target's result within ``budget`` seconds (a probe still running gives timeout)."""
        started = time.monotonic()
        tasks = [self._task_for(probe, budget) for probe in self.probes]
        if tasks:
            # wait, not wait_for: giving up on a probe others may have joined must not cancel it.
            await asyncio.wait(tasks, timeout=budget)
        results: list[ProbeResult] = []
        for probe, task in zip(self.probes, tasks):
            if task.done() and not task.cancelled():
                results += task.result()
            else:
                results += probe.failures("timeout", time.monotonic() - started)
        return results

    def _task_for(self, probe: ConnectionProbe, budget: float) -> asyncio.Task[list[ProbeResult]]:
        """The target's probe in flight, joined, or a new one started with ``budget``."""
        task = self._inflight.get(probe.key)
        if task is None:
            task = asyncio.get_running_loop().create_task(probe.run(budget))
            self._inflight[probe.key] = task
            task.add_done_callback(lambda done, key=probe.key: self._finished(key, done))
        return task

    def _finished(self, key: str, task: asyncio.Task[list[ProbeResult]]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled() and task.exception() is None:
            self._log_transitions(task.result())

    def _log_transitions(self, results: list[ProbeResult]) -> None:
        """One line per target whose state changed; where more than LOG_EACH_UP_TO targets of one
        kind change the same way in one probe (a Redis outage fails every queue in it), one line
        for them all, with their count and the first LOG_NAMED of them."""
        changes: dict[tuple[str, str, str | None], list[ProbeResult]] = {}
        for result in results:
            key = f"{result.kind}:{result.target}"
            previous = self._last_reason.get(key, "unseen")
            current = None if result.success else result.reason
            if current == previous:
                continue
            self._last_reason[key] = current
            if current is not None or previous != "unseen":
                event = "probe_failed" if current is not None else "probe_recovered"
                changes.setdefault((event, result.kind, current), []).append(result)
        for (event, kind, reason), changed in changes.items():
            log = self._log.warning if event == "probe_failed" else self._log.info
            if len(changed) <= LOG_EACH_UP_TO:
                for result in changed:
                    log(event, kind=kind, target=result.target, reason=reason, message=result.message)
            else:
                log(event, kind=kind, targets=[r.target for r in changed[:LOG_NAMED]], count=len(changed),
                    reason=reason, message=changed[0].message)

    def inflight(self) -> int:
        """Probes running right now (for tests and debugging)."""
        return len(self._inflight)

    async def close(self) -> None:
        """Close every target's connection."""
        await asyncio.gather(*(probe.close() for probe in self.probes))
