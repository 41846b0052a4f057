"""FakeApiClient behaves like the server where controllers care, and records every call."""

from __future__ import annotations

import asyncio

import pytest

from client.builders import configmap, node, pod
from kubelite.api.resources import CONFIGMAPS, DEPLOYMENTS, NODES, PODS
from kubelite.client.fake import Action, FakeApiClient
from kubelite.client.rest import ApiError, is_already_exists, is_conflict, is_gone, is_not_found


async def test_create_assigns_server_fields_and_get_returns_a_copy() -> None:
    fake = FakeApiClient()
    created = await fake.create(PODS, pod("web"))
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"] == "1"
    got = await fake.get(PODS, "web", "default")
    got["metadata"]["labels"]["changed"] = "yes"
    assert "changed" not in (await fake.get(PODS, "web", "default"))["metadata"]["labels"]


async def test_errors_look_like_the_servers() -> None:
    fake = FakeApiClient()
    with pytest.raises(ApiError) as e:
        await fake.get(PODS, "nope", "default")
    assert is_not_found(e.value) and e.value.message == 'pods "nope" not found'
    await fake.create(PODS, pod("web"))
    with pytest.raises(ApiError) as e:
        await fake.create(PODS, pod("web"))
    assert is_already_exists(e.value) and not is_conflict(e.value)


async def test_replace_with_a_stale_resource_version_conflicts() -> None:
    fake = FakeApiClient()
    first = await fake.create(CONFIGMAPS, configmap("c", a="1"))
    first["data"]["a"] = "2"
    second = await fake.replace(CONFIGMAPS, first)
    assert second["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
    first["data"]["a"] = "3"
    with pytest.raises(ApiError) as e:
        await fake.replace(CONFIGMAPS, first)
    assert is_conflict(e.value)


async def test_generation_bumps_only_when_spec_changes() -> None:
    fake = FakeApiClient()
    dep = {"metadata": {"name": "d", "namespace": "default"}, "spec": {"replicas": 1}}
    created = await fake.create(DEPLOYMENTS, dep)
    assert created["metadata"]["generation"] == 1
    after_status = await fake.patch(DEPLOYMENTS, "d", {"status": {"replicas": 1}}, "default",
                                    subresource="status")
    assert after_status["metadata"]["generation"] == 1 and after_status["status"] == {"replicas": 1}
    scaled = await fake.patch(DEPLOYMENTS, "d", {"spec": {"replicas": 3}}, "default")
    assert scaled["metadata"]["generation"] == 2


async def test_patch_types() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("web", labels={"a": "1", "b": "2"}))
    merged = await fake.patch(PODS, "web", {"metadata": {"labels": {"a": None, "c": "3"}}}, "default")
    assert merged["metadata"]["labels"] == {"b": "2", "c": "3"}
    strategic = await fake.patch(PODS, "web", {"spec": {"containers": [{"name": "side", "image": "x"}]}},
                                 "default", patch_type="strategic")
    assert [c["name"] for c in strategic["spec"]["containers"]] == ["c", "side"]
    jsonp = await fake.patch(PODS, "web", [{"op": "replace", "path": "/spec/containers/0/image", "value": "y"},
                                           {"op": "remove", "path": "/metadata/labels/b"}],
                             "default", patch_type="json")
    assert jsonp["spec"]["containers"][0]["image"] == "y" and "b" not in jsonp["metadata"]["labels"]
    with pytest.raises(ApiError) as e:
        await fake.patch(PODS, "web", [{"op": "remove", "path": "/nope/x"}], "default", patch_type="json")
    assert e.value.code == 422
    applied = await fake.patch(PODS, "new", pod("new"), "default", patch_type="apply", field_manager="me")
    assert applied["metadata"]["uid"]


async def test_actions_record_every_call_in_order() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("web"))  # preloading records nothing
    await fake.list(PODS, "default")
    await fake.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"},
                             "target": {"kind": "Node", "name": "n1"}}, "default",
                      subresource="binding", name="web")
    await fake.delete(PODS, "web", "default")
    assert [(a.verb, a.resource_plural, a.namespace, a.name, a.subresource) for a in fake.actions] == [
        ("list", "pods", "default", None, None),
        ("create", "pods", "default", "web", "binding"),
        ("delete", "pods", "default", "web", None),
    ]
    assert fake.write_actions()[0] == Action("create", "pods", "default", "web", "binding",
                                             fake.actions[1].body)


async def test_binding_sets_node_name_once() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("web"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"}, "target": {"name": "n1"}}
    await fake.create(PODS, binding, "default", subresource="binding", name="web")
    assert fake.object(PODS, "web", "default")["spec"]["nodeName"] == "n1"  # type: ignore[index]
    with pytest.raises(ApiError) as e:
        await fake.create(PODS, binding, "default", subresource="binding", name="web")
    assert e.value.code == 409


async def test_list_honours_label_and_field_selectors() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("a", labels={"app": "web"}, node="n1"), pod("b", labels={"app": "db"}),
             pod("c", "other", labels={"app": "web"}))
    fake.add(NODES, node("n1"))
    names = lambda lst: [o["metadata"]["name"] for o in lst["items"]]  # noqa: E731
    assert names(await fake.list(PODS)) == ["a", "b", "c"]
    assert names(await fake.list(PODS, "default", label_selector="app=web")) == ["a"]
    assert names(await fake.list(PODS, field_selector="spec.nodeName=n1")) == ["a"]
    assert names(await fake.list(PODS, field_selector="spec.nodeName=")) == ["b", "c"]
    assert names(await fake.list(NODES, "ignored-for-cluster-scoped")) == ["n1"]
    with pytest.raises(ApiError) as e:
        await fake.list(PODS, label_selector="app in (")
    assert e.value.code == 400


async def test_delete_with_finalizers_only_marks_the_object() -> None:
    fake = FakeApiClient()
    obj = pod("web")
    obj["metadata"]["finalizers"] = ["x/y"]
    fake.add(PODS, obj)
    await fake.delete(PODS, "web", "default")
    marked = fake.object(PODS, "web", "default")
    assert marked is not None and marked["metadata"]["deletionTimestamp"]
    await fake.patch(PODS, "web", {"metadata": {"finalizers": None}}, "default")
    assert fake.object(PODS, "web", "default") is None


async def test_delete_preconditions() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("web"))
    with pytest.raises(ApiError) as e:
        await fake.delete(PODS, "web", "default", preconditions={"uid": "not-it"})
    assert e.value.code == 409
    assert fake.object(PODS, "web", "default") is not None


async def test_reactors_inject_failures() -> None:
    fake = FakeApiClient()

    def fail(action: Action) -> None:
        raise ApiError.make(500, "InternalError", "boom")

    fake.prepend_reactor("create", "pods", fail)
    with pytest.raises(ApiError) as e:
        await fake.create(PODS, pod("web"))
    assert e.value.code == 500
    assert fake.objects(PODS) == []
    assert fake.actions[0].verb == "create"


async def test_watch_streams_changes_and_resumes_from_a_resource_version() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("a"))
    listed = await fake.list(PODS)
    rv = listed["metadata"]["resourceVersion"]
    await fake.create(PODS, pod("b"))
    seen: list[tuple[str, str]] = []

    async def consume() -> None:
        async for ev in fake.watch(PODS, resource_version=rv):
            seen.append((ev.type, ev.object["metadata"]["name"]))
            if len(seen) == 3:
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await fake.patch(PODS, "a", {"metadata": {"labels": {"x": "1"}}}, "default")
    await fake.delete(PODS, "b", "default")
    await asyncio.wait_for(task, 5)
    assert seen == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]


async def test_watch_from_a_compacted_version_is_gone() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("a"), pod("b"))
    fake.compact()
    with pytest.raises(ApiError) as e:
        async for _ in fake.watch(PODS, resource_version="1"):
            pass
    assert is_gone(e.value)
