"""The node Lease costs one request per renewal: a PUT of the Lease last written (GET only after a conflict)."""

from __future__ import annotations

import pytest

from kubelite.api.resources import LEASES, NODES
from kubelite.client.fake import FakeApiClient
from kubelite.client.rest import ApiError
from kubelite.kubelet.heartbeat import NodeHeartbeat
from kubelite.kubelet.nodestatus import HostFacts, Readings, build_node

FACTS = HostFacts(hostname="hb", internal_ip="10.0.0.7", cpu_cores=2, memory_bytes=4 << 30,
                  ephemeral_storage_bytes=50 << 30)
READINGS = Readings(memory_available_bytes=2 << 30, nodefs_available_fraction=0.5)


def heartbeat(fake: FakeApiClient) -> NodeHeartbeat:
    node = build_node("hb", FACTS, runtime_version="sim://1", kubelet_port=10250, labels={"tier": "edge"})
    return NodeHeartbeat(fake, node, read_readings=lambda: READINGS, readings_in_thread=False,
                         runtime_ready=lambda: (True, ""))


def lease_calls(fake: FakeApiClient) -> list[str]:
    return [a.verb for a in fake.actions if a.resource_plural == "leases"]


async def test_renewals_after_the_first_are_one_put_each() -> None:
    fake = FakeApiClient()
    hb = heartbeat(fake)
    await hb.register()
    assert fake.object(NODES, "hb")["metadata"]["labels"]["tier"] == "edge"  # type: ignore[index]
    await hb.renew_lease()
    first = fake.object(LEASES, "hb", "kube-node-lease")
    assert first is not None and first["spec"]["holderIdentity"] == "hb"
    assert first["metadata"]["ownerReferences"][0]["uid"] == hb.uid
    fake.clear_actions()
    for _ in range(3):
        await hb.renew_lease()
    assert lease_calls(fake) == ["update", "update", "update"]
    last = fake.object(LEASES, "hb", "kube-node-lease")
    assert last is not None and last["spec"]["renewTime"] >= first["spec"]["renewTime"]
    assert last["spec"]["acquireTime"] == first["spec"]["acquireTime"]


async def test_a_lease_written_by_someone_else_is_read_again_then_renewed() -> None:
    fake = FakeApiClient()
    hb = heartbeat(fake)
    await hb.register()
    await hb.renew_lease()
    other = fake.object(LEASES, "hb", "kube-node-lease")
    assert other is not None
    other["spec"]["leaseDurationSeconds"] = 99
    await fake.replace(LEASES, other, "kube-node-lease")  # our cached resourceVersion is now stale
    fake.clear_actions()
    await hb.renew_lease()
    assert lease_calls(fake) == ["update", "get", "update"]
    fake.clear_actions()
    await hb.renew_lease()
    assert lease_calls(fake) == ["update"]


async def test_a_deleted_lease_is_created_again() -> None:
    fake = FakeApiClient()
    hb = heartbeat(fake)
    await hb.register()
    await hb.renew_lease()
    await fake.delete(LEASES, "hb", "kube-node-lease")
    await hb.renew_lease()
    again = fake.object(LEASES, "hb", "kube-node-lease")
    assert again is not None and again["spec"]["holderIdentity"] == "hb"


def calls(fake: FakeApiClient) -> list[tuple[str, str]]:
    return [(a.verb, a.resource_plural) for a in fake.actions]


async def test_a_new_node_registers_with_its_conditions_in_one_request_and_its_lease_in_one_more() -> None:
    fake = FakeApiClient()
    hb = heartbeat(fake)
    await hb.register()
    node = fake.object(NODES, "hb")
    assert node is not None
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    assert node["status"]["capacity"]["cpu"] == "2"
    await hb.renew_lease()
    assert calls(fake) == [("create", "nodes"), ("create", "leases")]


async def test_a_node_marked_unknown_by_the_controller_is_reported_ready_again_at_the_next_check() -> None:
    fake = FakeApiClient()
    hb = heartbeat(fake)
    await hb.register()
    fake.clear_actions()
    await hb.report_status()  # nothing changed: a read, no write
    assert [a.verb for a in fake.actions if a.resource_plural == "nodes"] == ["get"]
    node = fake.object(NODES, "hb")
    assert node is not None
    for c in node["status"]["conditions"]:  # what the node lifecycle controller writes after a silence
        c["status"] = "Unknown"
    await fake.replace(NODES, node, subresource="status")
    await hb.report_status()
    ready = [c for c in fake.object(NODES, "hb")["status"]["conditions"]  # type: ignore[index]
             if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"


async def test_status_reports_after_the_first_send_only_the_conditions() -> None:
    fake = FakeApiClient()
    hb = heartbeat(fake)
    hb.status_report_interval = 0  # every check is a full report
    await hb.register()
    fake.clear_actions()
    await hb.report_status()
    patches = [a for a in fake.actions if a.verb == "patch"]
    assert len(patches) == 1 and set(patches[0].body["status"]) == {"conditions"}  # type: ignore[index]
    assert fake.object(NODES, "hb")["status"]["nodeInfo"]  # type: ignore[index]  # still there


async def test_a_renewal_that_timed_out_is_retried_with_one_put() -> None:
    fake = FakeApiClient()
    hb = heartbeat(fake)
    await hb.register()
    await hb.renew_lease()
    failures = [ApiError.make(0, "ConnectionError", "PUT: TimeoutError")]

    def flaky(action: object) -> None:
        if failures:
            raise failures.pop()

    fake.prepend_reactor("update", "leases", flaky)
    with pytest.raises(ApiError):
        await hb.renew_lease()
    fake.clear_actions()
    await hb.renew_lease()
    assert lease_calls(fake) == ["update"]
