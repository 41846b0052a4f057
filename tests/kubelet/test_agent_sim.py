"""An Agent embedded with the simulated runtime (how `kubelite sim` and `kubelite up` use it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kubelite.api.resources import LEASES, NODES, PODS
from kubelite.client.fake import FakeApiClient
from kubelite.kubelet.agent import Agent
from kubelite.kubelet.nodestatus import HostFacts, Readings
from kubelite.runtime.sim import SimRuntime
from kubelite.runtime.types import NodeStats

from .test_podmanager_sim import eventually, make_pod

FACTS = HostFacts(hostname="sim-a", internal_ip="10.0.0.9", cpu_cores=4, memory_bytes=8 << 30,
                  ephemeral_storage_bytes=100 << 30)
READINGS = Readings(memory_available_bytes=4 << 30, nodefs_available_fraction=0.5)


def conditions(fake: FakeApiClient, name: str) -> dict[str, str]:
    node = fake.object(NODES, name) or {}
    return {c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []}


class FlakyRuntime(SimRuntime):
    """A simulated runtime that can be made unreachable, like a dead containerd."""

    down = False

    def change_token(self) -> int:
        # going down (or up) is a change the kubelet's relist must see
        return super().change_token() * 2 + int(self.down)

    async def list_pod_sandboxes(self, labels: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        if self.down:
            from kubelite.runtime.types import UnavailableError

            raise UnavailableError("containerd unavailable: connection refused")
        return await super().list_pod_sandboxes(labels)

    async def node_stats(self) -> NodeStats:
        return await super().node_stats()


async def test_an_embedded_agent_registers_a_ready_node_and_runs_its_pods(tmp_path: Path) -> None:
    fake = FakeApiClient()
    runtime = FlakyRuntime("10.42.9.0/24", start_latency=0.0, node_name="sim-a")
    node = Agent(fake, "sim-a", tmp_path, runtime=runtime, host_facts=FACTS, readings=READINGS,  # type: ignore[arg-type]
                 relist_period=0.05)
    await node.start()
    try:
        await eventually(lambda: conditions(fake, "sim-a").get("Ready") == "True", what="Ready")
        assert conditions(fake, "sim-a")["NetworkUnavailable"] == "False"
        lease = await eventually(lambda: fake.object(LEASES, "sim-a", "kube-node-lease"), what="lease")
        assert lease["spec"]["holderIdentity"] == "sim-a"
        pod = make_pod("p")
        pod["spec"]["nodeName"] = "sim-a"
        await fake.create(PODS, pod, "default")
        await eventually(lambda: ((fake.object(PODS, "p", "default") or {}).get("status") or {}).get("phase")
                         == "Running", what="pod Running")
        runtime.down = True
        await eventually(lambda: conditions(fake, "sim-a").get("Ready") == "False", what="NotReady")
        node_obj = fake.object(NODES, "sim-a") or {}
        ready = next(c for c in node_obj["status"]["conditions"] if c["type"] == "Ready")
        assert "container runtime is down" in ready["message"]
        runtime.down = False
        await eventually(lambda: conditions(fake, "sim-a").get("Ready") == "True", what="Ready again")
    finally:
        await node.stop()
    await asyncio.sleep(0)
