"""Writes start from the watch cache's copy (no store read first, as kube-apiserver's GuaranteedUpdate);
when that copy is behind the store, the result must still be computed on the stored object."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson
import pytest

from kubelite.api.resources import CONFIGMAPS, PODS, Resource
from kubelite.apiserver import ApiServer
from kubelite.apiserver.rest import encode_value
from kubelite.apiserver.watchcache import Entry, WatchCache
from kubelite.client.rest import ApiClient, ApiError

T = TypeVar("T")
CM_KEY = "/registry/configmaps/default/cm"
POD_KEY = "/registry/pods/default/p"


def _cache(server: ApiServer, res: Resource) -> WatchCache:
    assert server.rest is not None
    cache = server.rest.cache_for(res)
    assert cache is not None
    return cache


async def _entry(server: ApiServer, res: Resource, key: str) -> Entry:
    """The watch cache's entry for `key`, once the cache has caught up with its creation."""
    cache = _cache(server, res)
    for _ in range(200):
        if key in cache.objects:
            return cache.objects[key]
        await asyncio.sleep(0.01)
    raise AssertionError(f"the watch cache never saw {key}")


async def _behind(server: ApiServer, res: Resource, key: str, write: Awaitable[T]) -> T:
    """Do `write`, then put the version before it back into the watch cache: the cache is now
    behind the store, as it is for a moment after every write."""
    before = await _entry(server, res, key)
    result = await write
    _cache(server, res).objects[key] = before
    return result


def _store_calls(server: ApiServer, operation: str) -> int:
    hist = server.metrics.store_latency.get(operation)
    return sum(hist.counts) if hist is not None else 0


async def _configmap(client: ApiClient) -> None:
    await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {"a": "1"}}, "default")


async def test_a_patch_on_a_stale_cache_applies_to_the_stored_object(in_process_api: tuple[ApiServer, ApiClient]) -> None:
    server, client = in_process_api
    await _configmap(client)
    await _behind(server, CONFIGMAPS, CM_KEY, client.patch(CONFIGMAPS, "cm", {"data": {"b": "2"}}, "default"))
    # a no-op on the cache's copy ({"a": "1"} already) is not one on the stored object
    out = await client.patch(CONFIGMAPS, "cm", {"data": {"b": None}}, "default")
    assert out["data"] == {"a": "1"}
    assert (await client.get(CONFIGMAPS, "cm", "default"))["data"] == {"a": "1"}
    # and a real change on a stale copy keeps what the stored object had
    await _behind(server, CONFIGMAPS, CM_KEY, client.patch(CONFIGMAPS, "cm", {"data": {"c": "3"}}, "default"))
    out = await client.patch(CONFIGMAPS, "cm", {"data": {"d": "4"}}, "default")
    assert out["data"] == {"a": "1", "c": "3", "d": "4"}


async def test_a_put_with_the_current_version_succeeds_on_a_stale_cache(in_process_api: tuple[ApiServer, ApiClient]) -> None:
    server, client = in_process_api
    await _configmap(client)
    current: dict[str, Any] = await _behind(
        server, CONFIGMAPS, CM_KEY, client.patch(CONFIGMAPS, "cm", {"data": {"a": "2"}}, "default"))
    current["data"] = {"a": "3"}
    assert (await client.replace(CONFIGMAPS, current, "default"))["data"] == {"a": "3"}
    with pytest.raises(ApiError) as stale_put:  # the version it names is really gone: 409
        await client.replace(CONFIGMAPS, current, "default")
    assert stale_put.value.code == 409


async def test_binding_a_pod_the_stale_cache_thinks_unbound_is_a_conflict(in_process_api: tuple[ApiServer, ApiClient]) -> None:
    server, client = in_process_api
    await client.create(PODS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
                        "default")

    def binding(node: str) -> dict[str, object]:
        return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                "target": {"kind": "Node", "name": node}}

    await _behind(server, PODS, POD_KEY,
                  client.create(PODS, binding("n1"), "default", subresource="binding", name="p"))
    with pytest.raises(ApiError) as again:
        await client.create(PODS, binding("n2"), "default", subresource="binding", name="p")
    assert again.value.code == 409
    assert (await client.get(PODS, "p", "default"))["spec"]["nodeName"] == "n1"


async def test_writes_read_the_store_only_when_the_cache_was_behind(in_process_api: tuple[ApiServer, ApiClient]) -> None:
    """A PATCH on a current cache makes no store read (apiserver_storage_duration_seconds{operation="get"});
    one on a cache behind this server's own last write starts from that write (one store update, no
    lost compare-and-swap); one on a cache behind another writer retries from the value its lost
    compare-and-swap returned, still without a read."""
    server, client = in_process_api
    await _configmap(client)
    await _entry(server, CONFIGMAPS, CM_KEY)
    gets = _store_calls(server, "get")
    await client.patch(CONFIGMAPS, "cm", {"data": {"b": "2"}}, "default")
    assert _store_calls(server, "get") == gets
    await _behind(server, CONFIGMAPS, CM_KEY, client.patch(CONFIGMAPS, "cm", {"data": {"c": "3"}}, "default"))
    updates = _store_calls(server, "update")
    out = await client.patch(CONFIGMAPS, "cm", {"data": {"d": "4"}}, "default")
    assert out["data"] == {"a": "1", "b": "2", "c": "3", "d": "4"}
    assert _store_calls(server, "get") == gets
    assert _store_calls(server, "update") == updates + 1  # from its own write: no lost compare-and-swap

    # another writer of the same store (a second API server) changes the object behind this cache
    await _entry(server, CONFIGMAPS, CM_KEY)
    assert server.store is not None
    kv = await server.store.get(CM_KEY)
    assert kv is not None
    theirs = orjson.loads(kv.value)
    theirs["data"]["e"] = "5"
    before = await _entry(server, CONFIGMAPS, CM_KEY)
    rev = await server.store.update(CM_KEY, encode_value(theirs), kv.mod_revision)
    assert await _cache(server, CONFIGMAPS).wait_for(rev)
    _cache(server, CONFIGMAPS).objects[CM_KEY] = before  # the cache is behind the other writer
    gets, updates = _store_calls(server, "get"), _store_calls(server, "update")
    out = await client.patch(CONFIGMAPS, "cm", {"data": {"f": "6"}}, "default")
    assert out["data"] == {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}
    assert _store_calls(server, "get") == gets
    assert _store_calls(server, "update") == updates + 2  # the lost one, then the one that landed
