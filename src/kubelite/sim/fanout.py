"""One watch of all bound pods for a whole fleet of simulated nodes, dispatched by spec.nodeName.

Why: each kubelet keeps an informer on ``pods`` with ``fieldSelector=spec.nodeName=<node>``.
Five thousand such informers would be five thousand LISTs and watch streams, and the API
server would test every pod event against five thousand watch filters. Kubemark's hollow
nodes pay that; one process hosting them all need not.

`PodFanout` runs ONE informer on pods with a node (``spec.nodeName!=``) and indexes them by node.
`NodeClient` is what each simulated node's kubelet gets as its API client: every call goes to
the shared `ApiClient`, except the kubelet's own pod LIST and WATCH, which it serves from the
fanout (same shapes, same resourceVersions), so the kubelet code runs unchanged.

The same for the kubelet's read of its own Node (on each 10 s status check, to notice that the
node lifecycle controller marked it Unknown): `NodeClient.get` answers it from ONE shared node
informer (`NodeCache`) instead of 500 GETs a second at 5000 nodes.

(Lease renewals need nothing special here: the kubelet's heartbeat already renews with one PUT
of the Lease it last wrote.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from kubelite.api.resources import LEASES, NODES, PODS, Resource
from kubelite.client.compact import Transform, process_compactor
from kubelite.client.informer import Informer
from kubelite.client.lister import index_by_node_name
from kubelite.client.rest import ApiClient, WatchEvent

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NODE_INDEX = "spec.nodeName"


def _node_of(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


class PodFanout:
    """A shared informer on bound pods; per-node event queues for the nodes' own informers.

    The cached pods are most of the memory a fleet holds per pod, so the informer compacts each
    one (kubelite.client.compact: parts equal to the previous version's or to other pods' are
    shared, strings interned) before the nodes' informers see it; the kubelet code only reads them
    (it copies what it changes)."""

    def __init__(self, client: ApiClient, transform: Transform | None = None) -> None:
        self.informer = Informer(client, PODS, field_selector="spec.nodeName!=",
                                 transform=transform if transform is not None else process_compactor())
        self.informer.store.add_index(NODE_INDEX, index_by_node_name)
        self.informer.add_handler(self._on_add, self._on_update, self._on_delete)
        self._subscribers: dict[str, asyncio.Queue[WatchEvent]] = {}
        self.events_dispatched = 0

    async def start(self) -> None:
        await self.informer.start()

    async def stop(self) -> None:
        await self.informer.stop()
        self._subscribers.clear()

    async def wait_synced(self) -> None:
        while not await self.informer.wait_synced(timeout=5):
            log.info("waiting for the shared pod informer to sync")

    # -- dispatch (synchronous informer handlers) -------------------------------------------------

    def _send(self, type_: str, pod: Obj) -> None:
        queue = self._subscribers.get(_node_of(pod))
        if queue is not None:
            queue.put_nowait(WatchEvent(type_, pod))
            self.events_dispatched += 1

    def _on_add(self, pod: Obj) -> None:
        self._send("ADDED", pod)

    def _on_update(self, old: Obj, new: Obj) -> None:
        self._send("MODIFIED", new)

    def _on_delete(self, pod: Obj) -> None:
        self._send("DELETED", pod)

    # -- what a node's informer sees ----------------------------------------------------------------

    def snapshot(self, node: str) -> tuple[list[Obj], str, asyncio.Queue[WatchEvent]]:
        """The node's pods, the resourceVersion they are at, and a queue of every later change.

        Taken in one synchronous step, so nothing falls between the list and the watch.
        """
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self._subscribers[node] = queue
        items = self.informer.store.by_index(NODE_INDEX, node)
        return items, self.informer.last_resource_version or "0", queue

    def subscription(self, node: str) -> asyncio.Queue[WatchEvent]:
        queue = self._subscribers.get(node)
        if queue is None:
            queue = self._subscribers[node] = asyncio.Queue()
        return queue

    def unsubscribe(self, node: str, queue: asyncio.Queue[WatchEvent]) -> None:
        if self._subscribers.get(node) is queue:
            del self._subscribers[node]


class NodeCache:
    """One informer on all Nodes, so that each simulated kubelet can read its own Node locally."""

    def __init__(self, client: ApiClient) -> None:
        self.informer = Informer(client, NODES)

    async def start(self) -> None:
        await self.informer.start()

    async def stop(self) -> None:
        await self.informer.stop()

    def get(self, name: str) -> Obj | None:
        """The cached Node (None before the informer synced or saw it: ask the API).

        A copy of its top level, metadata, status and conditions (what a kubelet reads and might
        change); deeper parts are shared with the cache and read-only. A full copy of a Node on
        each status check (500 a second at 5000 nodes) was a tenth of the idle fleet's CPU."""
        if not self.informer.has_synced:
            return None
        node = self.informer.store.get(name)
        if node is None:
            return None
        status = dict(node.get("status") or {})
        status["conditions"] = [dict(c) for c in status.get("conditions") or []]
        return {**node, "metadata": dict(node.get("metadata") or {}), "status": status}


class NodeClient:
    """The API client of one simulated node: the shared client, with its own pods served locally.

    Duck-typed as an `ApiClient` (attribute access falls through to the shared client).
    """

    def __init__(self, client: ApiClient, fanout: PodFanout, node: str, nodes: NodeCache | None = None,
                 heartbeat_client: ApiClient | None = None) -> None:
        self._client = client
        #: Leases and the node's own Node go through this one (its own connection pool): a backlog
        #: of pod status writes in the shared pool must not delay heartbeats (each real kubelet has
        #: its own connection; 5000 sharing one pool would otherwise queue renewals behind PATCHes)
        self._hb = heartbeat_client or client
        self._fanout = fanout
        self._nodes = nodes
        self._node = node
        self._selector = f"spec.nodeName={node}"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _for(self, res: Resource) -> ApiClient:
        return self._hb if res is LEASES or res is NODES else self._client

    async def create(self, res: Resource, obj: Obj, namespace: str | None = None, **kw: Any) -> Obj:
        return await self._for(res).create(res, obj, namespace, **kw)

    async def replace(self, res: Resource, obj: Obj, namespace: str | None = None, **kw: Any) -> Obj:
        return await self._for(res).replace(res, obj, namespace, **kw)

    async def patch(self, res: Resource, name: str, patch: Any, namespace: str | None = None, **kw: Any) -> Obj:
        return await self._for(res).patch(res, name, patch, namespace, **kw)

    def _is_own_pods(self, res: Resource, namespace: str | None, field_selector: str | None,
                     label_selector: str | None) -> bool:
        return res is PODS and not namespace and field_selector == self._selector and not label_selector

    # -- its own Node: from the shared node cache ---------------------------------------------------

    async def get(self, res: Resource, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> Obj:
        if res is NODES and name == self._node and subresource is None and self._nodes is not None:
            cached = self._nodes.get(name)
            if cached is not None:
                return cached
        return await self._for(res).get(res, name, namespace, subresource=subresource)

    # -- pods: from the fanout ---------------------------------------------------------------------

    async def list(self, res: Resource, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, resource_version: str | None = None,
                   limit: int | None = None, continue_token: str | None = None) -> Obj:
        if not self._is_own_pods(res, namespace, field_selector, label_selector):
            return await self._client.list(res, namespace, label_selector=label_selector,
                                           field_selector=field_selector, resource_version=resource_version,
                                           limit=limit, continue_token=continue_token)
        await self._fanout.wait_synced()
        items, rv, _ = self._fanout.snapshot(self._node)
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": rv}, "items": items}

    async def watch(self, res: Resource, namespace: str | None = None, *, resource_version: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    allow_bookmarks: bool = True, timeout_seconds: int | None = None) -> AsyncIterator[WatchEvent]:
        if not self._is_own_pods(res, namespace, field_selector, label_selector):
            async for event in self._client.watch(res, namespace, resource_version=resource_version,
                                                  label_selector=label_selector, field_selector=field_selector,
                                                  allow_bookmarks=allow_bookmarks,
                                                  timeout_seconds=timeout_seconds):
                yield event
            return
        queue = self._fanout.subscription(self._node)
        try:
            while True:
                yield await queue.get()
        finally:
            self._fanout.unsubscribe(self._node, queue)
