"""The scheduler's caches are compact (client/compact.py): bound pods keep only what the scheduler
reads (metadata, spec, status.phase), pods of one owner share their parts, and placement is as it
was: a node's bound pods still count against it while their status changes."""

from __future__ import annotations

import random
from typing import Any

import pytest
from client.waiting import eventually

from kubelite.api.resources import NODES, PODS
from kubelite.client.compact import Compactor
from kubelite.client.fake import FakeApiClient
from kubelite.scheduler.nodeinfo import PodInfo
from kubelite.scheduler.scheduler import Scheduler
from scheduler.builders import make_node, make_pod


class Quiet:
    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        pass


def running(pod: dict[str, Any], ip: str) -> dict[str, Any]:
    pod["status"] = {"phase": "Running", "podIP": ip, "hostIP": "10.0.0.1",
                     "conditions": [{"type": "Ready", "status": "True"}],
                     "containerStatuses": [{"name": "c", "ready": True, "containerID": f"sim://{ip}"}]}
    return pod


@pytest.mark.parametrize("compact", ["1", "0"])
async def test_bound_pods_count_against_their_node_with_or_without_compaction(
        compact: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELITE_COMPACT", compact)
    fake = FakeApiClient()
    fake.add(NODES, make_node("n1", cpu="2"), make_node("n2", cpu="1"))
    for i in range(3):
        fake.add(PODS, running(make_pod(f"web-{i}", cpu="500m", owner="rs-1", node_name="n1"), f"10.42.0.{i}"))
    s = Scheduler(fake, recorder=Quiet(), rng=random.Random(0))
    await s.start(sync_timeout=10)
    try:
        cached = [s.pods.store.get(f"default/web-{i}") for i in range(3)]
        assert all(p is not None for p in cached)
        pods = [p for p in cached if p is not None]
        if compact == "1":
            assert isinstance(s.informers.transform, Compactor)
            assert [p["status"] for p in pods] == [{"phase": "Running"}] * 3
            assert pods[0]["spec"]["containers"] is pods[1]["spec"]["containers"]
        else:
            assert s.informers.transform is None
            assert pods[0]["status"]["podIP"] == "10.42.0.0"
        assert pods[0]["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "500m"}}
        # a status update of a bound pod: its request still counts on n1 (1.5 of 2 cpus used)
        await fake.patch(PODS, "web-0", {"status": {"podIP": "10.42.0.9"}}, "default", subresource="status")
        await fake.create(PODS, make_pod("big", cpu="1"), "default")
        await eventually(lambda: (fake.object(PODS, "big", "default") or {}).get("spec", {}).get("nodeName") == "n2",
                         what="the 1-cpu pod bound to the only node with room")
        await fake.create(PODS, make_pod("small", cpu="500m"), "default")
        await eventually(lambda: (fake.object(PODS, "small", "default") or {}).get("spec", {}).get("nodeName") == "n1",
                         what="the 500m pod bound to n1")
        if compact == "1":
            assert isinstance(s.informers.transform, Compactor) and s.informers.transform.verify() == 0
    finally:
        await s.stop()
        await fake.close()


def test_pods_sharing_one_spec_object_are_parsed_alike() -> None:
    """A compacted informer hands the pending pods of one owner one spec object: the scheduler
    parses it once, and each pod's PodInfo is what a parse of its own would give."""
    s = Scheduler(FakeApiClient(), recorder=Quiet(), rng=random.Random(0))
    compactor = Compactor()
    first, second = (compactor(make_pod(f"web-{i}", cpu="250m", memory="64Mi", owner="rs-1", host_ports=[80],
                                         tolerations=[{"key": "k", "operator": "Exists"}]))
                     for i in range(2))
    assert first["spec"] is second["spec"]
    a, b = s._pod_info(first), s._pod_info(second)
    assert a is not None and b is not None
    fresh = PodInfo(second)
    for name in PodInfo.__slots__:
        assert getattr(b, name) == getattr(fresh, name), name
    assert (b.key, b.name, b.pod) == ("default/web-1", "web-1", second)
    assert (a.key, a.cpu, a.host_ports) == ("default/web-0", 250, (("0.0.0.0", "TCP", 80),))

    other = make_pod("web-2", cpu="1", owner="rs-1")  # a spec of its own: parsed afresh
    c = s._pod_info(other)
    assert c is not None and c.cpu == 1000 and c.signature != b.signature
