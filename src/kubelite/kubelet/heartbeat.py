"""The node's heartbeat: register the Node, renew its Lease every 10 s, post status on change.

Like the real kubelet (since 1.17) there are two signals: the Lease in kube-node-lease, renewed
often and cheaply, and the Node status, posted when something changed and at least every
`status_report_interval` (60 s by default), so that 5000 nodes cost 500 small writes a second
rather than 500 full Node updates. A renewal is one PUT of the Lease last written (a GET only
after a conflict), as the real kubelet's lease controller does. A new node registers with one
request (the Node carries its conditions) and creates its Lease without reading it first; each
status check reads the Node, so a node marked Unknown by the node lifecycle controller is
reported again at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from kubelite.api.resources import LEASES, NODES
from kubelite.client.rest import (
    ApiClient,
    ApiError,
    is_already_exists,
    is_conflict,
    is_connection_error,
    is_not_found,
)
from kubelite.kubelet.nodestatus import ConditionTracker, Readings, build_lease

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
LEASE_RENEW_INTERVAL = 10.0
STATUS_REPORT_INTERVAL = 60.0
STATUS_CHECK_INTERVAL = 10.0


class NodeHeartbeat:
    def __init__(
        self,
        client: ApiClient,
        node: dict,
        *,
        read_readings: Callable[[], Readings],
        runtime_ready: Callable[[], tuple[bool, str]],
        lease_renew_interval: float = LEASE_RENEW_INTERVAL,
        status_report_interval: float = STATUS_REPORT_INTERVAL,
        status_check_interval: float = STATUS_CHECK_INTERVAL,
        readings_in_thread: bool = True,
        network_ready: Callable[[], bool | None] | None = None,
    ) -> None:
        self.client = client
        self.node = node  # the desired Node (metadata, spec, status without conditions)
        self.name: str = node["metadata"]["name"]
        self.uid: str | None = None
        self._read_readings = read_readings
        self._runtime_ready = runtime_ready
        self._network_ready = network_ready
        self._readings_in_thread = readings_in_thread
        self.lease_renew_interval = lease_renew_interval
        self.status_report_interval = status_report_interval
        self.status_check_interval = status_check_interval
        self.conditions = ConditionTracker()
        self._last_reported: tuple | None = None
        self._last_report_time = 0.0
        self._tasks: list[asyncio.Task] = []
        self.registered = asyncio.Event()
        #: the Lease as we last wrote it (None: read it before the next renewal)
        self._lease: dict | None = None
        #: this kubelet created its Node just now: its Lease is created without a GET first
        self._fresh_node = False
        #: the static part of the status (capacity, nodeInfo...) is in the API: PATCH conditions only
        self._status_posted = False

    # -- registration ------------------------------------------------------------------
    async def register(self) -> dict:
        """Create the Node, or adopt the existing one (a restarted kubelet keeps its node).

        The Node is created with its whole status, conditions included (the API keeps a Node's
        status on create, as Kubernetes does), so a new node costs one request, not a create, a
        status PATCH and a GET: registration is most of the API load when a fleet joins."""
        while True:
            conditions, signature = await self._conditions()
            node = {**self.node, "status": {**self.node["status"], "conditions": conditions}}
            try:
                created = await self.client.create(NODES, node)
                self.uid = created["metadata"]["uid"]
                self._last_reported = signature
                self._last_report_time = asyncio.get_running_loop().time()
                self._status_posted = True
                self._fresh_node = True
                self.registered.set()
                return created
            except ApiError as e:
                if not is_already_exists(e):
                    log.warning("registering node %s failed: %s; retrying", self.name, e)
                    await asyncio.sleep(1)
                    continue
            try:
                existing = await self.client.get(NODES, self.name)
            except ApiError as e:  # deleted in between, or the server went away: start over
                log.warning("reading node %s failed: %s; retrying", self.name, e)
                await asyncio.sleep(1)
                continue
            self.uid = existing["metadata"]["uid"]
            labels = {**existing["metadata"].get("labels", {}), **self.node["metadata"]["labels"]}
            annotations = {**existing["metadata"].get("annotations", {}),
                           **self.node["metadata"].get("annotations", {})}
            await self.client.patch(NODES, self.name, {"metadata": {"labels": labels, "annotations": annotations}})
            updated = await self.report_status(force=True)
            self.registered.set()
            return updated if updated is not None else existing

    # -- loops -------------------------------------------------------------------------
    def start(self) -> None:
        """Run the Lease and status loops (a node on its own; a fleet driver calls the ticks instead)."""
        self._tasks = [asyncio.create_task(self._lease_loop(), name=f"lease-{self.name}"),
                       asyncio.create_task(self._status_loop(), name=f"status-{self.name}")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _lease_loop(self) -> None:
        while True:
            await self.lease_tick()
            await asyncio.sleep(self.lease_renew_interval)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.status_check_interval)
            await self.status_tick()

    # -- one period of each loop: what `start()`'s loops run, and what a driver of many nodes
    #    (`kubelite sim`'s fleet-wide tick) calls instead of running 2 timers per node

    async def lease_tick(self) -> None:
        """One Lease period: renew, and log (not raise) a failure: a heartbeat must survive a flaky server."""
        try:
            await self.renew_lease()
        except Exception as e:
            log.warning("lease renewal for %s failed: %s", self.name, e)

    async def status_tick(self) -> None:
        """One status check period: report the node status when due or changed (failures are logged)."""
        try:
            await self.report_status()
        except Exception as e:
            log.warning("status update for %s failed: %s", self.name, e)

    # -- the two signals ---------------------------------------------------------------
    async def renew_lease(self) -> None:
        """One renewal: a PUT of the last Lease we wrote with a new renewTime (the real kubelet's
        `latestLease`), so a node costs one request per renewal. Only when there is no such Lease
        yet, or the PUT met a conflict (someone else wrote it) or NotFound, is it read (or created)."""
        now = datetime.now(UTC)
        if self._lease is not None:
            lease = {**self._lease, "metadata": dict(self._lease["metadata"]),
                     "spec": {**self._lease["spec"], **build_lease(self.name, self.uid, now)["spec"]}}
            try:
                self._lease = await self.client.replace(LEASES, lease, LEASE_NAMESPACE)
                return
            except ApiError as e:
                if is_connection_error(e):
                    raise  # keep the Lease: the next renewal is still one PUT (a 409 sends it to GET)
                self._lease = None
                if not (is_conflict(e) or is_not_found(e)):
                    raise
        elif self._fresh_node:
            # a Node created a moment ago has no Lease yet (the garbage collector removed any
            # Lease an earlier Node of this name owned): create it without a GET first
            self._fresh_node = False
            lease = build_lease(self.name, self.uid, now)
            lease["spec"]["acquireTime"] = lease["spec"]["renewTime"]
            try:
                self._lease = await self.client.create(LEASES, lease, LEASE_NAMESPACE)
                return
            except ApiError as e:
                if not is_already_exists(e):
                    raise
        await self._read_and_renew(now)

    async def _read_and_renew(self, now: datetime) -> None:
        lease = build_lease(self.name, self.uid, now)
        try:
            current = await self.client.get(LEASES, self.name, LEASE_NAMESPACE)
        except ApiError as e:
            if not is_not_found(e):
                raise
            lease["spec"]["acquireTime"] = lease["spec"]["renewTime"]
            try:
                self._lease = await self.client.create(LEASES, lease, LEASE_NAMESPACE)
            except ApiError as e2:
                if not is_already_exists(e2):
                    raise
            return
        current["spec"].update(lease["spec"])
        current["spec"].setdefault("acquireTime", lease["spec"]["renewTime"])
        if self.uid and not current["metadata"].get("ownerReferences"):
            current["metadata"]["ownerReferences"] = lease["metadata"]["ownerReferences"]
        try:
            self._lease = await self.client.replace(LEASES, current, LEASE_NAMESPACE)
        except ApiError as e:
            if not is_conflict(e):
                raise

    async def _conditions(self) -> tuple[list[dict], tuple]:
        readings = (await asyncio.to_thread(self._read_readings)) if self._readings_in_thread else self._read_readings()
        ready, message = self._runtime_ready()
        network = self._network_ready() if self._network_ready is not None else None
        conditions = self.conditions.conditions(readings, ready, message, datetime.now(UTC), network)
        return conditions, tuple((c["type"], c["status"]) for c in conditions)

    async def _api_agrees(self, signature: tuple) -> bool:
        """Does the Node in the API still say what we last reported? The node lifecycle controller
        marks a node it did not hear from Unknown; the real kubelet compares with the Node it reads
        (from the apiserver's cache) on each status check, so a node that comes back is Ready again
        within one check, not at the next full report. (`kubelite sim` serves this read from one
        shared node informer.)"""
        try:
            node = await self.client.get(NODES, self.name)
        except ApiError as e:
            if is_not_found(e):
                return False  # deleted: the PATCH fails and says so in the log
            raise
        said = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        return all(said.get(type_) == status for type_, status in signature)

    async def report_status(self, force: bool = False) -> dict | None:
        """PATCH the node status when a condition changed or the report is due; returns the Node
        written (None when nothing was due). After the first report the static part (capacity,
        addresses, nodeInfo) is not sent again: only the conditions, as the real kubelet's
        two-way patch would hold."""
        loop = asyncio.get_running_loop()
        conditions, signature = await self._conditions()
        due = loop.time() - self._last_report_time >= self.status_report_interval
        if not (force or due or signature != self._last_reported) and await self._api_agrees(signature):
            return None
        status = {"conditions": conditions} if self._status_posted else {**self.node["status"],
                                                                          "conditions": conditions}
        written: dict = await self.client.patch(NODES, self.name, {"status": status}, subresource="status",
                                                patch_type="strategic")
        self._status_posted = True
        self._last_reported = signature
        self._last_report_time = loop.time()
        return written
