"""SIGINT and SIGTERM during a deploy: an exception while files are written and verified (so
the deploy rolls back and audits), ignored while it rolls back (so the rollback completes)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A deploy was stopped by a signal; ``str()`` names it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def _handled_by(handler: Callable[[int, FrameType | None], Any] | int) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; a deploy run elsewhere keeps the defaults
        return
    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def signals_raise() -> Any:
    """SIGINT and SIGTERM raise Interrupted inside the block."""
    return _handled_by(_raise)


def signals_ignored() -> Any:
    """SIGINT and SIGTERM are ignored inside the block (it must be bounded in time)."""
    return _handled_by(signal.SIG_IGN)
