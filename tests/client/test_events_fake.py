"""EventRecorder against the fake client: aggregation into one Event with a count."""

from __future__ import annotations

from client.builders import node, pod
from kubelite.api.resources import EVENTS, PODS
from kubelite.client.events import EventRecorder
from kubelite.client.fake import FakeApiClient


async def test_repeated_event_becomes_one_event_with_a_count() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("web"))
    target = fake.object(PODS, "web", "default")
    assert target is not None
    rec = EventRecorder(fake, "scheduler", "host-1")
    await rec.start()
    for _ in range(3):
        rec.event(target, "Warning", "FailedScheduling", "0/1 nodes are available")
    rec.event(target, "Normal", "Scheduled", "assigned to n1")
    await rec.stop()
    events = fake.objects(EVENTS, "default")
    assert len(events) == 2
    failed = next(e for e in events if e["reason"] == "FailedScheduling")
    assert failed["count"] == 3
    assert failed["metadata"]["name"].startswith("web.")
    assert failed["involvedObject"] == {"kind": "Pod", "apiVersion": "v1", "name": "web", "namespace": "default",
                                        "uid": target["metadata"]["uid"],
                                        "resourceVersion": target["metadata"]["resourceVersion"]}
    assert failed["source"] == {"component": "scheduler", "host": "host-1"}
    assert failed["firstTimestamp"] <= failed["lastTimestamp"]
    assert [a.verb for a in fake.write_actions()] == ["create", "patch", "patch", "create"]


async def test_cluster_scoped_objects_get_events_in_default() -> None:
    fake = FakeApiClient()
    rec = EventRecorder(fake, "kubelet")
    await rec.start()
    rec.event(node("n1"), "Normal", "NodeReady", "ready")
    await rec.stop()
    [ev] = fake.objects(EVENTS)
    assert ev["metadata"]["namespace"] == "default"
    assert ev["involvedObject"]["name"] == "n1" and "namespace" not in ev["involvedObject"]


async def test_a_deleted_event_is_recreated_with_the_running_count() -> None:
    fake = FakeApiClient()
    rec = EventRecorder(fake, "c")
    await rec.start()
    rec.event(pod("p"), "Normal", "R", "m")
    await rec.flush()
    [ev] = fake.objects(EVENTS)
    await fake.delete(EVENTS, ev["metadata"]["name"], "default")
    rec.event(pod("p"), "Normal", "R", "m")
    await rec.stop()
    [again] = fake.objects(EVENTS)
    assert again["count"] == 2


async def test_write_failures_and_bad_types_never_raise_to_the_caller() -> None:
    fake = FakeApiClient()

    def down(action: object) -> None:
        from kubelite.client.rest import ApiError
        raise ApiError.make(0, "ConnectionError", "refused")

    fake.prepend_reactor("create", "events", down)
    rec = EventRecorder(fake, "c")
    await rec.start()
    rec.event(pod("p"), "Normal", "R", "m")
    rec.event(pod("p"), "Bogus", "R", "m")  # logged and dropped
    await rec.stop()
    assert fake.objects(EVENTS) == []
