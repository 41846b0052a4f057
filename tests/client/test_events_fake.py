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


async def test_ten_similar_messages_then_one_combined_event_as_client_go() -> None:
    """A ReplicaSet's 'Created pod: <name>' for each of its pods: 9 Events, then one combined Event
    whose count grows (client-go's EventAggregator: 10 distinct messages per type+reason)."""
    fake = FakeApiClient()
    rec = EventRecorder(fake, "replicaset-controller")
    await rec.start()
    owner = pod("rs-like")
    for i in range(12):
        rec.event(owner, "Normal", "SuccessfulCreate", f"Created pod: web-{i}")
    rec.event(owner, "Normal", "SuccessfulDelete", "Deleted pod: web-0")  # another reason: its own Event
    await rec.stop()
    events = fake.objects(EVENTS, "default")
    created = sorted((e for e in events if e["reason"] == "SuccessfulCreate"), key=lambda e: e["firstTimestamp"])
    plain = [e for e in created if not e["message"].startswith("(combined")]
    assert sorted(e["message"] for e in plain) == sorted(f"Created pod: web-{i}" for i in range(9))
    [combined] = [e for e in created if e["message"].startswith("(combined")]
    assert combined["count"] == 3
    assert combined["message"] == "(combined from similar events): Created pod: web-11"
    assert [e["message"] for e in events if e["reason"] == "SuccessfulDelete"] == ["Deleted pod: web-0"]


async def test_the_spam_filter_lets_25_events_per_object_through_then_one_per_5_minutes() -> None:
    now = [1000.0]
    fake = FakeApiClient()
    rec = EventRecorder(fake, "kubelet", "n1", clock=lambda: now[0])
    await rec.start()
    noisy, quiet = pod("noisy"), pod("quiet")
    for i in range(30):
        rec.event(noisy, "Warning", f"Reason{i}", "m")  # distinct reasons: no combining, no counting
    rec.event(quiet, "Normal", "Started", "ok")
    await rec.flush()
    assert len([e for e in fake.objects(EVENTS) if e["involvedObject"]["name"] == "noisy"]) == 25
    assert rec.filtered == 5
    assert [e["reason"] for e in fake.objects(EVENTS) if e["involvedObject"]["name"] == "quiet"] == ["Started"]
    now[0] += 299.0
    rec.event(noisy, "Warning", "Late", "m")
    now[0] += 2.0
    rec.event(noisy, "Warning", "Later", "m")
    await rec.stop()
    reasons = {e["reason"] for e in fake.objects(EVENTS) if e["involvedObject"]["name"] == "noisy"}
    assert "Late" not in reasons and "Later" in reasons


async def test_an_event_dropped_by_a_full_queue_spends_no_token_of_the_spam_filter() -> None:
    """As client-go: the queue drops first, the correlator (spam filter, combining) runs after it."""
    fake = FakeApiClient()
    rec = EventRecorder(fake, "kubelet", "n1", max_queue=1, clock=lambda: 1000.0)
    noisy = pod("noisy")
    for i in range(30):  # writers not started yet: one event fits in the queue, 29 are dropped
        rec.event(noisy, "Warning", f"Burst{i}", "m")
    assert rec.dropped == 29
    await rec.start()
    await rec.flush()
    for i in range(24):  # the bucket (25) still holds 24 tokens
        rec.event(noisy, "Warning", f"Later{i}", "m")
        await rec.flush()
    await rec.stop()
    assert rec.filtered == 0
    assert len([e for e in fake.objects(EVENTS) if e["involvedObject"]["name"] == "noisy"]) == 25
