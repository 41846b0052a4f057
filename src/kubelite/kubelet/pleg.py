"""PLEG: the periodic relist of the runtime, enqueueing every pod whose sandboxes or containers changed.

Kubernetes' counterpart: pkg/kubelet/pleg/generic.go (`relist`; the runtime's health from how
the relist went, as `Healthy()`), with the idea of the evented PLEG (pkg/kubelet/pleg/evented.go)
for a runtime that says which pods changed. `pleg_tick` also does the sync loop's periodic resync
of every pod (`syncLoopIteration`'s syncCh).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from kubelite.kubelet import spec as S
from kubelite.kubelet.sources import PodSources
from kubelite.runtime.types import (
    ContainerStatus,
    PodSandboxStatus,
    RuntimeError_,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]
T = TypeVar("T")


def _signatures(sandboxes: list[PodSandboxStatus], containers: list[ContainerStatus]) -> dict[str, tuple[Any, ...]]:
    """Pod uid -> what a relist compares: the (id, state) of its sandboxes and containers."""
    sigs: dict[str, list[Any]] = {}
    for sb in sandboxes:
        sigs.setdefault(sb.labels.get(S.LABEL_POD_UID, sb.uid), []).append((sb.id, sb.state.value))
    for c in containers:
        uid = c.labels.get(S.LABEL_POD_UID)
        if uid:
            sigs.setdefault(uid, []).append((c.id, c.state.value))
    return {uid: tuple(sorted(items)) for uid, items in sigs.items()}


def _pod_signature(sandboxes: list[PodSandboxStatus], containers: list[ContainerStatus]) -> tuple[Any, ...] | None:
    """`_signatures` for the listing of ONE pod (all of it carries that pod's uid): its tuple, or None
    when the pod has nothing in the runtime."""
    items = [(sb.id, sb.state.value) for sb in sandboxes] + [(c.id, c.state.value) for c in containers]
    return tuple(sorted(items)) if items else None


class Pleg(PodSources):
    """The relist of the runtime (see the module docstring)."""

    def _set_health(self, healthy: bool, message: str) -> None:
        if healthy != self.runtime_healthy:
            self.runtime_healthy = healthy
            self.runtime_message = message
            if not healthy:
                log.warning("container runtime unhealthy: %s", message)
            if self.on_runtime_health is not None:
                self.on_runtime_health(healthy, message)

    async def relist(self, force: bool = False) -> None:
        """One PLEG pass: enqueue every pod whose sandboxes or containers changed.

        A runtime whose `change_token()` is the one of the last pass (the simulated one) is not
        listed: thousands of idle simulated nodes then cost nothing per period. One whose
        `pod_changes()` names the pods that changed has those pods listed only."""
        runtime = self.runtime
        token = runtime.change_token()
        healthy = self.runtime_healthy is True
        if not force and token is not None and token == self._relist_token and healthy:
            return
        cursor, changed = runtime.pod_changes(self._journal_cursor if healthy and not force else None)
        # Only the pods the runtime says changed are listed; a change it cannot attribute to a
        # pod (nothing in the journal, yet the token moved) means: list everything.
        if changed:
            await self._relist_pods(changed, token, cursor)
            return

        async def everything() -> tuple[list[PodSandboxStatus], list[ContainerStatus]]:
            return (await self.runtime.list_pod_sandboxes({S.LABEL_MANAGED: "true"}),
                    await self.runtime.list_containers(labels={S.LABEL_MANAGED: "true"}))

        listed = await self._ask_runtime(everything)
        if listed is None:
            return
        new = _signatures(*listed)
        for uid in set(new) | set(self._signatures):
            if new.get(uid) != self._signatures.get(uid):
                self.workers.enqueue(uid)
        self._signatures = new
        self._relist_token = token
        self._journal_cursor = cursor

    async def _ask_runtime(self, query: Callable[[], Awaitable[T]]) -> T | None:
        """A relist's runtime query within `runtime_timeout`, and the runtime's health from how it
        went: None when the runtime is down or silent (the node then reports it)."""
        try:
            async with asyncio.timeout(self.runtime_timeout):
                answer = await query()
        except RuntimeError_ as err:
            self._set_health(False, f"container runtime is down: {err}")
            return None
        except TimeoutError:
            self._set_health(False, f"container runtime is not responding (no answer within {self.runtime_timeout:g}s)")
            return None
        self._set_health(True, "")
        return answer

    async def _relist_pods(self, uids: list[str], token: object, cursor: int) -> None:
        """The relist of a runtime that reported which pods changed: list those pods only (O(changes),
        not O(pods on the node)); enqueue each whose sandboxes or containers now differ."""
        managed = {S.LABEL_MANAGED: "true"}

        async def those() -> list[tuple[str, list[PodSandboxStatus], list[ContainerStatus]]]:
            return [(uid, await self.runtime.list_pod_sandboxes({S.LABEL_POD_UID: uid, **managed}),
                     await self.runtime.list_containers(labels={S.LABEL_POD_UID: uid, **managed}))
                    for uid in uids]

        listed = await self._ask_runtime(those)
        if listed is None:
            return
        signatures = self._signatures
        for uid, sandboxes, containers in listed:
            new = _pod_signature(sandboxes, containers)
            if new != signatures.get(uid):
                self.workers.enqueue(uid)
                if new is None:
                    del signatures[uid]
                else:
                    signatures[uid] = new
        self._relist_token = token
        self._journal_cursor = cursor

    async def _relist_loop(self) -> None:
        while True:
            await self.pleg_tick()
            await asyncio.sleep(self.relist_period)

    async def pleg_tick(self, *, full: bool | None = None, resync: bool | None = None) -> None:
        """One PLEG period (what `_relist_loop` runs every `relist_period`; `kubelite sim`'s fleet-wide
        tick calls it for the nodes whose runtime changed, and for every node now and then): a relist,
        a full one at least every `full_relist_period` (it doubles as the runtime health check), and
        every `resync_period` a sync of every pod (level-triggered safety net). `full` / `resync`
        given: the caller decides instead of the clock."""
        now = asyncio.get_running_loop().time()
        force = now - self._last_full_relist >= self.full_relist_period if full is None else full
        if force:
            self._last_full_relist = now
        try:
            await self.relist(force=force)
        except Exception:
            log.exception("relisting the runtime failed")
        if now - self._last_resync >= self.resync_period if resync is None else resync:
            self._last_resync = now
            for uid in list(self._api_pods) + list(self._static_pods):
                self.workers.enqueue(uid)
