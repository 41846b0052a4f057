"""Time as an injectable dependency, so that queues and rate limiters can be tested without sleeping.

`Clock` reads the event loop's monotonic time and sleeps with asyncio; `FakeClock` only moves
when a test calls `advance()`, which wakes every sleeper whose deadline has passed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class ClockLike(Protocol):
    def now(self) -> float: ...

    async def sleep(self, delay: float) -> None: ...


class Clock:
    """The real clock: monotonic seconds and asyncio.sleep."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))


class FakeClock:
    """A clock that stands still until `advance()` (or `set()`) moves it.

    Sleepers are futures ordered by deadline; advancing resolves the due ones in deadline order.
    The woken coroutines run at the event loop's next iterations, so a test usually advances and
    then yields (`await asyncio.sleep(0)` a few times, or `await clock.settle()`).
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + delay, next(self._seq), fut))
        await fut

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline is now due."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self.set(self._now + seconds)

    def set(self, now: float) -> None:
        if now < self._now:
            raise ValueError("a clock cannot go backwards")
        self._now = now
        while self._sleepers and self._sleepers[0][0] <= now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many coroutines are sleeping on this clock (cancelled ones excluded)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def settle(self, rounds: int = 20) -> None:
        """Yield to the event loop enough times for woken coroutines to run their next step."""
        for _ in range(rounds):
            await asyncio.sleep(0)


class TokenBucket:
    """A token bucket (golang.org/x/time/rate style): `qps` tokens a second, up to `burst` saved.

    `reserve()` always takes a token and returns how long the caller must wait before using it;
    the bucket may go negative, which queues callers fairly behind one another.
    """

    def __init__(self, qps: float, burst: int, clock: ClockLike | None = None) -> None:
        if qps <= 0:
            raise ValueError("qps must be > 0")
        self.qps = qps
        self.burst = max(1, burst)
        self._clock: ClockLike = clock or Clock()
        self._tokens = float(self.burst)
        self._last = self._clock.now()

    def reserve(self) -> float:
        now = self._clock.now()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps

    async def wait(self) -> None:
        """Take a token, sleeping (on the bucket's clock) until it is ours."""
        delay = self.reserve()
        if delay > 0:
            await self._clock.sleep(delay)
