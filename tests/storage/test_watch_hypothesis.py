"""Watch correctness under random concurrent writes (hypothesis), on every backend.

A watcher started at revision R sees exactly the successful writes after R, in revision order,
none missing, none twice, with the right values and previous values; a watcher that starts
before the compacted revision gets CompactedError.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelite.storage import CompactedError, Event, EventType, Store, StoreError, open_store
from kubelite.storage import sqlite as sqlite_backend
from kubelite.testing.etcd import EtcdCluster

Op = tuple[str, int, bytes, bool]
ops_strategy = st.lists(
    st.tuples(
        st.sampled_from(["create", "update", "delete"]),
        st.integers(0, 3),
        st.binary(max_size=6),
        st.booleans(),  # compare-and-swap on the last revision seen (may be stale: a conflict)
    ),
    min_size=1,
    max_size=24,
)


async def run_case(store: Store, ops: list[Op], groups: list[int], split: int) -> None:
    prefix = f"/registry/h{uuid.uuid4().hex[:10]}/"
    start = await store.current_revision()
    live = store.watch(prefix, start)
    seen_rev: dict[int, int] = {}
    writes: list[tuple[int, EventType, str, bytes]] = []  # successful ones

    async def one(kind: str, k: int, value: bytes, cas: bool) -> None:
        key = f"{prefix}k{k}"
        expected = seen_rev.get(k, 0) if cas else 0
        try:
            if kind == "create":
                rev = await store.create(key, value)
                writes.append((rev, EventType.PUT, key, value))
            elif kind == "update":
                rev = await store.update(key, value, expected)
                writes.append((rev, EventType.PUT, key, value))
            else:
                kv = await store.delete(key, expected)
                rev = kv.mod_revision
                writes.append((rev, EventType.DELETE, key, kv.value))
            seen_rev[k] = rev
        except StoreError as e:
            assert type(e).__name__ in {"KeyExistsError", "KeyNotFoundError", "ConflictError"}, e

    chunks, i = [], 0
    for size in groups + [len(ops)]:
        if i < len(ops):
            chunks.append(ops[i : i + size])
            i += size
    split_at = split % (len(chunks) + 1)  # the watcher started later begins before this chunk
    split_rev = start
    for n, chunk in enumerate(chunks):
        if n == split_at:
            split_rev = await store.current_revision()
        await asyncio.gather(*(one(*op) for op in chunk))
    if split_at == len(chunks):
        split_rev = await store.current_revision()

    writes.sort()
    revs = [w[0] for w in writes]
    assert len(set(revs)) == len(revs), "every write has its own revision"

    # expected events with previous values, replaying the writes in revision order
    expected: list[Event] = []
    current: dict[str, bytes] = {}
    for rev, typ, key, value in writes:
        prev = current.get(key)
        if typ is EventType.PUT:
            current[key] = value
        else:
            current.pop(key, None)
        expected.append(Event(typ, key, value, prev, rev))

    async def take(stream: object, n: int) -> list[Event]:
        return [await asyncio.wait_for(anext(stream), 20) for _ in range(n)]  # type: ignore[call-overload]

    def shape(evs: list[Event]) -> list[tuple[object, ...]]:
        return [(e.type, e.key, e.value, e.prev_value, e.revision) for e in evs]

    assert shape(await take(live, len(expected))) == shape(expected)
    after = [e for e in expected if e.revision > split_rev]
    late = store.watch(prefix, split_rev)
    assert shape(await take(late, len(after))) == shape(after)
    # nothing extra or duplicated: the next event on both streams is a fresh sentinel write
    sentinel = await store.create(prefix + "sentinel", b"s")
    assert (await take(late, 1))[0].revision == sentinel
    assert (await take(live, 1))[0].revision == sentinel
    await live.aclose()  # type: ignore[attr-defined]
    await late.aclose()  # type: ignore[attr-defined]

    await store.create(prefix + "sentinel2", b"s")
    now = await store.current_revision()
    await store.compact(now)
    with pytest.raises(CompactedError):  # from before the sentinel: its event is compacted away
        await anext(store.watch(prefix, start))


async def run_on(url: str, ops: list[Op], groups: list[int], split: int) -> None:
    store = await open_store(url)
    try:
        await run_case(store, ops, groups, split)
    finally:
        await store.close()


case = given(ops=ops_strategy, groups=st.lists(st.integers(1, 6), max_size=8), split=st.integers(0, 24))
few = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@few
@case
def test_watch_memory(ops: list[Op], groups: list[int], split: int) -> None:
    asyncio.run(run_on("memory://", ops, groups, split))


@few
@case
def test_watch_sqlite(ops: list[Op], groups: list[int], split: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(run_on(f"sqlite://{d}/state.db", ops, groups, split))


@few
@case
def test_watch_sqlite_reading_the_log_from_disk(ops: list[Op], groups: list[int], split: int) -> None:
    """A ring of 2 events forces late watchers onto the database read, then the live hand-over."""
    saved = sqlite_backend.RING_SIZE
    sqlite_backend.RING_SIZE = 2
    try:
        with tempfile.TemporaryDirectory() as d:
            asyncio.run(run_on(f"sqlite://{d}/state.db", ops, groups, split))
    finally:
        sqlite_backend.RING_SIZE = saved


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@case
def test_watch_etcd(etcd_cluster: EtcdCluster, ops: list[Op], groups: list[int], split: int) -> None:
    asyncio.run(run_on(etcd_cluster.url, ops, groups, split))
