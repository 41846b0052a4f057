"""kubelite.aio.run: what every `kubelite` command runs its asyncio program with (uvloop)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from kubelite import aio


def test_run_uses_uvloop_and_returns_the_result() -> None:
    async def main() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert aio.run(main()).startswith("uvloop")


def test_run_cancels_leftover_tasks_like_asyncio_run() -> None:
    cancelled: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> int:
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)
        return 7

    assert aio.run(main()) == 7
    assert cancelled == [True]



def test_run_tunes_the_collector_for_a_long_lived_heap_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Young collections are rarer, survivors get frozen out of the collector's sight, and a
    cycle that died after being frozen is still freed by the periodic full collection."""
    monkeypatch.setattr(aio, "FREEZE_EVERY", 0.05)
    monkeypatch.setattr(aio, "FULL_EVERY", 0.3)
    before = gc.get_threshold()

    class Node:
        other: object = None

    async def main() -> tuple[int, int, bool, bool]:
        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle: only the collector can free it
        gone = weakref.ref(a)
        threshold = gc.get_threshold()[0]
        await asyncio.sleep(0.15)
        frozen = gc.get_freeze_count()
        del a, b
        gc.collect()  # a normal collection does not see frozen objects
        kept_while_frozen = gone() is not None
        for _ in range(40):  # the full collection comes within FULL_EVERY
            await asyncio.sleep(0.05)
            if gone() is None:
                break
        return threshold, frozen, kept_while_frozen, gone() is None

    threshold, frozen, kept_while_frozen, freed = aio.run(main())
    assert threshold == aio.YOUNG_THRESHOLD
    assert frozen > 0 and kept_while_frozen and freed
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
