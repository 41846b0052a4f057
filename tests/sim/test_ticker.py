"""The fleet-wide tick: one timer drives every simulated node's PLEG, Lease and status check.

What it must keep: a node whose runtime changed is relisted within a relist period (its pods'
changes reach the kubelet), a node where nothing happened costs no relist, and heartbeats are
spread evenly over the Lease period, whatever the order the nodes joined in.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from kubelet.counting import CountingSim

from kubelite.kubelet import spec as S
from kubelite.kubelet.agent import Agent
from kubelite.runtime.types import ContainerConfig, PodSandboxConfig
from kubelite.sim.ticker import FleetTicker, spread


def sandbox(uid: str, managed: bool = True) -> PodSandboxConfig:
    labels = {S.LABEL_POD_UID: uid, **({S.LABEL_MANAGED: "true"} if managed else {})}
    return PodSandboxConfig(name=f"p-{uid}", uid=uid, namespace="default", labels=labels)


async def settle(ticker: FleetTicker, periods: int = 4) -> None:
    await asyncio.sleep(periods * ticker.relist_period)


def test_heartbeat_slots_are_spread_evenly_whatever_the_number_of_nodes() -> None:
    for nodes in (100, 999, 5000):
        slots = Counter(int(spread(i) * 100) for i in range(nodes))
        counts = [slots.get(k, 0) for k in range(100)]
        assert max(counts) - min(counts) <= 3, (nodes, slots.most_common(3))


async def test_only_nodes_whose_runtime_changed_are_relisted(tmp_path: Path) -> None:
    ticker = FleetTicker(relist_period=0.05, lease_period=1.0, status_period=1.0, full_relist_period=3600)
    runtimes: dict[str, CountingSim] = {}
    agents: list[Agent] = []
    ticker.start()
    try:
        for i in range(10):
            name = f"n{i}"
            runtime = runtimes[name] = CountingSim("10.42.9.0/24", start_latency=1.0, node_name=name, images_present=True)
            runtime.on_change = ticker.runtime_hook(name)
            agent = Agent(None, name, tmp_path / name, runtime=runtime, kubelet_server=False,
                          readings=None, own_loops=False)
            await agent.start()
            agents.append(agent)
            ticker.add(name, agent, i)
        await settle(ticker)
        assert [r.full_listings for r in runtimes.values()] == [1] * 10  # each once, when it joined
        await settle(ticker)
        assert [r.relist_listings for r in runtimes.values()] == [1] * 10  # nothing happened: no relist

        # containers start on n3 (not the kubelet's: it leaves them alone): relisted at the next
        # tick, and once more when the container's start latency has passed (a change in time, no
        # write); the pod alone is listed (the runtime's change journal names it), not the whole node
        rt = runtimes["n3"]
        sid = await rt.run_pod_sandbox(sandbox("u1", managed=False))
        cid = await rt.create_container(sid, ContainerConfig(name="c", image="pause", labels={
            S.LABEL_POD_UID: "u1"}), sandbox("u1", managed=False))
        await rt.start_container(cid)
        await settle(ticker)
        assert rt.relist_listings == 2 and rt.full_listings == 1
        await asyncio.sleep(1.0)
        await settle(ticker)
        assert rt.relist_listings == 3 and rt.full_listings == 1
        await settle(ticker)
        assert rt.relist_listings == 3
        assert [r.relist_listings for n, r in runtimes.items() if n != "n3"] == [1] * 9
    finally:
        await ticker.stop()
        for agent in agents:
            await agent.stop()


async def test_a_removed_node_is_no_longer_driven(tmp_path: Path) -> None:
    ticker = FleetTicker(relist_period=0.05, lease_period=1.0, status_period=1.0, full_relist_period=3600)
    runtime = CountingSim("10.42.9.0/24", start_latency=1.0, node_name="gone", images_present=True)
    runtime.on_change = ticker.runtime_hook("gone")
    agent = Agent(None, "gone", tmp_path / "gone", runtime=runtime, kubelet_server=False, own_loops=False)
    await agent.start()
    ticker.start()
    try:
        ticker.add("gone", agent, 0)
        await settle(ticker)
        ticker.remove("gone")
        before = runtime.relist_listings
        await runtime.run_pod_sandbox(sandbox("u2"))
        await settle(ticker)
        assert runtime.relist_listings == before
    finally:
        await ticker.stop()
        await agent.stop()
