"""Deployment controller: one ReplicaSet per template revision, rolled over by strategy.

The ReplicaSet whose template equals the Deployment's (ignoring the pod-template-hash label) is
the "new" one; the others are "old". RollingUpdate grows the new set by at most maxSurge above
spec.replicas and shrinks old ones only while at least replicas - maxUnavailable pods stay
available; Recreate scales old sets to zero, waits for their pods to go, then grows the new one.
When spec.replicas changes during a rollout, the difference is spread over the active sets in
proportion to their sizes (Kubernetes' proportional scaling), so a rollout is not restarted.

Revisions: the new set carries `deployment.kubernetes.io/revision` = (highest old revision) + 1,
including when an old set becomes new again, which is how `kubectl rollout undo` (done by kubectl
client-side, by copying an old set's template) ends up as the latest revision.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import orjson

from kubelite.api.resources import DEPLOYMENTS, PODS, REPLICASETS
from kubelite.client.informer import InformerFactory
from kubelite.client.lister import index_by_owner_uid
from kubelite.client.rest import ApiError, is_already_exists, is_not_found
from kubelite.controllers.base import Controller, NullRecorder, Recorder, claim
from kubelite.controllers.util import (
    Obj,
    WallClock,
    controller_ref,
    deep,
    epoch,
    is_deleting,
    is_pod_terminal,
    key_of,
    labels_of,
    meta,
    new_controller_ref,
    rfc3339,
    selector_of,
    split_key,
    wall_now,
)

log = logging.getLogger("kubelite.controllers.deployment")

# Event reasons
SCALING_REPLICA_SET = "ScalingReplicaSet"
SELECTING_ALL = "SelectingAll"

# Annotations
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
POD_TEMPLATE_HASH = "pod-template-hash"
_NOT_COPIED = {REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
               "kubectl.kubernetes.io/last-applied-configuration", "deprecated.deployment.rollback.to"}

# Condition reasons (what `kubectl rollout status` and `describe` show)
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


class DeploymentController(Controller):
    """Reconciles Deployments by creating, scaling and pruning their ReplicaSets."""

    name = "deployment"

    def __init__(self, client: Any, factory: InformerFactory, recorder: Recorder | None = None, *,
                 now: WallClock = wall_now) -> None:
        super().__init__()
        self.client = client                      # ApiClient: all writes
        self.recorder = recorder or NullRecorder()
        self.now = now
        d_informer = factory.informer(DEPLOYMENTS)
        rs_informer = factory.informer(REPLICASETS)
        pod_informer = factory.informer(PODS)
        self.d_lister = d_informer.store          # deployments
        self.rs_lister = rs_informer.store        # their ReplicaSets (claimed by controllerRef)
        self.pod_lister = pod_informer.store      # pods, for Recreate's "old pods gone" check
        self.pod_lister.add_index("owner-uid", index_by_owner_uid)
        d_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        rs_informer.add_handler(self._on_rs, self._on_rs_update, self._on_rs)
        pod_informer.add_handler(None, None, self._on_pod_delete)

    # -- handlers ------------------------------------------------------------------------------

    def _owner_of(self, rs: Mapping[str, Any]) -> Obj | None:
        ref = controller_ref(rs)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.d_lister.get_by(meta(rs).get("namespace"), str(ref.get("name")))
        return d if d is not None and meta(d).get("uid") == ref.get("uid") else None

    def _on_rs(self, rs: Obj) -> None:
        owner = self._owner_of(rs)
        if owner is not None:
            self.enqueue(owner)
        elif controller_ref(rs) is None:
            for d in self.d_lister.list(meta(rs).get("namespace")):
                sel = selector_of(d)
                if sel is not None and sel.matches(labels_of(rs)):
                    self.enqueue(d)

    def _on_rs_update(self, old: Obj, new: Obj) -> None:
        self._on_rs(old)
        self._on_rs(new)

    def _on_pod_delete(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_lister.get_by(meta(pod).get("namespace"), str(ref.get("name")))
        owner = self._owner_of(rs) if rs is not None else None
        if owner is not None and ((owner.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            self.enqueue(owner)

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        cached = self.d_lister.get(key)
        if cached is None:
            return None
        d: Obj = deep(cached)
        ns, _ = split_key(key)
        selector = selector_of(d)
        if selector is None or selector.empty:
            self.recorder.event(d, "Warning", SELECTING_ALL, "This deployment is selecting all pods. "
                                "A non-empty selector is required.")
            return None
        rs_list = await claim(self.client, REPLICASETS, d, DEPLOYMENTS, selector, list(self.rs_lister.list(ns)))
        if is_deleting(d):
            return await self._sync_status_only(d, rs_list)
        await self._check_paused_condition(d)
        spec = d.get("spec") or {}
        if spec.get("paused") or self._is_scaling_event(d, rs_list):
            return await self._sync(d, rs_list)
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            return await self._rollout_recreate(d, rs_list)
        return await self._rollout_rolling(d, rs_list)

    # -- the ReplicaSets of a Deployment -------------------------------------------------------

    def _split(self, d: Obj, rs_list: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        """(new set or None, old sets), oldest first."""
        ordered = sorted(rs_list, key=lambda r: (epoch(meta(r).get("creationTimestamp")) or 0.0, meta(r).get("name")))
        template = (d.get("spec") or {}).get("template") or {}
        new = next((r for r in ordered if templates_equal(template, (r.get("spec") or {}).get("template") or {})),
                   None)
        return new, [r for r in ordered if r is not new]

    async def _get_all(self, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """The new and old sets, with the new set's revision made the highest (created if asked)."""
        new, old = self._split(d, rs_list)
        new_revision = str(max((revision(r) for r in old), default=0) + 1)
        if new is not None:
            new = await self._sync_new_rs_annotations(d, new, old, new_revision)
        elif create:
            new = await self._create_new_rs(d, old, new_revision)
        if new is not None and (meta(d).get("annotations") or {}).get(REVISION) != revision_str(new):
            try:
                patched = await self.client.patch(DEPLOYMENTS, meta(d)["name"],
                                                  {"metadata": {"annotations": {REVISION: revision_str(new)}}},
                                                  meta(d).get("namespace"), patch_type="merge")
            except ApiError as e:
                if not is_not_found(e):
                    raise
            else:  # keep writing status against the version we just made
                meta(d)["resourceVersion"] = meta(patched).get("resourceVersion")
                meta(d).setdefault("annotations", {})[REVISION] = revision_str(new)
        return new, old

    async def _sync_new_rs_annotations(self, d: Obj, new: Obj, old: list[Obj], new_revision: str) -> Obj:
        anns = dict(meta(new).get("annotations") or {})
        want = dict(anns)
        for k, v in (meta(d).get("annotations") or {}).items():
            if k not in _NOT_COPIED:
                want[k] = v
        if revision(new) < int(new_revision):
            want[REVISION] = new_revision
        surge = max_surge(d)
        replicas = spec_replicas(d)
        want.setdefault(DESIRED_REPLICAS, str(replicas))
        want.setdefault(MAX_REPLICAS, str(replicas + surge))
        min_ready = int((d.get("spec") or {}).get("minReadySeconds") or 0)
        if want == anns and int((new.get("spec") or {}).get("minReadySeconds") or 0) == min_ready:
            return new
        updated = deep(new)
        meta(updated)["annotations"] = want
        updated["spec"]["minReadySeconds"] = min_ready
        result: Obj = await self.client.replace(REPLICASETS, updated, meta(d).get("namespace"))
        return result

    async def _create_new_rs(self, d: Obj, old: list[Obj], new_revision: str) -> Obj:
        ns = meta(d).get("namespace")
        collision = int((d.get("status") or {}).get("collisionCount") or 0)
        replicas = new_rs_replicas(d, old, None)
        rs = build_replicaset(d, new_revision, replicas, collision)
        try:
            created: Obj = await self.client.create(REPLICASETS, rs, ns)
        except ApiError as e:
            if not is_already_exists(e):
                raise
            existing: Obj = await self.client.get(REPLICASETS, meta(rs)["name"], ns)
            if (controller_ref(existing) or {}).get("uid") == meta(d).get("uid") and \
                    templates_equal((d.get("spec") or {}).get("template") or {}, existing["spec"]["template"]):
                return existing  # ours; the informer has not caught up yet
            status = dict(d.get("status") or {})
            status["collisionCount"] = collision + 1
            d["status"] = status
            await self.client.replace(DEPLOYMENTS, d, ns, subresource="status")
            raise RuntimeError(f"hash collision for ReplicaSet {meta(rs)['name']}: retrying with a new hash") from e
        self.recorder.event(d, "Normal", SCALING_REPLICA_SET,
                            f"Scaled up replica set {meta(created)['name']} from 0 to {replicas}")
        conditions = list((d.get("status") or {}).get("conditions") or [])
        set_deployment_condition(conditions, condition("Progressing", "True", NEW_RS_CREATED,
                                                       f'Created new replica set "{meta(created)["name"]}"',
                                                       self.now()))
        d.setdefault("status", {})["conditions"] = conditions
        return created

    async def _scale_rs(self, d: Obj, rs: Obj, replicas: int) -> Obj:
        """Set a set's replicas and its desired/max-replicas annotations (one PUT, only if needed)."""
        current = int((rs.get("spec") or {}).get("replicas") or 0)
        anns = dict(meta(rs).get("annotations") or {})
        want = dict(anns)
        want[DESIRED_REPLICAS] = str(spec_replicas(d))
        want[MAX_REPLICAS] = str(spec_replicas(d) + max_surge(d))
        if current == replicas and want == anns:
            return rs
        updated = deep(rs)
        updated["spec"]["replicas"] = replicas
        meta(updated)["annotations"] = want
        result: Obj = await self.client.replace(REPLICASETS, updated, meta(rs).get("namespace"))
        if current != replicas:
            verb = "up" if replicas > current else "down"
            self.recorder.event(d, "Normal", SCALING_REPLICA_SET,
                                f"Scaled {verb} replica set {meta(rs)['name']} from {current} to {replicas}")
        return result

    # -- strategies ----------------------------------------------------------------------------

    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> float | None:
        new, old = await self._get_all(d, rs_list, create=True)
        assert new is not None
        all_rs = old + [new]
        # Grow the new set first (within maxSurge).
        want = new_rs_replicas(d, old, new)
        if want != replicas_of(new):
            new = await self._scale_rs(d, new, want)
            return await self._sync_rollout_status(d, old + [new], new)
        # Then shrink the old ones (within maxUnavailable).
        if await self._reconcile_old(d, old, new, all_rs):
            return await self._sync_rollout_status(d, old + [new], new)
        if deployment_complete(d, calculate_status(d, all_rs, new)):
            await self._cleanup(d, old)
        return await self._sync_rollout_status(d, all_rs, new)

    async def _reconcile_old(self, d: Obj, old: list[Obj], new: Obj, all_rs: list[Obj]) -> bool:
        if sum(replicas_of(r) for r in old) == 0:
            return False
        min_available = spec_replicas(d) - max_unavailable(d)
        new_unavailable = replicas_of(new) - available_of(new)
        max_scaled_down = sum(replicas_of(r) for r in all_rs) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        total = 0
        # Unhealthy old pods go first: removing them cannot reduce availability.
        for i, rs in enumerate(old):
            if total >= max_scaled_down:
                break
            unhealthy = replicas_of(rs) - available_of(rs)
            if replicas_of(rs) == 0 or unhealthy <= 0:
                continue
            n = min(max_scaled_down - total, unhealthy)
            old[i] = await self._scale_rs(d, rs, replicas_of(rs) - n)
            total += n
        # Then healthy ones, while availability stays above the floor.
        available = sum(available_of(r) for r in old) + available_of(new)
        if available > min_available:
            budget = available - min_available
            done = 0
            for i, rs in enumerate(old):
                if done >= budget:
                    break
                if replicas_of(rs) == 0:
                    continue
                n = min(replicas_of(rs), budget - done)
                old[i] = await self._scale_rs(d, rs, replicas_of(rs) - n)
                done += n
            total += done
        return total > 0

    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> float | None:
        new, old = await self._get_all(d, rs_list, create=False)
        scaled = False
        for i, rs in enumerate(old):
            if replicas_of(rs) > 0:
                old[i] = await self._scale_rs(d, rs, 0)
                scaled = True
        if scaled:
            return await self._sync_rollout_status(d, old + ([new] if new else []), new)
        for rs in old:
            for pod in self.pod_lister.by_index("owner-uid", str(meta(rs).get("uid"))):
                if not is_pod_terminal(pod):
                    return await self._sync_rollout_status(d, old + ([new] if new else []), new)
        if new is None:
            new, old = await self._get_all(d, rs_list, create=True)
            assert new is not None
        if replicas_of(new) != spec_replicas(d):
            new = await self._scale_rs(d, new, spec_replicas(d))
        all_rs = old + [new]
        if deployment_complete(d, calculate_status(d, all_rs, new)):
            await self._cleanup(d, old)
        return await self._sync_rollout_status(d, all_rs, new)

    async def _sync(self, d: Obj, rs_list: list[Obj]) -> float | None:
        """Paused deployments and scaling events: resize sets without starting a rollout."""
        new, old = await self._get_all(d, rs_list, create=False)
        sets = ([new] if new else []) + old
        await self._scale(d, new, old)
        new, old = self._split(d, [self.rs_lister.get(key_of(r)) or r for r in sets])
        if (d.get("spec") or {}).get("paused"):
            await self._cleanup(d, old)
        return await self._sync_rollout_status(d, old + ([new] if new else []), new)

    async def _scale(self, d: Obj, new: Obj | None, old: list[Obj]) -> None:
        replicas = spec_replicas(d)
        active = [r for r in ([new] if new else []) + old if replicas_of(r) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new or (old[-1] if old else None))
            if target is not None:
                await self._scale_rs(d, target, replicas)
            return
        if new is not None and is_saturated(d, new):
            for rs in old:
                if replicas_of(rs) > 0:
                    await self._scale_rs(d, rs, 0)
            return
        if (((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate") != "RollingUpdate":
            return
        allowed = replicas + max_surge(d) if replicas > 0 else 0
        to_add = allowed - sum(replicas_of(r) for r in active)
        if to_add == 0:
            return
        # Scale up: biggest (then newest) first; scale down: biggest (then oldest) first.
        active.sort(key=lambda r: (-replicas_of(r), (-1 if to_add > 0 else 1) *
                                   (epoch(meta(r).get("creationTimestamp")) or 0.0)))
        sizes: list[int] = []
        added = 0
        for rs in active:
            p = proportion(d, rs, to_add, added)
            sizes.append(replicas_of(rs) + p)
            added += p
        sizes[0] = max(0, sizes[0] + to_add - added)
        for rs, size in zip(active, sizes, strict=True):
            await self._scale_rs(d, rs, size)

    def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        new, old = self._split(d, rs_list)
        for rs in ([new] if new else []) + old:
            if replicas_of(rs) <= 0:
                continue
            desired = (meta(rs).get("annotations") or {}).get(DESIRED_REPLICAS)
            if desired is not None and desired != str(spec_replicas(d)):
                return True
        return False

    async def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        """Delete old, empty sets beyond spec.revisionHistoryLimit (oldest revisions first)."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        alive = sorted((r for r in old if not is_deleting(r)), key=revision)
        for rs in alive[: max(0, len(alive) - limit)]:
            st = rs.get("status") or {}
            if replicas_of(rs) != 0 or int(st.get("replicas") or 0) != 0:
                continue
            if int(meta(rs).get("generation") or 0) > int(st.get("observedGeneration") or 0):
                continue
            try:
                await self.client.delete(REPLICASETS, meta(rs)["name"], meta(rs).get("namespace"))
            except ApiError as e:
                if not is_not_found(e):
                    raise

    # -- status --------------------------------------------------------------------------------

    async def _check_paused_condition(self, d: Obj) -> None:
        """Progressing becomes Unknown/DeploymentPaused while paused, DeploymentResumed after."""
        if not has_progress_deadline(d):
            return
        conditions = list((d.get("status") or {}).get("conditions") or [])
        cur = find_condition(conditions, "Progressing")
        paused = bool((d.get("spec") or {}).get("paused"))
        if paused and (cur is None or cur.get("reason") != PAUSED):
            cond = condition("Progressing", "Unknown", PAUSED, "Deployment is paused", self.now())
        elif not paused and cur is not None and cur.get("reason") == PAUSED:
            cond = condition("Progressing", "Unknown", RESUMED, "Deployment is resumed", self.now())
        else:
            return
        set_deployment_condition(conditions, cond)
        d.setdefault("status", {})["conditions"] = conditions
        await self._write_status(d, d["status"])

    async def _sync_status_only(self, d: Obj, rs_list: list[Obj]) -> float | None:
        new, old = self._split(d, rs_list)
        return await self._sync_rollout_status(d, rs_list, new)

    async def _sync_rollout_status(self, d: Obj, all_rs: list[Obj], new: Obj | None) -> float | None:
        now = self.now()
        status = calculate_status(d, all_rs, new)
        old_status = d.get("status") or {}
        conditions = status["conditions"]
        after: float | None = None
        if not has_progress_deadline(d):
            conditions[:] = [c for c in conditions if c.get("type") != "Progressing"]
        cur = find_condition(conditions, "Progressing")
        complete = status["replicas"] == status["updatedReplicas"] and cur is not None and \
            cur.get("reason") == NEW_RS_AVAILABLE
        if has_progress_deadline(d) and not complete and not (d.get("spec") or {}).get("paused"):
            new_name = meta(new).get("name") if new else None
            if deployment_complete(d, status):
                msg = (f'ReplicaSet "{new_name}" has successfully progressed.' if new_name
                       else f'Deployment "{meta(d).get("name")}" has successfully progressed.')
                set_deployment_condition(conditions, condition("Progressing", "True", NEW_RS_AVAILABLE, msg, now))
            elif deployment_progressing(old_status, status):
                msg = (f'ReplicaSet "{new_name}" is progressing.' if new_name
                       else f'Deployment "{meta(d).get("name")}" is progressing.')
                cond = condition("Progressing", "True", RS_UPDATED, msg, now)
                if cur is not None and cur.get("status") == "True":
                    cond["lastTransitionTime"] = cur.get("lastTransitionTime", cond["lastTransitionTime"])
                conditions[:] = [c for c in conditions if c.get("type") != "Progressing"]
                conditions.append(cond)
            elif timed_out(d, conditions, now):
                msg = (f'ReplicaSet "{new_name}" has timed out progressing.' if new_name
                       else f'Deployment "{meta(d).get("name")}" has timed out progressing.')
                set_deployment_condition(conditions, condition("Progressing", "False", TIMED_OUT, msg, now))
            cur = find_condition(conditions, "Progressing")
            if cur is not None and cur.get("reason") not in (TIMED_OUT, NEW_RS_AVAILABLE):
                since = epoch(cur.get("lastUpdateTime")) or now
                after = max(1.0, since + progress_deadline(d) - now + 1)
        min_ready = int((d.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready and status["availableReplicas"] < status["readyReplicas"]:
            after = min(after or float(min_ready), float(min_ready))
        await self._write_status(d, status)
        return after

    async def _write_status(self, d: Obj, status: dict[str, Any]) -> None:
        if status == (d.get("status") or {}):
            return
        d["status"] = status
        try:
            result = await self.client.replace(DEPLOYMENTS, d, meta(d).get("namespace"), subresource="status")
        except ApiError as e:
            if is_not_found(e):
                return
            raise
        if isinstance(result, dict):
            meta(d)["resourceVersion"] = meta(result).get("resourceVersion")


# -- pure helpers -------------------------------------------------------------------------------


def spec_replicas(obj: Mapping[str, Any]) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def replicas_of(rs: Mapping[str, Any]) -> int:
    return int((rs.get("spec") or {}).get("replicas") or 0)


def available_of(rs: Mapping[str, Any]) -> int:
    return int((rs.get("status") or {}).get("availableReplicas") or 0)


def revision(rs: Mapping[str, Any]) -> int:
    try:
        return int((meta(rs).get("annotations") or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def revision_str(rs: Mapping[str, Any]) -> str:
    return str((meta(rs).get("annotations") or {}).get(REVISION) or "")


def resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString against a total: "25%" of 10 is 3 rounding up, 2 rounding down."""
    if value is None:
        value = "25%"
    if isinstance(value, int):
        return value
    s = str(value).strip()
    if s.endswith("%"):
        pct = int(s[:-1])
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(s)


def _fenceposts(d: Mapping[str, Any]) -> tuple[int, int]:
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    replicas = spec_replicas(d)
    surge = resolve_int_or_percent(ru.get("maxSurge"), replicas, True)
    unavailable = resolve_int_or_percent(ru.get("maxUnavailable"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_rolling(d: Mapping[str, Any]) -> bool:
    return (((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def max_surge(d: Mapping[str, Any]) -> int:
    return _fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Mapping[str, Any]) -> int:
    if not is_rolling(d) or spec_replicas(d) == 0:
        return 0
    return min(_fenceposts(d)[1], spec_replicas(d))


def new_rs_replicas(d: Mapping[str, Any], old: list[Obj], new: Obj | None) -> int:
    """How big the new set may be now (NewRSNewReplicas)."""
    replicas = spec_replicas(d)
    if not is_rolling(d):
        return replicas
    current_new = replicas_of(new) if new else 0
    current = sum(replicas_of(r) for r in old) + current_new
    max_total = replicas + max_surge(d)
    if current >= max_total:
        return current_new
    return current_new + max(0, min(max_total - current, replicas - current_new))


def is_saturated(d: Mapping[str, Any], rs: Mapping[str, Any]) -> bool:
    desired = (meta(rs).get("annotations") or {}).get(DESIRED_REPLICAS)
    r = spec_replicas(d)
    return replicas_of(rs) == r and desired == str(r) and available_of(rs) == r


def proportion(d: Mapping[str, Any], rs: Mapping[str, Any], to_add: int, added: int) -> int:
    """This set's share of a scaling event, by its size relative to the previous max size."""
    if replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if spec_replicas(d) == 0:
        fraction = -replicas_of(rs)
    else:
        target = spec_replicas(d) + max_surge(d)
        try:
            annotated = int((meta(rs).get("annotations") or {}).get(MAX_REPLICAS) or 0)
        except ValueError:
            annotated = 0
        if annotated <= 0:
            annotated = int((d.get("status") or {}).get("replicas") or 0) or replicas_of(rs)
        fraction = int(math.floor(replicas_of(rs) * target / annotated + 0.5)) - replicas_of(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def pod_template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """A stable, DNS-safe hash of a pod template (fnv-1a 32 over canonical JSON, as safe chars)."""
    data = orjson.dumps(_drop_nulls(template), option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += str(collision_count).encode()
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[ord(c) % len(alphabet)] for c in str(h))


def _drop_nulls(value: Any) -> Any:
    """null and absent mean the same in a template (kubectl rollout undo sends creationTimestamp: null)."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _without_hash(template: Mapping[str, Any]) -> Any:
    t = _drop_nulls(dict(template))
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
        if not labels:
            t["metadata"].pop("labels")
    if isinstance(t.get("metadata"), dict) and not t["metadata"]:
        t.pop("metadata")
    return t


def templates_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return bool(_without_hash(a) == _without_hash(b))


def build_replicaset(d: Mapping[str, Any], rev: str, replicas: int, collision_count: int = 0) -> Obj:
    spec = d.get("spec") or {}
    template = _drop_nulls(spec.get("template") or {})
    h = pod_template_hash(template, collision_count)
    template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = h
    selector = deep(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = h
    annotations = {k: v for k, v in (meta(d).get("annotations") or {}).items() if k not in _NOT_COPIED}
    annotations[REVISION] = rev
    annotations[DESIRED_REPLICAS] = str(spec_replicas(d))
    annotations[MAX_REPLICAS] = str(spec_replicas(d) + max_surge(d))
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta(d).get('name')}-{h}",
            "namespace": meta(d).get("namespace"),
            "labels": dict(template["metadata"]["labels"]),
            "annotations": annotations,
            "ownerReferences": [new_controller_ref(d, DEPLOYMENTS)],
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": int(spec.get("minReadySeconds") or 0),
            "selector": selector,
            "template": template,
        },
    }


def calculate_status(d: Mapping[str, Any], all_rs: list[Obj], new: Obj | None) -> dict[str, Any]:
    available = sum(available_of(r) for r in all_rs)
    total = sum(replicas_of(r) for r in all_rs)
    st = d.get("status") or {}
    status: dict[str, Any] = {
        "observedGeneration": int(meta(d).get("generation") or 0),
        "replicas": sum(int((r.get("status") or {}).get("replicas") or 0) for r in all_rs),
        "updatedReplicas": int((new.get("status") or {}).get("replicas") or 0) if new else 0,
        "readyReplicas": sum(int((r.get("status") or {}).get("readyReplicas") or 0) for r in all_rs),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
        "conditions": [dict(c) for c in st.get("conditions") or []],
    }
    if st.get("collisionCount") is not None:
        status["collisionCount"] = st["collisionCount"]
    now = wall_now()
    if available >= spec_replicas(d) - max_unavailable(d):
        cond = condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        cond = condition("Available", "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.", now)
    set_deployment_condition(status["conditions"], cond)
    return status


def deployment_complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    r = spec_replicas(d)
    return (status["updatedReplicas"] == r and status["replicas"] == r and status["availableReplicas"] == r
            and status["observedGeneration"] >= int(meta(d).get("generation") or 0))


def deployment_progressing(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    old_old = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    new_old = int(new.get("replicas") or 0) - int(new.get("updatedReplicas") or 0)
    return (new["updatedReplicas"] > int(old.get("updatedReplicas") or 0)
            or new_old < old_old
            or new["readyReplicas"] > int(old.get("readyReplicas") or 0)
            or new["availableReplicas"] > int(old.get("availableReplicas") or 0))


def has_progress_deadline(d: Mapping[str, Any]) -> bool:
    p = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return p is None or int(p) != 2**31 - 1


def progress_deadline(d: Mapping[str, Any]) -> int:
    p = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return 600 if p is None else int(p)


def timed_out(d: Mapping[str, Any], conditions: list[dict[str, Any]], now: float) -> bool:
    cur = find_condition(conditions, "Progressing")
    if cur is None or cur.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cur.get("reason") == TIMED_OUT:
        return True
    since = epoch(cur.get("lastUpdateTime"))
    return since is not None and since + progress_deadline(d) < now


def condition(type_: str, status: str, reason: str, message: str, now: float) -> dict[str, Any]:
    ts = rfc3339(now)
    return {"type": type_, "status": status, "lastUpdateTime": ts, "lastTransitionTime": ts,
            "reason": reason, "message": message}


def find_condition(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def set_deployment_condition(conditions: list[dict[str, Any]], cond: dict[str, Any]) -> None:
    """SetDeploymentCondition: same status and reason = no change; same status keeps lastTransitionTime."""
    cur = find_condition(conditions, cond["type"])
    if cur is not None and cur.get("status") == cond["status"] and cur.get("reason") == cond["reason"]:
        return
    if cur is not None and cur.get("status") == cond["status"]:
        cond = dict(cond, lastTransitionTime=cur.get("lastTransitionTime", cond["lastTransitionTime"]))
    conditions[:] = [c for c in conditions if c.get("type") != cond["type"]] + [cond]
