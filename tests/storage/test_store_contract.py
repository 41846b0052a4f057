"""The Store contract, run against memory, SQLite and a real etcd (the `store` fixture)."""

from __future__ import annotations

import asyncio

import pytest

from kubelite.storage import (
    MAX_VALUE_BYTES,
    CompactedError,
    ConflictError,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    Store,
    ValueTooLargeError,
)


async def test_create_then_get_returns_value_with_its_revision(store: Store, prefix: str) -> None:
    before = await store.current_revision()
    assert before >= 1
    rev = await store.create(prefix + "a", b"one")
    assert rev > before
    kv = await store.get(prefix + "a")
    assert kv is not None
    assert (kv.key, kv.value, kv.mod_revision, kv.create_revision) == (prefix + "a", b"one", rev, rev)
    assert await store.current_revision() == rev
    assert await store.get(prefix + "missing") is None


async def test_create_refuses_an_existing_key(store: Store, prefix: str) -> None:
    await store.create(prefix + "a", b"one")
    with pytest.raises(KeyExistsError):
        await store.create(prefix + "a", b"two")
    kv = await store.get(prefix + "a")
    assert kv is not None and kv.value == b"one"


async def test_update_is_compare_and_swap_on_mod_revision(store: Store, prefix: str) -> None:
    r1 = await store.create(prefix + "a", b"v1")
    r2 = await store.update(prefix + "a", b"v2", r1)
    assert r2 > r1
    with pytest.raises(ConflictError) as err:
        await store.update(prefix + "a", b"stale", r1)
    assert err.value.current is not None and err.value.current.mod_revision == r2
    r3 = await store.update(prefix + "a", b"v3", 0)  # unconditional
    kv = await store.get(prefix + "a")
    assert kv is not None
    assert (kv.value, kv.mod_revision, kv.create_revision) == (b"v3", r3, r1)
    with pytest.raises(KeyNotFoundError):
        await store.update(prefix + "nope", b"x", 0)
    with pytest.raises(KeyNotFoundError):
        await store.update(prefix + "nope", b"x", r3)


async def test_delete_returns_the_deleted_value_at_the_delete_revision(store: Store, prefix: str) -> None:
    r1 = await store.create(prefix + "a", b"v1")
    with pytest.raises(ConflictError):
        await store.delete(prefix + "a", r1 + 1000)
    kv = await store.delete(prefix + "a", r1)
    assert kv.value == b"v1" and kv.mod_revision > r1 and kv.create_revision == r1
    assert await store.get(prefix + "a") is None
    with pytest.raises(KeyNotFoundError):
        await store.delete(prefix + "a")
    r2 = await store.create(prefix + "a", b"again")
    again = await store.get(prefix + "a")
    assert again is not None and again.create_revision == r2 > kv.mod_revision


async def test_list_is_prefix_scoped_sorted_and_pages_at_one_revision(store: Store, prefix: str) -> None:
    for name in ["c", "a", "b", "d"]:
        await store.create(prefix + "x/" + name, name.encode())
    await store.create(prefix + "xy", b"not under x/")
    everything = await store.list(prefix + "x/")
    assert [kv.key for kv in everything.items] == [prefix + "x/" + n for n in "abcd"]
    assert everything.more_after is None
    assert everything.revision == await store.current_revision()
    assert await store.count(prefix + "x/") == 4
    assert await store.count(prefix) == 5

    page1 = await store.list(prefix + "x/", limit=2)
    assert [kv.value for kv in page1.items] == [b"a", b"b"] and page1.more_after == prefix + "x/b"
    # a write between pages is not seen by a continuation at the first page's revision
    await store.delete(prefix + "x/c")
    await store.create(prefix + "x/e", b"e")
    page2 = await store.list(prefix + "x/", limit=2, start_after=page1.more_after, revision=page1.revision)
    assert [kv.value for kv in page2.items] == [b"c", b"d"]
    assert page2.revision == page1.revision
    latest = await store.list(prefix + "x/", start_after=page1.more_after)
    assert [kv.value for kv in latest.items] == [b"d", b"e"]


async def test_list_at_an_old_revision_shows_the_state_then(store: Store, prefix: str) -> None:
    r1 = await store.create(prefix + "a", b"a1")
    await store.create(prefix + "b", b"b1")
    snapshot = await store.current_revision()
    await store.update(prefix + "a", b"a2", r1)
    await store.delete(prefix + "b")
    await store.create(prefix + "c", b"c1")
    old = await store.list(prefix, revision=snapshot)
    assert [(kv.key, kv.value) for kv in old.items] == [(prefix + "a", b"a1"), (prefix + "b", b"b1")]
    assert old.revision == snapshot
    now = await store.list(prefix)
    assert [(kv.key, kv.value) for kv in now.items] == [(prefix + "a", b"a2"), (prefix + "c", b"c1")]
    with pytest.raises(FutureRevisionError):
        await store.list(prefix, revision=now.revision + 1000)


async def test_watch_replays_history_then_streams_live_changes(store: Store, prefix: str) -> None:
    start = await store.current_revision()
    r1 = await store.create(prefix + "a", b"1")
    await store.create(prefix.rstrip("/") + "-other/z", b"outside the prefix")
    r2 = await store.update(prefix + "a", b"2", r1)
    events = store.watch(prefix, start)
    first = await asyncio.wait_for(anext(events), 10)
    assert (first.type, first.key, first.value, first.prev_value, first.revision) == (
        EventType.PUT, prefix + "a", b"1", None, r1,
    )  # fmt: skip
    second = await asyncio.wait_for(anext(events), 10)
    assert (second.value, second.prev_value, second.revision) == (b"2", b"1", r2)
    deleted = await store.delete(prefix + "a")
    third = await asyncio.wait_for(anext(events), 10)
    assert (third.type, third.key, third.value, third.revision) == (
        EventType.DELETE, prefix + "a", b"2", deleted.mod_revision,
    )  # fmt: skip
    await events.aclose()  # type: ignore[attr-defined]


async def test_watch_from_now_sees_only_later_writes(store: Store, prefix: str) -> None:
    await store.create(prefix + "old", b"x")
    now = await store.current_revision()
    events = store.watch(prefix, now)
    rev = await store.create(prefix + "new", b"y")
    ev = await asyncio.wait_for(anext(events), 10)
    assert (ev.key, ev.revision) == (prefix + "new", rev)
    await events.aclose()  # type: ignore[attr-defined]


async def test_compaction_forgets_history_but_keeps_the_latest_state(store: Store, prefix: str) -> None:
    r = await store.create(prefix + "a", b"1")
    for i in range(5):
        r = await store.update(prefix + "a", str(i).encode(), r)
    older = await store.create(prefix + "b", b"b")
    gone = await store.create(prefix + "c", b"c")
    await store.delete(prefix + "c", gone)
    target = await store.current_revision()
    await store.update(prefix + "a", b"after", 0)
    await store.compact(target)
    assert await store.compacted_revision() == target
    # (revisions need not be consecutive: etcd's are not, so "before" is an earlier write's)
    with pytest.raises(CompactedError):
        await store.list(prefix, revision=older)
    with pytest.raises(CompactedError):
        await anext(store.watch(prefix, older))
    at_target = await store.list(prefix, revision=target)
    assert [(kv.key, kv.value) for kv in at_target.items] == [(prefix + "a", b"4"), (prefix + "b", b"b")]
    latest = await store.list(prefix)
    assert [kv.value for kv in latest.items] == [b"after", b"b"]
    await store.compact(target - 1)  # older than what is compacted already: a no-op
    assert await store.compacted_revision() == target


async def test_concurrent_writers_get_distinct_revisions(store: Store, prefix: str) -> None:
    revs = await asyncio.gather(*(store.create(f"{prefix}k{i:03}", b"v") for i in range(60)))
    assert len(set(revs)) == 60
    assert await store.count(prefix) == 60


async def test_concurrent_cas_on_one_key_has_exactly_one_winner(store: Store, prefix: str) -> None:
    r = await store.create(prefix + "a", b"0")
    results = await asyncio.gather(
        *(store.update(prefix + "a", str(i).encode(), r) for i in range(10)), return_exceptions=True
    )
    wins = [x for x in results if isinstance(x, int)]
    assert len(wins) == 1
    assert all(isinstance(x, ConflictError) for x in results if not isinstance(x, int))


async def test_values_up_to_the_limit_are_stored_and_larger_refused(store: Store, prefix: str) -> None:
    big = b"x" * MAX_VALUE_BYTES
    rev = await store.create(prefix + "big", big)
    kv = await store.get(prefix + "big")
    assert kv is not None and kv.value == big and kv.mod_revision == rev
    with pytest.raises(ValueTooLargeError):
        await store.create(prefix + "huge", big + b"x")
    with pytest.raises(ValueTooLargeError):
        await store.update(prefix + "big", big + b"x", rev)
    assert await store.get(prefix + "huge") is None


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get(1),
        lambda s: s.create("/k", "not bytes"),
        lambda s: s.create(b"/k", b"v"),
        lambda s: s.update("/k", b"v", "3"),
        lambda s: s.delete("/k", 1.5),
        lambda s: s.list(None),
        lambda s: s.list("/", limit="10"),
        lambda s: s.count(5),
        lambda s: s.compact("7"),
    ],
    ids=["get-int-key", "str-value", "bytes-key", "str-revision", "float-revision", "none-prefix",
         "str-limit", "int-prefix", "str-compact"],
)  # fmt: skip
async def test_wrong_types_raise_type_error_naming_the_argument(store: Store, call: object) -> None:
    with pytest.raises(TypeError, match="must be"):
        await call(store)  # type: ignore[operator]


async def test_bad_values_raise_value_error(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.create("", b"v")
    with pytest.raises(ValueError):
        await store.list("/", limit=-1)
    with pytest.raises(TypeError):
        store.watch(None, 0)  # type: ignore[arg-type]


async def test_watch_ends_when_the_store_closes(store: Store, prefix: str) -> None:
    events = store.watch(prefix, await store.current_revision())
    waiter = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.1)
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiter, 10)
