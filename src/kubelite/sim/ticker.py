"""One timer for a whole fleet of simulated nodes: the periodic work of every kubelet, from one task.

A kubelet has three periodic loops: the PLEG relist (every 1 s), the Lease renewal (10 s) and the
node status check (10 s). Run as they are on a real node, 5000 simulated nodes are 7,000 timer
wakeups a second, each a coroutine that finds nothing to do: most of a core, at rest. So the
fleet's agents run with ``own_loops=False`` and this ticker calls the same kubelet code
(`PodManager.pleg_tick`, `NodeHeartbeat.lease_tick` / `status_tick`):

- heartbeats: each node has a fixed slot in the Lease period, spread evenly over it whatever the
  order and pace of the join (slot = the fractional part of index x the golden ratio), so the
  API server sees a steady 500 renewals a second at 5000 nodes, not bursts. A node whose last
  renewal is still in flight (a slow server) skips a turn instead of piling up requests, as a
  kubelet's loop would wait;
- PLEG: every relist period, only the nodes whose runtime changed since (the `SimRuntime` calls
  `changed()` on a write, and `changed_at()` for the instant a container starts or exits) are
  relisted; every node also gets a full relist and a resync of its pods once per
  `full_relist_period` (its slot in that period is spread the same way).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kubelite.kubelet.agent import Agent

log = logging.getLogger(__name__)

GOLDEN = 0.6180339887498949
#: the ticker's resolution (s): heartbeats are due in slots of this width
RESOLUTION = 0.1


def spread(index: int) -> float:
    """A phase in [0, 1) for node number `index`: any run of consecutive indices covers [0, 1) evenly."""
    return (index * GOLDEN) % 1.0


class _Wheel:
    """Names in slots of one period; `due(tick)` gives the names of one slot."""

    def __init__(self, period: float, resolution: float) -> None:
        self.slots = max(1, round(period / resolution))
        self._slots: list[dict[str, None]] = [{} for _ in range(self.slots)]
        self._slot_of: dict[str, int] = {}

    def add(self, name: str, phase: float) -> None:
        self.remove(name)
        slot = min(self.slots - 1, int(phase * self.slots))
        self._slots[slot][name] = None
        self._slot_of[name] = slot

    def remove(self, name: str) -> None:
        slot = self._slot_of.pop(name, None)
        if slot is not None:
            self._slots[slot].pop(name, None)

    def due(self, tick: int) -> list[str]:
        return list(self._slots[tick % self.slots])


@dataclass
class _Node:
    agent: Agent
    heartbeat: asyncio.Task[None] | None = None
    status: asyncio.Task[None] | None = None


class FleetTicker:
    """Drives the periodic work of many agents (see the module docstring)."""

    def __init__(self, *, relist_period: float, lease_period: float, status_period: float,
                 full_relist_period: float, resolution: float = RESOLUTION,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.resolution = min(resolution, relist_period, lease_period, status_period)
        self.relist_period = relist_period
        self._clock_ns = clock_ns
        self._lease = _Wheel(lease_period, self.resolution)
        self._status = _Wheel(status_period, self.resolution)
        self._full = _Wheel(full_relist_period, self.resolution)
        self._relist_every = max(1, round(relist_period / self.resolution))
        self._nodes: dict[str, _Node] = {}
        self._dirty: set[str] = set()
        self._timed: list[tuple[int, str]] = []  # heap of (instant ns, node): a container starts or exits
        self._task: asyncio.Task[None] | None = None
        #: how many relists the ticker ran (for tests and figures)
        self.relists = 0

    # -- membership -------------------------------------------------------------------------------

    def add(self, name: str, agent: Agent, index: int) -> None:
        """Drive `agent` (registered, started with own_loops=False) from now on."""
        self._nodes[name] = _Node(agent)
        phase = spread(index)
        self._lease.add(name, phase)
        self._status.add(name, (phase + 0.5) % 1.0)  # between two renewals: not in the same slot as the Lease
        self._full.add(name, phase)
        self._dirty.add(name)

    def remove(self, name: str) -> None:
        node = self._nodes.pop(name, None)
        for wheel in (self._lease, self._status, self._full):
            wheel.remove(name)
        self._dirty.discard(name)
        if node is not None:
            for task in (node.heartbeat, node.status):
                if task is not None:
                    task.cancel()

    def changed(self, name: str) -> None:
        """The runtime of `name` changed now: relist it at the next PLEG tick."""
        self._dirty.add(name)

    def changed_at(self, name: str, instant_ns: int) -> None:
        """The runtime of `name` will look different from `instant_ns` on (a container starts or exits)."""
        heapq.heappush(self._timed, (instant_ns, name))

    def runtime_hook(self, name: str) -> Callable[[int], None]:
        """The `SimRuntime.on_change` of node `name`."""
        def hook(instant_ns: int) -> None:
            if instant_ns:
                self.changed_at(name, instant_ns)
            else:
                self._dirty.add(name)
        return hook

    # -- running ----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sim-fleet-ticker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for name in list(self._nodes):
            self.remove(name)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        epoch = loop.time()
        done = -1  # the last tick handled
        while True:
            now = int((loop.time() - epoch) / self.resolution)
            for tick in range(max(done + 1, now - 10 * self._relist_every), now + 1):
                try:
                    await self._tick(tick)
                except Exception:  # one failure must not stop every node's heartbeat
                    log.exception("fleet tick failed")
            done = now
            await asyncio.sleep(max(0.0, epoch + (done + 1) * self.resolution - loop.time()))

    def _spawn(self, node: _Node, attr: str, make: Callable[[], Awaitable[None]], name: str) -> None:
        running: asyncio.Task[None] | None = getattr(node, attr)
        if running is not None and not running.done():
            return  # the last one is still in flight: skip a turn, as a kubelet's loop would wait
        setattr(node, attr, asyncio.create_task(make(), name=name))  # type: ignore[arg-type]

    async def _tick(self, tick: int) -> None:
        nodes = self._nodes
        for name in self._lease.due(tick):
            node = nodes.get(name)
            hb = node.agent.heartbeat if node is not None else None
            if node is not None and hb is not None:
                self._spawn(node, "heartbeat", hb.lease_tick, f"lease-{name}")
        for name in self._status.due(tick):
            node = nodes.get(name)
            hb = node.agent.heartbeat if node is not None else None
            if node is not None and hb is not None:
                self._spawn(node, "status", hb.status_tick, f"status-{name}")
        full = set(self._full.due(tick))
        if tick % self._relist_every == 0:
            now_ns = self._clock_ns()
            timed = self._timed
            while timed and timed[0][0] <= now_ns:
                self._dirty.add(heapq.heappop(timed)[1])
            dirty, self._dirty = self._dirty, set()
            for name in dirty - full:
                await self._pleg(name, False)
        for name in full:
            await self._pleg(name, True)

    async def _pleg(self, name: str, full: bool) -> None:
        node = self._nodes.get(name)
        pods = node.agent.pods if node is not None else None
        if pods is None:
            return
        self.relists += 1
        await pods.pleg_tick(full=full, resync=full)
