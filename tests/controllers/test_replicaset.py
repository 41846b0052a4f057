"""ReplicaSet / ReplicationController reconciler, sample-controller style: preload, sync one key, compare actions."""

from __future__ import annotations

import contextlib

from kubelite.api.resources import PODS, REPLICASETS, REPLICATIONCONTROLLERS
from kubelite.client.rest import ApiError
from kubelite.controllers.replicaset import ReplicaSetController, calculate_status
from kubelite.controllers.util import deletion_rank

from .builders import owner_ref, pod, replicaset


async def test_a_replicaset_with_3_replicas_and_no_pods_creates_3_pods_owned_by_it(harness):
    rs = replicaset("web", 3)
    harness.client.add(REPLICASETS, rs)
    ctrl = await harness.start(lambda c, f: ReplicaSetController(c, f))

    await ctrl.reconcile("default/web")

    assert harness.writes() == [("create", "pods", None)] * 3 + [("update", "replicasets", "status")]
    for created in harness.client.objects(PODS):
        assert created["metadata"]["name"].startswith("web-")
        assert created["metadata"]["ownerReferences"] == [owner_ref(rs)]
        assert created["metadata"]["labels"] == {"app": "web"}
        assert created["spec"]["containers"][0]["image"] == "nginx:1"


async def test_a_second_sync_before_the_informer_sees_the_pods_does_not_create_again(harness):
    harness.client.add(REPLICASETS, replicaset("web", 3))
    ctrl = await harness.start(lambda c, f: ReplicaSetController(c, f))

    await ctrl.reconcile("default/web")
    # Nothing ran in between: the informer has not seen the pods (nor the new status, so the
    # status write may conflict and be retried later; that is fine).
    with contextlib.suppress(ApiError):
        await ctrl.reconcile("default/web")

    assert len(harness.client.objects(PODS)) == 3


async def test_scaling_down_deletes_the_unscheduled_pod_before_ready_ones(harness):
    rs = replicaset("web", 2)
    harness.client.add(REPLICASETS, rs)
    harness.client.add(PODS, pod("a", owner=rs, node="n1", phase="Running", ready=True, ip="10.42.0.2"),
                       pod("b", owner=rs), pod("c", owner=rs, node="n1", phase="Running", ready=True, ip="10.42.0.3"))
    ctrl = await harness.start(lambda c, f: ReplicaSetController(c, f))

    await ctrl.reconcile("default/web")

    deletes = [a.name for a in harness.client.write_actions() if a.verb == "delete"]
    assert deletes == ["b"]


async def test_orphans_matching_the_selector_are_adopted_and_non_matching_pods_released(harness):
    rs = replicaset("web", 2)
    harness.client.add(REPLICASETS, rs)
    other = pod("mine-but-relabelled", labels={"app": "other"}, owner=rs)
    harness.client.add(PODS, pod("orphan"), pod("owned", owner=rs), other)
    ctrl = await harness.start(lambda c, f: ReplicaSetController(c, f))

    await ctrl.reconcile("default/web")

    assert harness.client.object(PODS, "orphan", "default")["metadata"]["ownerReferences"] == [owner_ref(rs)]
    assert not harness.client.object(PODS, "mine-but-relabelled", "default")["metadata"].get("ownerReferences")
    assert [a.verb for a in harness.client.write_actions() if a.resource_plural == "pods"] == ["patch", "patch"]


async def test_status_counts_ready_and_available_pods_with_min_ready_seconds():
    rs = replicaset("web", 3)
    rs["spec"]["minReadySeconds"] = 10
    rs["metadata"]["generation"] = 4
    pods = [pod("a", ready=True, ready_since=1000), pod("b", ready=True, ready_since=1095), pod("c")]

    status = calculate_status(rs, pods, 10, now=1100)

    assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 1,
                      "observedGeneration": 4}


def test_delete_preference_orders_unscheduled_pending_notready_first():
    pods = [pod("ready", node="n", phase="Running", ready=True, ready_since=5),
            pod("unscheduled"),
            pod("notready", node="n", phase="Running"),
            pod("pending", node="n")]
    assert [p["metadata"]["name"] for p in sorted(pods, key=deletion_rank)] == \
        ["unscheduled", "pending", "notready", "ready"]


async def test_a_replication_controller_uses_its_plain_selector_and_kind(harness):
    rc = {"apiVersion": "v1", "kind": "ReplicationController",
          "metadata": {"name": "rc", "namespace": "default"},
          "spec": {"replicas": 1, "selector": {"app": "web"},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    harness.client.add(REPLICATIONCONTROLLERS, rc)
    ctrl = await harness.start(lambda c, f: ReplicaSetController(c, f, res=REPLICATIONCONTROLLERS))

    await ctrl.reconcile("default/rc")

    [created] = harness.client.objects(PODS)
    assert created["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
    await harness.settle()  # the informer sees the pod and the status write; the next sync counts it
    await ctrl.reconcile("default/rc")
    assert harness.client.object(REPLICATIONCONTROLLERS, "rc", "default")["status"]["replicas"] == 1


async def test_a_deleted_replicaset_is_done(harness):
    ctrl = await harness.start(lambda c, f: ReplicaSetController(c, f))
    assert await ctrl.reconcile("default/gone") is None
    assert harness.writes() == []
