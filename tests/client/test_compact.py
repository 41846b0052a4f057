"""Compactor: cached objects keep saying what the API said, with equal parts shared between them."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from client.builders import pod as fake_pod
from client.waiting import eventually
from kubelite.api.resources import PODS
from kubelite.client.compact import Compactor, process_compactor
from kubelite.client.fake import FakeApiClient
from kubelite.client.informer import Informer, InformerFactory


def decoded(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a watch decodes it: fresh objects, nothing shared with anything."""
    return orjson.loads(orjson.dumps(obj))


def rs_pod(name: str, node: str = "node-1", image: str = "nginx:1.27", rv: str = "10",
           phase: str = "Running") -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": rv,
                     "labels": {"app": "web", "pod-template-hash": "5d9"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9",
                                          "uid": "rs-1", "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"nodeName": node, "restartPolicy": "Always", "securityContext": {},
                 "containers": [{"name": "app", "image": image, "ports": [{"containerPort": 80}],
                                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
                 "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                  "effect": "NoExecute", "tolerationSeconds": 300}]},
        "status": {"phase": phase, "podIP": f"10.42.0.{len(name)}",
                   "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None}]},
    }


def test_a_compacted_object_equals_the_input() -> None:
    c = Compactor()
    for i in range(50):
        want = rs_pod(f"web-{i}", node=f"node-{i % 3}")
        assert c.compact(decoded(want)) == want


def test_equal_parts_of_different_objects_are_one_object() -> None:
    c = Compactor()
    a = c.compact(decoded(rs_pod("web-a", node="node-1")))
    b = c.compact(decoded(rs_pod("web-b", node="node-2")))
    assert a["spec"]["containers"] is b["spec"]["containers"]
    assert a["spec"]["tolerations"] is b["spec"]["tolerations"]
    assert a["metadata"]["labels"] is b["metadata"]["labels"]
    assert a["metadata"]["ownerReferences"] is b["metadata"]["ownerReferences"]
    assert a["spec"]["securityContext"] is b["spec"]["securityContext"]
    assert a["status"]["phase"] is b["status"]["phase"]  # strings are interned
    # each object keeps a top level of its own (the informer sets kind/apiVersion there)
    assert a is not b and a["metadata"] is not b["metadata"] and a["spec"] is not b["spec"]
    assert c.hits > 0


def test_distinct_values_stay_distinct() -> None:
    c = Compactor()
    a = c.compact(decoded(rs_pod("web-a", image="nginx:1.27")))
    b = c.compact(decoded(rs_pod("web-b", image="nginx:1.28")))
    assert a["spec"]["containers"] is not b["spec"]["containers"]
    assert a["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert b["spec"]["containers"][0]["image"] == "nginx:1.28"
    # JSON types are kept apart: 1, 1.0 and true are not "equal" parts here
    x = c.compact(decoded({"kind": "T", "metadata": {"name": "x"}, "v": {"n": 1}, "w": [1]}))
    y = c.compact(decoded({"kind": "T", "metadata": {"name": "y"}, "v": {"n": 1.0}, "w": [True]}))
    z = c.compact(decoded({"kind": "T", "metadata": {"name": "z"}, "v": {"n": True}, "w": {}}))
    assert type(x["v"]["n"]) is int and type(y["v"]["n"]) is float and type(z["v"]["n"]) is bool
    assert x["w"] == [1] and type(y["w"][0]) is bool and z["w"] == {}


def test_an_update_shares_what_did_not_change_and_keeps_the_old_version_intact() -> None:
    c = Compactor()
    first = c.compact(decoded(rs_pod("web-a", rv="10", phase="Pending")))
    kept = copy.deepcopy(first)
    second = c.compact(decoded(rs_pod("web-a", rv="11", phase="Running")), first)
    assert second == rs_pod("web-a", rv="11", phase="Running")
    assert second["spec"] is first["spec"]  # a status write: spec unchanged
    assert second["metadata"]["labels"] is first["metadata"]["labels"]
    assert second["status"]["phase"] == "Running" and first == kept  # the old version is as it was
    # a spec change after compaction: only what changed is new
    third = c.compact(decoded(rs_pod("web-a", rv="12", image="nginx:1.28")), second)
    assert third == rs_pod("web-a", rv="12", image="nginx:1.28")
    assert third["spec"]["tolerations"] is second["spec"]["tolerations"]
    assert third["spec"]["containers"] is not second["spec"]["containers"]
    assert second == rs_pod("web-a", rv="11", phase="Running")
    assert c.verify() == 0


def test_the_table_is_bounded() -> None:
    c = Compactor(max_entries=64)
    for i in range(2000):
        obj = rs_pod(f"web-{i}", image=f"img:{i}")  # every container list distinct
        assert c.compact(decoded(obj)) == obj
    assert len(c) <= 2 * 64


def test_managed_fields_are_dropped_unless_asked_to_keep_them() -> None:
    obj = rs_pod("web-a")
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}]
    assert "managedFields" not in Compactor().compact(decoded(obj))["metadata"]
    assert Compactor(drop_managed_fields=False).compact(decoded(obj)) == obj


def test_verify_finds_a_shared_part_changed_in_place() -> None:
    c = Compactor()
    a = c.compact(decoded(rs_pod("web-a")))
    c.compact(decoded(rs_pod("web-b")))
    assert c.verify() == 0
    a["metadata"]["labels"]["app"] = "oops"  # what a consumer must never do
    assert c.verify() >= 1


def test_values_that_are_not_json_are_kept_not_shared() -> None:
    c = Compactor()
    marker = object()
    obj = {"kind": "T", "metadata": {"name": "x"}, "spec": {"odd": {"o": marker}, "big": [2**70]}}
    out = c.compact(obj)
    assert out["spec"]["odd"]["o"] is marker and out["spec"]["big"] == [2**70]


async def test_an_informer_with_a_compactor_caches_shared_parts_and_follows_updates() -> None:
    fake = FakeApiClient()
    for name in ("a", "b"):
        fake.add(PODS, fake_pod(name, labels={"app": "web"}))
    compactor = Compactor()
    factory = InformerFactory(fake, transform=compactor)
    inf = factory.informer(PODS)
    seen: list[dict[str, Any]] = []
    inf.add_handler(seen.append, lambda old, new: seen.append(new))
    await factory.start()
    try:
        assert await factory.wait_synced(10)
        a, b = inf.store.get("default/a"), inf.store.get("default/b")
        assert a is not None and b is not None
        assert a["metadata"]["labels"] is b["metadata"]["labels"]
        assert a["spec"] is b["spec"]  # equal specs: one object
        assert a["kind"] == "Pod" and seen[0] is a  # handlers get the cached (compacted) object
        await fake.create(PODS, fake_pod("c", labels={"app": "web"}))
        await fake.patch(PODS, "a", {"metadata": {"labels": {"app": "web", "x": "1"}}}, "default")
        await eventually(lambda: len(seen) == 4, what="an add and an update")
        c = inf.store.get("default/c")
        a2 = inf.store.get("default/a")
        assert c is not None and a2 is not None
        assert c["metadata"]["labels"] is b["metadata"]["labels"]
        assert a2["metadata"]["labels"] == {"app": "web", "x": "1"}
        assert b["metadata"]["labels"] == {"app": "web"}
        assert a2["spec"] is a["spec"]  # unchanged by a label update
        assert compactor.verify() == 0
    finally:
        await factory.stop()


async def test_an_informer_without_a_transform_caches_objects_as_decoded() -> None:
    fake = FakeApiClient()
    for name in ("a", "b"):
        fake.add(PODS, fake_pod(name, labels={"app": "web"}))
    inf = Informer(fake, PODS)
    await inf.start()
    try:
        assert await inf.wait_synced(10)
        a, b = inf.store.get("default/a"), inf.store.get("default/b")
        assert a is not None and b is not None
        assert a["metadata"]["labels"] == b["metadata"]["labels"]
        assert a["metadata"]["labels"] is not b["metadata"]["labels"]
    finally:
        await inf.stop()


def test_components_compact_unless_the_environment_says_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBELITE_COMPACT", raising=False)
    assert isinstance(process_compactor(), Compactor)
    monkeypatch.setenv("KUBELITE_COMPACT", "0")
    assert process_compactor() is None


def test_equal_strings_are_one_string_and_the_string_table_is_bounded() -> None:
    c = Compactor(max_strings=100)
    a = c.compact(decoded(rs_pod("web-a", node="node-7")))
    b = c.compact(decoded(rs_pod("web-b", node="node-7", image="other:1")))
    assert a["spec"]["nodeName"] is b["spec"]["nodeName"]
    assert a["metadata"]["uid"] == "uid-web-a" and b["metadata"]["uid"] == "uid-web-b"
    for i in range(1000):
        obj = rs_pod(f"web-{i}")
        assert c.compact(decoded(obj)) == obj
    assert c.strings <= 2 * 100


async def test_a_relist_after_410_compacts_against_the_cached_versions() -> None:
    fake = FakeApiClient()
    fake.add(PODS, fake_pod("changed", labels={"app": "web"}), fake_pod("same", labels={"app": "web"}))
    compactor = Compactor()
    inf = Informer(fake, PODS, transform=compactor)
    updates: list[str] = []
    inf.add_handler(on_update=lambda old, new: updates.append(new["metadata"]["name"]))
    await inf.start()
    try:
        assert await inf.wait_synced(10)
        same_before = inf.store.get("default/same")
        assert same_before is not None
        fake.close_watches()
        await fake.patch(PODS, "changed", {"metadata": {"labels": {"app": "web", "v": "2"}}}, "default")
        fake.compact()
        await eventually(lambda: inf.list_count == 2 and updates == ["changed"], what="the re-list")
        same_after, changed = inf.store.get("default/same"), inf.store.get("default/changed")
        assert same_after is not None and changed is not None
        assert same_after["spec"] is same_before["spec"]  # listed again, shared with the cached version
        assert changed["metadata"]["labels"] == {"app": "web", "v": "2"}
        assert same_after["metadata"]["labels"] == {"app": "web"}
        assert compactor.verify() == 0
    finally:
        await inf.stop()


def test_kinds_rewritten_often_are_cached_as_decoded() -> None:
    c = Compactor()
    subsets = [{"addresses": [{"ip": "10.42.0.1"}], "ports": [{"port": 80}]}]
    a = c.compact(decoded({"kind": "Endpoints", "metadata": {"name": "a", "managedFields": []}, "subsets": subsets}))
    b = c.compact(decoded({"kind": "Endpoints", "metadata": {"name": "b"}, "subsets": subsets}))
    assert a["subsets"] == b["subsets"] and a["subsets"] is not b["subsets"]
    assert "managedFields" not in a["metadata"]
    assert Compactor(skip_kinds=frozenset()).compact(decoded(a))["subsets"] == subsets
