"""Deployment reconciler: ReplicaSets per revision, rolling update arithmetic, revisions, status."""

from __future__ import annotations

from typing import Any

from kubelite.api.resources import DEPLOYMENTS, REPLICASETS
from kubelite.controllers import deployment as dep
from kubelite.controllers.deployment import DeploymentController, build_replicaset, pod_template_hash

from .builders import deployment


def rs_for(d: dict[str, Any], rev: int, replicas: int, available: int | None = None, image: str | None = None,
           created: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    src = d
    if image is not None:
        src = {**d, "spec": {**d["spec"], "template": {**d["spec"]["template"], "spec": {
            "containers": [{"name": "c", "image": image}], "restartPolicy": "Always"}}}}
    rs = build_replicaset(src, str(rev), replicas)
    rs["metadata"]["creationTimestamp"] = created
    avail = replicas if available is None else available
    rs["status"] = {"replicas": replicas, "readyReplicas": avail, "availableReplicas": avail,
                    "observedGeneration": 1}
    return rs


async def test_a_new_deployment_creates_a_replicaset_with_all_replicas_and_revision_1(harness):
    d = deployment("web", 3)
    harness.client.add(DEPLOYMENTS, d)
    ctrl = await harness.start(lambda c, f: DeploymentController(c, f))

    await ctrl.reconcile("default/web")

    [rs] = harness.client.objects(REPLICASETS)
    h = pod_template_hash(d["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"][dep.REVISION] == "1"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == h
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    status = harness.client.object(DEPLOYMENTS, "web", "default")["status"]
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetCreated"


def test_the_pod_template_hash_is_stable_and_changes_with_the_template():
    d = deployment("web")
    again = deployment("web")
    assert pod_template_hash(d["spec"]["template"]) == pod_template_hash(again["spec"]["template"])
    assert pod_template_hash(deployment("web", image="nginx:2")["spec"]["template"]) != \
        pod_template_hash(d["spec"]["template"])
    assert pod_template_hash(d["spec"]["template"], 1) != pod_template_hash(d["spec"]["template"])


async def test_a_template_change_starts_a_rolling_update_within_max_surge(harness):
    d = deployment("web", 4, image="nginx:2")
    old = rs_for(d, 1, 4, image="nginx:1")
    harness.client.add(DEPLOYMENTS, d)
    harness.client.add(REPLICASETS, old)
    ctrl = await harness.start(lambda c, f: DeploymentController(c, f))

    await ctrl.reconcile("default/web")

    sets = {r["metadata"]["name"]: r for r in harness.client.objects(REPLICASETS)}
    new = next(r for n, r in sets.items() if n != old["metadata"]["name"])
    assert new["spec"]["replicas"] == 1  # 25% of 4 surge
    assert new["metadata"]["annotations"][dep.REVISION] == "2"
    # 5 pods, at least 3 (4 - 25%) must stay available, the new one is not yet: one old pod may go.
    assert sets[old["metadata"]["name"]]["spec"]["replicas"] == 3


async def test_old_replicas_are_scaled_down_only_while_enough_stay_available(harness):
    d = deployment("web", 4, image="nginx:2")
    old = rs_for(d, 1, 4, image="nginx:1")
    new = rs_for(d, 2, 1, available=0, created="2024-01-02T00:00:00Z")
    harness.client.add(DEPLOYMENTS, d)
    harness.client.add(REPLICASETS, old, new)
    ctrl = await harness.start(lambda c, f: DeploymentController(c, f))

    await ctrl.reconcile("default/web")

    # 5 pods, min available 3, 1 new unavailable: one old pod may go.
    assert harness.client.object(REPLICASETS, old["metadata"]["name"], "default")["spec"]["replicas"] == 3


async def test_rolling_back_to_an_old_template_makes_its_replicaset_the_newest_revision(harness):
    d = deployment("web", 2, image="nginx:1")
    first = rs_for(d, 1, 0, image="nginx:1")
    second = rs_for(d, 2, 2, image="nginx:2", created="2024-01-02T00:00:00Z")
    harness.client.add(DEPLOYMENTS, d)
    harness.client.add(REPLICASETS, first, second)
    ctrl = await harness.start(lambda c, f: DeploymentController(c, f))

    await ctrl.reconcile("default/web")

    back = harness.client.object(REPLICASETS, first["metadata"]["name"], "default")
    assert back["metadata"]["annotations"][dep.REVISION] == "3"
    assert back["spec"]["replicas"] == 1  # surge 25% of 2 rounds up to 1
    assert harness.client.object(DEPLOYMENTS, "web", "default")["metadata"]["annotations"][dep.REVISION] == "3"


async def test_a_finished_rollout_reports_new_replicaset_available_and_prunes_history(harness):
    d = deployment("web", 2, revisionHistoryLimit=1)
    current = rs_for(d, 4, 2, created="2024-01-04T00:00:00Z")
    olds = [rs_for(d, i, 0, image=f"nginx:old{i}", created=f"2024-01-0{i}T00:00:00Z") for i in (1, 2, 3)]
    harness.client.add(DEPLOYMENTS, d)
    harness.client.add(REPLICASETS, current, *olds)
    ctrl = await harness.start(lambda c, f: DeploymentController(c, f))

    await ctrl.reconcile("default/web")

    left = sorted(r["metadata"]["annotations"][dep.REVISION] for r in harness.client.objects(REPLICASETS))
    assert left == ["3", "4"]
    status = harness.client.object(DEPLOYMENTS, "web", "default")["status"]
    assert {k: status[k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                                   "unavailableReplicas", "observedGeneration")} == \
        {"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
         "unavailableReplicas": 0, "observedGeneration": 1}
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Available"]["status"] == "True"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conds["Progressing"]["message"] == f'ReplicaSet "{current["metadata"]["name"]}" has successfully progressed.'


async def test_recreate_scales_old_to_zero_before_creating_the_new_set(harness):
    d = deployment("web", 3, image="nginx:2", strategy={"type": "Recreate"})
    old = rs_for(d, 1, 3, image="nginx:1")
    harness.client.add(DEPLOYMENTS, d)
    harness.client.add(REPLICASETS, old)
    ctrl = await harness.start(lambda c, f: DeploymentController(c, f))

    await ctrl.reconcile("default/web")

    assert [r["spec"]["replicas"] for r in harness.client.objects(REPLICASETS)] == [0]


async def test_scaling_during_a_rollout_is_spread_proportionally(harness):
    d = deployment("web", 20, image="nginx:2")  # was 10; maxSurge 25% -> 13 max before, 25 now
    old = rs_for(d, 1, 8, image="nginx:1")
    new = rs_for(d, 2, 5, available=0, created="2024-01-02T00:00:00Z")
    for r in (old, new):
        r["metadata"]["annotations"][dep.DESIRED_REPLICAS] = "10"
        r["metadata"]["annotations"][dep.MAX_REPLICAS] = "13"
    harness.client.add(DEPLOYMENTS, d)
    harness.client.add(REPLICASETS, old, new)
    ctrl = await harness.start(lambda c, f: DeploymentController(c, f))

    await ctrl.reconcile("default/web")

    sizes = {r["metadata"]["annotations"][dep.REVISION]: r["spec"]["replicas"]
             for r in harness.client.objects(REPLICASETS)}
    assert sizes == {"1": 15, "2": 10}  # 8*25/13 = 15.4 -> 15, 5*25/13 = 9.6 -> 10


async def test_a_paused_deployment_does_not_roll_out(harness):
    d = deployment("web", 2, image="nginx:2", paused=True)
    old = rs_for(d, 1, 2, image="nginx:1")
    harness.client.add(DEPLOYMENTS, d)
    harness.client.add(REPLICASETS, old)
    ctrl = await harness.start(lambda c, f: DeploymentController(c, f))

    await ctrl.reconcile("default/web")

    assert len(harness.client.objects(REPLICASETS)) == 1
    conds = harness.client.object(DEPLOYMENTS, "web", "default")["status"]["conditions"]
    assert next(c for c in conds if c["type"] == "Progressing")["reason"] == "DeploymentPaused"


def test_int_or_percent_rounding():
    assert dep.resolve_int_or_percent("25%", 10, True) == 3
    assert dep.resolve_int_or_percent("25%", 10, False) == 2
    assert dep.resolve_int_or_percent(2, 10, False) == 2
    d = deployment("web", 3, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0,
                                                                                  "maxUnavailable": 0}})
    assert (dep.max_surge(d), dep.max_unavailable(d)) == (0, 1)
