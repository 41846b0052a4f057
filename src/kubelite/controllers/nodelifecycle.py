"""Node lifecycle: notice silent nodes, taint them, and evict their pods.

A node is alive while its kubelet renews its Lease (kube-node-lease/<node>) or posts status.
The controller does not trust the timestamps in those objects (clocks differ between machines):
it records, with its own clock, when it last *saw either change*. Past the grace period with no
change, the node's conditions become Unknown ("NodeStatusUnknown") and it is tainted
node.kubernetes.io/unreachable (NoSchedule + NoExecute); a node reporting Ready=False gets
node.kubernetes.io/not-ready instead. Condition taints (memory/disk/pid pressure, unschedulable)
follow the same path, as Kubernetes' TaintNodesByCondition does.

Pods on a node that is not Ready are marked Ready=False at once (so Services stop sending them
traffic) and are deleted once a NoExecute taint has been there longer than they tolerate: their
own tolerationSeconds when they tolerate the taint, else the configured default (300 s, what
Kubernetes' DefaultTolerationSeconds admission would have written) for not-ready/unreachable,
and at once for any other NoExecute taint. Their controllers then replace them elsewhere.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from kubelite.api.resources import LEASES, NODES, PODS
from kubelite.client.informer import InformerFactory
from kubelite.client.lister import index_by_node_name
from kubelite.client.rest import ApiError, is_conflict, is_not_found
from kubelite.controllers.base import Controller, NullRecorder, Recorder
from kubelite.controllers.util import (
    DEFAULT_TOLERATION_SECONDS,
    Obj,
    WallClock,
    deep,
    epoch,
    is_deleting,
    is_pod_ready,
    is_pod_terminal,
    key_of,
    meta,
    node_condition,
    rfc3339,
    toleration_matches,
    wall_now,
)

log = logging.getLogger("kubelite.controllers.nodelifecycle")

# Event reasons
NODE_NOT_READY = "NodeNotReady"
TAINT_EVICTION = "TaintManagerEviction"
DELETING_NODE = "DeletingNode"

LEASE_NAMESPACE = "kube-node-lease"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
CONDITION_TAINTS = {
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
    "NetworkUnavailable": "node.kubernetes.io/network-unavailable",
}
MANAGED_TAINTS = {TAINT_UNREACHABLE, TAINT_NOT_READY, TAINT_UNSCHEDULABLE, *CONDITION_TAINTS.values()}
#: Conditions that turn Unknown when a node goes silent (NetworkUnavailable is not the kubelet's).
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


class NodeLifecycleController(Controller):
    """Watches node heartbeats; taints silent or unready nodes and evicts their pods."""

    name = "nodelifecycle"

    def __init__(self, client: Any, factory: InformerFactory, recorder: Recorder | None = None, *,
                 grace_period: float = 40.0, default_toleration_seconds: float = DEFAULT_TOLERATION_SECONDS,
                 now: WallClock = wall_now) -> None:
        super().__init__()
        self.client = client                            # ApiClient: node status, taints, pod writes
        self.recorder = recorder or NullRecorder()
        self.grace_period = grace_period                # silence after which a node is Unknown
        self.default_toleration = default_toleration_seconds
        self.now = now
        #: node -> (heartbeat signature last seen, when we saw it change, by our clock)
        self.probes: dict[str, tuple[Any, float]] = {}
        #: node -> the cached Node its last reconcile found Ready, untainted NoExecute and left as it
        #: was: while the cache still holds that very object, a pod landing there needs nothing
        self.settled: dict[str, Obj] = {}
        node_informer = factory.informer(NODES)
        # every namespace's Leases, filtered here: the garbage collector of the same process watches
        # them all, and one shared watch decodes each renewal (500 a second at 5000 nodes) once
        lease_informer = factory.informer(LEASES)
        pod_informer = factory.informer(PODS)
        self.node_lister = node_informer.store          # nodes
        self.lease_lister = lease_informer.store        # leases (the nodes' in kube-node-lease)
        self.pod_lister = pod_informer.store            # pods, indexed by node
        self.pod_lister.add_index("node", index_by_node_name)
        node_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        lease_informer.add_handler(self._on_lease, lambda old, new: self._on_lease(new), None)
        pod_informer.add_handler(self._on_pod, self._on_pod_update, None)

    def _on_lease(self, lease: Obj) -> None:
        m = meta(lease)
        if m.get("namespace") == LEASE_NAMESPACE:
            self.queue.add(str(m.get("name")))

    def _on_pod(self, pod: Obj) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and not self._is_settled(str(node)):
            self.queue.add(str(node))

    def _is_settled(self, name: str) -> bool:
        """Whether a pod on this node would leave its reconcile nothing to do: the node's last
        reconcile saw this same cached Node Ready with no NoExecute taint (so no pod there is
        marked not ready or evicted: Kubernetes' podUpdated does nothing on such a node), and it
        is not silent by now. Anything else that changes the answer (a Node update, a Lease
        renewal, the grace period running out) enqueues the node by itself."""
        node = self.settled.get(name)
        if node is None or self.node_lister.get(name) is not node:
            return False
        probe = self.probes.get(name)
        return probe is not None and self.now() - probe[1] <= self.grace_period

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        """A pod matters to its node's reconcile when it lands on the node (it may have to be marked
        not ready or evicted there) or its tolerations change (its eviction time moves), as in
        Kubernetes' podUpdated / taint manager. Its own status writes (several per pod start, each
        a node reconcile before) change neither."""
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if old_spec.get("nodeName") != new_spec.get("nodeName") \
                or old_spec.get("tolerations") != new_spec.get("tolerations"):
            self._on_pod(new)

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        self.settled.pop(key, None)
        cached = self.node_lister.get(key)
        if cached is None:
            self.probes.pop(key, None)
            await self._delete_orphaned_pods(key)
            return None
        node: Obj = cached  # read only: _mark_unknown copies before it changes anything
        now = self.now()
        sig = self._heartbeat_signature(node)
        prev = self.probes.get(key)
        if prev is None or prev[0] != sig:
            self.probes[key] = (sig, now)
        silent_for = now - self.probes[key][1]
        silent = silent_for > self.grace_period

        if silent:
            node = await self._mark_unknown(node, now)
        ready = node_condition(node, "Ready")
        ready_status = (ready or {}).get("status", "Unknown" if silent else None)
        node = await self._sync_taints(node, ready_status, now)

        next_check: float = math.inf if silent else self.grace_period - silent_for + 0.5
        if ready_status in ("False", "Unknown"):
            await self._mark_pods_not_ready(key)
        after = await self._evict(node, now)
        next_check = min(next_check, after)
        if not silent and ready_status == "True" and node is cached \
                and not any(t.get("effect") == "NoExecute" for t in (node.get("spec") or {}).get("taints") or []):
            self.settled[key] = cached
        return None if math.isinf(next_check) else max(0.1, next_check)

    def _heartbeat_signature(self, node: Mapping[str, Any]) -> tuple[Any, ...]:
        lease = self.lease_lister.get_by(LEASE_NAMESPACE, str(meta(node).get("name")))
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        beats = tuple(c.get("lastHeartbeatTime") for c in (node.get("status") or {}).get("conditions") or [])
        return (renew, beats)

    async def _mark_unknown(self, node: Obj, now: float) -> Obj:
        node = deep(node)
        status = node.setdefault("status", {})
        conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
        changed = False
        ts = rfc3339(now)
        if node_condition(node, "Ready") is None:
            conditions.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status.",
                               "lastHeartbeatTime": ts, "lastTransitionTime": ts})
            changed = True
        for c in conditions:
            if c.get("type") in KUBELET_CONDITIONS and c.get("status") != "Unknown":
                c.update(status="Unknown", reason="NodeStatusUnknown",
                         message="Kubelet stopped posting node status.", lastTransitionTime=ts)
                changed = True
        if not changed:
            return node
        self.recorder.event(node, "Normal", NODE_NOT_READY,
                            f"Node {meta(node).get('name')} status is now: NodeNotReady")
        try:
            result: Obj = await self.client.replace(NODES, node, subresource="status")
        except ApiError as e:
            if is_not_found(e):
                return node
            raise
        # Our own write is not a heartbeat: keep the silence clock running.
        name = str(meta(node).get("name"))
        self.probes[name] = (self._heartbeat_signature(result), self.probes[name][1])
        return result

    async def _sync_taints(self, node: Obj, ready_status: str | None, now: float) -> Obj:
        spec = node.get("spec") or {}
        current = list(spec.get("taints") or [])
        wanted = desired_taints(node, ready_status)
        kept = [t for t in current if t.get("key") not in MANAGED_TAINTS]
        for key, effect in wanted:
            old = next((t for t in current if t.get("key") == key and t.get("effect") == effect), None)
            if old is not None:
                kept.append(old)
            else:
                taint: dict[str, Any] = {"key": key, "effect": effect}
                if effect == "NoExecute":
                    taint["timeAdded"] = rfc3339(now)
                kept.append(taint)
        if _taint_set(kept) == _taint_set(current):
            return node
        try:
            result: Obj = await self.client.patch(NODES, str(meta(node)["name"]),
                                                  {"spec": {"taints": kept or None}}, patch_type="merge")
        except ApiError as e:
            if is_not_found(e):
                return node
            raise
        name = str(meta(node).get("name"))
        if name in self.probes:
            self.probes[name] = (self._heartbeat_signature(result), self.probes[name][1])
        return result

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        for cached in self.pod_lister.by_index("node", node_name):
            if is_pod_terminal(cached) or not is_pod_ready(cached):
                continue
            pod = deep(cached)
            ts = rfc3339(self.now())
            for c in pod["status"]["conditions"]:
                if c.get("type") == "Ready":
                    c.update(status="False", lastTransitionTime=ts, reason="NodeNotReady",
                             message="Node is not ready")
            try:
                await self.client.replace(PODS, pod, meta(pod).get("namespace"), subresource="status")
            except ApiError as e:
                if not (is_not_found(e) or is_conflict(e)):
                    raise

    async def _evict(self, node: Obj, now: float) -> float:
        """Delete pods whose toleration of the node's NoExecute taints has run out.

        Returns the seconds until the next pod runs out (inf when none will).
        """
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return math.inf
        since = max((epoch(t.get("timeAdded")) or now) for t in taints)
        next_due = math.inf
        for pod in self.pod_lister.by_index("node", str(meta(node).get("name"))):
            if is_deleting(pod):
                continue
            seconds = toleration_seconds(pod, taints, self.default_toleration)
            if math.isinf(seconds):
                continue
            due = since + seconds
            if due > now:
                next_due = min(next_due, due - now)
                continue
            self.recorder.event(pod, "Normal", TAINT_EVICTION, f"Marking for deletion Pod {key_of(pod)}")
            try:
                await self.client.delete(PODS, meta(pod)["name"], meta(pod).get("namespace"))
            except ApiError as e:
                if not is_not_found(e):
                    raise
        return next_due

    async def _delete_orphaned_pods(self, node_name: str) -> None:
        """Pods bound to a node that no longer exists can never run (Kubernetes' pod GC)."""
        for pod in self.pod_lister.by_index("node", node_name):
            try:
                await self.client.delete(PODS, meta(pod)["name"], meta(pod).get("namespace"), grace_period_seconds=0)
            except ApiError as e:
                if not is_not_found(e):
                    raise


# -- pure helpers -------------------------------------------------------------------------------


def _taint_set(taints: list[dict[str, Any]]) -> set[tuple[Any, Any, Any]]:
    return {(t.get("key"), t.get("effect"), t.get("value")) for t in taints}


def desired_taints(node: Mapping[str, Any], ready_status: str | None) -> list[tuple[str, str]]:
    """The (key, effect) taints this controller wants on a node, given its Ready status."""
    out: list[tuple[str, str]] = []
    if ready_status == "Unknown":
        out += [(TAINT_UNREACHABLE, "NoSchedule"), (TAINT_UNREACHABLE, "NoExecute")]
    elif ready_status == "False":
        out += [(TAINT_NOT_READY, "NoSchedule"), (TAINT_NOT_READY, "NoExecute")]
    if (node.get("spec") or {}).get("unschedulable"):
        out.append((TAINT_UNSCHEDULABLE, "NoSchedule"))
    for cond, taint in CONDITION_TAINTS.items():
        c = node_condition(node, cond)
        if c is not None and c.get("status") == "True":
            out.append((taint, "NoSchedule"))
    return out


def toleration_seconds(pod: Mapping[str, Any], taints: list[dict[str, Any]], default: float) -> float:
    """How long a pod may stay on a node with these NoExecute taints (inf = forever, 0 = now)."""
    tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or []
                   if (t.get("effect") or "NoExecute") == "NoExecute"]
    best = math.inf
    for taint in taints:
        matching = [t for t in tolerations if toleration_matches(t, taint)]
        if not matching:
            if taint.get("key") in (TAINT_NOT_READY, TAINT_UNREACHABLE):
                best = min(best, default)
                continue
            return 0.0
        secs = [max(0.0, float(t["tolerationSeconds"])) for t in matching if t.get("tolerationSeconds") is not None]
        if secs:
            best = min(best, min(secs))
    return best
