"""The watch cache keeps stored bytes plus selection facts, not decoded objects (docs/apiserver.md,
"The watch cache"): what a watcher receives must be exactly what it received when the cache held
decoded dicts. These run the cache in process over a real MemoryStore, with the same encoder,
selector and fields functions as the server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from kubelite.api.resources import PODS
from kubelite.apiserver import adapters
from kubelite.apiserver.allocator import ServiceAllocator
from kubelite.apiserver.rest import Rest, encode_value, node_name_of
from kubelite.apiserver.watchcache import WatchCache, Watcher, decode
from kubelite.storage.memory import MemoryStore

PREFIX = PODS.storage_prefix()


def pod(name: str, node: str = "", phase: str = "Pending", app: str = "web") -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
                           "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                           "status": {"phase": phase}}
    if node:
        obj["spec"]["nodeName"] = node
    return obj


@pytest.fixture
async def env() -> AsyncIterator[tuple[MemoryStore, WatchCache, Rest]]:
    store = MemoryStore()
    cache = WatchCache(store, PREFIX, history_size=100, index_fn=node_name_of)
    await cache.start()
    rest = Rest(store, {PREFIX: cache}, ServiceAllocator())  # type: ignore[arg-type]
    try:
        yield store, cache, rest
    finally:
        await cache.stop()
        await store.close()


def watcher(rest: Rest, after: int, labels: str = "", fields: str = "", fmt: str = "json") -> Watcher:
    label_match, field_match = rest.selectors(PODS, {"labelSelector": labels, "fieldSelector": fields})
    return Watcher(namespace=None, label_match=label_match, field_match=field_match,
                   fields_of=rest.fields_fn(PODS), encode=rest._encoder(PODS, fmt, "Metadata"),
                   format_key=(PODS.api_version, fmt, "Metadata"), after=after)


async def settle(cache: WatchCache, store: MemoryStore) -> None:
    assert await cache.wait_for(await store.current_revision())


def lines(w: Watcher) -> list[tuple[str, dict[str, Any]]]:
    return [(e["type"], e["object"]) for e in map(orjson.loads, w.take())]


async def test_json_lines_are_the_stored_object_with_its_resource_version(env: Any) -> None:
    store, cache, rest = env
    start = await store.current_revision()
    rev = await store.create(PREFIX + "default/a", encode_value(pod("a")))
    await settle(cache, store)
    w = watcher(rest, start)
    cache.add_watcher(w, initial=False)
    [(typ, obj)] = lines(w)
    assert typ == "ADDED"
    assert obj == decode(encode_value(pod("a")), rev)
    assert obj["metadata"]["resourceVersion"] == str(rev)


async def test_replay_uses_the_previous_versions_fields_and_labels(env: Any) -> None:
    """A watch resuming from the ring sees a pod that leaves its selection as DELETED and one that
    enters it as ADDED: the previous version's facts are kept after its dict is gone."""
    store, cache, rest = env
    key = PREFIX + "default/p"
    r1 = await store.create(key, encode_value(pod("p")))
    r2 = await store.update(key, encode_value(pod("p", node="n1")), r1)          # bound: leaves nodeName=""
    r3 = await store.update(key, encode_value(pod("p", node="n1", app="db")), r2)  # relabelled: leaves app=web
    await settle(cache, store)
    unscheduled = watcher(rest, r1 - 1, fields="spec.nodeName=")
    web = watcher(rest, r1 - 1, labels="app=web")
    on_n1 = watcher(rest, r1 - 1, fields="spec.nodeName=n1")
    for w in (unscheduled, web, on_n1):
        cache.add_watcher(w, initial=False)
    assert [(t, o["metadata"]["resourceVersion"]) for t, o in lines(unscheduled)] == \
        [("ADDED", str(r1)), ("DELETED", str(r2))]
    assert [(t, o["metadata"]["resourceVersion"]) for t, o in lines(web)] == \
        [("ADDED", str(r1)), ("MODIFIED", str(r2)), ("DELETED", str(r3))]
    assert [(t, o["metadata"]["resourceVersion"]) for t, o in lines(on_n1)] == \
        [("ADDED", str(r2)), ("MODIFIED", str(r3))]


async def test_live_delete_and_filtered_lists_from_the_cache(env: Any) -> None:
    store, cache, rest = env
    await store.create(PREFIX + "default/a", encode_value(pod("a", node="n1", phase="Running")))
    await store.create(PREFIX + "default/b", encode_value(pod("b", node="n2")))
    await store.create(PREFIX + "default/c", encode_value(pod("c", node="n1", app="db")))
    await settle(cache, store)
    label_match, field_match = rest.selectors(PODS, {"labelSelector": "app=web",
                                                     "fieldSelector": "status.phase=Running"})
    picked = cache.snapshot(None, "n1", label_match, field_match, rest.fields_fn(PODS))
    assert [o["metadata"]["name"] for o in picked] == ["a"]
    picked[0]["metadata"]["name"] = "changed"  # a private copy: the cache is not affected
    assert cache.get(PREFIX + "default/a")["metadata"]["name"] == "a"  # type: ignore[index]
    w = watcher(rest, 0, fields="spec.nodeName=n1", fmt="table")
    cache.add_watcher(w, initial=True)
    assert [o["rows"][0]["cells"][0] for _, o in lines(w)] == ["a", "c"]
    w.go_live()  # (no sink: stays buffered)
    deleted = await store.delete(PREFIX + "default/a")
    await settle(cache, store)
    await asyncio.sleep(0)
    [(typ, tbl)] = lines(w)
    assert typ == "DELETED" and tbl["rows"][0]["cells"][0] == "a"
    assert tbl["metadata"]["resourceVersion"] == str(deleted.mod_revision)
    assert sorted(cache.index_keys) == ["n1", "n2"] and cache.index_keys["n1"] == {PREFIX + "default/c"}
    fields = adapters.selectable_fields("v1", "Pod", cache.get(PREFIX + "default/c") or {})
    assert fields["spec.nodeName"] == "n1" and fields["metadata.name"] == "c"
