"""The scheduling queue: active (a heap by priority, then arrival), backoff and unschedulable.

As in kube-scheduler: a pod that did not fit waits in `unschedulable` until the cluster changes
in a way that could help (a node added or changed, a pod deleted: `move_all_to_active_or_backoff`)
or until it has waited `max_unschedulable` seconds (`flush_unschedulable_leftover`, run
periodically). A moved pod whose backoff (1 s doubling per attempt, at most 10 s) has not run out
waits in `backoff` first; `flush_backoff_completed` promotes the ones that are due.

A pod is in at most one of active/backoff/unschedulable/in-flight. If a move event arrives while
a pod is being scheduled (in flight) and that attempt then fails, the pod goes to backoff rather
than unschedulable: the event may have been the one that makes it fit (the "move request cycle").

Time comes from an injectable `now()` so tests drive it by hand; nothing here sleeps except
`pop()`, which waits for work.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

from kubelite.scheduler.nodeinfo import PodInfo

DEFAULT_INITIAL_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 10.0
#: how long a pod may sit in unschedulable before a periodic flush retries it anyway
DEFAULT_MAX_UNSCHEDULABLE = 60.0


class QueueClosed(Exception):
    """pop() after close()."""


class QueuedPod:
    __slots__ = ("info", "attempts", "timestamp", "initial_attempt", "cycle", "deleted")

    def __init__(self, info: PodInfo, now: float) -> None:
        self.info = info
        #: scheduling attempts so far
        self.attempts = 0
        #: when it last entered a queue (backoff is counted from here)
        self.timestamp = now
        #: when it first entered the scheduler (for the e2e latency metric)
        self.initial_attempt = now
        #: the scheduling cycle it was popped in
        self.cycle = 0
        self.deleted = False

    @property
    def key(self) -> str:
        return self.info.key


class SchedulingQueue:
    def __init__(
        self,
        now: Callable[[], float] = time.monotonic,
        initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        max_unschedulable: float = DEFAULT_MAX_UNSCHEDULABLE,
    ) -> None:
        self._now = now
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self._seq = itertools.count()
        self._active_heap: list[tuple[int, int, str]] = []
        self._active: dict[str, tuple[int, QueuedPod]] = {}  # key -> (seq of its heap entry, pod)
        self._backoff_heap: list[tuple[float, int, str]] = []
        self._backoff: dict[str, tuple[int, QueuedPod]] = {}
        self._unschedulable: dict[str, QueuedPod] = {}
        self._in_flight: dict[str, QueuedPod] = {}
        self.scheduling_cycle = 0
        self._move_request_cycle = -1
        self._wakeup: asyncio.Event | None = None
        self._closed = False

    # feeding -----------------------------------------------------------------------------
    def add(self, info: PodInfo) -> None:
        """A new or changed pending pod. A change moves a waiting pod back to active."""
        key = info.key
        if key in self._in_flight:
            self._in_flight[key].info = info  # requeue (if any) uses the newest object
            return
        if key in self._active:
            _, qp = self._active[key]
            old_priority = qp.info.priority
            qp.info = info
            if info.priority != old_priority:
                self._push_active(qp)
            return
        qp = self._take_waiting(key) or QueuedPod(info, self._now())
        qp.info = info
        self._push_active(qp)

    def refresh(self, info: PodInfo) -> None:
        """Keep the newest object for a queued pod without moving it (a status-only change)."""
        for d in (self._active, self._backoff):
            entry = d.get(info.key)
            if entry is not None:
                entry[1].info = info
                return
        qp = self._unschedulable.get(info.key) or self._in_flight.get(info.key)
        if qp is not None:
            qp.info = info

    def delete(self, key: str) -> None:
        self._active.pop(key, None)
        self._backoff.pop(key, None)
        self._unschedulable.pop(key, None)
        qp = self._in_flight.get(key)
        if qp is not None:
            qp.deleted = True

    def __contains__(self, key: str) -> bool:
        return key in self._active or key in self._backoff or key in self._unschedulable or key in self._in_flight

    # consuming ---------------------------------------------------------------------------
    def pop_nowait(self) -> QueuedPod | None:
        while self._active_heap:
            _, seq, key = heapq.heappop(self._active_heap)
            entry = self._active.get(key)
            if entry is None or entry[0] != seq:
                continue  # stale heap entry (deleted or re-pushed)
            del self._active[key]
            qp = entry[1]
            self.scheduling_cycle += 1
            qp.cycle = self.scheduling_cycle
            qp.attempts += 1
            qp.deleted = False
            self._in_flight[key] = qp
            return qp
        return None

    async def pop(self) -> QueuedPod:
        """The next pod to schedule; waits while the active queue is empty."""
        while True:
            if self._closed:
                raise QueueClosed()
            qp = self.pop_nowait()
            if qp is not None:
                return qp
            if self._wakeup is None:
                self._wakeup = asyncio.Event()
            self._wakeup.clear()
            await self._wakeup.wait()

    def done(self, key: str) -> None:
        """The pod was scheduled (or dropped): it leaves the queue."""
        self._in_flight.pop(key, None)

    def requeue_unschedulable(self, qp: QueuedPod) -> None:
        """The attempt found no node. Park it, or back it off if the cluster changed meanwhile."""
        if self._in_flight.pop(qp.key, None) is None or qp.deleted:
            return
        qp.timestamp = self._now()
        if self._move_request_cycle >= qp.cycle:
            self._push_backoff(qp)
        else:
            self._unschedulable[qp.key] = qp

    def requeue_backoff(self, qp: QueuedPod) -> None:
        """The attempt failed for a transient reason (an error, a failed bind): retry after backoff."""
        if self._in_flight.pop(qp.key, None) is None or qp.deleted:
            return
        qp.timestamp = self._now()
        self._push_backoff(qp)

    # moving ------------------------------------------------------------------------------
    def move_all_to_active_or_backoff(self) -> int:
        """A cluster event that could make waiting pods fit; returns how many moved."""
        moved = list(self._unschedulable.values())
        self._unschedulable.clear()
        now = self._now()
        for qp in moved:
            if self.backoff_expiry(qp) <= now:
                self._push_active(qp)
            else:
                self._push_backoff(qp)
        self._move_request_cycle = self.scheduling_cycle
        return len(moved)

    def flush_backoff_completed(self) -> int:
        now = self._now()
        n = 0
        while self._backoff_heap and self._backoff_heap[0][0] <= now:
            _, seq, key = heapq.heappop(self._backoff_heap)
            entry = self._backoff.get(key)
            if entry is None or entry[0] != seq:
                continue
            del self._backoff[key]
            self._push_active(entry[1])
            n += 1
        return n

    def flush_unschedulable_leftover(self) -> int:
        now = self._now()
        stale = [qp for qp in self._unschedulable.values() if now - qp.timestamp >= self.max_unschedulable]
        for qp in stale:
            del self._unschedulable[qp.key]
            if self.backoff_expiry(qp) <= now:
                self._push_active(qp)
            else:
                self._push_backoff(qp)
        return len(stale)

    def backoff_duration(self, attempts: int) -> float:
        if attempts <= 0:
            return 0.0
        return min(self.initial_backoff * (2 ** (attempts - 1)), self.max_backoff)

    def backoff_expiry(self, qp: QueuedPod) -> float:
        return qp.timestamp + self.backoff_duration(qp.attempts)

    def close(self) -> None:
        self._closed = True
        if self._wakeup is not None:
            self._wakeup.set()

    # introspection -----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {
            "active": len(self._active),
            "backoff": len(self._backoff),
            "unschedulable": len(self._unschedulable),
            "in_flight": len(self._in_flight),
        }

    def where(self, key: str) -> str | None:
        for name, d in (("active", self._active), ("backoff", self._backoff),
                        ("unschedulable", self._unschedulable), ("in_flight", self._in_flight)):
            if key in d:
                return name
        return None

    # internals ---------------------------------------------------------------------------
    def _take_waiting(self, key: str) -> QueuedPod | None:
        entry = self._backoff.pop(key, None)
        if entry is not None:
            return entry[1]
        return self._unschedulable.pop(key, None)

    def _push_active(self, qp: QueuedPod) -> None:
        seq = next(self._seq)
        self._active[qp.key] = (seq, qp)
        heapq.heappush(self._active_heap, (-qp.info.priority, seq, qp.key))
        if self._wakeup is not None:
            self._wakeup.set()

    def _push_backoff(self, qp: QueuedPod) -> None:
        seq = next(self._seq)
        self._backoff[qp.key] = (seq, qp)
        heapq.heappush(self._backoff_heap, (self.backoff_expiry(qp), seq, qp.key))
