"""kubelite.aio.run's collector policy: the survivors of a full collection leave the collector's
sight at once, so the next full collection does not traverse the whole long-lived heap again."""

from __future__ import annotations

import asyncio
import gc
import weakref

from kubelite import aio


def test_the_survivors_of_a_full_collection_are_frozen_at_once() -> None:
    class Node:
        other: object = None

    async def main() -> tuple[int, int, bool]:
        await asyncio.sleep(0)
        kept = [{"pod": i} for i in range(1000)]  # a long-lived heap
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle that is already garbage when the collection runs
        gone = weakref.ref(a)
        del a, b
        gc.unfreeze()
        before = gc.get_freeze_count()
        gc.collect()  # a full collection (as CPython's own, when the survivors grew)
        after = gc.get_freeze_count()
        assert kept
        return before, after, gone() is None

    callbacks = list(gc.callbacks)
    before, after, cycle_freed = aio.run(main())
    assert before == 0 and after >= 1000  # frozen right after, not FREEZE_EVERY seconds later
    assert cycle_freed  # garbage found by the collection is freed, never frozen
    assert gc.callbacks == callbacks and gc.get_freeze_count() == 0  # restored after run()
