"""The API server on a real etcd: its watch cache follows etcd without previous values (it has them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kubelite.api.resources import CONFIGMAPS
from kubelite.apiserver.server import ApiServer, ServerConfig
from kubelite.client.rest import ApiClient
from kubelite.storage import open_store
from kubelite.testing.etcd import EtcdCluster


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdCluster]:
    with EtcdCluster(size=1) as cluster:
        yield cluster


@pytest.fixture
async def api_on_etcd(etcd: EtcdCluster, tmp_path: Path) -> AsyncIterator[ApiClient]:
    server = ApiServer(ServerConfig(data_dir=tmp_path, port=0, store=await open_store(etcd.url)))
    await server.start()
    client = ApiClient.from_kubeconfig(str(server.local_kubeconfig))
    try:
        yield client
    finally:
        await client.close()
        await server.stop()


async def test_a_watcher_sees_each_write_and_the_deleted_object(api_on_etcd: ApiClient) -> None:
    client = api_on_etcd
    listed = await client.list(CONFIGMAPS, "default")
    events: list[tuple[str, dict[str, object]]] = []

    async def watch() -> None:
        async for ev in client.watch(CONFIGMAPS, "default", resource_version=listed["metadata"]["resourceVersion"]):
            events.append((ev.type, ev.object))
            if ev.type == "DELETED":
                return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    made = await asyncio.gather(*(client.create(CONFIGMAPS, {"metadata": {"name": f"c{i}"}, "data": {"n": str(i)}},
                                                "default") for i in range(5)))
    changed = await client.patch(CONFIGMAPS, "c0", {"data": {"n": "changed"}}, "default")
    await client.delete(CONFIGMAPS, "c0", "default")
    await asyncio.wait_for(watcher, 10)

    added = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for t, o in events if t == "ADDED"}  # type: ignore[index]
    assert added == {m["metadata"]["name"]: m["metadata"]["resourceVersion"] for m in made}
    assert len(set(added.values())) == 5  # writes made together keep one resourceVersion each
    kinds = [t for t, _ in events]
    assert kinds == ["ADDED"] * 5 + ["MODIFIED", "DELETED"]
    deleted = events[-1][1]
    # the deleted object as it last was, at the delete's own resourceVersion
    assert deleted["data"] == {"n": "changed"}  # type: ignore[comparison-overlap]
    assert int(deleted["metadata"]["resourceVersion"]) > int(changed["metadata"]["resourceVersion"])  # type: ignore[index]
    assert [o["metadata"]["name"] for o in (await client.list(CONFIGMAPS, "default"))["items"]] == [
        "c1", "c2", "c3", "c4"]
