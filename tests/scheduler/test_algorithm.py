"""The scheduling algorithm: how many nodes it looks at, the FailedScheduling message, spreading."""

from __future__ import annotations

import random

import pytest

from kubelite.scheduler.algorithm import Algorithm, FitError, num_feasible_nodes_to_find
from kubelite.scheduler.cache import Cache
from kubelite.scheduler.nodeinfo import PodInfo
from scheduler.builders import make_node, make_pod, pod_info, taint


def cluster(*nodes: dict) -> tuple[Cache, Algorithm]:
    cache = Cache()
    for n in nodes:
        cache.add_node(n)
    return cache, Algorithm(cache, rng=random.Random(1))


@pytest.mark.parametrize(
    ("nodes", "want"),
    [(3, 3), (99, 99), (100, 100), (250, 120), (1000, 420), (5000, 500), (6000, 300),
     (20000, 1000)],
    ids=lambda v: str(v),
)
def test_num_feasible_nodes_to_find_follows_kube_scheduler(nodes: int, want: int) -> None:
    assert num_feasible_nodes_to_find(nodes) == want


def test_a_fixed_percentage_overrides_the_adaptive_one() -> None:
    assert num_feasible_nodes_to_find(1000, 100) == 1000
    assert num_feasible_nodes_to_find(1000, 1) == 100


def test_the_failure_message_counts_reasons_like_kube_scheduler() -> None:
    _, algo = cluster(
        make_node("small", cpu="1"),
        make_node("cp1", taints=[taint("node-role.kubernetes.io/control-plane")]),
        make_node("cp2", taints=[taint("node-role.kubernetes.io/control-plane")]),
    )
    with pytest.raises(FitError) as err:
        algo.schedule(pod_info(cpu="2"))
    assert err.value.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling."
    )


def test_a_node_missing_two_resources_counts_both() -> None:
    _, algo = cluster(make_node("a", cpu="1", memory="1Gi"), make_node("b", cpu="1", memory="1Gi"))
    with pytest.raises(FitError) as err:
        algo.schedule(pod_info(cpu="2", memory="2Gi"))
    assert err.value.message.startswith("0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory.")


def test_no_nodes_at_all_says_so() -> None:
    _, algo = cluster()
    with pytest.raises(FitError) as err:
        algo.schedule(pod_info())
    assert err.value.message == "no nodes available to schedule pods"


def test_pods_of_one_owner_spread_over_the_nodes() -> None:
    cache, algo = cluster(make_node("n1"), make_node("n2"), make_node("n3"))
    placed: dict[str, int] = {}
    for i in range(9):
        p = PodInfo(make_pod(f"p{i}", cpu="100m", memory="64Mi", owner="rs"))
        node = algo.schedule(p).node
        cache.assume(p, node)
        placed[node] = placed.get(node, 0) + 1
    assert placed == {"n1": 3, "n2": 3, "n3": 3}


def test_a_full_node_is_skipped_for_the_next_pod() -> None:
    cache, algo = cluster(make_node("big", cpu="4"), make_node("tiny", cpu="1"))
    first = PodInfo(make_pod("a", cpu="1"))
    cache.assume(first, "tiny")
    result = algo.schedule(PodInfo(make_pod("b", cpu="500m")))
    assert result.node == "big"


def test_the_search_starts_where_the_last_one_stopped() -> None:
    nodes = [make_node(f"n{i:03}") for i in range(200)]
    _, algo = cluster(*nodes)
    algo.schedule(pod_info())
    assert algo.next_start_node_index == 100  # 200 nodes -> 100 to find, all feasible
    algo.schedule(pod_info())
    assert algo.next_start_node_index == 0


def test_a_forgotten_assumption_frees_the_node() -> None:
    cache, algo = cluster(make_node("only", cpu="1"))
    p = PodInfo(make_pod("a", cpu="1"))
    cache.assume(p, "only")
    with pytest.raises(FitError):
        algo.schedule(pod_info(name="b", cpu="1"))
    cache.forget(p.key)
    assert algo.schedule(pod_info(name="b", cpu="1")).node == "only"


def test_a_bound_pod_confirms_its_assumption_and_is_counted_once() -> None:
    cache, _ = cluster(make_node("n1"))
    p = PodInfo(make_pod("a", cpu="1"))
    cache.assume(p, "n1")
    bound = make_pod("a", cpu="1", node_name="n1")
    cache.add_pod(PodInfo(bound))
    assert not cache.is_assumed(p.key)
    node = cache.get_node("n1")
    assert node is not None and node.req_cpu == 1000
    cache.forget(p.key)  # a late forget of a confirmed pod does nothing
    assert node.req_cpu == 1000


def test_pods_bound_to_an_unknown_node_count_once_it_appears() -> None:
    cache = Cache()
    cache.add_pod(PodInfo(make_pod("a", cpu="1", node_name="late")))
    cache.add_node(make_node("late"))
    node = cache.get_node("late")
    assert node is not None and node.req_cpu == 1000


def test_a_memoised_score_is_recomputed_when_the_node_changes() -> None:
    cache, algo = cluster(make_node("a", cpu="4"), make_node("b", cpu="4"))
    first = PodInfo(make_pod("p0", cpu="1"))
    chosen = algo.schedule(first).node
    cache.assume(first, chosen)
    other = "b" if chosen == "a" else "a"
    # the node that took the pod now scores lower: the next like pod goes to the other one
    assert algo.schedule(PodInfo(make_pod("p1", cpu="1"))).node == other
