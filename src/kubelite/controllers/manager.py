"""ControllerManager: every controller over one shared InformerFactory, optionally behind a Lease.

Start order matters: each controller registers its informers and handlers in its constructor,
then the factory starts, the caches sync, and only then do workers take keys (a reconcile
against a half-filled cache would, for example, create pods that already exist). With leader
election, all of that happens only while this process holds the kube-system/kube-controller-manager
Lease, and is torn down (informers too) when it loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from typing import Any

from kubelite.api.resources import REPLICATIONCONTROLLERS
from kubelite.client.compact import process_compactor
from kubelite.client.events import EventRecorder
from kubelite.client.informer import InformerFactory
from kubelite.client.leaderelection import LeaderElector
from kubelite.controllers.base import Controller
from kubelite.controllers.daemonset import DaemonSetController
from kubelite.controllers.deployment import DeploymentController
from kubelite.controllers.endpoints import EndpointsController
from kubelite.controllers.garbagecollector import GarbageCollector
from kubelite.controllers.job import JobController
from kubelite.controllers.namespace import NamespaceController
from kubelite.controllers.nodeipam import NodeIpamController
from kubelite.controllers.nodelifecycle import NodeLifecycleController
from kubelite.controllers.replicaset import ReplicaSetController
from kubelite.controllers.serviceaccount import ServiceAccountController
from kubelite.controllers.util import DEFAULT_TOLERATION_SECONDS

log = logging.getLogger("kubelite.controllers.manager")

#: Every controller, by the name `--controllers` uses.
ALL_CONTROLLERS = ("replicaset", "replicationcontroller", "deployment", "daemonset", "job", "nodeipam",
                   "nodelifecycle", "endpoints", "namespace", "garbagecollector", "serviceaccount")
LEASE_NAME = "kube-controller-manager"


class ControllerManager:
    """Runs the controllers; `kubelite server` embeds one, `kubelite controller-manager` runs one alone."""

    def __init__(self, client: Any, *, leader_elect: bool = False, node_monitor_grace_period: float = 40.0,
                 default_toleration_seconds: float = DEFAULT_TOLERATION_SECONDS,
                 controllers: tuple[str, ...] | list[str] | None = None, workers: int = 2,
                 identity: str | None = None, sync_timeout: float = 60.0) -> None:
        unknown = set(controllers or ()) - set(ALL_CONTROLLERS)
        if unknown:
            raise ValueError(f"unknown controllers: {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(ALL_CONTROLLERS)}")
        if node_monitor_grace_period <= 0:
            raise ValueError("node-monitor-grace-period must be > 0")
        if default_toleration_seconds < 0:
            raise ValueError("pod-eviction-timeout must be >= 0")
        self.client = client
        self.leader_elect = leader_elect
        self.grace_period = node_monitor_grace_period
        self.default_toleration = default_toleration_seconds
        self.enabled = tuple(controllers) if controllers else ALL_CONTROLLERS
        self.workers = workers
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.sync_timeout = sync_timeout
        self.controllers: dict[str, Controller] = {}
        #: what every informer cache goes through (one table for the whole process)
        self.compactor = process_compactor()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def _build(self, factory: InformerFactory, recorder: EventRecorder) -> dict[str, Controller]:
        c = self.client
        makers: dict[str, Any] = {
            "replicaset": lambda: ReplicaSetController(c, factory, recorder),
            "replicationcontroller": lambda: ReplicaSetController(c, factory, recorder, res=REPLICATIONCONTROLLERS),
            "deployment": lambda: DeploymentController(c, factory, recorder),
            "daemonset": lambda: DaemonSetController(c, factory, recorder),
            "job": lambda: JobController(c, factory, recorder),
            "nodeipam": lambda: NodeIpamController(c, factory, recorder),
            "nodelifecycle": lambda: NodeLifecycleController(
                c, factory, recorder, grace_period=self.grace_period,
                default_toleration_seconds=self.default_toleration),
            "endpoints": lambda: EndpointsController(c, factory, recorder),
            "namespace": lambda: NamespaceController(c, factory, recorder),
            "garbagecollector": lambda: GarbageCollector(c, factory, recorder),
            "serviceaccount": lambda: ServiceAccountController(c, factory),
        }
        return {name: makers[name]() for name in self.enabled}

    async def _run_controllers(self) -> None:
        # every cached object compact (parts shared between objects, managedFields dropped:
        # client/compact.py); the controllers copy (util.deep) before they change anything
        factory = InformerFactory(self.client, transform=self.compactor)
        recorder = EventRecorder(self.client, "controller-manager")
        self.controllers = self._build(factory, recorder)
        tasks: list[asyncio.Task[None]] = []
        try:
            await recorder.start()
            await factory.start()
            if not await factory.wait_synced(self.sync_timeout):
                raise RuntimeError(f"informer caches did not sync within {self.sync_timeout:g}s")
            for name, ctrl in self.controllers.items():
                tasks.append(asyncio.create_task(ctrl.run(self.workers), name=f"controller-{name}"))
            self._ready.set()
            log.info("controllers running: %s", ", ".join(self.controllers))
            await asyncio.gather(*tasks)
        finally:
            self._ready.clear()
            for ctrl in self.controllers.values():
                ctrl.shut_down()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await factory.stop()
            with contextlib.suppress(Exception):
                await recorder.stop()

    async def _main(self) -> None:
        if not self.leader_elect:
            await self._run_controllers()
            return
        elector = LeaderElector(self.client, lease_name=LEASE_NAME, namespace="kube-system",
                                identity=self.identity)
        while True:  # lost the lease: stand by and try again
            await elector.run(self._run_controllers, lambda: log.warning("stopped leading"))

    async def start(self) -> None:
        """Start in the background (returns at once; see `wait_ready`)."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._main(), name="controller-manager")

    async def wait_ready(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """True once the caches have synced and the workers run (i.e. we lead, with --leader-elect)."""
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Start and wait until stopped or failed."""
        await self.start()
        assert self._task is not None
        await self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def default_identity() -> str:
    return f"{socket.gethostname()}_{os.getpid()}"
