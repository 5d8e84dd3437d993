"""The exporter's one event loop, on a daemon thread: it serves HTTP and runs every probe.

Other threads (``start_exporter``, ``RunningExporter.stop``) hand it coroutines with ``run``.
What asyncio would report with a traceback (an exception no one retrieved, a protocol callback
that raised) is one ``loop_error`` log line naming the exception's class, never its text.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .logs import JsonLog

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running on its own daemon thread until ``stop``."""

    def __init__(self, name: str, log: JsonLog) -> None:
        self._log = log
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(self._unhandled)
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coroutine`` on the loop and wait for its result (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what still runs (a probe nobody waits for any more), stop the loop and close it
        once its thread has ended. Stopping a stopped loop does nothing."""
        if self.loop.is_closed():
            return
        try:
            self.run(_cancel_remaining(), timeout)
        except (TimeoutError, RuntimeError):  # a task that ignores cancellation; the loop stops anyway
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=timeout)
        if not self._thread.is_alive():
            self.loop.close()

    def _unhandled(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        self._log.error("loop_error", error=type(error).__name__ if error is not None else None)


async def _cancel_remaining() -> None:
    """Cancel every other task on the loop and wait for them, as asyncio.run does before it closes."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
