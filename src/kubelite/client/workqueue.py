"""The controllers' work queue (client-go's rate-limiting workqueue), for asyncio.

Invariants (the same as client-go `util/workqueue/queue.go`):

- A key is in `dirty` when it needs processing, in `processing` while a worker holds it.
- Dedupe: adding a key that is already dirty does nothing; a key is queued at most once.
- No parallel processing of one key: a key added while it is being processed is only marked
  dirty; `done(key)` puts it back in the queue then. So two workers never hold the same key.
- Fairness: keys come out in the order they were (first) added.
- Shut down: `add` is ignored from then on, workers drain what is queued, and `get()` raises
  `ShutDown` once the queue is empty.

On top: `add_after(key, delay)` parks a key until a time (one entry per key, the earliest time
wins), and `add_rate_limited(key)` waits the larger of a per-key exponential backoff (5 ms,
doubling, capped at 1000 s) and an overall token bucket (10 qps, burst 100), like client-go's
DefaultControllerRateLimiter. `forget(key)` resets the key's backoff after a success.

Time comes from an injectable clock, so tests drive it with `FakeClock.advance()`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque

from kubelite.client.clock import Clock, ClockLike, FakeClock, TokenBucket

__all__ = [
    "Clock", "FakeClock", "ShutDown", "RateLimitingQueue", "ItemExponentialBackoff", "default_rate_limiter",
]

class ShutDown(Exception):
    """Raised by `get()` when the queue is shut down and empty: the worker should return."""


class ItemExponentialBackoff:
    """Per-key failures -> base * 2**failures, capped."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base, self.cap = base, cap
        self._failures: dict[str, int] = {}

    def when(self, key: str) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        if n > 64:  # 2**64 * base overflows nothing in Python, but no point computing it
            return self.cap
        return min(self.cap, self.base * (2 ** n))

    def num_requeues(self, key: str) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)


class _MaxOfRateLimiter:
    """The larger delay of a per-key backoff and an overall token bucket."""

    def __init__(self, backoff: ItemExponentialBackoff, bucket: TokenBucket | None) -> None:
        self.backoff, self.bucket = backoff, bucket

    def when(self, key: str) -> float:
        delay = self.backoff.when(key)
        if self.bucket is not None:
            delay = max(delay, self.bucket.reserve())
        return delay

    def num_requeues(self, key: str) -> int:
        return self.backoff.num_requeues(key)

    def forget(self, key: str) -> None:
        self.backoff.forget(key)


def default_rate_limiter(clock: ClockLike, base: float = 0.005, cap: float = 1000.0,
                         qps: float = 10.0, burst: int = 100) -> _MaxOfRateLimiter:
    return _MaxOfRateLimiter(ItemExponentialBackoff(base, cap), TokenBucket(qps, burst, clock) if qps > 0 else None)


class RateLimitingQueue:
    """A deduplicating FIFO of string keys ("ns/name") with delayed and rate-limited adds (see the module docstring)."""

    def __init__(self, name: str = "", *, clock: ClockLike | None = None, base_delay: float = 0.005,
                 max_delay: float = 1000.0, qps: float = 10.0, burst: int = 100) -> None:
        self.name = name
        self.clock: ClockLike = clock or Clock()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._shutting_down = False
        self._getters: deque[asyncio.Future[None]] = deque()
        self._limiter: _MaxOfRateLimiter = default_rate_limiter(self.clock, base_delay, max_delay, qps, burst)
        # delayed adds: heap of (ready_at, seq, key); _waiting[key] = its ready_at (earliest wins)
        self._heap: list[tuple[float, int, str]] = []
        self._waiting: dict[str, float] = {}
        self._seq = itertools.count()
        self._waker: asyncio.Event | None = None
        self._delay_task: asyncio.Task[None] | None = None

    # -- the basic queue --------------------------------------------------------------------------

    def add(self, key: str) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # done() will queue it again
        self._queue.append(key)
        self._wake_getter()

    async def get(self) -> str:
        """The next key to process (waits for one). Call `done(key)` when finished with it."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                # pass our wake-up on, in case we were chosen just before being cancelled
                if fut.done() and not fut.cancelled():
                    self._wake_getter()
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def get_nowait(self) -> str | None:
        """The next key if one is queued right now, else None (tests, draining)."""
        if not self._queue:
            return None
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_getter()

    def shut_down(self) -> None:
        """Stop accepting keys; workers drain the queue and then get ShutDown."""
        self._shutting_down = True
        self._heap.clear()
        self._waiting.clear()
        if self._delay_task is not None:
            self._delay_task.cancel()
            self._delay_task = None
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """Keys waiting to be handed out (not those being processed or parked by add_after)."""
        return len(self._queue)

    @property
    def processing(self) -> frozenset[str]:
        return frozenset(self._processing)

    @property
    def waiting(self) -> int:
        """Keys parked by add_after / add_rate_limited."""
        return len(self._waiting)

    def _wake_getter(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    # -- delayed adds -----------------------------------------------------------------------------

    def add_after(self, key: str, delay: float) -> None:
        """Add `key` once `delay` seconds have passed (at the earliest of all pending requests)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready_at = self.clock.now() + delay
        current = self._waiting.get(key)
        if current is not None and current <= ready_at:
            return
        self._waiting[key] = ready_at
        heapq.heappush(self._heap, (ready_at, next(self._seq), key))
        if self._delay_task is None:
            self._waker = asyncio.Event()
            self._delay_task = asyncio.get_running_loop().create_task(
                self._delay_loop(), name=f"workqueue-delay-{self.name}")
        elif self._heap[0][2] == key and self._waker is not None:
            self._waker.set()  # a new earliest deadline: re-arm the sleep

    def _pop_ready(self) -> float | None:
        """Add every due key; return seconds until the next deadline (None: nothing parked)."""
        now = self.clock.now()
        while self._heap:
            ready_at, _, key = self._heap[0]
            if self._waiting.get(key) != ready_at:
                heapq.heappop(self._heap)  # superseded by an earlier request
                continue
            if ready_at > now:
                return ready_at - now
            heapq.heappop(self._heap)
            del self._waiting[key]
            self.add(key)
        return None

    async def _delay_loop(self) -> None:
        assert self._waker is not None
        waker = self._waker
        while True:
            delay = self._pop_ready()
            waker.clear()
            if delay is None:
                await waker.wait()
                continue
            sleeper = asyncio.ensure_future(self.clock.sleep(delay))
            woken = asyncio.ensure_future(waker.wait())
            try:
                await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                woken.cancel()

    # -- rate limiting ----------------------------------------------------------------------------

    def add_rate_limited(self, key: str) -> None:
        """Requeue after a failure: the delay grows with each failure of this key until `forget`."""
        if self._shutting_down:
            return
        self.add_after(key, self._limiter.when(key))

    def forget(self, key: str) -> None:
        """The key succeeded: reset its backoff."""
        self._limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return self._limiter.num_requeues(key)
