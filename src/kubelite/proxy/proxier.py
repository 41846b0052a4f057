"""The proxy's sync loop: Services + EndpointSlices in, one atomic iptables-restore out.

Informer handlers only mark the state dirty and note when the change was seen. One task
syncs: it builds the desired chains from the listers (rules.py, pure), renders the difference
against what it applied last, and pipes it to `iptables-restore --noflush` inside the node's
network namespace. Changes that arrive during a sync are batched into the next one.

Restart safety: the first sync (and any sync after a failure, and every `full_sync_period`)
reads `iptables-save` first, so chains left by a previous run are rewritten in place or deleted,
and the jumps from the built-in chains are inserted only when missing: never duplicated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from kubelite.api.resources import ENDPOINTSLICES, SERVICES
from kubelite.client.informer import InformerFactory
from kubelite.network.netns import NetnsError, arun, ensure_service_route
from kubelite.proxy import metrics
from kubelite.proxy.rules import (
    JUMPS,
    SERVICE_CIDR,
    Endpoint,
    ProxyConfig,
    RuleError,
    ServicePort,
    Tables,
    build_tables,
    parse_save,
    render_restore,
    service_ports,
    slice_endpoints,
)

log = logging.getLogger(__name__)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _slice_service_key(obj: dict[str, Any]) -> list[str]:
    svc = ((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{(obj.get('metadata') or {}).get('namespace')}/{svc}"] if svc else []


class Iptables:
    """iptables-save / iptables-restore in one network namespace (None: our own)."""

    def __init__(self, netns: str | None) -> None:
        self.netns = netns

    async def save(self) -> str:
        _, out, _ = await arun(self.netns, ["iptables-save"])
        return out

    async def restore(self, text: str) -> None:
        await arun(self.netns, ["iptables-restore", "--noflush", "-w"], input=text)


def desired_services(services: Sequence[Mapping[str, Any]],
                     slices_of: Any) -> list[tuple[ServicePort, list[Endpoint]]]:
    """(service port, endpoints) for every proxied port; a bad object is logged and skipped."""
    out: list[tuple[ServicePort, list[Endpoint]]] = []
    for svc in services:
        meta = svc.get("metadata") or {}
        try:
            ports = service_ports(svc)
            slices = slices_of(f"{meta.get('namespace')}/{meta.get('name')}") if ports else []
            out.extend((sp, slice_endpoints(sp, slices)) for sp in ports)
        except RuleError as err:
            log.warning("skipping service %s/%s: %s", meta.get("namespace"), meta.get("name"), err)
    return out


class Proxier:
    """kube-proxy for one node (iptables mode)."""

    def __init__(self, factory: InformerFactory, *, node_name: str, netns: str | None = None,
                 node_ips: list[str] | None = None, cluster_cidr: str = "10.42.0.0/16",
                 service_cidr: str = SERVICE_CIDR, full_sync_period: float = 60.0,
                 iptables: Iptables | None = None) -> None:
        self.config = ProxyConfig(cluster_cidr=cluster_cidr, node_ips=list(node_ips or []), node_name=node_name)
        self.netns = netns
        self.service_cidr = service_cidr
        self.full_sync_period = full_sync_period
        self.iptables = iptables or Iptables(netns)
        svc_informer = factory.informer(SERVICES)
        slice_informer = factory.informer(ENDPOINTSLICES)
        self._informers = [svc_informer, slice_informer]
        self.services = svc_informer.store
        self.slices = slice_informer.store
        if not self.slices.has_index("service"):
            self.slices.add_index("service", _slice_service_key)
        for inf in self._informers:
            inf.add_handler(lambda o: self._changed(), lambda o, n: self._changed(), lambda o: self._changed())
        self._dirty = asyncio.Event()
        self._pending: list[float] = []       # monotonic times of changes not yet applied
        self._applied: Tables | None = None   # None: unknown, read iptables-save first
        self._last_full = 0.0
        self._task: asyncio.Task[None] | None = None
        #: successful syncs so far, and the last error (None after a success)
        self.sync_count = 0
        self.last_error: str | None = None
        self._synced = asyncio.Condition()

    def _changed(self) -> None:
        if len(self._pending) < 10000:
            self._pending.append(time.monotonic())
        self._dirty.set()

    async def start(self) -> None:
        """Add the Service CIDR route if the node lacks one, then start syncing (rules appear
        once the informers have synced)."""
        try:
            await asyncio.to_thread(ensure_service_route, self.netns, self.service_cidr)
        except NetnsError as err:
            log.warning("could not add a route for the service CIDR: %s", err)
        self._task = asyncio.create_task(self._loop(), name=f"proxy:{self.config.node_name}")

    async def stop(self) -> None:
        """Stop syncing; the rules stay (traffic keeps flowing while the proxy restarts)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def wait_for_sync(self, count: int = 1, limit: float = 30.0) -> None:
        """Wait until at least `count` syncs succeeded (tests, startup)."""
        async with self._synced:
            await asyncio.wait_for(self._synced.wait_for(lambda: self.sync_count >= count), limit)

    async def _loop(self) -> None:
        for inf in self._informers:
            await inf.wait_synced()
        self._dirty.set()
        backoff = 0.5
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout=self.full_sync_period)
            except TimeoutError:
                self._applied = None  # periodic full resync repairs rules someone removed
            self._dirty.clear()
            try:
                await self.sync()
                backoff = 0.5
            except (NetnsError, OSError) as err:
                metrics.SYNC_FAILURES.inc()
                self.last_error = str(err)
                log.error("iptables sync failed (retrying in %.1fs): %s", backoff, err)
                self._applied = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                self._dirty.set()

    async def sync(self) -> None:
        """Apply the current Services and EndpointSlices (one iptables-restore, or none)."""
        started = time.monotonic()
        pending, self._pending = self._pending, []
        try:
            desired = build_tables(
                desired_services(self.services.list(), lambda key: self.slices.by_index("service", key)),
                self.config)
            existing: dict[str, set[str]] = {}
            missing: list[tuple[str, str, str]] = []
            if self._applied is None:
                existing, present = parse_save(await self.iptables.save())
                missing = [j for j in JUMPS if j not in present]
            text = render_restore(desired, self._applied, existing, missing)
            if text:
                await self.iptables.restore(text)
        except BaseException:
            self._pending = pending + self._pending
            raise
        self._applied = desired
        done = time.monotonic()
        for t in pending:
            metrics.NETWORK_PROGRAMMING.observe(done - t)
        metrics.SYNC_DURATION.observe(done - started)
        metrics.LAST_SYNC.set(time.time())
        self.last_error = None
        if self.sync_count == 0:
            log.info("iptables rules synced for %d services (%.3fs)", len(self.services), done - started)
        async with self._synced:
            self.sync_count += 1
            self._synced.notify_all()

    async def cleanup(self) -> None:
        """Remove every chain and jump the proxy made (`kube-proxy --cleanup`)."""
        await self.stop()
        existing, present = parse_save(await self.iptables.save())
        lines: list[str] = []
        for table in ("filter", "nat"):
            chains = sorted(existing.get(table, set()))
            jumps = [j for j in present if j[0] == table]
            if not chains and not jumps:
                continue
            lines.append(f"*{table}")
            lines += [f"-D {b} {spec}" for _, b, spec in jumps]
            lines += [f":{c} - [0:0]" for c in chains]
            lines += [f"-X {c}" for c in chains]
            lines.append("COMMIT")
        if lines:
            await self.iptables.restore("\n".join(lines) + "\n")
        self._applied = None
