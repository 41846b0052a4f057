"""Pod workers: at most one sync of a pod at a time, any number of pods in parallel.

The real kubelet runs a goroutine per pod; here a pod gets an asyncio task only while it has
work. `enqueue(uid)` starts a task if none runs for that uid, otherwise marks the uid dirty so
the running task syncs once more when it ends (many wakeups fold into one pass). Delayed
wakeups (CrashLoopBackOff, retries) are event-loop timers, not sleeping tasks, so ten thousand
idle simulated pods cost nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

RETRY_INITIAL = 0.5
RETRY_MAX = 30.0


class PodWorkers:
    def __init__(self, sync: Callable[[str], Awaitable[None]]) -> None:
        self._sync = sync
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._timers: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[str, int] = {}
        self._stopped = False

    def enqueue(self, uid: str) -> None:
        if self._stopped:
            return
        if uid in self._tasks:
            self._dirty.add(uid)
            return
        self._tasks[uid] = asyncio.get_running_loop().create_task(self._run(uid), name=f"pod-worker:{uid}")

    def enqueue_after(self, uid: str, delay: float) -> None:
        """Sync `uid` after `delay` seconds (an earlier pending wakeup wins)."""
        if self._stopped:
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + max(0.0, delay)
        current = self._timers.get(uid)
        if current is not None:
            if current[0] <= when:
                return
            current[1].cancel()
        self._timers[uid] = (when, loop.call_at(when, self._fire, uid))

    def _fire(self, uid: str) -> None:
        self._timers.pop(uid, None)
        self.enqueue(uid)

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def _run(self, uid: str) -> None:
        try:
            while True:
                self._dirty.discard(uid)
                try:
                    await self._sync(uid)
                    self._failures.pop(uid, None)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # a failing pod must not stop the others: retry with backoff
                    n = self._failures.get(uid, 0)
                    self._failures[uid] = n + 1
                    delay = min(RETRY_MAX, RETRY_INITIAL * 2**n)
                    log.warning("syncing pod %s failed (retry in %.1fs): %s", uid, delay, err,
                                exc_info=n == 0 and not isinstance(err, OSError))
                    self.enqueue_after(uid, delay)
                if uid not in self._dirty or self._stopped:
                    return
        finally:
            self._tasks.pop(uid, None)

    async def stop(self) -> None:
        self._stopped = True
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
