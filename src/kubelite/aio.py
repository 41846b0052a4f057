"""One way to run an asyncio program in every kubelite command: on uvloop, with a garbage
collector tuned for long-lived processes.

uvloop's transports (TCP and TLS) are written in Cython on libuv; the API server spends a
large part of each request in the transport and TLS layer (docs/apiserver.md, figures), and
uvloop cuts that per-request cost. Every `kubelite` command calls `run(main())` instead of
`asyncio.run(main())` so that all processes (server, scheduler, agents, sim) get it.

The garbage collector: kubelite's processes hold large, long-lived heaps (watch caches,
informer caches, a fleet's nodes) and churn through many short-lived request objects, which
almost never form reference cycles (reference counting frees them). With CPython's defaults a
young collection runs every 700 net allocations and every collection re-examines survivors;
in the 10,000-pod scale run collections were 28 % of the API server's CPU, 19 % of the sim's,
~10 % of the scheduler's and the controller manager's, while finding almost nothing to free.
So: young collections every YOUNG_THRESHOLD allocations, and every FREEZE_EVERY seconds the
survivors are moved out of the collector's sight (`gc.freeze`); a frozen object is still freed
by reference counting, and the cycles that became garbage after being frozen are found by a
full collection over everything every FULL_EVERY seconds (`gc.unfreeze` + `gc.collect`), so
nothing leaks for long.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


#: net allocations of tracked objects between two young collections (CPython's default: 700)
YOUNG_THRESHOLD = 20_000
#: seconds between two freezes of the survivors
FREEZE_EVERY = 30.0
#: seconds between two full collections over the frozen objects too
FULL_EVERY = 600.0


async def _collector() -> None:
    """Freeze the survivors now and then; collect everything once in a while (module docstring)."""
    loop = asyncio.get_running_loop()
    last_full = loop.time()
    while True:
        await asyncio.sleep(FREEZE_EVERY)
        if loop.time() - last_full >= FULL_EVERY:
            gc.unfreeze()
            gc.collect()
            last_full = loop.time()
        gc.freeze()


async def _main_with_collector(main: Coroutine[Any, Any, T]) -> T:
    collector = asyncio.create_task(_collector(), name="gc")
    try:
        return await main
    finally:
        collector.cancel()


def run(main: Coroutine[Any, Any, T], *, debug: bool | None = None) -> T:
    """asyncio.run(main) on a fresh uvloop event loop (same cleanup: cancels leftover tasks,
    shuts down async generators and the default executor), with the garbage collector tuned
    for a long-lived process (module docstring); the collector's settings are restored after."""
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, thresholds[1], thresholds[2])
    try:
        with asyncio.Runner(debug=debug, loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(_main_with_collector(main))
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
