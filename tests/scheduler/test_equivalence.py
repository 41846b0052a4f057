"""The equivalence cache: the same placements as running every plugin on every node, and a node
change is seen at once."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubelite.scheduler import equivalence
from kubelite.scheduler.algorithm import Algorithm, FitError, Profile, default_profile
from kubelite.scheduler.cache import Cache
from kubelite.scheduler.equivalence import _differences
from kubelite.scheduler.framework import CycleState, Status
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.plugins import NodeResourcesFit
from scheduler.builders import (
    expr,
    make_node,
    make_pod,
    preferred_affinity,
    required_affinity,
    taint,
    toleration,
)


def mixed_nodes(n: int) -> list[dict[str, Any]]:
    """Nodes of several sizes, zones, disk types; some tainted, cordoned or not Ready."""
    nodes = []
    for i in range(n):
        labels = {"topology.kubernetes.io/zone": f"z{i % 3}", "disk": "ssd" if i % 4 == 0 else "hdd"}
        taints = []
        if i % 11 == 0:
            taints.append(taint("dedicated", "gpu"))
        if i % 7 == 0:
            taints.append(taint("spot", "", "PreferNoSchedule"))
        nodes.append(make_node(
            f"n{i:03}", cpu=("2", "4", "8")[i % 3], memory=("2Gi", "8Gi")[i % 2], pods=("5", "110")[i % 5 != 0],
            labels=labels, taints=taints, unschedulable=(i % 17 == 0), ready="False" if i % 23 == 0 else "True",
        ))
    return nodes


def mixed_pod(i: int) -> PodInfo:
    """Pods of a few shapes (so signatures repeat), with tolerations, selectors, affinity,
    host ports and owners."""
    kind = i % 8
    kw: dict[str, Any] = {"cpu": ("100m", "500m", "1", "3")[i % 4], "memory": ("64Mi", "1Gi")[i % 2]}
    if kind == 1:
        kw["tolerations"] = [toleration("dedicated", "Equal", "gpu", "NoSchedule")]
    elif kind == 2:
        kw["node_selector"] = {"disk": "ssd"}
    elif kind == 3:
        kw["affinity"] = required_affinity({"matchExpressions": [expr("topology.kubernetes.io/zone", "In", "z0", "z1")]})
    elif kind == 4:
        kw["affinity"] = preferred_affinity((50, {"matchExpressions": [expr("disk", "In", "ssd")]}))
    elif kind == 5:
        kw["host_ports"] = [8080]
    elif kind == 6:
        kw["tolerations"] = [toleration("spot", "Exists", effect="PreferNoSchedule")]
    if i % 3 != 2:
        kw["owner"] = f"rs{i % 2}"
    return PodInfo(make_pod(f"p{i:04}", **kw))


def decide(algo: Algorithm, pod: PodInfo) -> str:
    """The node, or the FailedScheduling message."""
    try:
        return algo.schedule(pod).node
    except FitError as e:
        return "FIT: " + e.message


class Twin:
    """Two caches and algorithms fed the same events: one cached, one the reference path."""

    def __init__(self, nodes: list[dict[str, Any]], seed: int = 7) -> None:
        self.caches = [Cache(), Cache()]
        for cache in self.caches:
            for n in nodes:
                cache.add_node(n)
        self.algos = [Algorithm(self.caches[0], rng=random.Random(seed)),
                      Algorithm(self.caches[1], rng=random.Random(seed), equivalence_cache=False)]

    def schedule(self, pod: PodInfo) -> str:
        got = [decide(a, pod) for a in self.algos]
        assert got[0] == got[1], pod.key
        if not got[0].startswith("FIT: "):
            for cache in self.caches:
                cache.assume(pod, got[0])
        return got[0]

    def each(self, method: str, *args: Any) -> None:
        for cache in self.caches:
            getattr(cache, method)(*args)


@pytest.mark.parametrize("n_nodes", [40, 150])
def test_the_cache_places_a_mixed_sequence_of_pods_like_the_reference(n_nodes: int) -> None:
    nodes = mixed_nodes(n_nodes)
    twin = Twin(nodes)
    decisions = [twin.schedule(mixed_pod(i)) for i in range(300)]
    # the sequence did exercise both outcomes and spread over many nodes
    assert any(d.startswith("FIT: ") for d in decisions)
    assert len({d for d in decisions if not d.startswith("FIT: ")}) > n_nodes // 3


def test_the_cache_follows_node_updates_removals_and_forgotten_pods_like_the_reference() -> None:
    nodes = mixed_nodes(150)
    twin = Twin(nodes, seed=3)
    rng = random.Random(5)
    placed: list[str] = []
    for i in range(400):
        pod = mixed_pod(i)
        if not twin.schedule(pod).startswith("FIT: "):
            placed.append(pod.key)
        if i % 25 == 0:  # relabel, taint or cordon a node
            node = dict(nodes[rng.randrange(len(nodes))])
            changed = make_node(node["metadata"]["name"], cpu="8", memory="8Gi",
                                labels={"disk": rng.choice(["ssd", "hdd"]), "topology.kubernetes.io/zone": "z1"},
                                taints=rng.choice([[], [taint("dedicated", "gpu")]]),
                                unschedulable=rng.random() < 0.2)
            twin.each("update_node", changed)
        if i % 40 == 0 and placed:  # a bind failed
            twin.each("forget", placed.pop(rng.randrange(len(placed))))
        if i % 90 == 0:  # a node goes away, another comes
            twin.each("remove_node", nodes[i % len(nodes)]["metadata"]["name"])
            twin.each("add_node", make_node(f"new{i}", cpu="16", memory="32Gi"))
        if i % 130 == 0 and placed:  # a bound pod finishes
            twin.each("remove_pod", placed.pop(0))


def test_a_node_change_invalidates_what_was_cached_for_it() -> None:
    cache = Cache()
    cache.add_node(make_node("a", cpu="2"))
    algo = Algorithm(cache, rng=random.Random(1))
    assert algo.schedule(PodInfo(make_pod("p1", cpu="1"))).node == "a"
    cache.update_node(make_node("a", cpu="2", taints=[taint("maintenance")]))
    with pytest.raises(FitError) as err:
        algo.schedule(PodInfo(make_pod("p2", cpu="1")))
    assert "untolerated taint {maintenance: }" in err.value.message
    cache.update_node(make_node("a", cpu="2"))
    p3 = PodInfo(make_pod("p3", cpu="1"))
    assert algo.schedule(p3).node == "a"
    cache.assume(p3, "a")
    cache.assume(PodInfo(make_pod("p4", cpu="1")), "a")  # the node is now full
    with pytest.raises(FitError) as err:
        algo.schedule(PodInfo(make_pod("p5", cpu="1")))
    assert "1 Insufficient cpu" in err.value.message


class CountingFit(NodeResourcesFit):
    """NodeResourcesFit that counts its Filter calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        self.calls.append(node.name)
        return super().filter(state, pod, node)


def test_like_pods_rerun_the_filters_only_on_the_node_that_changed() -> None:
    cache = Cache()
    for i in range(10):
        cache.add_node(make_node(f"n{i}"))
    base = default_profile(cache)
    fit = CountingFit()
    profile = Profile(filters=[fit if f.name == fit.name else f for f in base.filters], scores=base.scores)
    algo = Algorithm(cache, profile, rng=random.Random(1))
    # the first pod of a shape takes the plain path; the second fills the cache node by node
    for name in ("p0", "p1"):
        p = PodInfo(make_pod(name, cpu="100m", owner="rs"))
        cache.assume(p, algo.schedule(p).node)
    assert len(fit.calls) == 10
    fit.calls.clear()
    third = PodInfo(make_pod("p2", cpu="100m", owner="rs-other"))  # another owner, same shape
    algo.schedule(third)
    assert fit.calls == [cache.node_of("default/p1")]
    fit.calls.clear()
    for name in ("q0", "q1"):  # another shape: its own entries
        algo.schedule(PodInfo(make_pod(name, cpu="200m", owner="rs")))
    assert len(fit.calls) == 10


def test_a_storm_of_node_changes_is_seen_like_the_reference() -> None:
    nodes = mixed_nodes(300)
    twin = Twin(nodes, seed=11)
    for i in range(150):
        twin.schedule(mixed_pod(i % 16))
        if i % 50 == 10:  # every third node relabelled and retainted at once
            for node in nodes[i % 3::3]:
                name = node["metadata"]["name"]
                twin.each("update_node", make_node(name, cpu="8", labels={"disk": "ssd"},
                                                   taints=[taint("spot", "", "PreferNoSchedule")]))


@pytest.mark.parametrize("changed", [[], [0], [5, 6], [0, 499], list(range(0, 500, 7)), list(range(500))])
def test_differences_finds_every_changed_index(changed: list[int]) -> None:
    old = list(range(1000, 1500))
    new = list(old)
    for i in changed:
        new[i] = -1
    assert _differences(new, old) == changed


def test_evicted_and_one_off_signatures_still_place_like_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(equivalence, "MAX_SIGNATURES", 3)
    monkeypatch.setattr(equivalence, "MAX_SEEN_ONCE", 5)
    twin = Twin(mixed_nodes(120), seed=2)
    for i in range(200):
        twin.schedule(mixed_pod(i % 23 if i % 5 else 1000 + i))  # 23 kinds, and one-offs
