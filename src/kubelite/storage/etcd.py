"""EtcdStore: the Store protocol on an etcd v3 cluster (the HA datastore).

Revisions are etcd's own: a KeyValue's mod_revision is etcd's mod_revision, so resourceVersions
mean the same thing whichever kubelite server wrote them. Create is a transaction "create
revision == 0 then put", update and delete compare the mod revision, a list is one Range at a
revision, a watch is an etcd watch from after_revision + 1 with prev_kv, compaction is etcd's.

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


def _txn_request(k: bytes, target: int, result: int, revision: int) -> Any:
    """A TxnRequest "compare on `k`, else read `k`", without its success op.

    Built by assigning fields: passing nested messages as constructor keywords (Compare(...),
    RequestOp(request_put=PutRequest(...))) copies every submessage and costs ~6x more CPU
    per write (measured ~37 vs ~6 us), a visible part of an etcd write's cost in this process.
    """
    req = rpc.TxnRequest()
    cmp = req.compare.add()
    cmp.key = k
    cmp.target = target
    cmp.result = result
    if target == _CMP_MOD:
        cmp.mod_revision = revision
    else:
        cmp.create_revision = revision
    req.failure.add().request_range.key = k
    return req


def _prefix_end(prefix: bytes) -> bytes:
    """etcd's range end for `prefix`: the prefix with its last byte below 0xff incremented."""
    p = bytearray(prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return b"\x00"  # every key


def _kv(kv: Any) -> KeyValue:
    return KeyValue(kv.key.decode("utf-8", "replace"), kv.value, kv.mod_revision, kv.create_revision)


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

    @classmethod
    async def open(
        cls, endpoints: list[tuple[str, int]], retry_for: float = 10.0, connect_timeout: float = 5.0
    ) -> EtcdStore:
        """Connect and check that the cluster answers; StoreUnavailableError if it does not."""
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
        return store

    async def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
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
        if not resp.kvs:
            return None
        kv = resp.kvs[0]
        return KeyValue(key, kv.value, kv.mod_revision, kv.create_revision)

    async def list(
        self, prefix: str, limit: int = 0, start_after: str | None = None, revision: int = 0
    ) -> ListResult:
        check_list_args(prefix, limit, start_after, revision)
        p = prefix.encode()
        start = p or b"\x00"
        if start_after is not None:
            start = max(start, start_after.encode() + b"\x00")
        req = rpc.RangeRequest(key=start, range_end=_prefix_end(p), limit=limit, revision=revision)
        try:
            resp = await self._range(req)
        except CompactedError:
            raise CompactedError(
                revision, await self.compacted_revision(), await self.current_revision()
            ) from None
        items = [_kv(kv) for kv in resp.kvs]
        more = items[-1].key if resp.more and items else None
        return ListResult(items, revision or resp.header.revision, more)

    async def count(self, prefix: str) -> int:
        check_key(prefix, "prefix")
        p = prefix.encode()
        resp = await self._range(
            rpc.RangeRequest(key=p or b"\x00", range_end=_prefix_end(p), count_only=True)
        )
        return int(resp.count)

    async def current_revision(self) -> int:
        resp = await self._range(rpc.RangeRequest(key=b"\x00", count_only=True))
        return max(int(resp.header.revision), INITIAL_REVISION)

    async def compacted_revision(self) -> int:
        """etcd has no call for this (HashKV has, but hashes the whole keyspace): find the oldest
        revision a Range still accepts by bisection, starting from the last answer (it only grows)."""
        lo, hi = self._known_compact, await self.current_revision()  # answer in [lo, hi]
        while lo < hi:
            mid = (lo + hi) // 2
            try:
                await self._range(rpc.RangeRequest(key=b"\x00", count_only=True, revision=max(mid, 1)))
                hi = mid
            except CompactedError:
                lo = mid + 1
        self._known_compact = lo
        return lo if lo > 1 else 0

    _known_compact = 0

    # -- writes ----------------------------------------------------------------------------------

    @staticmethod
    def _txn_exists(k: bytes, expected: int) -> Any:
        """Compare "mod revision == expected", or "the key exists" when expected is 0."""
        if expected:
            return _txn_request(k, _CMP_MOD, _CMP_EQUAL, expected)
        return _txn_request(k, _CMP_CREATE, _CMP_GREATER, 0)

    async def create(self, key: str, value: bytes) -> int:
        check_key(key)
        check_value(key, value)
        k = key.encode()
        req = _txn_request(k, _CMP_CREATE, _CMP_EQUAL, 0)
        put = req.success.add().request_put
        put.key = k
        put.value = value
        resp, failures = await self._txn(key, req)
        if resp.succeeded:
            return int(resp.header.revision)
        kvs = resp.responses[0].response_range.kvs
        # A retried attempt is ambiguous: the failed one may have been applied. If the key now
        # holds exactly our bytes, never modified since, that is our own create.
        if failures and kvs and kvs[0].value == value and kvs[0].mod_revision == kvs[0].create_revision:
            return int(kvs[0].mod_revision)
        raise KeyExistsError(key)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        check_key(key)
        check_value(key, value)
        check_int(expected_revision, "expected_revision")
        k = key.encode()
        req = self._txn_exists(k, expected_revision)
        put = req.success.add().request_put
        put.key = k
        put.value = value
        resp, failures = await self._txn(key, req)
        if resp.succeeded:
            return int(resp.header.revision)
        kvs = resp.responses[0].response_range.kvs
        if not kvs:
            raise KeyNotFoundError(key)
        if failures and kvs[0].value == value and kvs[0].mod_revision > expected_revision:
            return int(kvs[0].mod_revision)  # our own update, applied by the attempt that failed
        raise ConflictError(key, expected_revision, _kv(kvs[0]))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        check_key(key)
        check_int(expected_revision, "expected_revision")
        k = key.encode()
        req = self._txn_exists(k, expected_revision)
        dele = req.success.add().request_delete_range
        dele.key = k
        dele.prev_kv = True
        resp, _ = await self._txn(key, req)
        if resp.succeeded:
            prev = resp.responses[0].response_delete_range.prev_kvs[0]
            return KeyValue(key, prev.value, int(resp.header.revision), prev.create_revision)
        kvs = resp.responses[0].response_range.kvs
        if not kvs:
            raise KeyNotFoundError(key)
        raise ConflictError(key, expected_revision, _kv(kvs[0]))

    async def compact(self, revision: int) -> None:
        check_int(revision, "revision")
        if revision <= 0:
            return
        try:
            await self._call(
                "compact",
                lambda: self._kv.Compact(rpc.CompactionRequest(revision=revision), timeout=WRITE_TIMEOUT),
            )
        except CompactedError:
            pass  # already compacted at or past `revision`: nothing to do

    # -- watch -----------------------------------------------------------------------------------

    def watch(self, prefix: str, after_revision: int) -> AsyncIterator[Event]:
        check_key(prefix, "prefix")
        check_int(after_revision, "after_revision")
        if self._closed.is_set():
            raise StoreUnavailableError("etcd store is closed")
        return self._watch(prefix, after_revision)

    async def _watch(self, prefix: str, after_revision: int) -> AsyncIterator[Event]:
        p = prefix.encode()
        key, end = p or b"\x00", _prefix_end(p)
        last = after_revision
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_for
        delay = 0.02
        while not self._closed.is_set():
            create = rpc.WatchCreateRequest(key=key, range_end=end, start_revision=last + 1, prev_kv=True)
            call = self._watch_stub.Watch(self._watch_requests(rpc.WatchRequest(create_request=create)))
            try:
                async for resp in call:
                    if resp.compact_revision:
                        current = await self.current_revision()
                        raise CompactedError(last, int(resp.compact_revision), current)
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
        prev = e.prev_kv if e.HasField("prev_kv") else None
        if e.type == _EV_DELETE:
            old = prev.value if prev is not None else b""
            crev = prev.create_revision if prev is not None else 0
            return Event(EventType.DELETE, key, old, old, kv.mod_revision, crev)
        return Event(
            EventType.PUT,
            key,
            kv.value,
            prev.value if prev is not None else None,
            kv.mod_revision,
            kv.create_revision,
        )
