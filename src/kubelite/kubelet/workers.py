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


class StatusWriter:
    """The status manager's writers: the latest status of each pod, written by at most `concurrency` tasks.

    `mark(uid)` says the pod has a new status to write. Each uid is written by one task at a time
    (in order); a uid marked again while its write is in flight is written once more afterwards,
    with whatever status is the latest then, so intermediate statuses are skipped when writes
    are slower than changes. No task exists while there is nothing to write. A failed write is
    retried with backoff (the status stays pending)."""

    def __init__(self, write: Callable[[str], Awaitable[None]], concurrency: int = 4) -> None:
        if concurrency < 1:
            raise ValueError("status writer concurrency must be at least 1")
        self._write = write
        self.concurrency = concurrency
        self._queue: dict[str, None] = {}  # insertion-ordered set of uids waiting for a write
        self._inflight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._stopped = False
        #: writes done (for tests and figures)
        self.writes = 0

    def mark(self, uid: str) -> None:
        if self._stopped:
            return
        self._queue[uid] = None
        if len(self._tasks) < self.concurrency and len(self._queue) > len(self._tasks) - len(self._inflight):
            task = asyncio.get_running_loop().create_task(self._run(), name="pod-status-writer")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._inflight)

    def _next(self) -> str | None:
        for uid in self._queue:
            if uid not in self._inflight:
                del self._queue[uid]
                return uid
        return None

    async def _run(self) -> None:
        while not self._stopped:
            uid = self._next()
            if uid is None:
                # leave the task set now, not in the done callback a loop turn later: a mark() in
                # between would count this finished task as one about to take its uid, and the
                # uid would wait for the next mark of any pod (pods stuck in ContainerCreating)
                self._tasks.discard(asyncio.current_task())  # type: ignore[arg-type]
                return
            self._inflight.add(uid)
            try:
                await self._write(uid)
                self.writes += 1
                self._failures.pop(uid, None)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                n = self._failures.get(uid, 0)
                self._failures[uid] = n + 1
                delay = min(RETRY_MAX, RETRY_INITIAL * 2**n)
                log.warning("writing the status of pod %s failed (retry in %.1fs): %s", uid, delay, err)
                self._retry_after(uid, delay)
            finally:
                self._inflight.discard(uid)

    def _retry_after(self, uid: str, delay: float) -> None:
        old = self._timers.pop(uid, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self._timers.pop(uid, None)
            self.mark(uid)

        self._timers[uid] = asyncio.get_running_loop().call_later(delay, fire)

    async def stop(self) -> None:
        self._stopped = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
