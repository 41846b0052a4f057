"""EtcdStore: the Store protocol on an etcd v3 cluster (the HA datastore).

Writes are grouped: the creates and updates that arrive while a transaction is in flight go to
etcd together, as one transaction comparing every key ("create revision == 0" for a create,
"mod revision == expected" for an update) and putting every value. One gRPC call costs ~300 us
of this process's CPU and ~300 us of etcd's whatever it carries; eight writes in one call cost
~60 + ~100 us each (bench/etcd_txn.py). If one compare fails, nothing is applied: the failure
branch reads every key, the writes whose compare fails get their error, the others go again.

All writes of one transaction share etcd's revision, but a resourceVersion must name one write
(a watcher resuming from it must not skip a sibling), so kubelite's revisions are etcd's times
256 plus the write's place in its transaction: the last (or only) write gets 255, earlier ones
254, 253, ... A value written at another place than the last carries its place in a 4-byte
header (`_MARK`), stripped on every read; a value without one (a single write, or data written
before grouping existed) is at place 255. Deletes go alone. A list "at" a revision inside a
transaction reads at the end of the transaction before it; a watch from one starts at that
transaction and skips its events up to the revision.

A list is one Range at a revision, a watch is an etcd watch (with prev_kv unless the caller does
without previous values), compaction is etcd's, every minute.
The messages and stubs come from aetcd (`aetcd.rpc`); its high-level Client is not used because
it talks to one endpoint only and its range call has no limit or revision. Here one gRPC channel
spans every endpoint with round-robin balancing: a dead member's subchannel drops out, calls
that fail with UNAVAILABLE (member gone, leader election) are retried with backoff for up to
`retry_for` seconds, and a broken watch stream is reopened from the last revision it delivered.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from aetcd import rpc

from kubelite.storage._check import (
    INITIAL_REVISION,
    check_int,
    check_key,
    check_list_args,
    check_value,
)
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
    ValueTooLargeError,
)

T = TypeVar("T")

# UNAVAILABLE: member gone or no leader. DEADLINE_EXCEEDED: a proposal lost with a dead leader
# waits ~5 s in etcd before failing; we give up on the attempt sooner and try again.
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
#: Per-attempt timeouts: writes are small, a list of a big prefix may legitimately take long.
WRITE_TIMEOUT = 2.0
READ_TIMEOUT = 30.0
_CHANNEL_OPTIONS = [
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 10000),
    ("grpc.keepalive_timeout_ms", 5000),
]


_CMP_CREATE, _CMP_MOD = rpc.Compare.CREATE, rpc.Compare.MOD
_CMP_EQUAL, _CMP_GREATER = rpc.Compare.EQUAL, rpc.Compare.GREATER
_EV_DELETE = rpc.Event.DELETE

#: kubelite revision = etcd revision << SUB_BITS | the write's place in its transaction
SUB_BITS = 8
_LAST = (1 << SUB_BITS) - 1
#: header of a value written at another place than the last: _MARK, then one byte, its place
_MARK = b"\xffkl"
#: writes per transaction (etcd refuses more than --max-txn-ops, default 128). Big groups pay
#: twice: fewer calls here and in etcd, and bigger watch batches for every watcher downstream
#: (10,000 pods with etcd: 33 s at 64, 43 s at 16, every component's CPU per pod ~20 % up at
#: 16). etcd keeps its raft log in memory back to its last snapshot plus 5000 entries, so run
#: it with a --snapshot-count of 10,000 (as kubeadm does), not 3.4's default of 100,000
MAX_BATCH = 64
#: bytes of values per transaction (a bigger single write still goes, alone)
BATCH_BYTES = 512 * 1024
#: transactions in flight at once; writes arriving meanwhile wait and go together
MAX_IN_FLIGHT = 2


def _revision(etcd_revision: int, place: int = _LAST) -> int:
    return etcd_revision << SUB_BITS | place


def _etcd_at(revision: int) -> int:
    """The newest etcd revision whose whole transaction is at or before kubelite `revision`."""
    return ((revision + 1) >> SUB_BITS) - 1


def _stored(value: bytes, place: int) -> bytes:
    if place == _LAST and not value.startswith(_MARK):
        return value
    return _MARK + bytes((place,)) + value


def _unpack(stored: bytes) -> tuple[bytes, int]:
    """(value, place in its transaction) of a stored value."""
    if stored[:3] == _MARK:
        return stored[4:], stored[3]
    return stored, _LAST


def _kv(kv: Any, key: str | None = None) -> KeyValue:
    value, place = _unpack(kv.value)
    return KeyValue(
        kv.key.decode("utf-8", "replace") if key is None else key,
        value,
        _revision(kv.mod_revision, place),
        _revision(kv.create_revision),
    )


class _Write:
    """One create (expected < 0) or update (expected: 0 = the key exists, else its revision)."""

    __slots__ = ("key", "name", "value", "expected", "future", "place", "stored")

    def __init__(self, name: str, value: bytes, expected: int, future: asyncio.Future[int]) -> None:
        self.name = name
        self.key = name.encode()
        self.value = value
        self.expected = expected
        self.future = future
        #: its place in the transaction it goes in, and the bytes stored there (_commit_once)
        self.place = _LAST
        self.stored = b""

    def holds(self, kvs: Any) -> bool:
        """Whether this write's compare holds against the key's current state `kvs`."""
        if self.expected < 0:
            return not kvs
        if not kvs:
            return False
        return self.expected == 0 or kvs[0].mod_revision == self.expected >> SUB_BITS

    def applied_before(self, kvs: Any) -> bool:
        """Whether `kvs` is this very write, applied by an attempt that failed (ambiguous retry)."""
        if not kvs or kvs[0].value != self.stored:
            return False
        if self.expected < 0:
            return bool(kvs[0].mod_revision == kvs[0].create_revision)
        return bool(kvs[0].mod_revision > self.expected >> SUB_BITS)

    def error(self, kvs: Any) -> Exception:
        if self.expected < 0:
            return KeyExistsError(self.name)
        if not kvs:
            return KeyNotFoundError(self.name)
        return ConflictError(self.name, self.expected, _kv(kvs[0], self.name))


#: (a module-level name: inside EtcdStore, `list` is the method)
_Batch = list[_Write]
_States = list[Any]


def _prefix_end(prefix: bytes) -> bytes:
    """etcd's range end for `prefix`: the prefix with its last byte below 0xff incremented."""
    p = bytearray(prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return b"\x00"  # every key


async def _grpc_target(endpoints: list[tuple[str, int]]) -> str:
    """One gRPC target naming every member (ipv4:a:p,b:p), resolving host names once."""
    loop = asyncio.get_running_loop()
    v4: list[str] = []
    v6: list[str] = []
    for host, port in endpoints:
        try:
            ip = ipaddress.ip_address(host)
            addrs = [str(ip)]
        except ValueError:
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as e:
                raise StoreUnavailableError(f"cannot resolve etcd endpoint {host}: {e}") from None
            addrs = list(dict.fromkeys(str(i[4][0]) for i in infos))
        for a in addrs:
            if ":" in a:
                v6.append(f"[{a}]:{port}")
            else:
                v4.append(f"{a}:{port}")
    return "ipv4:" + ",".join(v4) if v4 else "ipv6:" + ",".join(v6)


class EtcdStore:
    def __init__(self, endpoints: list[tuple[str, int]], channel: grpc.aio.Channel, retry_for: float) -> None:
        self.endpoints = endpoints
        self._channel = channel
        self._kv = rpc.KVStub(channel)
        self._watch_stub = rpc.WatchStub(channel)
        self._retry_for = retry_for
        self._closed = asyncio.Event()
        #: writes waiting for a transaction, in arrival order
        self._pending: deque[_Write] = deque()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._flush_soon = False

    @classmethod
    async def open(
        cls, endpoints: list[tuple[str, int]], retry_for: float = 10.0, connect_timeout: float = 5.0,
        compact_interval: float = 60.0,
    ) -> EtcdStore:
        """Connect and check that the cluster answers; StoreUnavailableError if it does not.

        Every `compact_interval` seconds (0: never) the store compacts etcd's history up to the
        revision that was current one interval earlier, as kube-apiserver does: etcd keeps every
        version of every key until someone compacts, its memory grows with its database, and
        past its quota (2 GiB by default) it refuses writes. kube-apiserver compacts every 5
        minutes; kubelite every minute by default: the history is only read by the API server's
        own watch, seconds behind (clients resume from its watch cache), and at 150,000 pods
        five to ten minutes of versions took etcd past 4 GiB. Several kubelite servers on one
        etcd each do this; compacting at a revision already compacted is a no-op."""
        target = await _grpc_target(endpoints)
        channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
        store = cls(endpoints, channel, retry_for)
        names = ",".join(f"{h}:{p}" for h, p in endpoints)
        try:
            await asyncio.wait_for(
                store._kv.Range(rpc.RangeRequest(key=b"\x00", count_only=True), wait_for_ready=True),
                connect_timeout,
            )
        except (TimeoutError, grpc.aio.AioRpcError) as e:
            await channel.close()
            detail = (
                e.details() if isinstance(e, grpc.aio.AioRpcError) else f"no answer in {connect_timeout}s"
            )
            raise StoreUnavailableError(f"cannot reach etcd at {names}: {detail}") from None
        if compact_interval > 0:
            store._compactor = asyncio.get_running_loop().create_task(store._compact_loop(compact_interval))
        return store

    _compactor: asyncio.Task[None] | None = None

    async def _compact_loop(self, interval: float) -> None:
        previous = 0
        while True:
            await asyncio.sleep(interval)
            try:
                if previous:
                    await self.compact(previous)
                previous = await self.current_revision()
            except StoreUnavailableError:
                pass  # etcd away: writes report it; try again next round

    async def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            if self._compactor is not None:
                self._compactor.cancel()
            while self._pending:
                w = self._pending.popleft()
                if not w.future.done():
                    w.future.set_exception(StoreUnavailableError("etcd store is closed"))
            await self._channel.close()

    # -- calling etcd ----------------------------------------------------------------------------

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        return (await self._call_counting(what, fn))[0]

    async def _call_counting(self, what: str, fn: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        """Run one RPC, retrying while the cluster is unavailable (member down, election).

        Returns the result and how many attempts failed before it: a write retried after a
        failure may have been applied by the attempt that failed.
        """
        if self._closed.is_set():
            raise StoreUnavailableError("etcd store is closed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_for
        try:  # the common case, without the retry loop's bookkeeping
            return await fn(), 0
        except grpc.aio.AioRpcError as e:
            code, detail = e.code(), e.details() or ""
            if code not in _RETRYABLE or loop.time() >= deadline or self._closed.is_set():
                raise self._error(what, code, detail) from None
        await asyncio.sleep(0.02)
        delay = 0.04
        failures = 1
        while True:
            try:
                return await fn(), failures
            except grpc.aio.AioRpcError as e:
                code, detail = e.code(), e.details() or ""
                if code in _RETRYABLE and loop.time() < deadline and not self._closed.is_set():
                    failures += 1
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                raise self._error(what, code, detail) from None

    def _error(self, what: str, code: grpc.StatusCode, detail: str) -> Exception:
        if "request is too large" in detail:
            return ValueTooLargeError(what, -1)
        if "future revision" in detail:
            return FutureRevisionError(f"{what}: {detail}")
        if "compacted" in detail:
            return CompactedError(-1, -1, -1)
        return StoreUnavailableError(f"etcd {what}: {code.name}: {detail}")

    async def _range(self, req: Any) -> Any:
        return await self._call("range", lambda: self._kv.Range(req, timeout=READ_TIMEOUT))

    async def _txn(self, what: str, req: Any) -> tuple[Any, int]:
        return await self._call_counting(what, lambda: self._kv.Txn(req, timeout=WRITE_TIMEOUT))

    # -- reads -----------------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        check_key(key)
        resp = await self._range(rpc.RangeRequest(key=key.encode()))
        return _kv(resp.kvs[0], key) if resp.kvs else None

    async def list(
        self, prefix: str, limit: int = 0, start_after: str | None = None, revision: int = 0
    ) -> ListResult:
        check_list_args(prefix, limit, start_after, revision)
        p = prefix.encode()
        start = p or b"\x00"
        if start_after is not None:
            start = max(start, start_after.encode() + b"\x00")
        at = max(_etcd_at(revision), 1) if revision else 0
        req = rpc.RangeRequest(key=start, range_end=_prefix_end(p), limit=limit, revision=at)
        try:
            resp = await self._range(req)
        except CompactedError:
            raise CompactedError(
                revision, await self.compacted_revision(), await self.current_revision()
            ) from None
        items = [_kv(kv) for kv in resp.kvs]
        more = items[-1].key if resp.more and items else None
        return ListResult(items, _revision(at or resp.header.revision), more)

    async def count(self, prefix: str) -> int:
        check_key(prefix, "prefix")
        p = prefix.encode()
        resp = await self._range(
            rpc.RangeRequest(key=p or b"\x00", range_end=_prefix_end(p), count_only=True)
        )
        return int(resp.count)

    async def current_revision(self) -> int:
        resp = await self._range(rpc.RangeRequest(key=b"\x00", count_only=True))
        return max(_revision(int(resp.header.revision)), INITIAL_REVISION)

    async def compacted_revision(self) -> int:
        """etcd has no call for this (HashKV has, but hashes the whole keyspace): find the oldest
        revision a Range still accepts by bisection, starting from the last answer (it only grows)."""
        lo = self._known_compact
        hi = (await self.current_revision()) >> SUB_BITS  # answer in [lo, hi]
        while lo < hi:
            mid = (lo + hi) // 2
            try:
                await self._range(rpc.RangeRequest(key=b"\x00", count_only=True, revision=max(mid, 1)))
                hi = mid
            except CompactedError:
                lo = mid + 1
        self._known_compact = lo
        return _revision(lo) if lo > 1 else 0

    _known_compact = 0

    # -- writes ----------------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> int:
        check_key(key)
        check_value(key, value)
        return await self._write(key, value, -1)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        check_key(key)
        check_value(key, value)
        check_int(expected_revision, "expected_revision")
        return await self._write(key, value, expected_revision)

    def _write(self, key: str, value: bytes, expected: int) -> asyncio.Future[int]:
        if self._closed.is_set():
            raise StoreUnavailableError("etcd store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._pending.append(_Write(key, value, expected, future))
        if not self._flush_soon:
            self._flush_soon = True
            loop.call_soon(self._flush)  # the writes of this loop turn go together
        return future

    def _flush(self) -> None:
        """Start transactions for the waiting writes, while fewer than MAX_IN_FLIGHT are out."""
        self._flush_soon = False
        while self._pending and len(self._in_flight) < MAX_IN_FLIGHT:
            batch = self._take_batch()
            if not batch:
                break
            task = asyncio.get_running_loop().create_task(self._commit(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._committed)

    def _committed(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._pending and not self._flush_soon:
            self._flush()

    def _take_batch(self) -> _Batch:
        """The oldest waiting writes, one per key (etcd refuses a key twice in a transaction),
        within MAX_BATCH and BATCH_BYTES; a write whose caller gave up is dropped unsent."""
        batch: _Batch = []
        keys: set[bytes] = set()
        size = 0
        later: _Batch = []
        pending = self._pending
        while pending and len(batch) < MAX_BATCH:
            w = pending.popleft()
            if w.future.done():
                continue
            if w.key in keys:
                later.append(w)
                continue
            if batch and size + len(w.value) > BATCH_BYTES:
                pending.appendleft(w)
                break
            batch.append(w)
            keys.add(w.key)
            size += len(w.value)
        pending.extendleft(reversed(later))
        return batch

    async def _commit(self, batch: _Batch) -> None:
        try:
            await self._commit_once(batch)
        except Exception as e:  # unavailable, closed: every write of the batch gets it
            for w in batch:
                if not w.future.done():
                    w.future.set_exception(e)

    async def _commit_once(self, batch: _Batch) -> None:
        # Built by assigning fields: passing nested messages as constructor keywords
        # (Compare(...), RequestOp(request_put=PutRequest(...))) copies every submessage and
        # costs ~6x more CPU per write (measured ~37 vs ~6 us).
        req = rpc.TxnRequest()
        n = len(batch)
        for i, w in enumerate(batch):
            w.place = _LAST - (n - 1 - i)  # the last write at _LAST
            w.stored = _stored(w.value, w.place)
            cmp = req.compare.add()
            cmp.key = w.key
            if w.expected < 0:
                cmp.target, cmp.result, cmp.create_revision = _CMP_CREATE, _CMP_EQUAL, 0
            elif w.expected == 0:
                cmp.target, cmp.result, cmp.create_revision = _CMP_CREATE, _CMP_GREATER, 0
            else:
                cmp.target, cmp.result, cmp.mod_revision = _CMP_MOD, _CMP_EQUAL, w.expected >> SUB_BITS
            put = req.success.add().request_put
            put.key = w.key
            put.value = w.stored
            req.failure.add().request_range.key = w.key
        resp, failures = await self._txn(batch[0].name if n == 1 else f"{n} writes", req)
        if resp.succeeded:
            self._answer(batch, int(resp.header.revision))
            return
        states: _States = [r.response_range.kvs for r in resp.responses]
        if failures and self._applied_before(batch, states):
            return
        again: _Batch = []
        for w, kvs in zip(batch, states, strict=True):
            if w.future.done():
                continue
            if w.holds(kvs):
                again.append(w)  # another write's compare failed, not this one's
            else:
                w.future.set_exception(w.error(kvs))
        self._pending.extendleft(reversed(again))

    @staticmethod
    def _applied_before(batch: _Batch, states: _States) -> bool:
        """A retried transaction is ambiguous: the attempt that failed may have been applied.
        It was if every key now holds exactly this batch's bytes at one revision."""
        if not all(w.applied_before(kvs) for w, kvs in zip(batch, states, strict=True)):
            return False
        revs = {kvs[0].mod_revision for kvs in states}
        if len(revs) != 1:
            return False
        EtcdStore._answer(batch, revs.pop())
        return True

    @staticmethod
    def _answer(batch: _Batch, etcd_revision: int) -> None:
        """The batch was applied at `etcd_revision`: each write's revision is there at its place."""
        for w in batch:
            if not w.future.done():
                w.future.set_result(_revision(etcd_revision, w.place))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Alone in its transaction (a delete event carries no value to put its place in)."""
        check_key(key)
        check_int(expected_revision, "expected_revision")
        k = key.encode()
        req = rpc.TxnRequest()
        cmp = req.compare.add()
        cmp.key = k
        if expected_revision:
            cmp.target, cmp.result, cmp.mod_revision = _CMP_MOD, _CMP_EQUAL, expected_revision >> SUB_BITS
        else:
            cmp.target, cmp.result, cmp.create_revision = _CMP_CREATE, _CMP_GREATER, 0
        dele = req.success.add().request_delete_range
        dele.key = k
        dele.prev_kv = True
        req.failure.add().request_range.key = k
        resp, _ = await self._txn(key, req)
        if resp.succeeded:
            prev = resp.responses[0].response_delete_range.prev_kvs[0]
            return KeyValue(key, _unpack(prev.value)[0], _revision(int(resp.header.revision)),
                            _revision(prev.create_revision))
        kvs = resp.responses[0].response_range.kvs
        if not kvs:
            raise KeyNotFoundError(key)
        raise ConflictError(key, expected_revision, _kv(kvs[0], key))

    async def compact(self, revision: int) -> None:
        check_int(revision, "revision")
        at = _etcd_at(revision)
        if at <= 0:
            return
        try:
            await self._call(
                "compact",
                lambda: self._kv.Compact(rpc.CompactionRequest(revision=at), timeout=WRITE_TIMEOUT),
            )
        except CompactedError:
            pass  # already compacted at or past `revision`: nothing to do

    # -- watch -----------------------------------------------------------------------------------

    def watch(self, prefix: str, after_revision: int, *, prev: bool = True) -> AsyncIterator[Event]:
        """`prev=False` leaves out etcd's prev_kv: etcd reads the key's previous version for
        every event it sends with it (a Range each) and sends both values."""
        check_key(prefix, "prefix")
        check_int(after_revision, "after_revision")
        if self._closed.is_set():
            raise StoreUnavailableError("etcd store is closed")
        return self._watch(prefix, after_revision, prev)

    async def _watch(self, prefix: str, after_revision: int, prev: bool) -> AsyncIterator[Event]:
        p = prefix.encode()
        key, end = p or b"\x00", _prefix_end(p)
        last = after_revision
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_for
        delay = 0.02
        while not self._closed.is_set():
            # from the transaction holding the first revision after `last` (events up to `last`
            # in it are skipped below)
            start = max((last + 1) >> SUB_BITS, 1)
            create = rpc.WatchCreateRequest(key=key, range_end=end, start_revision=start, prev_kv=prev)
            call = self._watch_stub.Watch(self._watch_requests(rpc.WatchRequest(create_request=create)))
            try:
                async for resp in call:
                    if resp.compact_revision:
                        current = await self.current_revision()
                        raise CompactedError(last, _revision(int(resp.compact_revision)), current)
                    if resp.canceled:
                        raise StoreUnavailableError(f"etcd cancelled the watch: {resp.cancel_reason}")
                    deadline, delay = loop.time() + self._retry_for, 0.02  # healthy again
                    for e in resp.events:
                        ev = self._event(e)
                        if ev.revision > last:
                            last = ev.revision
                            yield ev
            except asyncio.CancelledError:
                # Closing the channel cancels the call; only a cancellation of this task itself
                # must propagate.
                task = asyncio.current_task()
                if self._closed.is_set() and (task is None or task.cancelling() == 0):
                    return
                raise
            except grpc.aio.AioRpcError as e:
                if self._closed.is_set():
                    return
                if e.code() not in _RETRYABLE or loop.time() > deadline:
                    raise StoreUnavailableError(
                        f"etcd watch on {prefix!r}: {e.code().name}: {e.details()}"
                    ) from None
            finally:
                call.cancel()
            # The stream broke (member died) or ended: reopen after `last`, on any live member.
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _watch_requests(self, create: Any) -> AsyncIterator[Any]:
        yield create
        await self._closed.wait()  # keep the request side open for the life of the watch

    @staticmethod
    def _event(e: Any) -> Event:
        kv = e.kv
        key = kv.key.decode("utf-8", "replace")
        prev = _unpack(e.prev_kv.value)[0] if e.HasField("prev_kv") else None
        if e.type == _EV_DELETE:
            crev = _revision(e.prev_kv.create_revision) if prev is not None else 0
            old = prev if prev is not None else b""
            return Event(EventType.DELETE, key, old, old, _revision(kv.mod_revision), crev)
        value, place = _unpack(kv.value)
        return Event(
            EventType.PUT, key, value, prev, _revision(kv.mod_revision, place), _revision(kv.create_revision)
        )
