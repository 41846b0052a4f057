"""Namespace lifecycle: empty a namespace being deleted, then let the server remove it.

Deleting a namespace only marks it (deletionTimestamp, phase Terminating); the "kubernetes"
entry in spec.finalizers holds it. This controller deletes every object of every namespaced
resource in it, checks back until nothing is left (pods may take their grace period), and then
PUTs namespaces/NAME/finalize without its finalizer, at which point the server deletes it.
"""

from __future__ import annotations

import logging
from typing import Any

from kubelite.api.resources import NAMESPACES, RESOURCES, Resource
from kubelite.client.informer import InformerFactory
from kubelite.client.rest import ApiError, is_conflict, is_not_found
from kubelite.controllers.base import Controller, NullRecorder, Recorder
from kubelite.controllers.util import Obj, deep, is_deleting, meta

log = logging.getLogger("kubelite.controllers.namespace")

FINALIZER = "kubernetes"
#: How long to wait before looking again at a namespace whose content is still going away.
RECHECK_SECONDS = 1.0


def namespaced_resources() -> list[Resource]:
    """Every namespaced resource that can be listed and deleted (one per storage: v1 events only)."""
    seen: set[str] = set()
    out = []
    for r in RESOURCES:
        if not r.namespaced or "list" not in r.verbs or "delete" not in r.verbs:
            continue
        if r.plural in seen:  # events.k8s.io/v1 events are the core events
            continue
        seen.add(r.plural)
        out.append(r)
    return out


class NamespaceController(Controller):
    """Deletes the contents of terminating namespaces and finalizes them."""

    name = "namespace"

    def __init__(self, client: Any, factory: InformerFactory, recorder: Recorder | None = None) -> None:
        super().__init__()
        self.client = client                      # ApiClient: lists and deletes across resources
        self.recorder = recorder or NullRecorder()
        informer = factory.informer(NAMESPACES)
        self.ns_lister = informer.store           # namespaces
        informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), None)

    async def reconcile(self, key: str) -> float | None:
        cached = self.ns_lister.get(key)
        if cached is None or not is_deleting(cached):
            return None
        ns: Obj = deep(cached)
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return None
        if (ns.get("status") or {}).get("phase") != "Terminating":
            ns.setdefault("status", {})["phase"] = "Terminating"
            try:
                ns = await self.client.replace(NAMESPACES, ns, subresource="status")
            except ApiError as e:
                if is_not_found(e):
                    return None
                if not is_conflict(e):
                    raise
        remaining = await self._delete_content(key)
        if remaining:
            return RECHECK_SECONDS
        latest: Obj = await self.client.get(NAMESPACES, key)
        latest.setdefault("spec", {})["finalizers"] = [
            f for f in (latest.get("spec") or {}).get("finalizers") or [] if f != FINALIZER]
        try:
            await self.client.replace(NAMESPACES, latest, subresource="finalize")
        except ApiError as e:
            if not is_not_found(e):
                raise
        return None

    async def _delete_content(self, namespace: str) -> int:
        """Delete what is left; returns how many objects still existed."""
        remaining = 0
        for res in namespaced_resources():
            try:
                listed = await self.client.list(res, namespace)
            except ApiError as e:
                if is_not_found(e):
                    continue
                raise
            for obj in listed.get("items") or []:
                remaining += 1
                if is_deleting(obj):
                    continue
                try:
                    await self.client.delete(res, meta(obj)["name"], namespace, propagation_policy="Background")
                except ApiError as e:
                    if not is_not_found(e) and not is_conflict(e):
                        raise
        return remaining
