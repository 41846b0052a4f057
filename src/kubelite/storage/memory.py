"""MemoryStore: the whole Store protocol in process memory.

The reference implementation: the shared test suite runs it next to SQLite and etcd, and unit
tests elsewhere use it as a fast fake. It keeps the latest value of each key (plus a sorted key
list for prefix scans), the log of events since the last compaction, and the state as of the
compacted revision, so that a list at any retained revision is `base + replay(log)`.
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator

from kubelite.storage._check import (
    INITIAL_REVISION,
    check_int,
    check_key,
    check_list_args,
    check_value,
)
from kubelite.storage._index import Keys, count_prefix, insert_key, page, remove_key
from kubelite.storage.types import (
    CompactedError,
    ConflictError,
    Event,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    StoreUnavailableError,
)
from kubelite.storage.watchhub import WatchHub


class MemoryStore:
    def __init__(self) -> None:
        self._rev = INITIAL_REVISION
        self._compact_rev = 0
        self._latest: dict[str, KeyValue] = {}
        self._keys = Keys()  # sorted keys of _latest
        self._base: dict[str, KeyValue] = {}  # state as of _compact_rev
        self._log: list[Event] = []  # every event after _compact_rev, in order
        self._hub = WatchHub()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailableError("store is closed")

    # -- reads -----------------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        check_key(key)
        self._check_open()
        return self._latest.get(key)

    async def list(
        self, prefix: str, limit: int = 0, start_after: str | None = None, revision: int = 0
    ) -> ListResult:
        check_list_args(prefix, limit, start_after, revision)
        self._check_open()
        if revision > self._rev:
            raise FutureRevisionError(f"revision {revision} is newer than the current {self._rev}")
        if 0 < revision < self._compact_rev:
            raise CompactedError(revision, self._compact_rev, self._rev)
        if revision in (0, self._rev):
            state, keys = self._latest, self._keys
        else:
            state = dict(self._base)
            for ev in self._log:
                if ev.revision > revision:
                    break
                if ev.type is EventType.DELETE:
                    state.pop(ev.key, None)
                else:
                    state[ev.key] = KeyValue(ev.key, ev.value, ev.revision, ev.create_revision)
            keys = Keys(state)
        items, more_after = page(state, keys, prefix, limit, start_after)
        return ListResult(items, revision or self._rev, more_after)

    async def count(self, prefix: str) -> int:
        check_key(prefix, "prefix")
        self._check_open()
        return count_prefix(self._keys, prefix)

    async def current_revision(self) -> int:
        return self._rev

    async def compacted_revision(self) -> int:
        return self._compact_rev

    # -- writes ----------------------------------------------------------------------------------

    def _append(self, ev: Event) -> int:
        self._rev = ev.revision
        self._log.append(ev)
        self._hub.publish((ev,))
        return ev.revision

    async def create(self, key: str, value: bytes) -> int:
        check_key(key)
        check_value(key, value)
        self._check_open()
        if key in self._latest:
            raise KeyExistsError(key)
        rev = self._rev + 1
        self._latest[key] = KeyValue(key, value, rev, rev)
        insert_key(self._keys, key)
        return self._append(Event(EventType.PUT, key, value, None, rev, rev))

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        check_key(key)
        check_value(key, value)
        check_int(expected_revision, "expected_revision")
        self._check_open()
        cur = self._latest.get(key)
        if cur is None:
            raise KeyNotFoundError(key)
        if expected_revision and cur.mod_revision != expected_revision:
            raise ConflictError(key, expected_revision, cur)
        rev = self._rev + 1
        self._latest[key] = KeyValue(key, value, rev, cur.create_revision)
        return self._append(Event(EventType.PUT, key, value, cur.value, rev, cur.create_revision))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        check_key(key)
        check_int(expected_revision, "expected_revision")
        self._check_open()
        cur = self._latest.get(key)
        if cur is None:
            raise KeyNotFoundError(key)
        if expected_revision and cur.mod_revision != expected_revision:
            raise ConflictError(key, expected_revision, cur)
        rev = self._rev + 1
        del self._latest[key]
        remove_key(self._keys, key)
        self._append(Event(EventType.DELETE, key, cur.value, cur.value, rev, cur.create_revision))
        return KeyValue(key, cur.value, rev, cur.create_revision)

    # -- watch and compaction --------------------------------------------------------------------

    def watch(self, prefix: str, after_revision: int, *, prev: bool = True) -> AsyncIterator[Event]:
        """(Previous values cost nothing here: always given, whatever `prev` says.)"""
        check_key(prefix, "prefix")
        check_int(after_revision, "after_revision")
        self._check_open()
        return self._watch(prefix, after_revision)

    async def _watch(self, prefix: str, after_revision: int) -> AsyncIterator[Event]:
        if after_revision < self._compact_rev:
            raise CompactedError(after_revision, self._compact_rev, self._rev)

        def backlog() -> list[Event]:
            start = bisect.bisect_right([e.revision for e in self._log], after_revision)
            return self._log[start:]

        async def never() -> list[Event]:  # the log always covers a non-compacted revision
            return []

        async for ev in self._hub.stream(prefix, after_revision, backlog, never):
            yield ev

    async def compact(self, revision: int) -> None:
        check_int(revision, "revision")
        self._check_open()
        if revision > self._rev:
            raise FutureRevisionError(f"cannot compact at {revision}: current revision is {self._rev}")
        if revision <= self._compact_rev:
            return
        keep = 0
        for ev in self._log:
            if ev.revision > revision:
                break
            keep += 1
            if ev.type is EventType.DELETE:
                self._base.pop(ev.key, None)
            else:
                self._base[ev.key] = KeyValue(ev.key, ev.value, ev.revision, ev.create_revision)
        del self._log[:keep]
        self._compact_rev = revision

    async def close(self) -> None:
        self._closed = True
        self._hub.close()
