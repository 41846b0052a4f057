"""Garbage collector: ownerReferences, cascading deletion, foreground and orphan finalizers.

Kubernetes' collector keeps a graph of every object; here the informers' caches are the graph:
each watched resource's store gets an index by owner uid, so "dependents of X" is one lookup per
resource, and an owner is found by its reference (apiVersion/kind/name in the dependent's
namespace, or cluster-wide) and checked by uid.

Work items are objects, keyed "<group>/<plural>|<namespace>/<name>". Reconciling one does all
that applies to it:
- as a dependent: when none of its owners exists any more, delete it (Background, or
  Foreground when an owner is itself waiting in foreground deletion); when some do, drop the
  references to the ones that are gone;
- as an owner being deleted with the `foregroundDeletion` finalizer: delete its dependents
  and remove the finalizer once no dependent that blocks owner deletion is left;
- as an owner being deleted with the `orphan` finalizer: remove the ownerReferences to it from
  its dependents, then the finalizer.
An owner that the caches say is missing is double-checked with a live GET before anything is
deleted: a stale cache must never cascade.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kubelite.api.resources import (
    CONFIGMAPS,
    CONTROLLERREVISIONS,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTSLICES,
    JOBS,
    LEASES,
    NODES,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    SECRETS,
    SERVICES,
    Resource,
    for_kind,
)
from kubelite.client.informer import InformerFactory
from kubelite.client.lister import Lister, index_by_owner_uid
from kubelite.client.rest import ApiError, is_conflict, is_not_found
from kubelite.controllers.base import Controller, NullRecorder, Recorder, patch_owner_refs
from kubelite.controllers.util import Obj, is_deleting, key_of, meta

log = logging.getLogger("kubelite.controllers.garbagecollector")

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
OWNER_INDEX = "owner-uid"

#: The resources whose objects the collector follows (as owners and as dependents).
WATCHED: tuple[Resource, ...] = (DEPLOYMENTS, REPLICASETS, REPLICATIONCONTROLLERS, DAEMONSETS, JOBS, PODS,
                                 SERVICES, ENDPOINTSLICES, CONTROLLERREVISIONS, CONFIGMAPS, SECRETS, NODES,
                                 LEASES)


def item_key(res: Resource, obj: Mapping[str, Any]) -> str:
    return f"{res.group}/{res.plural}|{key_of(obj)}"


class GarbageCollector(Controller):
    """Deletes dependents of deleted owners; runs the foreground and orphan finalizers."""

    name = "garbagecollector"

    def __init__(self, client: Any, factory: InformerFactory, recorder: Recorder | None = None, *,
                 resources: tuple[Resource, ...] = WATCHED) -> None:
        super().__init__()
        self.client = client                                  # ApiClient: deletes and patches
        self.recorder = recorder or NullRecorder()
        self.listers: dict[str, tuple[Resource, Lister]] = {}  # "<group>/<plural>" -> (resource, cache)
        for res in resources:
            informer = factory.informer(res)
            informer.store.add_index(OWNER_INDEX, index_by_owner_uid)
            self.listers[f"{res.group}/{res.plural}"] = (res, informer.store)
            informer.add_handler(self._handler(res, "add"), self._update_handler(res), self._handler(res, "delete"))

    # -- handlers ------------------------------------------------------------------------------

    def _handler(self, res: Resource, kind: str) -> Any:
        def on_event(obj: Obj) -> None:
            if is_deleting(obj):
                self.queue.add(item_key(res, obj))
            elif meta(obj).get("ownerReferences") and not (kind == "add" and self._owners_cached(obj)):
                self.queue.add(item_key(res, obj))
            if kind == "delete":
                self._enqueue_dependents(obj)
                self._enqueue_owners(res, obj)
        return on_event

    def _update_handler(self, res: Resource) -> Any:
        def on_update(old: Obj, new: Obj) -> None:
            # Only a change of owners, or a deletion, gives the collector work: a Lease renewal or
            # a pod status write keeps its owners (their own deletion enqueues their dependents),
            # and at 5000 nodes those are 500 updates a second.
            om, nm = meta(old), meta(new)
            if (is_deleting(new) or om.get("ownerReferences") != nm.get("ownerReferences")
                    or om.get("finalizers") != nm.get("finalizers") or om.get("uid") != nm.get("uid")):
                self.queue.add(item_key(res, new))
            if is_deleting(new):
                self._enqueue_dependents(new)
        return on_update

    def _owners_cached(self, obj: Obj) -> bool:
        """Whether every owner of a new object is in our caches, with its uid, and not waiting on a
        foreground deletion: then its reconcile would find every owner "solid" and do nothing (each
        pod a ReplicaSet creates). As Kubernetes' graph builder, which verifies a new object only
        when an owner is missing from its graph; an owner's own deletion enqueues its dependents."""
        ns = meta(obj).get("namespace")
        for ref in meta(obj).get("ownerReferences") or []:
            ores = for_kind(str(ref.get("apiVersion")), str(ref.get("kind")))
            if ores is None:
                continue  # a kind we do not serve: solid (see _owner_state)
            entry = self.listers.get(f"{ores.group}/{ores.plural}")
            if entry is None:
                return False
            owner = entry[1].get_by(ns if ores.namespaced else None, str(ref.get("name")))
            if owner is None or meta(owner).get("uid") != ref.get("uid"):
                return False
            if is_deleting(owner) and FOREGROUND in (meta(owner).get("finalizers") or []):
                return False
        return True

    def _enqueue_dependents(self, owner: Obj) -> None:
        uid = str(meta(owner).get("uid") or "")
        if not uid:
            return
        for res, lister in self.listers.values():
            for dep in lister.by_index(OWNER_INDEX, uid):
                self.queue.add(item_key(res, dep))

    def _enqueue_owners(self, res: Resource, dependent: Obj) -> None:
        """A dependent went away: owners waiting on their dependents may now finish."""
        for ref in meta(dependent).get("ownerReferences") or []:
            ores = for_kind(str(ref.get("apiVersion")), str(ref.get("kind")))
            if ores is None or f"{ores.group}/{ores.plural}" not in self.listers:
                continue
            ns = meta(dependent).get("namespace") if ores.namespaced else None
            self.queue.add(f"{ores.group}/{ores.plural}|{ns}/{ref.get('name')}" if ns
                           else f"{ores.group}/{ores.plural}|{ref.get('name')}")

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        res_id, _, obj_key = key.partition("|")
        entry = self.listers.get(res_id)
        if entry is None:
            return None
        res, lister = entry
        cached = lister.get(obj_key)
        if cached is None:
            return None
        obj: Obj = cached  # read only below: writes are patches and deletes built from it
        finalizers = meta(obj).get("finalizers") or []
        if is_deleting(obj) and ORPHAN in finalizers:
            return await self._orphan_dependents(res, obj)
        if is_deleting(obj) and FOREGROUND in finalizers:
            return await self._delete_dependents_first(res, obj)
        if meta(obj).get("ownerReferences"):
            await self._check_owners(res, obj)
        return None

    def _dependents(self, owner: Mapping[str, Any]) -> list[tuple[Resource, Obj]]:
        uid = str(meta(owner).get("uid"))
        out = []
        for res, lister in self.listers.values():
            out += [(res, d) for d in lister.by_index(OWNER_INDEX, uid)]
        return out

    async def _owner_state(self, dependent: Obj, ref: Mapping[str, Any]) -> str:
        """"gone", "waiting" (foreground deletion in progress) or "solid"."""
        ores = for_kind(str(ref.get("apiVersion")), str(ref.get("kind")))
        if ores is None:
            return "solid"  # a kind we do not serve: never delete on its account
        ns = meta(dependent).get("namespace") if ores.namespaced else None
        name = str(ref.get("name"))
        entry = self.listers.get(f"{ores.group}/{ores.plural}")
        owner = entry[1].get_by(ns, name) if entry is not None else None
        if owner is None or meta(owner).get("uid") != ref.get("uid"):
            try:  # never trust a cache miss for a deletion: ask the server
                owner = await self.client.get(ores, name, ns)
            except ApiError as e:
                if is_not_found(e):
                    return "gone"
                raise
        if meta(owner).get("uid") != ref.get("uid"):
            return "gone"
        if is_deleting(owner) and FOREGROUND in (meta(owner).get("finalizers") or []):
            return "waiting"
        return "solid"

    async def _check_owners(self, res: Resource, obj: Obj) -> None:
        refs = list(meta(obj).get("ownerReferences") or [])
        states = {str(r.get("uid")): await self._owner_state(obj, r) for r in refs}
        solid = [r for r in refs if states[str(r.get("uid"))] == "solid"]
        waiting = [r for r in refs if states[str(r.get("uid"))] == "waiting"]
        if solid:
            if len(solid) != len(refs) and any(states[str(r.get("uid"))] == "gone" for r in refs):
                keep = [r for r in refs if states[str(r.get("uid"))] != "gone"]
                await patch_owner_refs(self.client, res, obj, keep)
            return
        if is_deleting(obj):
            return  # already on its way; its own finalizers decide
        policy = "Foreground" if waiting else "Background"
        m = meta(obj)
        try:
            await self.client.delete(res, m["name"], m.get("namespace"), propagation_policy=policy,
                                     preconditions={"uid": m.get("uid")})
        except ApiError as e:
            if not (is_not_found(e) or is_conflict(e)):
                raise

    async def _delete_dependents_first(self, res: Resource, owner: Obj) -> float | None:
        blocking = 0
        for dres, dep in self._dependents(owner):
            ref: dict[str, Any] = next((r for r in meta(dep).get("ownerReferences") or []
                        if r.get("uid") == meta(owner).get("uid")), {})
            if ref.get("blockOwnerDeletion"):
                blocking += 1
            if is_deleting(dep):
                continue
            others = [r for r in meta(dep).get("ownerReferences") or [] if r.get("uid") != meta(owner).get("uid")]
            solid_other = False
            for r in others:
                if await self._owner_state(dep, r) == "solid":
                    solid_other = True
            if solid_other:  # someone else still owns it: only drop our reference
                await patch_owner_refs(self.client, dres, dep, others)
                continue
            dm = meta(dep)
            try:
                await self.client.delete(dres, dm["name"], dm.get("namespace"), propagation_policy="Foreground",
                                         preconditions={"uid": dm.get("uid")})
            except ApiError as e:
                if not (is_not_found(e) or is_conflict(e)):
                    raise
        if blocking:
            return 2.0  # dependents' deletions re-queue us; this is only a safety net
        await self._remove_finalizer(res, owner, FOREGROUND)
        return None

    async def _orphan_dependents(self, res: Resource, owner: Obj) -> float | None:
        uid = meta(owner).get("uid")
        for dres, dep in self._dependents(owner):
            refs = [r for r in meta(dep).get("ownerReferences") or [] if r.get("uid") != uid]
            await patch_owner_refs(self.client, dres, dep, refs)
        await self._remove_finalizer(res, owner, ORPHAN)
        return None

    async def _remove_finalizer(self, res: Resource, obj: Obj, finalizer: str) -> None:
        m = meta(obj)
        remaining = [f for f in m.get("finalizers") or [] if f != finalizer]
        patch = {"metadata": {"finalizers": remaining or None, "resourceVersion": m.get("resourceVersion")}}
        try:
            await self.client.patch(res, m["name"], patch, m.get("namespace"), patch_type="merge")
        except ApiError as e:
            if not is_not_found(e):
                raise
