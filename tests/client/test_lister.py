"""Lister: keys, namespaces, label selectors and indexes."""

from __future__ import annotations

import pytest

from client.builders import node, pod
from kubelite.api.selectors import parse_label_selector
from kubelite.client.lister import (
    Lister,
    index_by_node_name,
    index_by_owner_uid,
    object_key,
    split_key,
)


def test_object_keys_are_namespace_slash_name_or_just_name() -> None:
    assert object_key(pod("web", "prod")) == "prod/web"
    assert object_key(node("n1")) == "n1"
    assert split_key("prod/web") == ("prod", "web")
    assert split_key("n1") == (None, "n1")
    with pytest.raises(ValueError):
        split_key("a/b/c")


def test_get_and_get_by_find_stored_objects() -> None:
    store = Lister()
    store.add(pod("web", "prod"))
    store.add(node("n1"))
    assert store.get("prod/web") is not None
    assert store.get_by("prod", "web") is store.get("prod/web")
    assert store.get_by(None, "n1") is not None
    assert store.get("default/web") is None
    assert len(store) == 2
    assert store.keys() == ["n1", "prod/web"]


def test_list_filters_by_namespace_and_label_selector() -> None:
    store = Lister()
    store.add(pod("a", "ns1", labels={"app": "web"}))
    store.add(pod("b", "ns1", labels={"app": "db"}))
    store.add(pod("c", "ns2", labels={"app": "web"}))
    names = lambda objs: [o["metadata"]["name"] for o in objs]  # noqa: E731
    assert names(store.list()) == ["a", "b", "c"]
    assert names(store.list("ns1")) == ["a", "b"]
    assert names(store.list(selector=parse_label_selector("app=web"))) == ["a", "c"]
    assert names(store.list("ns2", parse_label_selector("app in (web,db)"))) == ["c"]
    assert store.list("nope") == []


def test_namespace_index_follows_updates_and_deletes() -> None:
    store = Lister()
    store.add(pod("a", "ns1"))
    assert [o["metadata"]["name"] for o in store.by_index("namespace", "ns1")] == ["a"]
    store.delete("ns1/a")
    assert store.by_index("namespace", "ns1") == []
    assert store.delete("ns1/a") is None


def test_node_name_index_moves_a_pod_when_it_is_bound() -> None:
    store = Lister()
    store.add_index("nodeName", index_by_node_name)
    store.add(pod("a"))
    assert store.by_index("nodeName", "n1") == []
    old = store.add(pod("a", node="n1"))
    assert old is not None and "nodeName" not in old["spec"]
    assert [o["metadata"]["name"] for o in store.by_index("nodeName", "n1")] == ["a"]
    store.add(pod("a", node="n2"))
    assert store.by_index("nodeName", "n1") == []
    assert len(store.by_index("nodeName", "n2")) == 1


def test_owner_uid_index_finds_children() -> None:
    store = Lister()
    store.add(pod("a", owner_uid="u1"))
    store.add(pod("b", owner_uid="u1"))
    store.add(pod("c", owner_uid="u2"))
    store.add(pod("d"))
    store.add_index("owner", index_by_owner_uid)  # added late: existing objects get indexed
    assert [o["metadata"]["name"] for o in store.by_index("owner", "u1")] == ["a", "b"]
    assert store.index_keys("owner", "u2") == ["default/c"]


def test_unknown_index_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no index named 'x'"):
        Lister().by_index("x", "v")


def test_replace_swaps_the_whole_content() -> None:
    store = Lister()
    store.add_index("nodeName", index_by_node_name)
    store.add(pod("a", node="n1"))
    store.replace([pod("b", node="n2")])
    assert store.keys() == ["default/b"]
    assert store.by_index("nodeName", "n1") == []


def test_controller_uid_index_separates_owned_pods_from_orphans() -> None:
    from kubelite.client.lister import ORPHAN, index_by_controller_uid

    store = Lister()
    store.add_index("ctrl", index_by_controller_uid)
    owned = {"metadata": {"name": "a", "namespace": "ns", "ownerReferences": [
        {"uid": "gc-only"}, {"uid": "rs-1", "controller": True}]}}
    orphan = {"metadata": {"name": "b", "namespace": "ns", "ownerReferences": [{"uid": "gc-only"}]}}
    bare = {"metadata": {"name": "c", "namespace": "ns"}}
    for obj in (owned, orphan, bare):
        store.add(obj)
    assert [o["metadata"]["name"] for o in store.by_index("ctrl", "rs-1")] == ["a"]
    assert [o["metadata"]["name"] for o in store.by_index("ctrl", ORPHAN)] == ["b", "c"]
    assert store.by_index("ctrl", "gc-only") == []
    store.add({"metadata": {"name": "a", "namespace": "ns", "ownerReferences": []}})  # released
    assert store.by_index("ctrl", "rs-1") == [] and len(store.by_index("ctrl", ORPHAN)) == 3
