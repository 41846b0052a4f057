"""RateLimitingQueue: the client-go invariants, driven by a FakeClock (no real sleeping)."""

from __future__ import annotations

import asyncio

import pytest

from kubelite.client.workqueue import FakeClock, RateLimitingQueue, ShutDown


def make_queue(**kw: object) -> tuple[RateLimitingQueue, FakeClock]:
    clock = FakeClock()
    return RateLimitingQueue("test", clock=clock, **kw), clock  # type: ignore[arg-type]


async def test_adding_a_key_twice_queues_it_once() -> None:
    q, _ = make_queue()
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    q.shut_down()


async def test_keys_come_out_in_the_order_they_were_first_added() -> None:
    q, _ = make_queue()
    for k in ["c", "a", "b", "a", "c"]:
        q.add(k)
    assert [await q.get() for _ in range(3)] == ["c", "a", "b"]
    q.shut_down()


async def test_a_key_added_while_processing_waits_for_done() -> None:
    q, _ = make_queue()
    q.add("a")
    key = await q.get()
    q.add("a")  # changed again while a worker holds it
    assert len(q) == 0, "must not be handed to a second worker"
    assert q.get_nowait() is None
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0
    q.shut_down()


async def test_concurrent_workers_never_hold_the_same_key() -> None:
    q, _ = make_queue()
    holding: set[str] = set()
    overlaps: list[str] = []
    processed: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            if key in holding:
                overlaps.append(key)
            holding.add(key)
            await asyncio.sleep(0)
            q.add(key) if len(processed) < 30 else None  # re-dirty while processing
            await asyncio.sleep(0)
            holding.discard(key)
            processed.append(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for i in range(10):
        q.add(f"k{i % 3}")
    for _ in range(200):
        await asyncio.sleep(0)
    q.shut_down()
    await asyncio.gather(*workers)
    assert overlaps == []
    assert len(processed) >= 3


async def test_get_waits_for_an_add() -> None:
    q, _ = make_queue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("x")
    assert await getter == "x"
    q.shut_down()


async def test_shutdown_drains_then_raises_and_ignores_new_keys() -> None:
    q, _ = make_queue()
    q.add("a")
    q.shut_down()
    q.add("b")
    assert await q.get() == "a"
    with pytest.raises(ShutDown):
        await q.get()


async def test_shutdown_wakes_waiting_workers() -> None:
    q, _ = make_queue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shut_down()
    results = await asyncio.gather(*getters, return_exceptions=True)
    assert all(isinstance(r, ShutDown) for r in results)


async def test_add_after_releases_keys_in_deadline_order() -> None:
    q, clock = make_queue()
    q.add_after("late", 10)
    q.add_after("early", 2)
    q.add_after("middle", 5)
    await clock.settle()
    assert len(q) == 0 and q.waiting == 3
    clock.advance(2)
    await clock.settle()
    assert q.get_nowait() == "early"
    clock.advance(3)
    await clock.settle()
    assert q.get_nowait() == "middle"
    assert q.get_nowait() is None
    clock.advance(5)
    await clock.settle()
    assert q.get_nowait() == "late"
    q.shut_down()


async def test_add_after_keeps_the_earliest_deadline_per_key() -> None:
    q, clock = make_queue()
    q.add_after("a", 10)
    q.add_after("a", 1)
    q.add_after("a", 20)
    await clock.settle()
    assert q.waiting == 1
    clock.advance(1)
    await clock.settle()
    assert q.get_nowait() == "a"
    q.done("a")
    clock.advance(30)
    await clock.settle()
    assert len(q) == 0, "the later requests were merged into the earlier one"
    q.shut_down()


async def test_add_after_zero_adds_now() -> None:
    q, _ = make_queue()
    q.add_after("a", 0)
    assert len(q) == 1
    q.shut_down()


async def test_rate_limited_backoff_doubles_per_key_and_resets_on_forget() -> None:
    q, clock = make_queue()
    delays = []
    for _ in range(5):
        before = clock.now()
        q.add_rate_limited("k")
        await clock.settle()
        # step time forward until the key shows up
        while q.get_nowait() is None:
            clock.advance(0.001)
            await clock.settle(3)
        delays.append(round(clock.now() - before, 3))
        q.done("k")
    assert delays == [0.005, 0.01, 0.02, 0.04, 0.08]
    assert q.num_requeues("k") == 5
    assert q.num_requeues("other") == 0
    q.forget("k")
    assert q.num_requeues("k") == 0
    q.shut_down()


async def test_backoff_is_capped() -> None:
    q, _ = make_queue(max_delay=1000.0)
    limiter = q._limiter  # the policy itself, to check the cap without waiting 1000 s
    for _ in range(30):
        delay = limiter.backoff.when("k")
    assert delay == 1000.0


async def test_overall_bucket_limits_many_different_keys() -> None:
    q, clock = make_queue(qps=10.0, burst=2)
    for i in range(4):
        q.add_rate_limited(f"k{i}")
    await clock.settle()
    # 5 ms per-key backoff for all; the bucket lets 2 through at once, then one per 100 ms
    clock.advance(0.005)
    await clock.settle()
    assert len(q) == 2
    clock.advance(0.1)
    await clock.settle()
    assert len(q) == 3
    clock.advance(0.1)
    await clock.settle()
    assert len(q) == 4
    q.shut_down()


async def test_shutdown_cancels_pending_delayed_adds() -> None:
    q, clock = make_queue()
    q.add_after("a", 1)
    await clock.settle()
    q.shut_down()
    await clock.settle()
    clock.advance(5)
    await clock.settle()
    assert len(q) == 0
    assert clock.sleepers == 0
