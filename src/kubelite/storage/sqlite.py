"""SQLiteStore: the embedded default backend, a revision log in one SQLite table (kine's idea).

Every write appends one row to `kv`; the row id *is* the revision. A row records the key, its
value (NULL for a delete: the deleted value is the previous row's), the revision that created
the key, the id of the key's previous row, and whether it is a delete. The latest row of a key
is its current state; a list at an older revision takes, per key, the newest row at or below it.

Writes go through one writer thread (group commit): callers enqueue an operation and await a
future; the thread drains everything queued, checks each compare-and-swap in order against its
own view of the latest revisions, inserts all rows in one transaction, commits once (one fsync
for the whole batch), and then hands results back to the event loop. The event loop owns the
in-memory index (key -> latest KeyValue, plus sorted keys), so get/list/count at the current
revision never touch the database and only ever see committed data. Watch events are fanned out
from memory; a ring of recent events serves watchers that start close to the present, older
(non-compacted) starts read the log from the database through a separate read connection.

Durability: WAL with synchronous=FULL, so a write whose future resolved has been fsynced; group
commit is what keeps that affordable. See docs/storage.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubelite.storage._check import (
    INITIAL_REVISION,
    check_int,
    check_key,
    check_list_args,
    check_value,
    prefix_end,
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

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    id INTEGER PRIMARY KEY,             -- the revision of this write
    name TEXT NOT NULL,                 -- the key
    created INTEGER NOT NULL,           -- 1: this write created the key
    deleted INTEGER NOT NULL,           -- 1: this write deleted the key
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,     -- id of the key's previous row (0 for a create)
    value BLOB                          -- NULL for a delete
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE INDEX IF NOT EXISTS kv_prev ON kv (prev_revision);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (k, v) VALUES ('compact_rev', 0), ('schema', 1);
"""

#: Largest number of writes committed in one transaction (bounds a batch's latency).
MAX_BATCH = 2000
#: Recent events kept in memory for watchers that start close to the present.
RING_SIZE = 10000
#: Revisions whose superseded rows one compaction transaction deletes (keeps write stalls short).
COMPACT_BATCH = 1000

_EVENT_SQL = """
SELECT kv.id, kv.name, kv.created, kv.deleted, kv.create_revision, kv.value, p.value
FROM kv LEFT JOIN kv AS p ON p.id = kv.prev_revision
WHERE kv.id > ? {range} ORDER BY kv.id
"""


@dataclass(slots=True)
class _Op:
    kind: str  # "create" | "update" | "delete" | "compact"
    key: str
    value: bytes | None
    expected: int
    future: asyncio.Future[Any]


# Aliases: inside SQLiteStore the name `list` is the method, not the builtin.
_Batch = list["_Op"]
_Events = list[Event]
_Results = list[tuple[asyncio.Future[Any], Any]]


def _unavailable(path: str, exc: object) -> StoreUnavailableError:
    return StoreUnavailableError(f"SQLite datastore {path}: {exc}")


class SQLiteStore:
    def __init__(self, path: str, loop: asyncio.AbstractEventLoop) -> None:
        self.path = path
        self._loop = loop
        self._lock_fd = -1
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        # Owned by the event loop: committed state.
        self._rev = INITIAL_REVISION
        self._compact_rev = 0
        self._index: dict[str, KeyValue] = {}
        self._keys = Keys()
        self._ring: deque[Event] = deque(maxlen=RING_SIZE)
        self._ring_floor = INITIAL_REVISION  # the ring holds every event after this revision
        self._hub = WatchHub()
        # Owned by the writer thread: what it has committed (same KeyValue objects, no copies).
        self._wrev = INITIAL_REVISION
        self._windex: dict[str, KeyValue] = {}
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubelite-sqlite-read")
        self._closed = False
        self._compactor: asyncio.Task[None] | None = None

    # -- opening and closing ---------------------------------------------------------------------

    @classmethod
    async def open(cls, path: str, compact_interval: float = 300.0, compact_keep: int = 1000) -> SQLiteStore:
        """Open or create the database at `path`; StoreUnavailableError if that is impossible.

        Every `compact_interval` seconds (0: never) a background task compacts all but the last
        `compact_keep` revisions, as kine does.
        """
        store = cls(path, asyncio.get_running_loop())
        try:
            await asyncio.to_thread(store._open_sync)
        except BaseException:
            await asyncio.to_thread(store._close_sync)
            raise
        store._writer = threading.Thread(target=store._writer_loop, name="kubelite-sqlite-write", daemon=True)
        store._writer.start()
        if compact_interval > 0:
            store._compactor = asyncio.create_task(store._compact_loop(compact_interval, compact_keep))
        return store

    def _open_sync(self) -> None:
        self.path = os.path.abspath(self.path)
        try:
            self._lock_fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise _unavailable(self.path, e.strerror or e) from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StoreUnavailableError(
                f"SQLite datastore {self.path} is in use by another process (only one server may open it)"
            ) from None
        try:
            w = self._wconn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            tables = {r[0] for r in w.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and not {"kv", "meta"} <= tables:
                raise StoreUnavailableError(
                    f"{self.path} is an SQLite database but not a kubelite datastore "
                    f"(it has tables {sorted(tables)}); refusing to touch it"
                )
            mode = w.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreUnavailableError(f"SQLite datastore {self.path}: cannot enable WAL mode")
            w.execute("PRAGMA synchronous = FULL")
            w.execute("PRAGMA busy_timeout = 10000")
            w.executescript(SCHEMA)
            check = w.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreUnavailableError(f"SQLite datastore {self.path} is corrupt: {check}")
            self._compact_rev = w.execute("SELECT v FROM meta WHERE k = 'compact_rev'").fetchone()[0]
            max_id = w.execute("SELECT MAX(id) FROM kv").fetchone()[0] or 0
            self._rev = self._wrev = max(max_id, self._compact_rev, INITIAL_REVISION)
            self._ring_floor = self._rev
            rows = w.execute(
                "SELECT kv.name, kv.value, kv.id, kv.create_revision FROM kv "
                "JOIN (SELECT MAX(id) AS id FROM kv GROUP BY name) AS m ON kv.id = m.id "
                "WHERE kv.deleted = 0 ORDER BY kv.name"
            )
            for name, value, rev, crev in rows:
                self._index[name] = KeyValue(name, value, rev, crev)
            self._keys = Keys(self._index)
            self._windex = dict(self._index)
            self._rconn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._rconn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as e:
            raise _unavailable(self.path, e) from None

    def _close_sync(self) -> None:
        for conn in (self._rconn, self._wconn):
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
        self._rconn = self._wconn = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # after the connections: closing an fd drops the process's locks
            self._lock_fd = -1

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._compactor is not None:
            self._compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compactor
        self._queue.put(None)
        if self._writer is not None:
            await asyncio.to_thread(self._writer.join)
        await asyncio.get_running_loop().run_in_executor(self._reader, self._close_sync)
        self._reader.shutdown(wait=False)
        self._hub.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailableError(f"SQLite datastore {self.path} is closed")

    # -- reads -----------------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        check_key(key)
        self._check_open()
        return self._index.get(key)

    async def count(self, prefix: str) -> int:
        check_key(prefix, "prefix")
        self._check_open()
        return count_prefix(self._keys, prefix)

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
            items, more = page(self._index, self._keys, prefix, limit, start_after)
            return ListResult(items, self._rev, more)
        return await self._read(self._list_at, prefix, limit, start_after, revision)

    def _list_at(self, prefix: str, limit: int, start_after: str | None, revision: int) -> ListResult:
        conn = self._rconn
        assert conn is not None
        conn.execute("BEGIN")
        try:
            compact = conn.execute("SELECT v FROM meta WHERE k = 'compact_rev'").fetchone()[0]
            if revision < compact:
                raise CompactedError(revision, compact, self._rev)
            where, args = ["name >= ?", "id <= ?"], [prefix, revision]
            end = prefix_end(prefix)
            if end is not None:
                where.append("name < ?")
                args.append(end)
            if start_after is not None:
                where.append("name > ?")
                args.append(start_after)
            sql = (
                "SELECT kv.name, kv.value, kv.id, kv.create_revision FROM kv WHERE kv.id IN "
                f"(SELECT MAX(id) FROM kv WHERE {' AND '.join(where)} GROUP BY name) "
                "AND kv.deleted = 0 ORDER BY kv.name"
            )
            if limit:
                sql += f" LIMIT {limit + 1}"
            items = [KeyValue(n, v, r, c) for n, v, r, c in conn.execute(sql, args)]
        finally:
            conn.execute("COMMIT")
        more = None
        if limit and len(items) > limit:
            del items[limit:]
            more = items[-1].key
        return ListResult(items, revision, more)

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await self._loop.run_in_executor(self._reader, fn, *args)
        except sqlite3.Error as e:
            raise _unavailable(self.path, e) from None

    async def current_revision(self) -> int:
        return self._rev

    async def compacted_revision(self) -> int:
        return self._compact_rev

    # -- writes ----------------------------------------------------------------------------------

    def _submit(self, kind: str, key: str, value: bytes | None, expected: int) -> asyncio.Future[Any]:
        self._check_open()
        fut = self._loop.create_future()
        self._queue.put(_Op(kind, key, value, expected, fut))
        return fut

    async def create(self, key: str, value: bytes) -> int:
        check_key(key)
        check_value(key, value)
        return await self._submit("create", key, value, 0)  # type: ignore[no-any-return]

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        check_key(key)
        check_value(key, value)
        check_int(expected_revision, "expected_revision")
        return await self._submit("update", key, value, expected_revision)  # type: ignore[no-any-return]

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        check_key(key)
        check_int(expected_revision, "expected_revision")
        return await self._submit("delete", key, None, expected_revision)  # type: ignore[no-any-return]

    async def compact(self, revision: int) -> None:
        check_int(revision, "revision")
        self._check_open()
        if revision > self._rev:
            raise FutureRevisionError(f"cannot compact at {revision}: current revision is {self._rev}")
        # Small steps, each its own transaction queued behind the writes, so a big compaction
        # never holds the write lock for long.
        for upto in range(self._compact_rev + COMPACT_BATCH, revision + COMPACT_BATCH, COMPACT_BATCH):
            await self._submit("compact", "", None, min(upto, revision))

    async def _compact_loop(self, interval: float, keep: int) -> None:
        while True:
            await asyncio.sleep(interval)
            target = self._rev - keep
            if target > self._compact_rev:
                try:
                    await self.compact(target)
                except StoreUnavailableError:
                    pass  # disk trouble: writes report it; try again next round

    # -- the writer thread -----------------------------------------------------------------------

    def _writer_loop(self) -> None:
        stop = False
        while not stop:
            op = self._queue.get()
            if op is None:
                break
            batch: _Batch = [op]
            while len(batch) < MAX_BATCH and batch[-1].kind != "compact":
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                if batch[-1].kind == "compact":
                    if len(batch) > 1:
                        self._write_batch(batch[:-1])
                    self._compact_step(batch[-1])
                else:
                    self._write_batch(batch)
            except Exception as e:  # a bug or a dying disk: fail the batch, keep the thread alive
                self._to_loop(self._fail, batch, _unavailable(self.path, e))

    def _write_batch(self, batch: _Batch) -> None:
        conn = self._wconn
        assert conn is not None
        pending: dict[str, KeyValue | None] = {}
        rows: list[tuple[int, str, int, int, int, int, bytes | None]] = []
        events: _Events = []
        results: _Results = []
        rev = self._wrev
        for op in batch:
            key = op.key
            cur = pending[key] if key in pending else self._windex.get(key)
            if op.kind == "create":
                if cur is not None:
                    results.append((op.future, KeyExistsError(key)))
                    continue
                rev += 1
                assert op.value is not None
                pending[key] = KeyValue(key, op.value, rev, rev)
                rows.append((rev, key, 1, 0, rev, 0, op.value))
                events.append(Event(EventType.PUT, key, op.value, None, rev, rev))
                results.append((op.future, rev))
                continue
            if cur is None:
                results.append((op.future, KeyNotFoundError(key)))
                continue
            if op.expected and cur.mod_revision != op.expected:
                results.append((op.future, ConflictError(key, op.expected, cur)))
                continue
            rev += 1
            crev = cur.create_revision
            if op.kind == "update":
                assert op.value is not None
                pending[key] = KeyValue(key, op.value, rev, crev)
                rows.append((rev, key, 0, 0, crev, cur.mod_revision, op.value))
                events.append(Event(EventType.PUT, key, op.value, cur.value, rev, crev))
                results.append((op.future, rev))
            else:
                pending[key] = None
                rows.append((rev, key, 0, 1, crev, cur.mod_revision, None))
                events.append(Event(EventType.DELETE, key, cur.value, cur.value, rev, crev))
                results.append((op.future, KeyValue(key, cur.value, rev, crev)))
        if rows:
            try:
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                # Nothing of this batch is stored, so every write in it fails, including the
                # checks that may have depended on an earlier write of the same batch.
                self._to_loop(self._fail, batch, _unavailable(self.path, e))
                return
            for key, kv in pending.items():
                if kv is None:
                    self._windex.pop(key, None)
                else:
                    self._windex[key] = kv
            self._wrev = rev
        self._to_loop(self._deliver, pending, events, results, rev)

    def _compact_step(self, op: _Op) -> None:
        conn = self._wconn
        assert conn is not None
        upto = op.expected
        lo = conn.execute("SELECT v FROM meta WHERE k = 'compact_rev'").fetchone()[0]
        if upto > lo:
            try:
                conn.execute("BEGIN")
                # A row is superseded once a later row of its key exists at or below `upto`;
                # tombstones at or below `upto` go too (their key is simply absent then).
                conn.execute(
                    "DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv "
                    "WHERE id > ? AND id <= ? AND prev_revision != 0)",
                    (lo, upto),
                )
                conn.execute("DELETE FROM kv WHERE id > ? AND id <= ? AND deleted = 1", (lo, upto))
                conn.execute("UPDATE meta SET v = ? WHERE k = 'compact_rev'", (upto,))
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                self._to_loop(self._fail, [op], _unavailable(self.path, e))
                return
        self._to_loop(self._compacted, op, max(upto, lo))

    # -- back on the event loop ------------------------------------------------------------------

    def _to_loop(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass  # the loop is gone (the program exited without closing the store): nobody waits

    def _deliver(
        self,
        pending: dict[str, KeyValue | None],
        events: _Events,
        results: _Results,
        rev: int,
    ) -> None:
        try:
            index, keys = self._index, self._keys
            for key, kv in pending.items():
                if kv is None:
                    if index.pop(key, None) is not None:
                        remove_key(keys, key)
                else:
                    if key not in index:
                        insert_key(keys, key)
                    index[key] = kv
            self._rev = rev
            ring = self._ring
            for ev in events:
                if len(ring) == ring.maxlen:
                    self._ring_floor = ring[0].revision
                ring.append(ev)
            self._hub.publish(events)
        finally:  # the writes are stored: whatever failed above, their writers get their answers
            for fut, res in results:
                if fut.done():
                    continue  # the caller gave up (cancelled); the write itself stands
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)

    def _compacted(self, op: _Op, upto: int) -> None:
        self._compact_rev = max(self._compact_rev, upto)
        if not op.future.done():
            op.future.set_result(None)

    @staticmethod
    def _fail(batch: _Batch, exc: StoreUnavailableError) -> None:
        for op in batch:
            if not op.future.done():
                op.future.set_exception(exc)

    # -- watch -----------------------------------------------------------------------------------

    def watch(self, prefix: str, after_revision: int, *, prev: bool = True) -> AsyncIterator[Event]:
        """(Previous values cost nothing here: always given, whatever `prev` says.)"""
        check_key(prefix, "prefix")
        check_int(after_revision, "after_revision")
        self._check_open()
        return self._watch(prefix, after_revision)

    async def _watch(self, prefix: str, after_revision: int) -> AsyncIterator[Event]:
        if after_revision < self._compact_rev:
            raise CompactedError(after_revision, self._compact_rev, self._rev)

        def from_ring() -> _Events | None:
            if after_revision < self._ring_floor:
                return None
            return list(itertools.islice(self._ring, after_revision - self._ring_floor, None))

        async def from_db() -> _Events:
            return await self._read(self._events_after, prefix, after_revision)  # type: ignore[no-any-return]

        async for ev in self._hub.stream(prefix, after_revision, from_ring, from_db):
            yield ev

    def _events_after(self, prefix: str, after: int) -> _Events:
        conn = self._rconn
        assert conn is not None
        conn.execute("BEGIN")
        try:
            compact = conn.execute("SELECT v FROM meta WHERE k = 'compact_rev'").fetchone()[0]
            if after < compact:
                raise CompactedError(after, compact, self._rev)
            rng, args = "AND kv.name >= ?", [after, prefix]
            end = prefix_end(prefix)
            if end is not None:
                rng += " AND kv.name < ?"
                args.append(end)
            events = []
            for rev, name, created, deleted, crev, value, prev in conn.execute(
                _EVENT_SQL.format(range=rng), args
            ):
                if deleted:
                    events.append(Event(EventType.DELETE, name, prev, prev, rev, crev))
                else:
                    events.append(Event(EventType.PUT, name, value, None if created else prev, rev, crev))
            return events
        finally:
            conn.execute("COMMIT")
