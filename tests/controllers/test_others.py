"""Endpoints, namespace, garbage collector, node IPAM, DaemonSet, Job and ServiceAccount reconcilers."""

from __future__ import annotations

import uuid

from kubelite.api.resources import (
    CONFIGMAPS,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    ENDPOINTSLICES,
    JOBS,
    NAMESPACES,
    NODES,
    PODS,
    REPLICASETS,
    SERVICEACCOUNTS,
    SERVICES,
)
from kubelite.controllers.command import parse_duration
from kubelite.controllers.daemonset import DaemonSetController
from kubelite.controllers.endpoints import EndpointsController
from kubelite.controllers.garbagecollector import GarbageCollector
from kubelite.controllers.job import JobController
from kubelite.controllers.namespace import NamespaceController
from kubelite.controllers.nodeipam import NodeIpamController
from kubelite.controllers.serviceaccount import ServiceAccountController

from .builders import deployment, node, owner_ref, pod, replicaset, template


def service(name: str = "web", target_port: object = "http") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.43.0.10",
                     "ports": [{"name": "http", "port": 80, "targetPort": target_port, "protocol": "TCP"}]}}


async def test_endpoints_list_ready_and_not_ready_pods_with_named_ports_resolved(harness):
    ports = [{"name": "http", "containerPort": 8080}]
    harness.client.add(SERVICES, service())
    harness.client.add(PODS, pod("a", node="n1", phase="Running", ready=True, ip="10.42.0.5", ports=ports),
                       pod("b", node="n1", phase="Running", ready=False, ip="10.42.0.6", ports=ports),
                       pod("no-ip", node="n1", ports=ports), pod("other", labels={"app": "x"}, ip="10.42.0.9"))
    ctrl = await harness.start(lambda c, f: EndpointsController(c, f))

    await ctrl.reconcile("default/web")

    ep = harness.client.object(ENDPOINTS, "web", "default")
    [subset] = ep["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.42.0.5"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.42.0.6"]
    assert subset["addresses"][0]["targetRef"]["name"] == "a"
    assert subset["addresses"][0]["nodeName"] == "n1"
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    [sl] = harness.client.objects(ENDPOINTSLICES)
    assert sl["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert [(e["addresses"], e["conditions"]["ready"]) for e in sl["endpoints"]] == \
        [(["10.42.0.5"], True), (["10.42.0.6"], False)]
    assert sl["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


async def test_endpoints_of_a_deleted_service_are_removed(harness):
    harness.client.add(ENDPOINTS, {"metadata": {"name": "web", "namespace": "default"}})
    ctrl = await harness.start(lambda c, f: EndpointsController(c, f))

    await ctrl.reconcile("default/web")

    assert harness.client.objects(ENDPOINTS) == []


async def test_a_terminating_namespace_is_emptied_then_finalized(harness):
    harness.client.add(NAMESPACES, {"metadata": {"name": "team", "finalizers": ["x-hold"]},
                                    "spec": {"finalizers": ["kubernetes"]}})
    await harness.client.delete(NAMESPACES, "team")  # the metadata finalizer keeps it, marked
    harness.client.add(CONFIGMAPS, {"metadata": {"name": "cm", "namespace": "team"}})
    ctrl = await harness.start(lambda c, f: NamespaceController(c, f))

    assert await ctrl.reconcile("team") is not None  # content deleted; check back later
    assert harness.client.objects(CONFIGMAPS, "team") == []
    harness.client.clear_actions()
    await harness.settle()
    assert await ctrl.reconcile("team") is None

    finalize = [a for a in harness.client.write_actions() if a.subresource == "finalize"]
    assert len(finalize) == 1 and finalize[0].body["spec"]["finalizers"] == []


async def test_dependents_whose_owner_is_gone_are_deleted(harness):
    ghost = replicaset("ghost")
    harness.client.add(PODS, pod("p", owner=ghost))
    gc = await harness.start(lambda c, f: GarbageCollector(c, f))

    await gc.reconcile("/pods|default/p")

    assert harness.client.objects(PODS) == []
    [delete] = [a for a in harness.client.write_actions() if a.verb == "delete"]
    assert delete.body["propagationPolicy"] == "Background"


async def test_dependents_with_a_live_owner_stay(harness):
    rs = replicaset("rs")
    harness.client.add(REPLICASETS, rs)
    harness.client.add(PODS, pod("p", owner=rs))
    gc = await harness.start(lambda c, f: GarbageCollector(c, f))

    await gc.reconcile("/pods|default/p")

    assert harness.writes() == []


async def test_orphan_finalizer_strips_owner_references_then_itself(harness):
    d = deployment("web")
    d["metadata"]["finalizers"] = ["orphan"]
    harness.client.add(DEPLOYMENTS, d)
    rs = replicaset("web-1")
    rs["metadata"]["ownerReferences"] = [owner_ref(d)]
    harness.client.add(REPLICASETS, rs)
    await harness.client.delete(DEPLOYMENTS, "web", "default")
    gc = await harness.start(lambda c, f: GarbageCollector(c, f))

    await gc.reconcile("apps/deployments|default/web")

    assert not harness.client.object(REPLICASETS, "web-1", "default")["metadata"].get("ownerReferences")
    assert harness.client.object(DEPLOYMENTS, "web", "default") is None


async def test_foreground_deletion_deletes_blocking_dependents_first(harness):
    d = deployment("web")
    d["metadata"]["finalizers"] = ["foregroundDeletion"]
    harness.client.add(DEPLOYMENTS, d)
    rs = replicaset("web-1")
    rs["metadata"]["ownerReferences"] = [owner_ref(d)]
    harness.client.add(REPLICASETS, rs)
    await harness.client.delete(DEPLOYMENTS, "web", "default")
    gc = await harness.start(lambda c, f: GarbageCollector(c, f))

    assert await gc.reconcile("apps/deployments|default/web") is not None  # waits for the dependent
    assert harness.client.object(REPLICASETS, "web-1", "default") is None
    assert harness.client.object(DEPLOYMENTS, "web", "default") is not None
    await harness.settle()
    await gc.reconcile("apps/deployments|default/web")
    assert harness.client.object(DEPLOYMENTS, "web", "default") is None


async def test_node_ipam_gives_distinct_cidrs_and_keeps_existing_ones_across_restarts(harness):
    taken = node("n0")
    taken["spec"] = {"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"]}
    harness.client.add(NODES, taken, node("n1"), node("n2"))
    ctrl = await harness.start(lambda c, f: NodeIpamController(c, f))
    await ctrl.before_run()

    await ctrl.reconcile("n1")
    await ctrl.reconcile("n2")

    cidrs = [n["spec"].get("podCIDR") for n in harness.client.objects(NODES)]
    assert cidrs == ["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"]
    assert harness.client.object(NODES, "n1")["spec"]["podCIDRs"] == ["10.42.1.0/24"]

    harness.client.add(NODES, node("n3"))
    restarted = await harness.start(lambda c, f: NodeIpamController(c, f))
    await restarted.before_run()
    await restarted.reconcile("n3")
    assert harness.client.object(NODES, "n3")["spec"]["podCIDR"] == "10.42.3.0/24"


def daemonset(name: str = "agent") -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4()), "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}}


async def test_a_daemonset_runs_one_pod_per_eligible_node_pinned_by_affinity(harness):
    harness.client.add(DAEMONSETS, daemonset())
    harness.client.add(NODES, node("plain"), node("cordoned", unschedulable=True),
                       node("sick", ready="Unknown", taints=[{"key": "node.kubernetes.io/unreachable",
                                                               "effect": "NoExecute"}]),
                       node("gpu-only", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}]))
    ctrl = await harness.start(lambda c, f: DaemonSetController(c, f))

    await ctrl.reconcile("default/agent")

    pinned = sorted(p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                    ["nodeSelectorTerms"][0]["matchFields"][0]["values"][0] for p in harness.client.objects(PODS))
    assert pinned == ["cordoned", "plain", "sick"]
    ds = harness.client.object(DAEMONSETS, "agent", "default")
    assert ds["status"]["desiredNumberScheduled"] == 3


async def test_a_daemonset_removes_the_pod_of_a_node_that_stops_matching(harness):
    ds = daemonset()
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"role": "edge"}
    harness.client.add(DAEMONSETS, ds)
    harness.client.add(NODES, node("n1", labels={"role": "core"}))
    stale = pod("agent-x", owner=ds, node="n1")
    harness.client.add(PODS, stale)
    ctrl = await harness.start(lambda c, f: DaemonSetController(c, f))

    await ctrl.reconcile("default/agent")

    assert harness.client.objects(PODS) == []


def job(completions: int | None = 3, parallelism: int = 2, backoff: int = 6) -> dict:
    spec: dict = {"parallelism": parallelism, "backoffLimit": backoff,
                  "template": {"metadata": {"labels": {"app": "batch"}},
                               "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    if completions is not None:
        spec["completions"] = completions
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": str(uuid.uuid4())}, "spec": spec}


async def test_a_job_runs_parallelism_pods_with_the_template_restart_policy(harness):
    harness.client.add(JOBS, job())
    ctrl = await harness.start(lambda c, f: JobController(c, f))

    await ctrl.reconcile("default/pi")

    pods = harness.client.objects(PODS)
    assert len(pods) == 2
    assert all(p["spec"]["restartPolicy"] == "Never" for p in pods)
    assert all(p["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "pi" for p in pods)
    assert harness.client.object(JOBS, "pi", "default")["status"]["startTime"]


async def test_a_job_completes_when_enough_pods_succeed(harness):
    j = job()
    harness.client.add(JOBS, j)
    harness.client.add(PODS, *(pod(f"pi-{i}", owner=j, phase="Succeeded") for i in range(3)))
    ctrl = await harness.start(lambda c, f: JobController(c, f))

    await ctrl.reconcile("default/pi")

    status = harness.client.object(JOBS, "pi", "default")["status"]
    assert status["succeeded"] == 3 and status["active"] == 0
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in status["conditions"])
    assert status["completionTime"]


async def test_a_job_fails_past_its_backoff_limit(harness):
    j = job(backoff=1)
    harness.client.add(JOBS, j)
    harness.client.add(PODS, pod("f1", owner=j, phase="Failed"), pod("f2", owner=j, phase="Failed"),
                       pod("running", owner=j, phase="Running"))
    ctrl = await harness.start(lambda c, f: JobController(c, f))

    await ctrl.reconcile("default/pi")

    status = harness.client.object(JOBS, "pi", "default")["status"]
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert status["failed"] == 2
    assert harness.client.object(PODS, "running", "default") is None


async def test_every_namespace_gets_a_default_service_account(harness):
    harness.client.add(NAMESPACES, {"metadata": {"name": "team"}})
    ctrl = await harness.start(lambda c, f: ServiceAccountController(c, f))

    await ctrl.reconcile("team")

    assert [s["metadata"]["name"] for s in harness.client.objects(SERVICEACCOUNTS, "team")] == ["default"]


def test_durations_parse_like_go():
    assert parse_duration("40s") == 40
    assert parse_duration("1m30s") == 90
    assert parse_duration("300") == 300
    assert parse_duration("250ms") == 0.25
    for bad in ("", "abc", "5x", "s"):
        try:
            parse_duration(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} parsed")
