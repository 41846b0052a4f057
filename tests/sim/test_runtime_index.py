"""The sim runtime's per-pod index and change token: what lets one process host thousands of nodes."""

from __future__ import annotations

from kubelite.runtime.sim import LABEL_POD_UID, SimRuntime
from kubelite.runtime.types import ContainerConfig, ContainerState, PodSandboxConfig

IMAGE = "kubelite.local/busybox:1.35"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1e9)


def pod(uid: str) -> PodSandboxConfig:
    return PodSandboxConfig(name=f"p-{uid}", uid=uid, namespace="default",
                            labels={LABEL_POD_UID: uid, "kubelite.io/managed": "true"})


async def run_pod(sim: SimRuntime, uid: str, containers: int = 2) -> str:
    sandbox = pod(uid)
    sandbox_id = await sim.run_pod_sandbox(sandbox)
    for i in range(containers):
        cid = await sim.create_container(sandbox_id, ContainerConfig(
            name=f"c{i}", image=IMAGE, labels={LABEL_POD_UID: uid, "kubelite.io/managed": "true"}), sandbox)
        await sim.start_container(cid)
    return sandbox_id


async def test_per_pod_listings_return_exactly_that_pods_records() -> None:
    sim = SimRuntime("10.42.0.0/24", start_latency=0, clock=Clock())
    await sim.pull_image(IMAGE)
    sandboxes = {uid: await run_pod(sim, uid) for uid in ("a", "b", "c")}
    got = await sim.list_containers(labels={LABEL_POD_UID: "b"})
    assert sorted(c.name for c in got) == ["c0", "c1"] and {c.sandbox_id for c in got} == {sandboxes["b"]}
    assert [s.id for s in await sim.list_pod_sandboxes({LABEL_POD_UID: "b"})] == [sandboxes["b"]]
    assert await sim.list_containers(labels={LABEL_POD_UID: "nope"}) == []
    assert len(await sim.list_containers(sandbox_id=sandboxes["c"])) == 2
    assert len(await sim.list_containers(labels={"kubelite.io/managed": "true"})) == 6
    # label filters still apply on top of the index
    assert await sim.list_containers(labels={LABEL_POD_UID: "b", "other": "x"}) == []
    await sim.remove_pod_sandbox(sandboxes["b"])
    assert await sim.list_containers(labels={LABEL_POD_UID: "b"}) == []
    assert await sim.list_pod_sandboxes({LABEL_POD_UID: "b"}) == []
    assert len(await sim.list_containers()) == 4
    # a removed container leaves its pod's listing at once
    first = (await sim.list_containers(labels={LABEL_POD_UID: "a"}))[0]
    await sim.remove_container(first.id)
    assert [c.id for c in await sim.list_containers(labels={LABEL_POD_UID: "a"})] != [first.id]
    assert len(await sim.list_containers(labels={LABEL_POD_UID: "a"})) == 1


async def test_the_change_token_moves_on_writes_and_timed_transitions_only() -> None:
    clock = Clock()
    sim = SimRuntime("10.42.0.0/24", start_latency=0.5, clock=clock)
    await sim.pull_image(IMAGE)
    idle = sim.change_token()
    assert sim.change_token() == idle  # nothing happened
    sandbox = pod("x")
    sandbox_id = await sim.run_pod_sandbox(sandbox)
    after_write = sim.change_token()
    assert after_write != idle
    cid = await sim.create_container(sandbox_id, ContainerConfig(
        name="c", image=IMAGE, labels={LABEL_POD_UID: "x"},
        annotations={"kubelite.io/sim-exit-code": "3", "kubelite.io/sim-exit-after": "2s"}), sandbox)
    await sim.start_container(cid)
    starting = sim.change_token()
    assert (await sim.container_status(cid)).state == ContainerState.CREATED
    clock.advance(0.4)
    assert sim.change_token() == starting  # still starting: a relist would see the same
    clock.advance(0.2)
    running = sim.change_token()
    assert running != starting and (await sim.container_status(cid)).state == ContainerState.RUNNING
    clock.advance(1.0)
    assert sim.change_token() == running
    clock.advance(1.5)
    exited = sim.change_token()
    assert exited != running and (await sim.container_status(cid)).exit_code == 3
    assert sim.change_token() == exited
