"""The shape every probe shares: a deadline, one connection reused and rebuilt, failure as data.

``ConnectionProbe.run`` is the only entry point the scheduler calls. It bounds the probe by
its budget (asyncio cancellation, on top of the timeouts pushed into the client libraries),
turns any exception into a bounded reason, drops the connection after any failure so the next
scrape rebuilds it, and retries once on a fresh connection when a reused one turns out dead
(servers and firewalls close idle connections; that alone is not an outage) or frozen: a
reused connection gets half the budget, and when it has not answered by then (a peer that
stopped, a connection a partition swallowed) a fresh connection gets the rest, so the scrape
after a datastore comes back is answered, not timed out on the old connection.

A missing secret (variable unset, file unreadable) is reason ``config`` with the exporter's
own sentence naming the variable or file, never its value.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from abc import ABC, abstractmethod
from typing import Any

from ..reasons import classify
from ..results import ProbeKind, ProbeResult, Reason
from ..secrets import SecretUnavailable

# Below this a probe cannot do anything useful; the scheduler never gives less.
MIN_BUDGET = 0.05


class ConnectionProbe(ABC):
    """One target (and the queues riding on it) behind at most one connection."""

    kind: ProbeKind

    def __init__(self, target: str) -> None:
        self.target = target
        self._connection: Any = None

    @property
    def key(self) -> str:
        """Single-flight key: one probe in flight per target."""
        return f"{self.kind}:{self.target}"

    async def run(self, budget: float) -> list[ProbeResult]:
        """Probe within ``budget`` seconds; never raises (except cancellation)."""
        started = time.monotonic()
        budget = max(budget, MIN_BUDGET)
        try:
            async with asyncio.timeout(budget):
                return await self._probe_with_retry(budget, started)
        except TimeoutError:
            await self.close()
            return self.failures("timeout", time.monotonic() - started)
        except SecretUnavailable as error:
            return [dataclasses.replace(result, message=str(error))
                    for result in self.failures("config", time.monotonic() - started)]
        except Exception as error:  # noqa: BLE001 - failure is data, whatever raised it
            await self.close()
            return self.failures(classify(error), time.monotonic() - started)

    async def _probe_with_retry(self, budget: float, started: float) -> list[ProbeResult]:
        def left() -> float:
            return budget - (time.monotonic() - started)

        if self._connection is None:
            return await self.probe(left(), started)
        attempt = asyncio.ensure_future(self.probe(left(), started))
        try:
            await asyncio.wait({attempt}, timeout=left() / 2)
        except asyncio.CancelledError:
            _abandon(attempt)
            raise
        if attempt.done():
            error = attempt.exception()
            if error is None:
                return attempt.result()
            if not self.is_connection_lost(error):
                raise error
        else:
            # No answer in half the budget: a frozen peer. Abandoned rather than awaited, since a
            # client library may answer cancellation by waiting for its server (psycopg does); the
            # connection is closed under it, which ends it.
            _abandon(attempt)
        await self.close()
        return await self.probe(left(), started)

    async def close(self) -> None:
        """Drop the connection (never raises)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await asyncio.wait_for(self.disconnect(connection), 1.0)
            except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is gone anyway
                pass

    @abstractmethod
    async def probe(self, budget: float, started: float) -> list[ProbeResult]:
        """One round trip on the (re)used connection; may raise."""

    @abstractmethod
    async def disconnect(self, connection: Any) -> None:
        """Close ``connection``."""

    @abstractmethod
    def is_connection_lost(self, error: BaseException) -> bool:
        """True when ``error`` means the reused connection died (worth one fresh try)."""

    @abstractmethod
    def failures(self, reason: Reason, duration: float) -> list[ProbeResult]:
        """The results of a failed probe: the target's and every queue's riding on it."""


def _abandon(attempt: asyncio.Future[list[ProbeResult]]) -> None:
    """Cancel ``attempt`` without waiting for it; whatever it ends with is dropped."""
    attempt.cancel()
    attempt.add_done_callback(lambda done: done.cancelled() or done.exception())
