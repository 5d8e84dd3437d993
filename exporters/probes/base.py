"""The shape every probe shares: a deadline, one connection reused and rebuilt, failure as data.

``ConnectionProbe.run`` is the only entry point the scheduler calls. It bounds the probe by
its budget (asyncio cancellation, on top of the timeouts pushed into the client libraries),
turns any exception into a bounded reason, drops the connection after any failure so the next
scrape rebuilds it, and retries once on a fresh connection when a reused one turns out dead
(servers and firewalls close idle connections; that alone is not an outage).
"""

from __future__ import annotations

import asyncio
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

    @property
    def connected(self) -> bool:
        return self._connection is not None

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
        except SecretUnavailable:
            return self.failures("other", time.monotonic() - started)
        except Exception as error:  # noqa: BLE001 - failure is data, whatever raised it
            await self.close()
            return self.failures(classify(error), time.monotonic() - started)

    async def _probe_with_retry(self, budget: float, started: float) -> list[ProbeResult]:
        reused = self._connection is not None
        try:
            return await self.probe(budget - (time.monotonic() - started), started)
        except Exception as error:
            if not (reused and self.is_connection_lost(error)):
                raise
        await self.close()
        return await self.probe(budget - (time.monotonic() - started), started)

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
