"""What a probe hands the collector: samples plus success, bounded reason and duration.

A probe never raises into the collector; every outcome, good or bad, is one of these values,
so /metrics and /health render the same facts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Reason = Literal["timeout", "refused", "auth", "dns", "tls", "protocol", "config", "other"]
# The fixed failure vocabulary: label values must stay bounded (never raw error text).
REASONS: tuple[Reason, ...] = ("timeout", "refused", "auth", "dns", "tls", "protocol", "config", "other")

ProbeKind = Literal["postgres", "redis", "queue", "http"]


class Sample(NamedTuple):
    """One metric value; ``labels`` use the catalog's label names.

    A tuple, not a dataclass: a Redis with a thousand queues yields ten thousand per scrape.
    """

    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of probing one target (a datastore, a queue or a health URL)."""

    kind: ProbeKind
    target: str
    success: bool
    reason: Reason | None = None
    duration: float = 0.0
    samples: tuple[Sample, ...] = ()
    # Labels that identify the target on its ``*_up`` series (queues: queue and backend).
    identity: Mapping[str, str] = field(default_factory=dict)
    finished_at: float = field(default_factory=time.time)
    # Words for a human (/health output, the log), written by the exporter itself, never a
    # library's error text: e.g. "environment variable PG_DSN is not set". Never a label value.
    message: str | None = None

    def sample(self, name: str, **labels: str) -> float | None:
        """The value of ``name`` whose labels include ``labels`` (first match), if any."""
        for sample in self.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
        return None


def failed(kind: ProbeKind, target: str, reason: Reason, duration: float,
           identity: Mapping[str, str] | None = None) -> ProbeResult:
    """A failed probe: no samples, just the bounded reason."""
    return ProbeResult(kind, target, False, reason, duration, (), identity or {})
