"""The sim runtime's change journal: which pods changed since a cursor, so a relist lists only them."""

from __future__ import annotations

from pathlib import Path

from kubelet.counting import CountingSim
from test_runtime_index import IMAGE, Clock, pod, run_pod

from kubelite.kubelet import spec as S
from kubelite.kubelet.podmanager import PodManager
from kubelite.runtime.sim import JOURNAL_MAX, LABEL_POD_UID, SimRuntime
from kubelite.runtime.types import ContainerConfig, ContainerState, PodSandboxConfig


async def test_the_journal_names_the_pods_written_or_reaching_a_timed_transition() -> None:
    clock = Clock()
    sim = SimRuntime("10.42.0.0/24", start_latency=0.5, clock=clock)
    await sim.pull_image(IMAGE)
    cursor, unknown = sim.pod_changes(None)
    assert unknown is None  # no cursor yet: list everything
    await run_pod(sim, "a", containers=1)
    await run_pod(sim, "b", containers=1)
    cursor, changed = sim.pod_changes(cursor)
    assert sorted(changed or []) == ["a", "b"]
    cursor, changed = sim.pod_changes(cursor)
    assert changed == []  # nothing since
    clock.advance(0.6)  # both containers are now running: a change with no write
    cursor, changed = sim.pod_changes(cursor)
    assert sorted(changed or []) == ["a", "b"]
    [c] = await sim.list_containers(labels={LABEL_POD_UID: "b"})
    await sim.stop_container(c.id, 0)
    cursor, changed = sim.pod_changes(cursor)
    assert changed == ["b"]


async def test_an_old_or_foreign_cursor_gets_unknown_and_an_unlabelled_change_forces_a_full_listing() -> None:
    sim = SimRuntime("10.42.0.0/24", start_latency=0, clock=Clock())
    await sim.pull_image(IMAGE)
    first, _ = sim.pod_changes(None)
    await run_pod(sim, "a", containers=1)
    second, changed = sim.pod_changes(first)
    assert changed == ["a"]
    await run_pod(sim, "b", containers=1)
    # the journal forgot what the first cursor has seen, so an older cursor cannot be answered
    assert sim.pod_changes(first - 1)[1] is None
    assert sim.pod_changes(second)[1] == ["b"]
    third, _ = sim.pod_changes(second)
    # a sandbox with no pod-uid label: the journal cannot say which pod changed
    await sim.run_pod_sandbox(PodSandboxConfig(name="x", uid="x", namespace="default"))
    assert sim.pod_changes(third)[1] is None
    # a journal nobody reads stays bounded
    quiet = SimRuntime("10.42.0.0/16", start_latency=0, clock=Clock())
    start, _ = quiet.pod_changes(None)
    for i in range(JOURNAL_MAX + 10):
        await quiet.run_pod_sandbox(pod(f"u{i}"))
    assert len(quiet._journal) <= JOURNAL_MAX and quiet.pod_changes(start)[1] is None


async def test_a_relist_lists_only_the_changed_pod_and_syncs_it(tmp_path: Path) -> None:
    runtime = CountingSim("10.42.0.0/24", start_latency=0.0, node_name="n")
    pm = PodManager(runtime, node_name="n", data_dir=tmp_path, manage_files=False)
    synced: list[str] = []
    pm.workers.enqueue = synced.append  # type: ignore[method-assign]
    await runtime.pull_image(IMAGE)
    for uid in ("a", "b", "c"):
        sandbox = PodSandboxConfig(name=uid, uid=uid, namespace="default",
                                   labels={S.LABEL_POD_UID: uid, S.LABEL_MANAGED: "true"})
        await runtime.run_pod_sandbox(sandbox)
    await pm.relist()
    assert runtime.full_listings == 1 and sorted(synced) == ["a", "b", "c"]
    synced.clear()
    sandbox = PodSandboxConfig(name="b", uid="b", namespace="default",
                               labels={S.LABEL_POD_UID: "b", S.LABEL_MANAGED: "true"})
    [sb] = await runtime.list_pod_sandboxes({S.LABEL_POD_UID: "b"})
    cid = await runtime.create_container(sb.id, ContainerConfig(
        name="c", image=IMAGE, labels={S.LABEL_POD_UID: "b", S.LABEL_MANAGED: "true"}), sandbox)
    await runtime.start_container(cid)
    before = runtime.relist_listings
    await pm.relist()
    assert synced == ["b"] and runtime.full_listings == 1 and runtime.relist_listings == before + 1
    assert (cid, ContainerState.RUNNING.value) in pm._signatures["b"]
    # a pod whose records are gone leaves the relist's view, and its worker hears of it
    synced.clear()
    await runtime.remove_pod_sandbox(sb.id)
    await pm.relist()
    assert synced == ["b"] and "b" not in pm._signatures and sorted(pm._signatures) == ["a", "c"]


async def test_a_container_status_is_built_once_per_state_and_never_outlives_a_transition_or_a_write() -> None:
    clock = Clock()
    sim = SimRuntime("10.42.0.0/24", start_latency=0.5, clock=clock)
    await sim.pull_image(IMAGE)
    sandbox = pod("x")
    sandbox_id = await sim.run_pod_sandbox(sandbox)
    timed = await sim.create_container(sandbox_id, ContainerConfig(
        name="timed", image=IMAGE, labels={LABEL_POD_UID: "x"},
        annotations={"kubelite.io/sim-exit-code": "3", "kubelite.io/sim-exit-after": "2s"}), sandbox)
    steady = await sim.create_container(sandbox_id, ContainerConfig(
        name="steady", image=IMAGE, labels={LABEL_POD_UID: "x"}), sandbox)
    created = await sim.container_status(timed)
    assert created.state == ContainerState.CREATED
    await sim.start_container(timed)  # a write: the status built before it is not served again
    await sim.start_container(steady)
    first = await sim.container_status(timed)
    assert first.state == ContainerState.CREATED and first is not created
    assert await sim.container_status(timed) is first  # the same state: built once
    clock.advance(0.6)  # the start instant passed: no write, yet a new state
    running = await sim.container_status(timed)
    assert running.state == ContainerState.RUNNING and running.started_at
    listed = {c.id: c for c in await sim.list_containers(labels={LABEL_POD_UID: "x"})}
    assert listed[timed] is running
    clock.advance(2.0)
    exited = await sim.container_status(timed)
    assert (exited.state, exited.exit_code, exited.reason) == (ContainerState.EXITED, 3, "Error")
    assert (await sim.container_status(steady)).state == ContainerState.RUNNING
    await sim.stop_container(steady, 0)
    assert (await sim.container_status(steady)).state == ContainerState.EXITED
    [sb] = await sim.list_pod_sandboxes({LABEL_POD_UID: "x"})
    await sim.stop_pod_sandbox(sandbox_id)
    [stopped] = await sim.list_pod_sandboxes({LABEL_POD_UID: "x"})
    assert sb.state.value != stopped.state.value
