"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

Candidates race to write their identity into one Lease with optimistic concurrency (every write
carries the resourceVersion it read, so exactly one of two simultaneous writers wins). The holder
renews `renewTime` every `retry_period`; if it cannot renew for `renew_deadline` it steps down
(cancels its work and calls on_stopped_leading) before its lease can expire
(`lease_duration` > `renew_deadline`), so two leaders never act at once. A standby takes the
lease once it has expired: `renewTime + leaseDurationSeconds` is in the past, or the record has
not changed for `lease_duration` of the standby's own monotonic time (which protects against a
holder whose clock runs behind). Expect a hand-over within lease_duration + retry_period of the
leader's last renewal.

On graceful stop the leader releases the lease (empty holder) so that a standby takes over at its
next retry rather than after a full lease_duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubelite.api.resources import LEASES
from kubelite.client.rest import ApiClient, ApiError, is_already_exists, is_conflict, is_not_found

log = logging.getLogger(__name__)


def _micro_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: Any) -> float | None:
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class LeaderElector:
    """Run a callback only while holding a Lease (see module docstring)."""

    def __init__(self, client: ApiClient, *, lease_name: str, namespace: str = "kube-system", identity: str,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0,
                 release_on_cancel: bool = True) -> None:
        if not identity:
            raise ValueError("leader election needs a non-empty identity")
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.client = client
        self.lease_name = lease_name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self._is_leader = False
        self._lease: dict[str, Any] | None = None
        # what we last saw of someone else's record, and when (monotonic), to judge expiry locally
        self._observed: tuple[Any, Any, Any] | None = None
        self._observed_at = 0.0

    @property
    def is_leader(self) -> bool:
        return self._is_leader

    @property
    def holder(self) -> str | None:
        """The holder identity in the last Lease we read or wrote."""
        if self._lease is None:
            return None
        return (self._lease.get("spec") or {}).get("holderIdentity") or None

    async def run(self, on_started_leading: Callable[[], Awaitable[Any]],
                  on_stopped_leading: Callable[[], None] | None = None) -> None:
        """Wait to become leader, run `on_started_leading()` while leading, return after losing the lease.

        Cancelling `run` stops the work, releases the lease (if `release_on_cancel`) and calls
        on_stopped_leading.
        """
        work: asyncio.Task[Any] | None = None
        try:
            await self._acquire()
            self._is_leader = True
            log.info("%s: became leader of lease %s/%s", self.identity, self.namespace, self.lease_name)
            work = asyncio.get_running_loop().create_task(_run_callback(on_started_leading),
                                                          name=f"leader-{self.lease_name}")
            await self._renew_loop()
            log.warning("%s: lost lease %s/%s", self.identity, self.namespace, self.lease_name)
        finally:
            was_leader = self._is_leader or work is not None
            self._is_leader = False
            if work is not None:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
            if was_leader:
                if self.release_on_cancel:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(asyncio.shield(self._release()), self.retry_period)
                if on_stopped_leading is not None:
                    on_stopped_leading()

    async def _acquire(self) -> None:
        while True:
            if await self._try_acquire_or_renew():
                return
            await asyncio.sleep(self.retry_period * (1 + random.random() * 0.2))

    async def _renew_loop(self) -> None:
        """Renew every retry_period; return when no renewal succeeded within renew_deadline."""
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(self.retry_period)
            remaining = self.renew_deadline - (time.monotonic() - last_ok)
            ok = False
            if remaining > 0:
                try:
                    async with asyncio.timeout(remaining):
                        ok = await self._try_acquire_or_renew()
                except TimeoutError:
                    ok = False
            if ok:
                last_ok = time.monotonic()
            elif time.monotonic() - last_ok >= self.renew_deadline or self._lost_to_other():
                return

    def _lost_to_other(self) -> bool:
        holder = self.holder
        return holder is not None and holder != self.identity

    def _expired(self, spec: dict[str, Any]) -> bool:
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseTransitions"))
        now = time.monotonic()
        if record != self._observed:
            self._observed, self._observed_at = record, now
        renewed = _parse_time(spec.get("renewTime"))
        if renewed is not None and renewed + duration < time.time():
            return True
        return self._observed_at + duration < now

    async def _try_acquire_or_renew(self) -> bool:
        now = _micro_now()
        try:
            lease = await self.client.get(LEASES, self.lease_name, self.namespace)
        except ApiError as e:
            if not is_not_found(e):
                log.warning("%s: cannot read lease: %s", self.identity, e)
                return False
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.lease_name, "namespace": self.namespace},
                    "spec": {"holderIdentity": self.identity,
                             "leaseDurationSeconds": max(1, round(self.lease_duration)),
                             "acquireTime": now, "renewTime": now, "leaseTransitions": 0}}
            try:
                self._lease = await self.client.create(LEASES, body, self.namespace)
                return True
            except ApiError as e2:
                if not is_already_exists(e2):
                    log.warning("%s: cannot create lease: %s", self.identity, e2)
                return False
        self._lease = lease
        spec = dict(lease.get("spec") or {})
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and not self._expired(spec):
            return False
        if holder != self.identity:
            spec["holderIdentity"] = self.identity
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec["renewTime"] = now
        spec["leaseDurationSeconds"] = max(1, round(self.lease_duration))
        updated = dict(lease)
        updated["spec"] = spec
        try:
            self._lease = await self.client.replace(LEASES, updated, self.namespace)
            return True
        except ApiError as e:
            if not is_conflict(e):
                log.warning("%s: cannot update lease: %s", self.identity, e)
            return False

    async def _release(self) -> None:
        if self._lease is None or self.holder != self.identity:
            return
        spec = dict(self._lease.get("spec") or {})
        spec.pop("holderIdentity", None)
        spec.update(leaseDurationSeconds=1, renewTime=_micro_now())
        released = dict(self._lease)
        released["spec"] = spec
        try:
            self._lease = await self.client.replace(LEASES, released, self.namespace)
        except ApiError as e:
            log.info("%s: could not release lease: %s", self.identity, e)


async def _run_callback(fn: Callable[[], Awaitable[Any]]) -> None:
    try:
        await fn()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("on_started_leading failed")
