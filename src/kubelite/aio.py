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

A heap that grows fast (10,000 pods cached in a minute) still met CPython's own full collections
(every 10 older-generation collections while the survivors grow by a quarter): each traversed
every object not frozen yet, up to a second of CPU for the sim, several times in a burst. So the
survivors of every full collection are frozen at once (`_freeze_after_full`): at that moment
nothing unfrozen is garbage (the collection just looked at everything), so no cycle is frozen by
mistake, and the next full collection only looks at what came since.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import os
import sys
import time
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


class _GcStats:
    """Collections and their CPU per generation, written to a file (at most once a second, and at
    exit) when the environment says KUBELITE_GC_STATS=<directory>: to tune the settings above on a
    real run (bench/scale.py), whose processes are stopped by signals."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, f"gc-{os.getpid()}.txt")
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self._start = 0.0
        self._written = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
            return
        gen = info["generation"]
        spent = time.process_time() - self._start
        self.count[gen] += 1
        self.seconds[gen] += spent
        self.longest[gen] = max(self.longest[gen], spent)
        if self._start - self._written >= 1.0:
            self._written = self._start
            self.write()

    def write(self) -> None:
        line = " ".join(f"gen{g}: {self.count[g]} in {self.seconds[g]:.3f}s (longest {self.longest[g] * 1e3:.0f} ms)"
                        for g in range(3))
        with open(self.path, "w") as f:
            f.write(f"{' '.join(sys.argv[:2])}: {line}; cpu {time.process_time():.2f}s\n")


def _freeze_after_full(phase: str, info: dict[str, int]) -> None:
    """A gc callback: freeze the survivors of a full collection (module docstring)."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def _gc_stats() -> None:
    directory = os.environ.get("KUBELITE_GC_STATS")
    if directory and not any(isinstance(cb, _GcStats) for cb in gc.callbacks):
        stats = _GcStats(directory)
        gc.callbacks.append(stats)
        atexit.register(stats.write)


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
    _gc_stats()
    gc.callbacks.append(_freeze_after_full)
    try:
        with asyncio.Runner(debug=debug, loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(_main_with_collector(main))
    finally:
        gc.callbacks.remove(_freeze_after_full)
        gc.set_threshold(*thresholds)
        gc.unfreeze()
