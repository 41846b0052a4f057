"""ApiClient against a real `kubelite server`: the verbs, errors, selectors, paging and watch."""

from __future__ import annotations

import asyncio

import pytest

from client.builders import configmap, pod
from kubelite.api.resources import CONFIGMAPS, NODES, PODS
from kubelite.client.rest import ApiClient, ApiError, is_already_exists, is_conflict, is_gone, is_not_found
from kubelite.testing.server import KubeliteServer


async def test_crud_round_trip(client: ApiClient, namespace: str) -> None:
    created = await client.create(CONFIGMAPS, configmap("c", namespace, a="1"))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    got = await client.get(CONFIGMAPS, "c", namespace)
    assert got["data"] == {"a": "1"}
    got["data"]["a"] = "2"
    replaced = await client.replace(CONFIGMAPS, got)
    assert replaced["data"] == {"a": "2"}
    assert int(replaced["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    await client.delete(CONFIGMAPS, "c", namespace)
    with pytest.raises(ApiError) as e:
        await client.get(CONFIGMAPS, "c", namespace)
    assert is_not_found(e.value) and e.value.reason == "NotFound"
    assert e.value.status["kind"] == "Status"


async def test_conflicts_and_duplicates_are_told_apart(client: ApiClient, namespace: str) -> None:
    first = await client.create(CONFIGMAPS, configmap("c", namespace, a="1"))
    with pytest.raises(ApiError) as dup:
        await client.create(CONFIGMAPS, configmap("c", namespace))
    assert is_already_exists(dup.value) and not is_conflict(dup.value)
    await client.patch(CONFIGMAPS, "c", {"data": {"a": "2"}}, namespace)
    first["data"]["a"] = "stale"
    with pytest.raises(ApiError) as stale:
        await client.replace(CONFIGMAPS, first)
    assert is_conflict(stale.value) and stale.value.code == 409


async def test_patch_types(client: ApiClient, namespace: str) -> None:
    await client.create(PODS, pod("web", namespace, labels={"a": "1", "b": "2"}))
    merged = await client.patch(PODS, "web", {"metadata": {"labels": {"a": None, "c": "3"}}}, namespace)
    assert merged["metadata"]["labels"] == {"b": "2", "c": "3"}
    strategic = await client.patch(PODS, "web", {"metadata": {"annotations": {"k": "v"}}}, namespace,
                                   patch_type="strategic")
    assert strategic["metadata"]["annotations"] == {"k": "v"}
    jsonp = await client.patch(PODS, "web", [{"op": "add", "path": "/metadata/labels/d", "value": "4"}],
                               namespace, patch_type="json")
    assert jsonp["metadata"]["labels"]["d"] == "4"
    applied = await client.patch(CONFIGMAPS, "applied", configmap("applied", namespace, x="1"), namespace,
                                 patch_type="apply", field_manager="client-tests")
    assert applied["data"] == {"x": "1"}


async def test_delete_preconditions_protect_a_newer_object(client: ApiClient, namespace: str) -> None:
    await client.create(CONFIGMAPS, configmap("c", namespace))
    with pytest.raises(ApiError) as e:
        await client.delete(CONFIGMAPS, "c", namespace, preconditions={"uid": "00000000-0000-0000-0000-000000000000"})
    assert e.value.code == 409
    assert (await client.get(CONFIGMAPS, "c", namespace))["metadata"]["name"] == "c"


async def test_list_selectors_and_paging(client: ApiClient, namespace: str) -> None:
    for i in range(5):
        await client.create(PODS, pod(f"p{i}", namespace, labels={"parity": "even" if i % 2 == 0 else "odd"}))
    evens = await client.list(PODS, namespace, label_selector="parity=even")
    assert sorted(p["metadata"]["name"] for p in evens["items"]) == ["p0", "p2", "p4"]
    one = await client.list(PODS, namespace, field_selector="metadata.name=p3")
    assert [p["metadata"]["name"] for p in one["items"]] == ["p3"]
    names: list[str] = []
    token = None
    while True:
        page = await client.list(PODS, namespace, limit=2, continue_token=token)
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert sorted(names) == [f"p{i}" for i in range(5)]


async def test_binding_subresource_assigns_the_node(client: ApiClient, namespace: str) -> None:
    await client.create(PODS, pod("web", namespace))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web", "namespace": namespace},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    await client.create(PODS, binding, namespace, subresource="binding", name="web")
    assert (await client.get(PODS, "web", namespace))["spec"]["nodeName"] == "node-1"


async def test_watch_streams_events_and_bookmarks(client: ApiClient, namespace: str) -> None:
    listed = await client.list(CONFIGMAPS, namespace)
    rv = listed["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    async def consume() -> None:
        async for ev in client.watch(CONFIGMAPS, namespace, resource_version=rv):
            if ev.type != "BOOKMARK":
                seen.append((ev.type, ev.object["metadata"]["name"]))
            if len(seen) == 3:
                return

    task = asyncio.create_task(consume())
    await client.create(CONFIGMAPS, configmap("c", namespace))
    await client.patch(CONFIGMAPS, "c", {"data": {"k": "v"}}, namespace)
    await client.delete(CONFIGMAPS, "c", namespace)
    await asyncio.wait_for(task, 20)
    assert seen == [("ADDED", "c"), ("MODIFIED", "c"), ("DELETED", "c")]


async def test_watch_from_a_too_old_version_raises_gone() -> None:
    with KubeliteServer(extra_args=["--watch-cache-size", "10"]) as srv:
        async with ApiClient.from_kubeconfig(str(srv.kubeconfig)) as client:
            start = (await client.list(CONFIGMAPS, "default"))["metadata"]["resourceVersion"]
            for i in range(15):
                await client.create(CONFIGMAPS, configmap(f"c{i}"))
            with pytest.raises(ApiError) as e:
                async for _ in client.watch(CONFIGMAPS, "default", resource_version=start):
                    pass
            assert is_gone(e.value) and e.value.code == 410


async def test_cluster_scoped_resources_ignore_the_namespace(client: ApiClient) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "client-test-node"}}
    await client.create(NODES, node)
    got = await client.get(NODES, "client-test-node", "some-namespace")
    assert "namespace" not in got["metadata"]
    await client.delete(NODES, "client-test-node")


async def test_token_auth_failure_is_unauthorized(server: KubeliteServer) -> None:
    async with ApiClient(server.url, token="wrong", ca_file=str(server.ca_cert)) as client:
        with pytest.raises(ApiError) as e:
            await client.list(PODS)
        assert e.value.code == 401


async def test_client_certificate_auth(server: KubeliteServer) -> None:
    cert, key = server.admin_cert
    async with ApiClient(server.url, ca_file=str(server.ca_cert), cert_file=str(cert), key_file=str(key)) as client:
        assert (await client.list(PODS, "default"))["kind"] == "PodList"


async def test_many_concurrent_calls_share_one_client(client: ApiClient, namespace: str) -> None:
    await asyncio.gather(*(client.create(CONFIGMAPS, configmap(f"c{i}", namespace)) for i in range(50)))
    assert len((await client.list(CONFIGMAPS, namespace))["items"]) >= 50


async def test_a_rate_limited_client_still_completes_every_call(server: KubeliteServer, namespace: str) -> None:
    async with ApiClient.from_kubeconfig(str(server.kubeconfig), qps=50, burst=2) as limited:
        results = await asyncio.gather(*(limited.get(CONFIGMAPS, "kube-root-ca.crt", namespace)
                                         for _ in range(10)), return_exceptions=True)
    assert len(results) == 10
    assert all(isinstance(r, dict) or is_not_found(r) for r in results)
