"""The scheduler and the controller manager inside `kubelite server`, each behind leader election.

Why leader election even for one server: several `kubelite server` processes may share one etcd
(the HA control plane). Each of them runs the same two post-start hooks, and each hook first
wins a Lease in kube-system (`kube-scheduler`, `kube-controller-manager`, the names the real
components use) before it starts its component, so the cluster runs ONE scheduler and ONE
controller manager whatever the number of servers. When the leader's process dies, its Lease
stops being renewed; a standby takes it once it expires (`lease_duration`, 10 s by default, a
little shorter than Kubernetes' 15 s so that a hand-over completes within 15 s) and starts its own
copy. A leader that cannot renew for `renew_deadline` stops its component before its Lease can
expire, so two never act at once.

The components are ordinary API clients: each hook talks to its own server through the local
kubeconfig (the server's unix socket), exactly as `kubelite scheduler` / `kubelite
controller-manager --kubeconfig DATA_DIR/kubeconfig-local.yaml` would on the same host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEDULER_LEASE = "kube-scheduler"
CONTROLLER_MANAGER_LEASE = "kube-controller-manager"
LEASE_NAMESPACE = "kube-system"


@dataclass
class ControlPlaneConfig:
    """What `kubelite server` runs beside the apiserver (flags of the same names)."""

    scheduler: bool = True
    controllers: bool = True
    #: silence after which the node lifecycle controller marks a node NotReady/Unknown
    node_monitor_grace_period: float = 40.0
    #: how long pods without their own toleration stay on a not-ready/unreachable node
    default_toleration_seconds: float = 300.0
    #: leader election: lease duration > renew deadline > retry period
    lease_duration: float = 10.0
    renew_deadline: float = 7.0
    retry_period: float = 2.0
    #: this server's name in the Lease's holderIdentity (default: host_pid_random)
    identity: str | None = None

    def validate(self) -> None:
        if self.node_monitor_grace_period <= 0:
            raise ValueError("--node-monitor-grace-period must be > 0")
        if self.default_toleration_seconds < 0:
            raise ValueError("--default-not-ready-toleration-seconds must be >= 0")
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError("leader election needs lease duration > renew deadline > retry period > 0")

    def holder_identity(self) -> str:
        return self.identity or f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


Lead = Callable[[Any], Awaitable[None]]


async def _elected(kubeconfig: Path, cfg: ControlPlaneConfig, lease: str, user_agent: str, lead: Lead) -> None:
    """Stand for election on `lease` forever; run `lead(client)` while holding it."""
    from kubelite.client.leaderelection import LeaderElector
    from kubelite.client.rest import ApiClient

    client = await asyncio.to_thread(ApiClient.from_kubeconfig, str(kubeconfig), user_agent=user_agent)
    identity = cfg.holder_identity()
    elector = LeaderElector(client, lease_name=lease, namespace=LEASE_NAMESPACE, identity=identity,
                            lease_duration=cfg.lease_duration, renew_deadline=cfg.renew_deadline,
                            retry_period=cfg.retry_period)

    async def on_started_leading() -> None:
        log.info("%s: leading %s/%s", identity, LEASE_NAMESPACE, lease)
        while True:  # a leader must not sit on the Lease with its component dead: restart it
            try:
                await lead(client)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - logged, then the component starts again
                log.exception("%s failed; restarting it", user_agent)
            await asyncio.sleep(cfg.retry_period)

    try:
        while True:  # after losing the lease, stand by again (the real components restart)
            await elector.run(on_started_leading, lambda: log.warning("%s: stopped leading %s", identity, lease))
            await asyncio.sleep(cfg.retry_period)
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def _lead_scheduler(client: Any) -> None:
    from kubelite.scheduler.scheduler import Scheduler

    scheduler = Scheduler(client)
    try:
        await scheduler.start()
        log.info("embedded scheduler running")
        await asyncio.Event().wait()  # until the elector (or the server's stop) cancels us
    finally:
        await scheduler.stop()


def _lead_controllers(cfg: ControlPlaneConfig) -> Lead:
    async def lead(client: Any) -> None:
        from kubelite.controllers.manager import ControllerManager

        # no leader election inside: this module's elector already holds the Lease
        manager = ControllerManager(client, leader_elect=False,
                                    node_monitor_grace_period=cfg.node_monitor_grace_period,
                                    default_toleration_seconds=cfg.default_toleration_seconds)
        try:
            await manager.run()
        finally:
            await manager.stop()
    return lead


def post_start_hooks(cfg: ControlPlaneConfig) -> list[Callable[[Path], Awaitable[None]]]:
    """The `ServerConfig.post_start` hooks for the enabled components."""
    cfg.validate()
    hooks: list[Callable[[Path], Awaitable[None]]] = []
    if cfg.scheduler:
        async def run_scheduler(kubeconfig: Path) -> None:
            await _elected(kubeconfig, cfg, SCHEDULER_LEASE, "kube-scheduler", _lead_scheduler)
        hooks.append(run_scheduler)
    if cfg.controllers:
        lead = _lead_controllers(cfg)

        async def run_controllers(kubeconfig: Path) -> None:
            await _elected(kubeconfig, cfg, CONTROLLER_MANAGER_LEASE, "kube-controller-manager", lead)
        hooks.append(run_controllers)
    return hooks
