"""The node's heartbeat: register the Node, renew its Lease every 10 s, post status on change.

Like the real kubelet (since 1.17) there are two signals: the Lease in kube-node-lease, renewed
often and cheaply, and the Node status, posted when something changed and at least every
`status_report_interval` (60 s by default), so that 5000 nodes cost 500 small writes a second
rather than 500 full Node updates. A renewal is one PUT of the Lease last written (a GET only
after a conflict), as the real kubelet's lease controller does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from kubelite.api.resources import LEASES, NODES
from kubelite.client.rest import ApiClient, ApiError, is_already_exists, is_conflict, is_not_found
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

    # -- registration ------------------------------------------------------------------
    async def register(self) -> dict:
        """Create the Node, or adopt the existing one (a restarted kubelet keeps its node)."""
        while True:
            try:
                created = await self.client.create(NODES, self.node)
                self.uid = created["metadata"]["uid"]
                break
            except ApiError as e:
                if not is_already_exists(e):
                    log.warning("registering node %s failed: %s; retrying", self.name, e)
                    await asyncio.sleep(1)
                    continue
                existing = await self.client.get(NODES, self.name)
                self.uid = existing["metadata"]["uid"]
                labels = {**existing["metadata"].get("labels", {}), **self.node["metadata"]["labels"]}
                annotations = {**existing["metadata"].get("annotations", {}),
                               **self.node["metadata"].get("annotations", {})}
                await self.client.patch(NODES, self.name, {"metadata": {"labels": labels, "annotations": annotations}})
                break
        await self.report_status(force=True)
        self.registered.set()
        return await self.client.get(NODES, self.name)

    # -- loops -------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._lease_loop(), name=f"lease-{self.name}"),
                       asyncio.create_task(self._status_loop(), name=f"status-{self.name}")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _lease_loop(self) -> None:
        while True:
            try:
                await self.renew_lease()
            except Exception as e:  # a heartbeat must survive a flaky server
                log.warning("lease renewal for %s failed: %s", self.name, e)
            await asyncio.sleep(self.lease_renew_interval)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.status_check_interval)
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
                self._lease = None
                if not (is_conflict(e) or is_not_found(e)):
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

    async def report_status(self, force: bool = False) -> None:
        loop = asyncio.get_running_loop()
        readings = (await asyncio.to_thread(self._read_readings)) if self._readings_in_thread else self._read_readings()
        ready, message = self._runtime_ready()
        now = datetime.now(UTC)
        network = self._network_ready() if self._network_ready is not None else None
        conditions = self.conditions.conditions(readings, ready, message, now, network)
        signature = tuple((c["type"], c["status"]) for c in conditions)
        due = loop.time() - self._last_report_time >= self.status_report_interval
        if not (force or due or signature != self._last_reported):
            return
        status = {**self.node["status"], "conditions": conditions}
        await self.client.patch(NODES, self.name, {"status": status}, subresource="status",
                                patch_type="strategic")
        self._last_reported = signature
        self._last_report_time = loop.time()
