"""A fleet of simulated nodes in one process: the real kubelet `Agent` over the `sim` runtime.

Each node is a `kubelite.kubelet.Agent` (registration, Lease renewal, node status, pod workers,
PLEG, events) given a `SimRuntime` and made-up host facts instead of containerd and psutil.
What the nodes share: one `ApiClient` (one connection pool), one pod informer (`PodFanout`,
see fanout.py), one node informer (`NodeCache`: each kubelet's read of its own Node) and one
`EventRecorder` (a few writer tasks and one aggregation cache for the whole fleet instead of per
node; its Events name the component `kubelet` without a host). What a node costs: its Agent's
few tasks, its Lister of its own pods, and its SimRuntime's records.

Joining is paced (`join_concurrency` nodes registering at a time), as a real fleet joins: 5000
kubelets registering at once would queue 5000 requests in the API server ahead of the Lease
renewals of the nodes already in, which then miss their grace period.

Stopping a node (or the process) stops its tasks and forgets its runtime, and writes nothing:
to the control plane the node just went silent, like a crashed machine. Its Node, Lease and
pods stay until the node lifecycle controller acts.

Addresses: node i says its InternalIP is 172.16.0.0 + i + 1 and runs its pods in the /24 number
i of 10.128.0.0/9 (32768 nodes at most). The sim does not wait for the node IPAM controller's
podCIDR (whose 10.42.0.0/16 holds only 256 nodes).
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from kubelite.client.events import EventRecorder
from kubelite.client.rest import ApiClient
from kubelite.kubelet.agent import Agent
from kubelite.kubelet.heartbeat import STATUS_CHECK_INTERVAL
from kubelite.kubelet.nodestatus import HostFacts, Readings
from kubelite.runtime.sim import SimRuntime
from kubelite.sim.fanout import NodeCache, NodeClient, PodFanout
from kubelite.sim.ticker import FleetTicker

log = logging.getLogger(__name__)

NODE_IP_BASE = ipaddress.IPv4Address("172.16.0.1")
POD_CIDR_BASE = ipaddress.IPv4Network("10.128.0.0/9")
MAX_NODES = 2 ** (24 - POD_CIDR_BASE.prefixlen)
#: nodes registering at once: a fleet joins at a bounded rate, so that registrations queue in the
#: sim and not in the API server, where they would delay the Lease renewals of nodes already in
JOIN_CONCURRENCY = 64
#: Events the fleet's shared recorder may hold before it drops
FLEET_EVENT_QUEUE = 50_000
SIM_READINGS = Readings(memory_available_bytes=64 << 30, nodefs_available_fraction=0.9,
                        pids_available_fraction=0.99)


@dataclass(frozen=True)
class SimConfig:
    """What every simulated node of a fleet looks like."""

    name_prefix: str = "sim-"
    cpu: int = 32
    memory_bytes: int = 128 << 30
    ephemeral_storage_bytes: int = 100 << 30
    max_pods: int = 110
    start_latency: float = 0.2
    relist_period: float = 1.0
    lease_renew_interval: float = 10.0
    #: a full status report at least this often (the real kubelet's nodeStatusReportFrequency, 5 min;
    #: conditions that change are reported at once, and the Lease says the node is alive)
    status_report_interval: float = 300.0
    #: how many nodes register at once (see JOIN_CONCURRENCY)
    join_concurrency: int = JOIN_CONCURRENCY
    #: node number offset, so that several sim processes can share a server without clashing
    first_index: int = 0
    #: every node relists its whole runtime and syncs every pod this often (between those, only the
    #: nodes whose runtime changed are relisted: the sim runtime says when)
    full_relist_period: float = 60.0
    resync_period: float = 60.0

    def __post_init__(self) -> None:
        if self.cpu < 1:
            raise ValueError("--cpu must be at least 1")
        if self.memory_bytes < 256 << 20:
            raise ValueError("--memory must be at least 256Mi")
        if not 1 <= self.max_pods <= 250_000:
            raise ValueError("--pods must be between 1 and 250000")
        if self.start_latency < 0:
            raise ValueError("--start-latency must not be negative")
        if min(self.relist_period, self.lease_renew_interval, self.full_relist_period, self.resync_period) <= 0:
            raise ValueError("periods must be positive")
        if self.join_concurrency < 1:
            raise ValueError("--join-concurrency must be at least 1")


def pod_cidr(index: int) -> str:
    """The /24 that node number `index` runs its pods in."""
    if not 0 <= index < MAX_NODES:
        raise ValueError(f"node index {index} out of range (at most {MAX_NODES} simulated nodes)")
    return str(ipaddress.IPv4Network((int(POD_CIDR_BASE.network_address) + index * 256, 24)))


def host_facts(name: str, index: int, config: SimConfig) -> HostFacts:
    """Made-up, stable facts of a simulated machine."""
    machine_id = f"{index + 1:032x}"
    return HostFacts(
        hostname=name,
        internal_ip=str(NODE_IP_BASE + index),
        cpu_cores=config.cpu,
        memory_bytes=config.memory_bytes,
        ephemeral_storage_bytes=config.ephemeral_storage_bytes,
        machine_id=machine_id,
        system_uuid=f"{machine_id[:8]}-{machine_id[8:12]}-{machine_id[12:16]}-{machine_id[16:20]}-{machine_id[20:]}",
        boot_id=f"{index + 1:08x}-0000-4000-8000-000000000000",
        kernel_version=platform.release(),
        os_image="kubelite simulated node",
    )


class SimFleet:
    """N simulated nodes sharing one ApiClient and one pod informer."""

    def __init__(self, client: ApiClient, config: SimConfig | None = None, data_dir: str | Path | None = None,
                 heartbeat_client: ApiClient | None = None) -> None:
        self.client = client
        #: Lease renewals and node status go through this client's own pool (see NodeClient)
        self.heartbeat_client = heartbeat_client
        self.config = config or SimConfig()
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir).resolve() if data_dir is not None else Path(tempfile.mkdtemp(prefix="kubelite-sim-"))
        self.fanout = PodFanout(client)
        self.nodes = NodeCache(client)
        # one recorder for the fleet: its queue is sized for many kubelets (each real one has its own
        # 1000), so that a burst of pod starts across the fleet does not drop their Events
        self.recorder = EventRecorder(client, "kubelet", max_queue=FLEET_EVENT_QUEUE, writers=16)
        c = self.config
        self.ticker = FleetTicker(relist_period=c.relist_period, lease_period=c.lease_renew_interval,
                                  status_period=STATUS_CHECK_INTERVAL, full_relist_period=c.full_relist_period)
        self.agents: dict[str, Agent] = {}
        self._started = False

    def node_name(self, index: int) -> str:
        return f"{self.config.name_prefix}{self.config.first_index + index}"

    async def start(self, count: int) -> list[str]:
        """Start `count` more nodes; returns their names once every one of them has registered.

        At most `join_concurrency` nodes are between their start and their registration at any
        time, the next one starting when one registers. Each is a whole kubelet from its start
        (Lease, status, PLEG, pods); only the joining is paced, as a real fleet joins."""
        if count < 0:
            raise ValueError("the number of nodes must not be negative")
        if not self._started:
            await self.recorder.start()
            await self.fanout.start()
            await self.nodes.start()
            self.ticker.start()
            self._started = True
        first = len(self.agents)
        if self.config.first_index + first + count > MAX_NODES:
            raise ValueError(f"at most {MAX_NODES} simulated nodes (node numbers from --first-index)")
        indices = iter(range(first, first + count))

        async def joiner() -> None:
            for i in indices:  # one shared iterator: each joiner takes the next node number
                await self._start_node(i)

        await asyncio.gather(*(joiner() for _ in range(min(count, self.config.join_concurrency))))
        self.freeze_heap()
        return [self.node_name(i) for i in range(first, first + count)]

    async def _start_node(self, i: int) -> str:
        c = self.config
        index = c.first_index + i
        name = self.node_name(i)
        cidr = pod_cidr(index)
        runtime = SimRuntime(cidr, start_latency=c.start_latency, cpu_count=c.cpu, memory_bytes=c.memory_bytes,
                             node_name=name, images_present=True)
        runtime.on_change = self.ticker.runtime_hook(name)
        agent = Agent(
            cast(ApiClient, NodeClient(self.client, self.fanout, name, self.nodes, self.heartbeat_client)), name,
            self.data_dir / name,
            runtime=runtime, pod_cidr=cidr, host_facts=host_facts(name, index, c), readings=SIM_READINGS,
            relist_period=c.relist_period, kubelet_server=False, lease_renew_interval=c.lease_renew_interval,
            status_report_interval=c.status_report_interval, max_pods=c.max_pods, recorder=self.recorder,
            own_loops=False, full_relist_period=c.full_relist_period, resync_period=c.resync_period,
        )
        self.agents[name] = agent  # before it starts: stop() silences a node caught half-way
        await agent.start()
        if agent.heartbeat is not None:
            await agent.heartbeat_running.wait()  # registered, and its first Lease written
        if self.agents.get(name) is agent:  # not stopped meanwhile
            self.ticker.add(name, agent, index)
        return name

    @staticmethod
    def freeze_heap() -> None:
        """Collect, then move every live object out of the garbage collector's sight (`gc.freeze`).

        Why: a fleet is millions of long-lived objects (agents, informer caches, runtime records).
        Python's full collections traverse all of them each time the survivors grew by a quarter,
        and at rest every Lease renewal leaves a survivor: a quarter of the idle fleet's CPU went
        into collections that found nothing. Frozen objects are still freed by reference counting;
        a reference cycle frozen before it became garbage waits for the next full collection. Done
        once after the nodes join; `kubelite.aio.run` (every kubelite command) freezes the survivors
        every 30 s and collects everything every 10 minutes."""
        gc.collect()
        gc.freeze()

    def registered(self) -> int:
        """How many nodes have registered with the API server."""
        return sum(1 for a in self.agents.values() if a.heartbeat is not None and a.heartbeat.registered.is_set())

    def running_pods(self) -> int:
        return sum(len(a.pods.pods()) for a in self.agents.values() if a.pods is not None)

    async def kill(self, name: str) -> None:
        """Make one node go silent, like a crashed machine (nothing is written to the API)."""
        agent = self.agents.pop(name, None)
        if agent is None:
            raise KeyError(f"no simulated node named {name!r}")
        self.ticker.remove(name)
        await agent.stop(remove_pods=False)

    async def stop(self) -> None:
        """Silence every node (no API writes), then the shared informer."""
        agents, self.agents = list(self.agents.values()), {}
        await self.ticker.stop()
        await asyncio.gather(*(a.stop(remove_pods=False) for a in agents), return_exceptions=True)
        if self._started:
            await self.fanout.stop()
            await self.nodes.stop()
            await self.recorder.stop(flush_timeout=0)  # silent, like a crash: queued Events are lost
            self._started = False
        if self._own_dir:
            import shutil

            await asyncio.to_thread(shutil.rmtree, self.data_dir, True)
