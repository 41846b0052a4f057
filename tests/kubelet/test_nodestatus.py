"""Node status as `kubectl describe node` shows it: capacity, allocatable, conditions, lease."""

from datetime import UTC, datetime, timedelta

from kubelite.kubelet.nodestatus import (
    ConditionTracker,
    HostFacts,
    Readings,
    Reserved,
    allocatable,
    build_lease,
    build_node,
    capacity,
    read_host_facts,
)

FACTS = HostFacts(hostname="node1", internal_ip="10.0.0.5", cpu_cores=4, memory_bytes=8 * 1024**3,
                  ephemeral_storage_bytes=100 * 1024**3, architecture="amd64")
HEALTHY = Readings(memory_available_bytes=4 * 1024**3, nodefs_available_fraction=0.5)


def test_capacity_reports_cores_memory_in_kibibytes_and_110_pods() -> None:
    assert capacity(FACTS) == {"cpu": "4", "ephemeral-storage": "104857600Ki", "hugepages-1Gi": "0",
                               "hugepages-2Mi": "0", "memory": "8388608Ki", "pods": "110"}


def test_allocatable_holds_back_the_reserve() -> None:
    alloc = allocatable(FACTS, Reserved(cpu_millis=500, memory_bytes=1024**3))
    assert alloc["cpu"] == "3500m"
    assert alloc["memory"] == "7340032Ki"
    assert int(alloc["ephemeral-storage"]) == int(100 * 1024**3 * 0.9)


def test_a_healthy_node_is_ready_without_pressure() -> None:
    conds = {c["type"]: c for c in ConditionTracker().conditions(HEALTHY, True, "", datetime.now(UTC))}
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["reason"] == "KubeletReady"
    assert conds["MemoryPressure"]["reason"] == "KubeletHasSufficientMemory"
    assert conds["DiskPressure"]["status"] == "False"
    assert conds["PIDPressure"]["reason"] == "KubeletHasSufficientPID"


def test_low_memory_sets_memory_pressure_and_transition_time_moves_only_on_change() -> None:
    tracker = ConditionTracker()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    tracker.conditions(HEALTHY, True, "", t0)
    same = {c["type"]: c for c in tracker.conditions(HEALTHY, True, "", t0 + timedelta(seconds=10))}
    assert same["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert same["Ready"]["lastHeartbeatTime"] == "2026-01-01T00:00:10Z"
    low = Readings(memory_available_bytes=10 * 1024**2, nodefs_available_fraction=0.5)
    changed = {c["type"]: c for c in tracker.conditions(low, False, "runtime down", t0 + timedelta(seconds=20))}
    assert changed["MemoryPressure"]["status"] == "True"
    assert changed["MemoryPressure"]["lastTransitionTime"] == "2026-01-01T00:00:20Z"
    assert changed["Ready"]["status"] == "False" and changed["Ready"]["message"] == "runtime down"


def test_node_object_carries_standard_labels_addresses_and_system_info() -> None:
    node = build_node("node1", FACTS, runtime_version="containerd://1.6.20", kubelet_port=10250)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "node1" and labels["beta.kubernetes.io/arch"] == "amd64"
    assert {"type": "InternalIP", "address": "10.0.0.5"} in node["status"]["addresses"]
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.6.20"
    assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.32")


def test_real_host_facts_are_read_from_this_machine() -> None:
    facts = read_host_facts("/")
    assert facts.cpu_cores >= 1 and facts.memory_bytes > 0 and facts.kernel_version
    assert facts.boot_id and facts.os_image


def test_lease_is_held_by_the_node_and_owned_by_it() -> None:
    lease = build_lease("node1", "uid-1", datetime(2026, 1, 1, tzinfo=UTC))
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["spec"]["holderIdentity"] == "node1"
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
