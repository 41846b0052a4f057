"""ServiceAccount controller: every active namespace has a "default" ServiceAccount.

Pods that name no service account run as "default", so it must exist in every namespace; if a
user deletes it, it comes back.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.resources import NAMESPACES, SERVICEACCOUNTS
from kubelite.client.informer import InformerFactory
from kubelite.client.rest import ApiError, is_already_exists, is_not_found
from kubelite.controllers.base import Controller
from kubelite.controllers.util import Obj, is_deleting, meta

DEFAULT = "default"


class ServiceAccountController(Controller):
    """Creates the default ServiceAccount of each namespace (keyed by namespace name)."""

    name = "serviceaccount"

    def __init__(self, client: Any, factory: InformerFactory) -> None:
        super().__init__()
        self.client = client                          # ApiClient: creates
        ns_informer = factory.informer(NAMESPACES)
        sa_informer = factory.informer(SERVICEACCOUNTS)
        self.ns_lister = ns_informer.store            # namespaces
        self.sa_lister = sa_informer.store            # service accounts (all namespaces)
        ns_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), None)
        sa_informer.add_handler(None, None, self._on_sa_delete)

    def _on_sa_delete(self, sa: Obj) -> None:
        if meta(sa).get("name") == DEFAULT and meta(sa).get("namespace"):
            self.queue.add(str(meta(sa)["namespace"]))

    async def reconcile(self, key: str) -> float | None:
        ns = self.ns_lister.get(key)
        if ns is None or is_deleting(ns) or (ns.get("status") or {}).get("phase") == "Terminating":
            return None
        if self.sa_lister.get_by(key, DEFAULT) is not None:
            return None
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT, "namespace": key}}
        try:
            await self.client.create(SERVICEACCOUNTS, sa, key)
        except ApiError as e:
            # AlreadyExists: the cache is behind. NotFound / Forbidden while a namespace goes away: done.
            if not (is_already_exists(e) or is_not_found(e) or e.code == 403):
                raise
        return None
