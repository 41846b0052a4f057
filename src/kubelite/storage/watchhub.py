"""Fan-out of committed events to in-process watchers.

A store that writes in this process (memory, SQLite) publishes each committed batch here, on the
event loop, in revision order. Each watcher owns an unbounded queue: a slow consumer costs memory,
never blocks the writer or other watchers. The hub does not keep history; a backend replays what
a watcher missed (from its log or its ring) and then reads the live queue, dropping revisions it
already yielded, so the hand-over has no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from kubelite.storage.types import Event


class _Watcher:
    __slots__ = ("prefix", "queue")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        #: one entry per published batch (the batch's events under this prefix), not per event:
        #: a queue put and get, and a wake-up of the reader, per event were a visible share of
        #: the API server's CPU per write
        self.queue: asyncio.Queue[list[Event] | None] = asyncio.Queue()


class WatchHub:
    def __init__(self) -> None:
        self._watchers: set[_Watcher] = set()
        #: watchers whose prefix ends with "/" (every watch cache's), by prefix: an event is
        #: offered to those of the "/"-ending prefixes of its key (a handful of dict lookups),
        #: not compared with every watcher's prefix in turn
        self._by_prefix: dict[str, list[_Watcher]] = {}
        #: the other watchers (a prefix that ends inside a path segment), checked one by one
        self._odd: list[_Watcher] = []
        self._closed = False

    def __len__(self) -> int:
        return len(self._watchers)

    def _add(self, w: _Watcher) -> None:
        self._watchers.add(w)
        if w.prefix.endswith("/"):
            self._by_prefix.setdefault(w.prefix, []).append(w)
        else:
            self._odd.append(w)

    def _remove(self, w: _Watcher) -> None:
        self._watchers.discard(w)
        if w.prefix.endswith("/"):
            ws = self._by_prefix.get(w.prefix)
            if ws is not None and w in ws:
                ws.remove(w)
                if not ws:
                    del self._by_prefix[w.prefix]
        elif w in self._odd:
            self._odd.remove(w)

    def publish(self, events: Iterable[Event]) -> None:
        """Hand committed events (in revision order) to every matching watcher. Event loop only."""
        if not self._watchers:
            return
        by_prefix, odd = self._by_prefix, self._odd
        batches: dict[_Watcher, list[Event]] = {}
        for ev in events:
            key = ev.key
            if by_prefix:
                i = key.find("/")
                while i >= 0:
                    ws = by_prefix.get(key[:i + 1])
                    if ws is not None:
                        for w in ws:
                            batch = batches.get(w)
                            if batch is None:
                                batches[w] = [ev]
                            else:
                                batch.append(ev)
                    i = key.find("/", i + 1)
            for w in odd:
                if key.startswith(w.prefix):
                    batch = batches.get(w)
                    if batch is None:
                        batches[w] = [ev]
                    else:
                        batch.append(ev)
        for w, batch in batches.items():
            w.queue.put_nowait(batch)

    def close(self) -> None:
        self._closed = True
        for w in self._watchers:
            w.queue.put_nowait(None)

    async def stream(
        self,
        prefix: str,
        after_revision: int,
        backlog: Callable[[], Iterable[Event] | None],
        slow_backlog: Callable[[], Awaitable[list[Event]]],
    ) -> AsyncIterator[Event]:
        """Yield events under `prefix` after `after_revision`: backlog first, then live.

        `backlog()` runs in the same loop step as the subscription, so nothing published between
        them is lost; it returns None when it cannot cover `after_revision` from memory, and then
        `slow_backlog()` (e.g. a DB read) is awaited while live events queue up behind it.
        """
        if self._closed:
            return
        w = _Watcher(prefix)
        self._add(w)
        try:
            last = after_revision
            events = backlog()
            if events is None:
                events = await slow_backlog()
            for ev in events:
                if ev.revision > last and ev.key.startswith(prefix):
                    last = ev.revision
                    yield ev
            while True:
                batch = await w.queue.get()
                if batch is None:
                    return
                for item in batch:
                    if item.revision > last:
                        last = item.revision
                        yield item
        finally:
            self._remove(w)
