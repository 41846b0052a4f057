"""The in-memory runtime: states computed from timestamps, driven by a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from kubelite.runtime.sim import ANNOTATION_EXIT_AFTER, ANNOTATION_EXIT_CODE, ANNOTATION_OOM, SimRuntime
from kubelite.runtime.types import (
    REASON_OOM_KILLED,
    ContainerConfig,
    ContainerState,
    LinuxSandboxOptions,
    LogOptions,
    NotFoundError,
    PodSandboxConfig,
    Runtime,
    RuntimeError_,
    SandboxState,
    UnsupportedError,
)

IMAGE = "kubelite.local/busybox:1.35"
S = 1_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000 * S

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * S)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sim(clock: Clock) -> SimRuntime:
    runtime = SimRuntime("10.42.3.0/24", start_latency=0.2, clock=clock)
    await runtime.pull_image(IMAGE)
    return runtime


def pod(name: str = "p", **annotations: str) -> PodSandboxConfig:
    return PodSandboxConfig(name=name, uid=f"uid-{name}", namespace="default", annotations=annotations)


async def start(sim: SimRuntime, sandbox: PodSandboxConfig, **annotations: str) -> tuple[str, str]:
    sandbox_id = await sim.run_pod_sandbox(sandbox)
    cid = await sim.create_container(sandbox_id, ContainerConfig(name="c", image=IMAGE, annotations=annotations), sandbox)
    await sim.start_container(cid)
    return sandbox_id, cid


def test_sim_runtime_implements_the_protocol() -> None:
    assert isinstance(SimRuntime(), Runtime)


async def test_sandboxes_get_distinct_ips_from_the_pod_cidr(sim: SimRuntime) -> None:
    ids = [await sim.run_pod_sandbox(pod(f"p{i}")) for i in range(3)]
    ips = [(await sim.pod_sandbox_status(i)).ip for i in ids]
    assert ips == ["10.42.3.2", "10.42.3.3", "10.42.3.4"]
    host = await sim.run_pod_sandbox(PodSandboxConfig("h", "uid-h", "default", linux=LinuxSandboxOptions(host_network=True)))
    assert (await sim.pod_sandbox_status(host)).ip == ""
    # a stopped sandbox gives its address back
    await sim.stop_pod_sandbox(ids[0])
    assert (await sim.pod_sandbox_status(ids[0])).state == SandboxState.NOTREADY
    assert (await sim.pod_sandbox_status(await sim.run_pod_sandbox(pod("again")))).ip == "10.42.3.2"


async def test_container_runs_after_the_start_latency_and_keeps_running(sim: SimRuntime, clock: Clock) -> None:
    _, cid = await start(sim, pod())
    assert (await sim.container_status(cid)).state == ContainerState.CREATED
    clock.advance(0.2)
    status = await sim.container_status(cid)
    assert status.state == ContainerState.RUNNING and status.started_at == clock.now
    clock.advance(3600)
    assert (await sim.container_status(cid)).state == ContainerState.RUNNING


async def test_annotations_make_a_container_fail_after_a_while(sim: SimRuntime, clock: Clock) -> None:
    _, cid = await start(sim, pod(), **{ANNOTATION_EXIT_CODE: "1", ANNOTATION_EXIT_AFTER: "2s"})
    clock.advance(0.2 + 1.9)
    assert (await sim.container_status(cid)).state == ContainerState.RUNNING
    clock.advance(0.1)
    status = await sim.container_status(cid)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 1, "Error")
    assert status.finished_at - status.started_at == 2 * S


async def test_exit_code_zero_completes_and_oom_is_reported(sim: SimRuntime, clock: Clock) -> None:
    _, done = await start(sim, pod("a"), **{ANNOTATION_EXIT_CODE: "0"})
    _, oom = await start(sim, pod("b"), **{ANNOTATION_OOM: "true", ANNOTATION_EXIT_AFTER: "1s"})
    clock.advance(1.5)
    assert (await sim.container_status(done)).reason == "Completed"
    status = await sim.container_status(oom)
    assert (status.exit_code, status.reason) == (137, REASON_OOM_KILLED)


async def test_env_can_steer_the_exit_too(sim: SimRuntime, clock: Clock) -> None:
    sandbox = pod()
    sandbox_id = await sim.run_pod_sandbox(sandbox)
    config = ContainerConfig(name="c", image=IMAGE, envs={"KUBELITE_SIM_EXIT_CODE": "3"})
    cid = await sim.create_container(sandbox_id, config, sandbox)
    await sim.start_container(cid)
    clock.advance(1)
    assert (await sim.container_status(cid)).exit_code == 3


async def test_bad_simulation_settings_are_clear_errors(sim: SimRuntime) -> None:
    with pytest.raises(RuntimeError_, match="invalid duration"):
        await start(sim, pod(), **{ANNOTATION_EXIT_AFTER: "soon"})
    with pytest.raises(ValueError, match="invalid pod CIDR"):
        SimRuntime("not-a-cidr")


async def test_stop_remove_and_not_found(sim: SimRuntime, clock: Clock) -> None:
    sandbox_id, cid = await start(sim, pod())
    clock.advance(1)
    await sim.stop_container(cid, grace_period=30)
    status = await sim.container_status(cid)
    assert status.state == ContainerState.EXITED and status.finished_at == clock.now
    await sim.remove_container(cid)
    await sim.remove_container(cid)  # idempotent
    with pytest.raises(NotFoundError):
        await sim.container_status(cid)
    await sim.remove_pod_sandbox(sandbox_id)
    assert await sim.list_pod_sandboxes() == []
    with pytest.raises(NotFoundError):
        await sim.pod_sandbox_status(sandbox_id)


async def test_listing_filters_by_sandbox_and_labels(sim: SimRuntime) -> None:
    a = pod("a")
    a.labels = {"app": "web"}
    a_id = await sim.run_pod_sandbox(a)
    await sim.run_pod_sandbox(pod("b"))
    assert [s.name for s in await sim.list_pod_sandboxes({"app": "web"})] == ["a"]
    cid = await sim.create_container(a_id, ContainerConfig(name="c", image=IMAGE, labels={"k": "v"}), a)
    assert [c.id for c in await sim.list_containers(sandbox_id=a_id)] == [cid]
    assert await sim.list_containers(labels={"k": "other"}) == []


async def test_images_must_be_pulled_and_failing_pulls_fail(sim: SimRuntime) -> None:
    sandbox = pod()
    sandbox_id = await sim.run_pod_sandbox(sandbox)
    with pytest.raises(NotFoundError, match="pull it first"):
        await sim.create_container(sandbox_id, ContainerConfig(name="c", image="nginx:1"), sandbox)
    with pytest.raises(RuntimeError_, match="failed to pull"):
        await sim.pull_image("example.com/sim-pull-fail:1")
    ref = await sim.pull_image("nginx:1")
    assert (await sim.image_status("nginx:1")) is not None and ref.startswith("sha256:")
    await sim.remove_image("nginx:1")
    assert await sim.image_status("nginx:1") is None


async def test_exec_logs_stats_and_port_forward(sim: SimRuntime, clock: Clock) -> None:
    sandbox_id, cid = await start(sim, pod("web"), **{ANNOTATION_EXIT_AFTER: "10s", ANNOTATION_EXIT_CODE: "0"})
    with pytest.raises(RuntimeError_, match="not running"):
        await sim.exec_sync(cid, ["echo", "hi"])
    clock.advance(1)
    assert (await sim.exec_sync(cid, ["echo", "hi"])).stdout == b"hi\n"
    assert (await sim.exec_sync(cid, ["hostname"])).stdout == b"web\n"
    session = await sim.exec_stream(cid, ["false"])
    assert await session.wait() == 1 and await session.stdout.read() == b""
    stats = await sim.container_stats(cid)
    assert stats.memory_working_set_bytes > 0 and stats.cpu_usage_core_ns > 0
    assert (await sim.node_stats()).memory_working_set_bytes == stats.memory_working_set_bytes
    with pytest.raises(UnsupportedError):
        await sim.port_forward(sandbox_id, 80)
    clock.advance(20)
    logs = b"".join([c async for c in sim.read_logs(cid, LogOptions(follow=True))])
    assert logs == b"sim: container c started\nsim: container c exited with code 0\n"
    tail = b"".join([c async for c in sim.read_logs(cid, LogOptions(tail=1, timestamps=True))])
    assert tail.endswith(b"Z sim: container c exited with code 0\n")


async def test_many_nodes_cost_little(clock: Clock) -> None:
    """A thousand nodes with ten pods each fit in one process without tasks."""
    nodes = [SimRuntime(f"10.42.{i % 256}.0/24", clock=clock, node_name=f"n{i}") for i in range(1000)]
    for node in nodes:
        await node.pull_image(IMAGE)
        for p in range(10):
            await start(node, pod(f"p{p}"))
    clock.advance(1)
    running = 0
    for node in nodes:
        running += sum(c.state == ContainerState.RUNNING for c in await node.list_containers())
    assert running == 10_000
    assert len(asyncio.all_tasks()) == 1  # only this test: no task per container


async def test_a_node_with_its_images_present_runs_any_image_but_a_failing_one(clock: Clock) -> None:
    sim = SimRuntime("10.42.3.0/24", images_present=True, clock=clock)
    assert await sim.image_status("nginx:1") is not None  # nothing to pull: IfNotPresent says "present"
    sandbox = pod()
    sandbox_id = await sim.run_pod_sandbox(sandbox)
    assert await sim.create_container(sandbox_id, ContainerConfig(name="c", image="nginx:1"), sandbox)
    assert await sim.image_status("example.com/sim-pull-fail:1") is None
    with pytest.raises(NotFoundError, match="pull it first"):
        await sim.create_container(sandbox_id, ContainerConfig(name="d", image="example.com/sim-pull-fail:1"), sandbox)
