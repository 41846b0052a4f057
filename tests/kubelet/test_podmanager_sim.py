"""The pod sync loop on the simulated runtime and the in-memory API twin: fast and deterministic.

What a user sees through the API: pod status (phase, IPs, container states, restart counts,
reasons), events, the final delete of a terminating pod, static pods and their mirrors, and
what a restarted kubelet does with the containers it finds.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kubelet.counting import CountingSim
from kubelite.api.resources import CONFIGMAPS, EVENTS, PODS
from kubelite.client.events import EventRecorder
from kubelite.client.fake import FakeApiClient
from kubelite.kubelet import spec as S
from kubelite.kubelet.podmanager import PodManager
from kubelite.runtime.sim import SimRuntime
from kubelite.runtime.types import ContainerConfig, ContainerState, PodSandboxConfig

NODE = "sim-node-1"
CIDR = "10.42.7.0/24"


async def eventually(cond: Callable[[], Any], limit: float = 20.0, what: str = "condition") -> Any:
    """Poll until `cond()` is truthy (a hang guard, not a speed assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        value = cond()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


def make_pod(name: str, containers: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "annotations": spec.pop("annotations", {})},
        "spec": {"nodeName": NODE, "restartPolicy": spec.pop("restartPolicy", "Always"),
                 "containers": containers or [{"name": "main", "image": "kubelite.local/busybox:1.35"}], **spec},
    }


class RecordingSim(SimRuntime):
    """The simulated runtime, keeping every container config it was given."""

    def __init__(self) -> None:
        super().__init__(CIDR, start_latency=0.0, node_name=NODE)
        self.configs: list[ContainerConfig] = []

    async def create_container(self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig) -> str:
        self.configs.append(config)
        return await super().create_container(sandbox_id, config, sandbox_config)


class Node:
    def __init__(self, fake: FakeApiClient, runtime: Any, pm: PodManager, recorder: EventRecorder) -> None:
        self.fake, self.runtime, self.pm, self.recorder = fake, runtime, pm, recorder

    def pod(self, name: str) -> dict[str, Any] | None:
        return self.fake.object(PODS, name, "default")

    def status(self, name: str) -> dict[str, Any]:
        pod = self.pod(name)
        return (pod or {}).get("status") or {}

    def container(self, name: str, container: str = "main") -> dict[str, Any]:
        for cs in self.status(name).get("containerStatuses") or []:
            if cs["name"] == container:
                return dict(cs)
        return {}

    def reasons(self) -> list[str]:
        return [e.get("reason", "") for e in self.fake.objects(EVENTS, "default")]


async def start_node(fake: FakeApiClient, runtime: SimRuntime, tmp_path: Path, manifests: Path | None = None) -> Node:
    recorder = EventRecorder(fake, "kubelet", NODE)  # type: ignore[arg-type]
    await recorder.start()
    pm = PodManager(runtime, node_name=NODE, data_dir=tmp_path, client=fake,  # type: ignore[arg-type]
                    recorder=recorder, node_ip="192.168.5.5", manifest_path=manifests, relist_period=0.05,
                    manage_files=False)
    await pm.start()
    return Node(fake, runtime, pm, recorder)


async def stop_node(node: Node) -> None:
    await node.pm.stop()
    await node.recorder.stop(flush_timeout=1)


@pytest_asyncio.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    fake = FakeApiClient()
    n = await start_node(fake, RecordingSim(), tmp_path)
    try:
        yield n
    finally:
        await stop_node(n)


async def test_a_bound_pod_runs_with_an_ip_from_the_pod_cidr(node: Node) -> None:
    await node.fake.create(PODS, make_pod("web"), "default")
    await eventually(lambda: node.status("web").get("phase") == "Running", what="Running")
    await eventually(lambda: node.container("web").get("ready"), what="ready")
    status = node.status("web")
    assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network(CIDR)
    assert status["podIPs"] == [{"ip": status["podIP"]}]
    assert status["hostIP"] == "192.168.5.5"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Ready"] == conditions["ContainersReady"] == conditions["Initialized"] == "True"
    cs = node.container("web")
    assert "running" in cs["state"] and cs["restartCount"] == 0 and cs["containerID"].startswith("containerd://")
    assert status["qosClass"] == "BestEffort"
    await node.recorder.flush()
    await eventually(lambda: {"Pulling", "Pulled", "Created", "Started"} <= set(node.reasons()), what="events")


async def test_a_late_write_of_an_old_status_is_undone_by_the_kubelet(node: Node) -> None:
    """A status PATCH the kubelet gave up on (its time limit) that the server ran after the newer one
    (docs/scale.md, the stall under heavy load) must not leave the pod ContainerCreating for good:
    the kubelet sees the API's status is not its own latest and writes it again, as Kubernetes'
    status manager reconciles. Another writer's condition is left alone."""
    await node.fake.create(PODS, make_pod("late"), "default")
    await eventually(lambda: node.container("late").get("ready"), what="ready")
    await eventually(lambda: node.pm.status_writer.pending == 0, what="no status left to write")
    running = node.status("late")
    old = {**running, "phase": "Pending",
           "containerStatuses": [{**running["containerStatuses"][0], "ready": False, "started": False,
                                  "state": {"waiting": {"reason": "ContainerCreating"}}}],
           "conditions": [{**c, "status": "False"} if c["type"] in ("Ready", "ContainersReady") else c
                          for c in running["conditions"]]}
    await node.fake.patch(PODS, "late", {"status": old}, "default", subresource="status")  # the late request
    await eventually(lambda: node.status("late").get("phase") == "Running" and node.container("late").get("ready"),
                     what="the kubelet's own status back")
    assert node.status("late")["conditions"] == running["conditions"]

    writes = node.pm.status_writer.writes
    other = [*running["conditions"], {"type": "DisruptionTarget", "status": "True", "reason": "Test"}]
    await node.fake.patch(PODS, "late", {"status": {"conditions": other}}, "default", subresource="status")
    await eventually(lambda: any(c["type"] == "DisruptionTarget" for c in node.status("late")["conditions"]),
                     what="the other writer's condition")
    for _ in range(10):  # the kubelet's informer has seen it; it must not answer with a write
        await asyncio.sleep(0.02)
    assert node.pm.status_writer.writes == writes


async def test_init_containers_run_in_order_before_the_containers(node: Node) -> None:
    pod = make_pod("init", initContainers=[
        {"name": "one", "image": "busybox", "env": [{"name": "KUBELITE_SIM_EXIT_CODE", "value": "0"}]},
        {"name": "two", "image": "busybox", "env": [{"name": "KUBELITE_SIM_EXIT_CODE", "value": "0"}]},
    ])
    await node.fake.create(PODS, pod, "default")
    await eventually(lambda: node.status("init").get("phase") == "Running", what="Running")
    inits = node.status("init")["initContainerStatuses"]
    assert [s["name"] for s in inits] == ["one", "two"]
    assert all(s["state"]["terminated"]["reason"] == "Completed" for s in inits)
    started = {c.name: c.created_at for c in await node.runtime.list_containers()}
    assert started["one"] < started["two"] < started["main"]


async def test_a_failing_container_restarts_then_goes_into_crash_loop_backoff(node: Node) -> None:
    pod = make_pod("crash", annotations={"kubelite.io/sim-exit-code": "3"})
    await node.fake.create(PODS, pod, "default")
    await eventually(lambda: node.container("crash").get("restartCount", 0) >= 1, what="a restart")
    cs = await eventually(
        lambda: (c := node.container("crash")).get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
        and c, what="CrashLoopBackOff")
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert "back-off 10s" in cs["state"]["waiting"]["message"]
    assert node.status("crash")["phase"] == "Running"
    await node.recorder.flush()
    assert "BackOff" in node.reasons()


async def test_restart_policy_never_leaves_a_failed_pod(node: Node) -> None:
    pod = make_pod("once", restartPolicy="Never", annotations={"kubelite.io/sim-exit-code": "1"})
    await node.fake.create(PODS, pod, "default")
    await eventually(lambda: node.status("once").get("phase") == "Failed", what="Failed")
    cs = node.container("once")
    assert cs["state"]["terminated"]["exitCode"] == 1 and cs["restartCount"] == 0
    ok = make_pod("job", restartPolicy="OnFailure", annotations={"kubelite.io/sim-exit-code": "0"})
    await node.fake.create(PODS, ok, "default")
    await eventually(lambda: node.status("job").get("phase") == "Succeeded", what="Succeeded")
    assert node.container("job")["state"]["terminated"]["reason"] == "Completed"


async def test_oom_killed_containers_show_the_reason(node: Node) -> None:
    pod = make_pod("hog", restartPolicy="Never", annotations={"kubelite.io/sim-oom": "true"})
    await node.fake.create(PODS, pod, "default")
    await eventually(lambda: node.status("hog").get("phase") == "Failed", what="Failed")
    terminated = node.container("hog")["state"]["terminated"]
    assert terminated["reason"] == "OOMKilled" and terminated["exitCode"] == 137


async def test_env_from_fields_resources_and_configmaps_reaches_the_container(node: Node) -> None:
    node.fake.add(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "cfg", "namespace": "default"},
                               "data": {"color": "blue", "size": "L"}})
    container = {
        "name": "main", "image": "busybox",
        "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
            {"name": "GREETING", "value": "hi $(POD_NAME) in $(COLOR)"},
        ],
    }
    await node.fake.create(PODS, make_pod("envy", [container]), "default")
    await eventually(lambda: node.status("envy").get("phase") == "Running", what="Running")
    [config] = node.runtime.configs
    envs = config.envs
    assert config.resources.cpu_quota == 50000 and config.resources.memory_limit_bytes == 64 * 1024 * 1024
    assert envs["POD_NAME"] == "envy" and envs["COLOR"] == "blue" and envs["CFG_size"] == "L"
    assert envs["MEM"] == "64" and envs["GREETING"] == "hi envy in blue"
    assert envs["POD_IP"] == node.status("envy")["podIP"]


async def test_a_missing_configmap_is_a_create_container_config_error(node: Node) -> None:
    container = {"name": "main", "image": "busybox",
                 "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]}
    await node.fake.create(PODS, make_pod("broken", [container]), "default")
    cs = await eventually(lambda: (c := node.container("broken")).get("state", {}).get("waiting") and c,
                          what="waiting")
    await eventually(lambda: node.container("broken")["state"]["waiting"]["reason"] == "CreateContainerConfigError")
    assert node.status("broken")["phase"] == "Pending"
    assert cs["ready"] is False


async def test_privileged_containers_are_refused(node: Node) -> None:
    container = {"name": "main", "image": "busybox", "securityContext": {"privileged": True}}
    await node.fake.create(PODS, make_pod("priv", [container]), "default")
    await eventually(lambda: node.container("priv").get("state", {}).get("waiting", {}).get("reason")
                     == "CreateContainerConfigError", what="refusal")
    assert "privileged" in node.container("priv")["state"]["waiting"]["message"]
    assert await node.runtime.list_containers() == []


async def test_a_terminating_pod_is_stopped_then_deleted_with_a_uid_precondition(node: Node) -> None:
    pod = make_pod("bye")
    pod["metadata"]["finalizers"] = ["test/hold"]  # keeps the object visible after the kubelet's delete
    created = await node.fake.create(PODS, pod, "default")
    await eventually(lambda: node.status("bye").get("phase") == "Running", what="Running")
    await node.fake.patch(PODS, "bye", {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z",
                                                     "deletionGracePeriodSeconds": 5}}, "default")
    await eventually(lambda: any(a.verb == "delete" and a.name == "bye" for a in node.fake.actions), what="delete")
    delete = next(a for a in node.fake.actions if a.verb == "delete" and a.name == "bye")
    assert delete.body["gracePeriodSeconds"] == 0
    assert delete.body["preconditions"] == {"uid": created["metadata"]["uid"]}
    await eventually(lambda: not node.runtime._containers, what="containers removed")
    assert await node.runtime.list_pod_sandboxes() == []


async def test_a_pod_removed_from_the_api_is_removed_from_the_node(node: Node) -> None:
    await node.fake.create(PODS, make_pod("gone"), "default")
    await eventually(lambda: node.status("gone").get("phase") == "Running", what="Running")
    await node.fake.delete(PODS, "gone", "default", grace_period_seconds=0)
    await eventually(lambda: not node.runtime._sandboxes, what="sandbox removed")


async def test_a_restarted_kubelet_adopts_its_pods_and_removes_orphans(tmp_path: Path) -> None:
    fake = FakeApiClient()
    runtime = SimRuntime(CIDR, start_latency=0.0, node_name=NODE)
    first = await start_node(fake, runtime, tmp_path)
    await fake.create(PODS, make_pod("keep"), "default")
    await fake.create(PODS, make_pod("drop"), "default")
    await eventually(lambda: first.status("keep").get("phase") == "Running"
                     and first.status("drop").get("phase") == "Running", what="both Running")
    before = {c.id for c in await runtime.list_containers() if c.labels[S.LABEL_POD_NAME] == "keep"}
    await stop_node(first)  # the kubelet goes away; its containers keep running
    await fake.delete(PODS, "drop", "default", grace_period_seconds=0)
    second = await start_node(fake, runtime, tmp_path)
    try:
        await eventually(lambda: len(runtime._sandboxes) == 1, what="orphan removed")
        containers = await runtime.list_containers()
        assert {c.id for c in containers} == before
        assert all(c.state == ContainerState.RUNNING for c in containers)
        assert len(await runtime.list_pod_sandboxes()) == 1
    finally:
        await stop_node(second)


MANIFEST = """apiVersion: v1
kind: Pod
metadata:
  name: etcd
  labels: {tier: control-plane}
spec:
  containers:
  - name: main
    image: kubelite.local/busybox:1.35
    command: [sleep, "{sleep}"]
"""


async def test_static_pods_follow_their_manifest_files_and_get_mirror_pods(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    fake = FakeApiClient()
    runtime = SimRuntime(CIDR, start_latency=0.0, node_name=NODE)
    node = await start_node(fake, runtime, tmp_path, manifests)
    mirror_name = f"etcd-{NODE}"
    try:
        (manifests / "etcd.yaml").write_text(MANIFEST.replace("{sleep}", "1000"))
        mirror = await eventually(lambda: node.pod(mirror_name), what="mirror pod")
        annotations = mirror["metadata"]["annotations"]
        assert annotations["kubernetes.io/config.source"] == "file"
        first_hash = annotations["kubernetes.io/config.mirror"]
        await eventually(lambda: node.status(mirror_name).get("phase") == "Running", what="mirror status")
        # deleted while the file exists: it comes back
        await fake.delete(PODS, mirror_name, "default", grace_period_seconds=0)
        await eventually(lambda: node.pod(mirror_name), what="mirror recreated")
        # a changed file restarts the pod under a new hash
        (manifests / "etcd.yaml").write_text(MANIFEST.replace("{sleep}", "2000"))
        await eventually(lambda: (m := node.pod(mirror_name)) and m["metadata"]["annotations"][
            "kubernetes.io/config.mirror"] != first_hash, what="new mirror")
        await eventually(lambda: [c.labels[S.LABEL_POD_UID] for c in runtime._containers.values()]
                         == [node.pod(mirror_name)["metadata"]["annotations"]["kubernetes.io/config.mirror"]],
                         what="only the new pod's container")
        # a removed file stops the pod and deletes the mirror
        (manifests / "etcd.yaml").unlink()
        await eventually(lambda: node.pod(mirror_name) is None and not runtime._sandboxes, what="static pod gone")
    finally:
        await stop_node(node)


@pytest.mark.parametrize(("resources", "shares", "quota", "memory"), [
    ({}, 2, 0, 0),
    ({"requests": {"cpu": "250m"}}, 256, 0, 0),
    ({"limits": {"cpu": "200m", "memory": "64Mi"}}, 204, 20000, 64 * 1024 * 1024),
    ({"requests": {"cpu": "1"}, "limits": {"cpu": "2"}}, 1024, 200000, 0),
])
def test_resources_become_cgroup_numbers(resources: dict[str, Any], shares: int, quota: int, memory: int) -> None:
    r = S.linux_resources({"name": "c", "resources": resources})
    assert (r.cpu_shares, r.cpu_quota, r.memory_limit_bytes) == (shares, quota, memory)
    assert r.cpu_period == (100000 if quota else 0)


def test_crash_loop_backoff_doubles_to_five_minutes_and_resets_after_ten_minutes_running() -> None:
    b = S.Backoff()
    assert b.remaining(0) == 0
    delays = []
    for t in range(8):
        b.restarted(t * 1000.0)
        delays.append(b.delay)
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]
    b.ran_for(601)
    assert b.remaining(10_000) == 0


def test_variable_expansion_follows_kubernetes_rules() -> None:
    env = {"A": "x"}
    assert S.expand("$(A)-$(B)-$$(A)", env) == "x-$(B)-$(A)"


async def test_a_restarted_kubelet_does_not_run_a_finished_pod_again(tmp_path: Path) -> None:
    fake = FakeApiClient()
    runtime = SimRuntime(CIDR, start_latency=0.0, node_name=NODE)
    first = await start_node(fake, runtime, tmp_path)
    await fake.create(PODS, make_pod("done", restartPolicy="Never", annotations={"kubelite.io/sim-exit-code": "0"}),
                      "default")
    await eventually(lambda: first.status("done").get("phase") == "Succeeded", what="Succeeded")
    await eventually(lambda: all(not s.ready for s in runtime._sandboxes.values()), what="sandbox stopped")
    containers = {c.id for c in await runtime.list_containers()}
    await stop_node(first)
    second = await start_node(fake, runtime, tmp_path)
    try:
        await asyncio.sleep(0.5)  # ten relist periods
        assert {c.id for c in await runtime.list_containers()} == containers
        assert second.status("done")["phase"] == "Succeeded"
    finally:
        await stop_node(second)


async def test_static_pods_run_while_the_api_server_is_unreachable(tmp_path: Path) -> None:
    from kubelite.client.rest import ApiError

    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "etcd.yaml").write_text(MANIFEST.replace("{sleep}", "1000"))
    fake = FakeApiClient()

    def unreachable(action: Any) -> None:
        raise ApiError.make(0, "ConnectionError", "connection refused")

    for verb in ("list", "watch", "get", "create", "patch"):
        fake.prepend_reactor(verb, "pods", unreachable)
    runtime = SimRuntime(CIDR, start_latency=0.0, node_name=NODE)
    node = await start_node(fake, runtime, tmp_path, manifests)
    try:
        async def states() -> list[ContainerState]:
            return [c.state for c in await runtime.list_containers()]

        for _ in range(500):
            if await states() == [ContainerState.RUNNING]:
                break
            await asyncio.sleep(0.02)
        assert await states() == [ContainerState.RUNNING]
        [sandbox] = await runtime.list_pod_sandboxes()
        assert sandbox.name == f"etcd-{NODE}"
    finally:
        await stop_node(node)


async def test_the_relist_skips_a_runtime_where_nothing_changed(tmp_path: Path) -> None:
    runtime = CountingSim(CIDR, start_latency=0.0, node_name=NODE)
    pm = PodManager(runtime, node_name=NODE, data_dir=tmp_path, manage_files=False)
    await pm.relist()
    assert runtime.full_listings == 1
    await pm.relist()
    await pm.relist()
    assert runtime.full_listings == 1  # the change token said nothing happened
    # something changes in the runtime: the next relist lists the pod that changed (the runtime's
    # change journal names it), not the whole node, and sees it
    await runtime.run_pod_sandbox(PodSandboxConfig(name="p", uid="uid-p", namespace="default",
                                                   labels={S.LABEL_POD_UID: "uid-p", S.LABEL_MANAGED: "true"}))
    await pm.relist()
    assert runtime.full_listings == 1 and runtime.relist_listings == 2 and "uid-p" in pm._signatures
    await pm.relist()
    assert runtime.relist_listings == 2
    await pm.relist(force=True)  # the periodic full relist (the runtime health check) still lists
    assert runtime.full_listings == 2


class GatedApi(FakeApiClient):
    """The in-memory API, with pods/status PATCHes held until the test opens the gate (a busy server)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.status_patches: list[tuple[str, str]] = []  # (pod name, phase written)

    async def patch(self, res: Any, name: str, patch: Any, namespace: str | None = None, **kw: Any) -> Any:
        if res is PODS and kw.get("subresource") == "status":
            await self.gate.wait()
            self.status_patches.append((name, str(patch["status"].get("phase"))))
        return await super().patch(res, name, patch, namespace, **kw)


async def test_a_status_replaced_while_waiting_for_its_write_is_never_written(tmp_path: Path) -> None:
    fake = GatedApi()
    # containers take a moment to start: each pod's first status is Pending (ContainerCreating)
    runtime = SimRuntime(CIDR, start_latency=0.2, node_name=NODE, images_present=True)
    node = await start_node(fake, runtime, tmp_path)
    try:
        writers = node.pm.status_writer.concurrency
        names = [f"p{i}" for i in range(writers + 2)]
        for name in names:
            await fake.create(PODS, make_pod(name), "default")
        # every pod's containers run, while its first status write waits for the server
        await eventually(lambda: all(st.phase == "Running" for st in node.pm._states.values())
                         and len(node.pm._states) == len(names), what="every pod running in the runtime")
        fake.gate.set()
        await eventually(lambda: all(node.status(n).get("phase") == "Running" for n in names),
                         what="every pod Running in the API")
        await eventually(lambda: node.pm.status_writer.pending == 0, what="no status left to write")
        per_pod = {n: [phase for name, phase in fake.status_patches if name == n] for n in names}
        # the first `writers` pods had a (Pending) write in flight: then one more with Running;
        # the others waited for their turn and were written once, with the latest status
        assert sorted(len(v) for v in per_pod.values()) == [1, 1] + [2] * writers
        assert sorted(v[0] for v in per_pod.values()) == ["Pending"] * writers + ["Running"] * 2
        assert all(v[-1] == "Running" for v in per_pod.values())
    finally:
        await stop_node(node)


async def test_a_pod_with_a_present_image_gets_the_real_kubelets_three_events(tmp_path: Path) -> None:
    fake = FakeApiClient()
    node = await start_node(fake, SimRuntime(CIDR, start_latency=0.0, node_name=NODE, images_present=True), tmp_path)
    try:
        pod = make_pod("web", [{"name": "main", "image": "registry.k8s.io/pause:3.10"}])
        await fake.create(PODS, pod, "default")
        await eventually(lambda: node.status("web").get("phase") == "Running", what="web Running")
        await node.recorder.flush()
        events = [(e["reason"], e["message"]) for e in fake.objects(EVENTS, "default")]
        assert sorted(events) == sorted([
            ("Pulled", 'Container image "registry.k8s.io/pause:3.10" already present on machine'),
            ("Created", "Created container main"),
            ("Started", "Started container main"),
        ])
    finally:
        await stop_node(node)
