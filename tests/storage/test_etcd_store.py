"""The etcd backend's own behaviour: grouped writes with one revision each, and compaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kubelite.storage import CompactedError, ConflictError, EventType, KeyExistsError, open_store
from kubelite.storage.etcd import SUB_BITS, EtcdStore
from kubelite.testing.etcd import EtcdCluster


@pytest.fixture
async def etcd(etcd_cluster: EtcdCluster) -> AsyncIterator[EtcdStore]:
    store = await open_store(etcd_cluster.url)
    assert isinstance(store, EtcdStore)
    try:
        yield store
    finally:
        await store.close()


async def test_writes_made_together_share_transactions_but_not_revisions(etcd: EtcdStore, prefix: str) -> None:
    before = await etcd.current_revision()
    watch = etcd.watch(prefix, before)
    revs = await asyncio.gather(*(etcd.create(f"{prefix}k{i:02}", f"v{i}".encode()) for i in range(50)))
    assert len(set(revs)) == 50 and min(revs) > before
    # grouped: far fewer etcd transactions than writes
    assert (max(revs) >> SUB_BITS) - (before >> SUB_BITS) < 25
    # a read gives each value with the very revision its write returned
    for i, rev in enumerate(revs):
        kv = await etcd.get(f"{prefix}k{i:02}")
        assert kv is not None and (kv.value, kv.mod_revision) == (f"v{i}".encode(), rev)
    listed = await etcd.list(prefix)
    assert [(kv.key, kv.mod_revision) for kv in listed.items] == [(f"{prefix}k{i:02}", r) for i, r in enumerate(revs)]
    assert listed.revision >= max(revs)
    # the watch sees the same revisions, in order, with the values as written
    events = [await asyncio.wait_for(anext(watch), 10) for _ in range(50)]
    assert [(e.key, e.value, e.revision) for e in events] == sorted(
        ((f"{prefix}k{i:02}", f"v{i}".encode(), r) for i, r in enumerate(revs)), key=lambda t: t[2]
    )
    await watch.aclose()  # type: ignore[attr-defined]


async def test_a_watch_resumed_inside_a_transaction_gets_the_rest_of_it(etcd: EtcdStore, prefix: str) -> None:
    revs = sorted(await asyncio.gather(*(etcd.create(f"{prefix}k{i}", b"v") for i in range(10))))
    same_txn = [r for r in revs if r >> SUB_BITS == revs[0] >> SUB_BITS]
    assert len(same_txn) > 1, "the creates were expected to share a transaction"
    resumed = etcd.watch(prefix, same_txn[0])  # as a client that saw only the first event would
    got = [await asyncio.wait_for(anext(resumed), 10) for _ in range(len(revs) - 1)]
    assert [e.revision for e in got] == revs[1:]
    await resumed.aclose()  # type: ignore[attr-defined]
    # a list "at" a revision inside the transaction shows the state before it, and says so
    inside = await etcd.list(prefix, revision=same_txn[0])
    assert inside.items == [] and inside.revision < revs[0]


async def test_one_failing_write_does_not_fail_the_others_sent_with_it(etcd: EtcdStore, prefix: str) -> None:
    r = await etcd.create(prefix + "cas", b"0")
    await etcd.update(prefix + "cas", b"1", r)  # r is now stale
    await etcd.create(prefix + "taken", b"t")
    results = await asyncio.gather(
        *(etcd.create(f"{prefix}n{i:02}", b"n") for i in range(20)),
        etcd.update(prefix + "cas", b"stale", r),
        etcd.create(prefix + "taken", b"again"),
        return_exceptions=True,
    )
    assert all(isinstance(x, int) for x in results[:20])
    conflict, exists = results[20], results[21]
    assert isinstance(conflict, ConflictError) and conflict.current is not None
    assert conflict.current.value == b"1"
    assert isinstance(exists, KeyExistsError)
    assert (await etcd.count(prefix)) == 22
    taken = await etcd.get(prefix + "taken")
    assert taken is not None and taken.value == b"t"


async def test_values_that_look_like_the_place_header_round_trip(etcd: EtcdStore, prefix: str) -> None:
    odd = b"\xffkl\x07payload"
    revs = await asyncio.gather(etcd.create(prefix + "a", odd), etcd.create(prefix + "b", odd), etcd.create(prefix + "c", odd))
    watch = etcd.watch(prefix, min(revs) - 1)
    for name, rev in zip("abc", revs, strict=True):
        kv = await etcd.get(prefix + name)
        assert kv is not None and (kv.value, kv.mod_revision) == (odd, rev)
    events = [await asyncio.wait_for(anext(watch), 10) for _ in range(3)]
    assert {(e.type, e.value) for e in events} == {(EventType.PUT, odd)}
    await watch.aclose()  # type: ignore[attr-defined]
    deleted = await etcd.delete(prefix + "a")
    assert deleted.value == odd


async def test_history_is_compacted_an_interval_behind(etcd_cluster: EtcdCluster, prefix: str) -> None:
    store = await EtcdStore.open([("127.0.0.1", etcd_cluster.members[0].client_port)], compact_interval=0.3)
    try:
        first = await store.create(prefix + "a", b"1")
        for i in range(5):
            await store.update(prefix + "a", str(i).encode(), 0)
        # first tick records the current revision, the next compacts up to it
        for _ in range(100):
            if await store.compacted_revision() >= first:
                break
            await asyncio.sleep(0.1)
        assert await store.compacted_revision() >= first
        with pytest.raises(CompactedError):
            await store.list(prefix, revision=first)
        kv = await store.get(prefix + "a")
        assert kv is not None and kv.value == b"4"  # the latest state stays
    finally:
        await store.close()


async def test_a_watch_without_previous_values_has_the_same_events(etcd: EtcdStore, prefix: str) -> None:
    start = await etcd.current_revision()
    r1 = await etcd.create(prefix + "a", b"1")
    r2 = await etcd.update(prefix + "a", b"2", r1)
    gone = await etcd.delete(prefix + "a", r2)
    full, lean = etcd.watch(prefix, start), etcd.watch(prefix, start, prev=False)
    with_prev = [await asyncio.wait_for(anext(full), 10) for _ in range(3)]
    without = [await asyncio.wait_for(anext(lean), 10) for _ in range(3)]
    assert [(e.type, e.key, e.revision) for e in without] == [(e.type, e.key, e.revision) for e in with_prev]
    assert [e.revision for e in without] == [r1, r2, gone.mod_revision]
    assert [e.value for e in without[:2]] == [b"1", b"2"]
    assert with_prev[1].prev_value == b"1" and with_prev[2].value == b"2"
    # left out: what came before each write
    assert without[1].prev_value is None and without[2].value == b""
    await full.aclose()  # type: ignore[attr-defined]
    await lean.aclose()  # type: ignore[attr-defined]
