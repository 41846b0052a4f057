"""Writes start from the watch cache's copy (no store read first, as kube-apiserver's GuaranteedUpdate);
when that copy is behind the store, the result must still be computed on the stored object."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kubelite.api.resources import CONFIGMAPS, PODS
from kubelite.apiserver import ApiServer, ServerConfig
from kubelite.apiserver.watchcache import Entry
from kubelite.client.rest import ApiClient, ApiError
from kubelite.storage import open_store


async def _server(tmp_path: Path) -> tuple[ApiServer, ApiClient]:
    server = ApiServer(ServerConfig(data_dir=tmp_path, port=0, store=await open_store("memory://")))
    await server.start()
    return server, ApiClient.from_kubeconfig(str(server.local_kubeconfig))


def _rewind(server: ApiServer, res: object, key: str, entry: Entry) -> None:
    """Put an older version back into the watch cache: the cache is now behind the store."""
    assert server.rest is not None
    cache = server.rest.cache_for(res)  # type: ignore[arg-type]
    assert cache is not None
    cache.objects[key] = entry


async def _entry(server: ApiServer, res: object, key: str) -> Entry:
    assert server.rest is not None
    cache = server.rest.cache_for(res)  # type: ignore[arg-type]
    assert cache is not None
    return cache.objects[key]


async def test_a_patch_on_a_stale_cache_applies_to_the_stored_object(tmp_path: Path) -> None:
    server, client = await _server(tmp_path)
    try:
        await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {"a": "1"}}, "default")
        await client.get(CONFIGMAPS, "cm", "default")
        key = "/registry/configmaps/default/cm"
        old_entry = await _entry(server, CONFIGMAPS, key)
        await client.patch(CONFIGMAPS, "cm", {"data": {"b": "2"}}, "default")
        _rewind(server, CONFIGMAPS, key, old_entry)
        # a no-op on the cache's copy ({"a": "1"} already) is not one on the stored object
        out = await client.patch(CONFIGMAPS, "cm", {"data": {"b": None}}, "default")
        assert out["data"] == {"a": "1"}
        assert (await client.get(CONFIGMAPS, "cm", "default"))["data"] == {"a": "1"}
        # and a real change on a stale copy keeps what the stored object had
        old_entry = await _entry(server, CONFIGMAPS, key)
        await client.patch(CONFIGMAPS, "cm", {"data": {"c": "3"}}, "default")
        _rewind(server, CONFIGMAPS, key, old_entry)
        out = await client.patch(CONFIGMAPS, "cm", {"data": {"d": "4"}}, "default")
        assert out["data"] == {"a": "1", "c": "3", "d": "4"}
    finally:
        await client.close()
        await server.stop()


async def test_a_put_with_the_current_version_succeeds_on_a_stale_cache(tmp_path: Path) -> None:
    server, client = await _server(tmp_path)
    try:
        await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {"a": "1"}}, "default")
        await client.get(CONFIGMAPS, "cm", "default")
        key = "/registry/configmaps/default/cm"
        old_entry = await _entry(server, CONFIGMAPS, key)
        current = await client.patch(CONFIGMAPS, "cm", {"data": {"a": "2"}}, "default")
        _rewind(server, CONFIGMAPS, key, old_entry)
        current["data"] = {"a": "3"}
        assert (await client.replace(CONFIGMAPS, current, "default"))["data"] == {"a": "3"}
        with pytest.raises(ApiError) as stale_put:  # the version it names is really gone: 409
            await client.replace(CONFIGMAPS, current, "default")
        assert stale_put.value.code == 409
    finally:
        await client.close()
        await server.stop()


async def test_binding_a_pod_the_stale_cache_thinks_unbound_is_a_conflict(tmp_path: Path) -> None:
    server, client = await _server(tmp_path)
    try:
        await client.create(PODS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
                            "default")
        await client.get(PODS, "p", "default")
        key = "/registry/pods/default/p"
        unbound = await _entry(server, PODS, key)

        def binding(node: str) -> dict[str, object]:
            return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                    "target": {"kind": "Node", "name": node}}

        await client.create(PODS, binding("n1"), "default", subresource="binding", name="p")
        _rewind(server, PODS, key, unbound)
        with pytest.raises(ApiError) as again:
            await client.create(PODS, binding("n2"), "default", subresource="binding", name="p")
        assert again.value.code == 409
        assert (await client.get(PODS, "p", "default"))["spec"]["nodeName"] == "n1"
    finally:
        await client.close()
        await server.stop()


def _store_calls(server: ApiServer, operation: str) -> int:
    hist = server.metrics.store_latency.get(operation)
    return sum(hist.counts) if hist is not None else 0


async def test_writes_read_the_store_only_when_the_cache_was_behind(tmp_path: Path) -> None:
    """A PATCH on a current cache makes no store read (apiserver_storage_duration_seconds{operation="get"});
    one on a stale cache retries from the value its lost compare-and-swap returned, still without one."""
    server, client = await _server(tmp_path)
    try:
        await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {"a": "1"}}, "default")
        key = "/registry/configmaps/default/cm"
        for _ in range(50):  # the watch cache catches up with the create
            if key in (server.rest.cache_for(CONFIGMAPS).objects if server.rest else {}):  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.01)
        gets = _store_calls(server, "get")
        await client.patch(CONFIGMAPS, "cm", {"data": {"b": "2"}}, "default")
        assert _store_calls(server, "get") == gets
        old_entry = await _entry(server, CONFIGMAPS, key)
        await client.patch(CONFIGMAPS, "cm", {"data": {"c": "3"}}, "default")
        _rewind(server, CONFIGMAPS, key, old_entry)
        updates = _store_calls(server, "update")
        out = await client.patch(CONFIGMAPS, "cm", {"data": {"d": "4"}}, "default")
        assert out["data"] == {"a": "1", "b": "2", "c": "3", "d": "4"}
        assert _store_calls(server, "get") == gets
        assert _store_calls(server, "update") == updates + 2  # the lost one, then the one that landed
    finally:
        await client.close()
        await server.stop()
