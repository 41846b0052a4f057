"""A kubelet survives its own death (issue #5): a SIGKILLed `kubelite agent` restarted on the same
data dir adopts the sandboxes and containers it finds (same container ids, same processes, no
restart counted), removes the containers of pods deleted while it was down, and starts the pods
bound to the node meanwhile. A real cluster as in test_node_e2e.py (real server, agent, containerd,
kubectl), with its own cluster, so that nothing depends on the order of other modules' tests.

The node monitor keeps Kubernetes' default grace (40 s) and eviction delay (300 s): the node's
pods must survive the restart because the agent adopts them, not because of a race with eviction.

The first test is the cause of the old flake, made deterministic on the simulated runtime: a pod
sync that read "no such pod" before the API informer synced, and "sources ready" after it,
removed every pod the restarted agent found (it only showed when a loaded machine made the
runtime listing slow enough).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.api.resources import PODS
from kubelite.client.fake import FakeApiClient
from kubelite.kubelet import spec as S
from kubelite.kubelet.podmanager import PodManager
from kubelite.runtime.sim import SimRuntime
from kubelite.runtime.types import PodSandboxStatus

from .nodecluster import AgentProc, Cluster, find_process, one_node_cluster, wait_for

NODE = "restart-node-1"
BUSYBOX = "kubelite.local/busybox:1.35"


class SlowListingSim(SimRuntime):
    """The simulated runtime, whose per-pod listings wait at a gate (a slow containerd)."""

    def __init__(self) -> None:
        super().__init__("10.42.9.0/24", start_latency=0.0, node_name=NODE)
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = 0

    async def list_pod_sandboxes(self, labels: dict[str, str] | None = None) -> list[PodSandboxStatus]:
        if labels and S.LABEL_POD_UID in labels and not self.gate.is_set():
            self.waiting += 1
            await self.gate.wait()
        return await super().list_pod_sandboxes(labels)


class SlowListingApi(FakeApiClient):
    """The in-memory API, whose LISTs wait at a gate (an API server answering late)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def list(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        await self.gate.wait()
        return await super().list(*args, **kwargs)


async def _eventually(cond: Callable[[], Any], what: str, limit: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + limit
    while not (value := cond()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)
    return value


async def test_a_restarted_kubelet_whose_informer_syncs_during_a_slow_runtime_listing_keeps_its_pods(
        tmp_path: Path) -> None:
    api, runtime = SlowListingApi(), SlowListingSim()

    def manager() -> PodManager:
        return PodManager(runtime, node_name=NODE, data_dir=tmp_path, client=api,  # type: ignore[arg-type]
                          relist_period=0.05, manage_files=False)

    await api.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "keep", "namespace": "default"},
                            "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": BUSYBOX}]}},
                     "default")
    first = manager()
    await first.start()
    try:
        await _eventually(lambda: ((api.object(PODS, "keep", "default") or {}).get("status") or {}).get("phase")
                          == "Running", "keep Running")
    finally:
        await first.stop()  # the agent dies; its containers keep running
    before = {c.id for c in await runtime.list_containers()} | {s.id for s in await runtime.list_pod_sandboxes()}

    api.gate.clear()  # the restarted agent's first LIST is late...
    runtime.gate.clear()  # ...and so is its runtime: the pod's sync waits inside its listing
    second = manager()
    await second.start()
    try:
        await _eventually(lambda: runtime.waiting, "a pod sync inside the runtime listing")
        api.gate.set()
        await _eventually(lambda: second.sources_ready, "the API informer synced")
        runtime.gate.set()
        await asyncio.sleep(0.5)  # ten relist periods: the sync has long finished
        after = {c.id for c in await runtime.list_containers()} | {s.id for s in await runtime.list_pod_sandboxes()}
        assert after == before  # adopted: nothing removed, nothing new
    finally:
        await second.stop()


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    with one_node_cluster(request, NODE, node_monitor_grace="40s", toleration_seconds="300s") as c:
        yield c


def node_agent(cluster: Cluster) -> AgentProc:
    return cluster.agents[0]


def sleeper(name: str, marker: str) -> str:
    """A pod whose process is found by `marker` on its command line (to see it is the same process)."""
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: {BUSYBOX}
    command: [sh, -c, "trap 'exit 0' TERM; sleep 100000 & wait # {marker}"]
    readinessProbe: {{exec: {{command: ["true"]}}, periodSeconds: 1}}
"""


def stable_container_ids(agent: AgentProc) -> set[str] | None:
    """The node's containers (pause ones included) once two reads a few relist periods apart agree."""
    first = agent.container_ids()
    time.sleep(2)
    return first if agent.container_ids() == first else None


def kill_and_restart(agent: AgentProc, while_down: Callable[[], None]) -> None:
    """SIGKILL the agent, call `while_down`, start the agent again on the same data dir."""
    old_containerd = agent.containerd_pid()
    agent.stop(signal.SIGKILL)
    while_down()
    agent.start()
    # the new agent runs a new containerd on the same root (the old one is gone first)
    wait_for(lambda: (p := agent.containerd_pid()) is not None and p != old_containerd, 60, "a new containerd")


def test_a_sigkilled_agent_restarts_and_keeps_exactly_the_containers_that_should_exist(cluster: Cluster) -> None:
    agent = node_agent(cluster)
    marker = f"keep-{os.getpid()}-{time.monotonic_ns()}"
    cluster.apply(sleeper("keep", marker))
    cluster.apply(sleeper("doomed", marker + "-doomed"))
    for name in ("keep", "doomed"):
        wait_for(lambda: cluster.container_status(name).get("ready"), 90, f"{name} ready")  # noqa: B023
    before = wait_for(lambda: stable_container_ids(agent), 60, "a settled node")
    keep, doomed = agent.container_ids("keep"), agent.container_ids("doomed")
    assert len(keep) == 2 and len(doomed) == 2  # the pause container and the app container of each
    keep_pid = wait_for(lambda: find_process(marker + "\0"), 30, "keep's process")
    doomed_pid = wait_for(lambda: find_process(marker + "-doomed\0"), 30, "doomed's process")
    keep_uid = (cluster.get("pod", "keep") or {})["metadata"]["uid"]

    def while_down() -> None:
        cluster.k("delete", "pod", "doomed", "--grace-period=0", "--force")
        cluster.apply(sleeper("newcomer", marker + "-new"))  # bound to the node by the scheduler

    kill_and_restart(agent, while_down)

    wait_for(lambda: cluster.container_status("newcomer").get("ready"), 90, "the newcomer ready")
    newcomer = agent.container_ids("newcomer")
    assert len(newcomer) == 2
    expected = (before - doomed) | newcomer
    wait_for(lambda: agent.container_ids() == expected, 90, "the deleted pod's containers removed, the rest adopted")
    wait_for(lambda: cluster.node_ready(NODE) == "True", 60, "Ready after the restart")
    # adopted, not recreated: the same containers and the same process, no restart counted
    assert agent.container_ids("keep") == keep
    assert find_process(marker + "\0") == keep_pid
    status = wait_for(lambda: (s := cluster.container_status("keep")).get("ready") and s, 30, "keep ready")
    assert status["restartCount"] == 0 and "running" in status["state"], status
    assert (cluster.get("pod", "keep") or {})["metadata"]["uid"] == keep_uid
    # the deleted pod's process is gone with its containers
    wait_for(lambda: find_process(marker + "-doomed\0") is None, 30, f"doomed's process ({doomed_pid}) gone")
    time.sleep(3)  # a few relist periods: nothing new appears, nothing is restarted
    assert agent.container_ids() == expected


def shim_of(sandbox_ids: set[str]) -> int:
    """PID of the containerd shim that runs the pod whose sandbox is among `sandbox_ids`."""
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"containerd-shim-runc-v2") and b"-id" in cmd \
                and cmd[cmd.index(b"-id") + 1].decode() in sandbox_ids:
            return pid
    raise AssertionError(f"no shim for {sandbox_ids}")


def test_a_restarted_agent_survives_a_second_sigkill_even_when_a_shim_is_slow_to_answer(cluster: Cluster) -> None:
    agent = node_agent(cluster)
    wait_for(lambda: cluster.container_status("keep").get("ready"), 60, "keep ready")
    before = wait_for(lambda: stable_container_ids(agent), 60, "a settled node")
    newcomer, keep = agent.container_ids("newcomer"), agent.container_ids("keep")
    assert len(newcomer) == 2 and len(keep) == 2
    shim = shim_of(keep)
    old_containerd = agent.containerd_pid()
    agent.stop(signal.SIGKILL)
    cluster.k("delete", "pod", "newcomer", "--grace-period=0", "--force")
    # keep's shim does not answer while the new containerd reconnects to the shims (a loaded node):
    # containerd must wait for it rather than take it for dead and kill keep's containers
    os.kill(shim, signal.SIGSTOP)
    try:
        agent.start()
        wait_for(lambda: (p := agent.containerd_pid()) is not None and p != old_containerd, 60, "a new containerd")
        time.sleep(7)  # longer than containerd's default shim load timeout (5 s)
    finally:
        os.kill(shim, signal.SIGCONT)
    remaining = before - newcomer
    wait_for(lambda: agent.container_ids() == remaining, 90, "the newcomer's containers removed, keep adopted")
    wait_for(lambda: cluster.node_ready(NODE) == "True", 60, "Ready after the restart")
    status = wait_for(lambda: (s := cluster.container_status("keep")).get("ready") and s, 30, "keep ready")
    assert status["restartCount"] == 0, status
    assert shim_of(keep) == shim  # the same shim still runs keep
    time.sleep(3)
    assert agent.container_ids() == remaining
