"""The Scheduler against the in-memory FakeApiClient: binds, events, conditions, bind failures."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kubelite.api.resources import NODES, PODS
from kubelite.client.fake import Action, FakeApiClient
from kubelite.client.rest import ApiError
from kubelite.scheduler.scheduler import Scheduler
from scheduler.builders import make_node, make_pod


class ListRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.events.append((obj["metadata"]["name"], type_, reason, message))

    def of(self, name: str) -> list[tuple[str, str, str]]:
        return [(t, r, m) for n, t, r, m in self.events if n == name]


async def eventually(cond: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    """Wait for the scheduler's background work (not a timing assertion: the bound is generous)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiClient]:
    client = FakeApiClient()
    yield client
    await client.close()


class Clock:
    """The queue's time, moved by hand (so backoff never needs a real sleep)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def start(fake: FakeApiClient, clock: Clock) -> AsyncIterator[Callable[[], Any]]:
    started: list[Scheduler] = []

    async def _start() -> tuple[Scheduler, ListRecorder]:
        rec = ListRecorder()
        s = Scheduler(fake, recorder=rec, rng=random.Random(0), now=clock)
        await s.start(sync_timeout=10)
        started.append(s)
        return s, rec

    yield _start
    for s in started:
        await s.stop()


def node_of(fake: FakeApiClient, name: str) -> str | None:
    pod = fake.object(PODS, name, "default")
    return None if pod is None else (pod.get("spec") or {}).get("nodeName")


async def test_pending_pods_are_bound_with_a_binding_and_a_scheduled_event(
    fake: FakeApiClient, start: Callable[[], Any]
) -> None:
    fake.add(NODES, make_node("n1"), make_node("n2"))
    fake.add(PODS, make_pod("a", cpu="100m"))
    s, rec = await start()
    await eventually(lambda: node_of(fake, "a") is not None, "pod a bound")
    binding = next(a for a in fake.actions if a.verb == "create" and a.subresource == "binding")
    assert binding.name == "a" and binding.namespace == "default"
    assert binding.body["kind"] == "Binding"
    assert binding.body["target"] == {"apiVersion": "v1", "kind": "Node", "name": node_of(fake, "a")}
    await eventually(lambda: bool(rec.of("a")), "Scheduled event")
    assert rec.of("a") == [("Normal", "Scheduled", f"Successfully assigned default/a to {node_of(fake, 'a')}")]


async def test_pods_of_other_schedulers_and_bound_pods_are_left_alone(
    fake: FakeApiClient, start: Callable[[], Any]
) -> None:
    fake.add(NODES, make_node("n1"))
    fake.add(PODS, make_pod("mine"), make_pod("theirs", scheduler_name="other"), make_pod("bound", node_name="n1"))
    s, _ = await start()
    await eventually(lambda: node_of(fake, "mine") == "n1", "pod mine bound")
    bindings = [a.name for a in fake.actions if a.subresource == "binding"]
    assert bindings == ["mine"]
    assert node_of(fake, "theirs") is None


async def test_an_unschedulable_pod_gets_failed_scheduling_and_a_pod_scheduled_false_condition(
    fake: FakeApiClient, start: Callable[[], Any]
) -> None:
    fake.add(NODES, make_node("n1", cpu="1"), make_node("n2", cpu="1"))
    fake.add(PODS, make_pod("huge", cpu="8"))
    s, rec = await start()
    message = ("0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
               "2 Preemption is not helpful for scheduling.")
    await eventually(lambda: bool(rec.of("huge")), "FailedScheduling event")
    assert rec.of("huge")[0] == ("Warning", "FailedScheduling", message)

    def condition() -> dict[str, Any] | None:
        pod = fake.object(PODS, "huge", "default") or {}
        conds = (pod.get("status") or {}).get("conditions") or []
        return next((c for c in conds if c["type"] == "PodScheduled"), None)

    await eventually(lambda: condition() is not None, "PodScheduled condition")
    cond = condition()
    assert cond is not None
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", message)
    assert s.queue.where("default/huge") == "unschedulable"


async def test_a_new_node_lets_a_waiting_pod_schedule(
    fake: FakeApiClient, start: Callable[[], Any], clock: Clock
) -> None:
    fake.add(NODES, make_node("small", cpu="1"))
    fake.add(PODS, make_pod("big", cpu="2"))
    s, rec = await start()
    await eventually(lambda: s.queue.where("default/big") == "unschedulable", "pod parked")
    await fake.create(NODES, make_node("large", cpu="4"))
    await eventually(lambda: s.queue.where("default/big") != "unschedulable", "pod moved out of unschedulable")
    clock.t += 60  # past any backoff
    s.queue.flush_backoff_completed()
    await eventually(lambda: node_of(fake, "big") == "large", "pod bound to the new node")


async def test_a_failed_bind_forgets_the_assumption_and_retries(
    fake: FakeApiClient, start: Callable[[], Any], clock: Clock
) -> None:
    fake.add(NODES, make_node("n1", cpu="1"))
    failures = {"left": 1}

    def reactor(action: Action) -> dict[str, Any] | None:
        if action.subresource == "binding" and failures["left"] > 0:
            failures["left"] -= 1
            raise ApiError.make(500, "InternalError", "etcd is having a bad day")
        return None

    fake.prepend_reactor("create", "pods", reactor)
    fake.add(PODS, make_pod("a", cpu="1"))
    s, rec = await start()
    await eventually(lambda: s.bind_errors == 1, "first bind fails")
    assert s.queue.where("default/a") == "backoff"  # the fake clock has not moved: still backing off
    node = s.cache.get_node("n1")
    assert node is not None and node.req_cpu == 0  # the assumption was forgotten
    assert any(r == "FailedScheduling" and "Binding rejected" in m for t, r, m in rec.of("a"))
    clock.t += 60  # past the backoff
    s.queue.flush_backoff_completed()
    await eventually(lambda: node_of(fake, "a") == "n1", "second bind succeeds")
    assert node.req_cpu == 1000


async def test_a_bind_for_a_pod_deleted_meanwhile_is_dropped(fake: FakeApiClient, start: Callable[[], Any]) -> None:
    fake.add(NODES, make_node("n1", cpu="1"))

    def reactor(action: Action) -> dict[str, Any] | None:
        if action.subresource == "binding":
            raise ApiError.make(404, "NotFound", 'pods "a" not found')
        return None

    fake.prepend_reactor("create", "pods", reactor)
    fake.add(PODS, make_pod("a", cpu="1"))
    s, _ = await start()
    await eventually(lambda: s.bind_errors == 1, "bind fails with 404")
    node = s.cache.get_node("n1")
    assert node is not None and node.req_cpu == 0
    assert s.queue.where("default/a") is None


async def test_deleting_a_bound_pod_frees_room_for_a_waiting_one(
    fake: FakeApiClient, start: Callable[[], Any], clock: Clock
) -> None:
    fake.add(NODES, make_node("n1", cpu="1"))
    fake.add(PODS, make_pod("old", cpu="1", node_name="n1"), make_pod("new", cpu="1"))
    s, _ = await start()
    await eventually(lambda: s.queue.where("default/new") == "unschedulable", "new pod parked")
    await fake.delete(PODS, "old", "default")
    await eventually(lambda: s.queue.where("default/new") != "unschedulable", "new pod moved")
    clock.t += 60
    s.queue.flush_backoff_completed()
    await eventually(lambda: node_of(fake, "new") == "n1", "new pod bound")


async def test_constraints_the_scheduler_does_not_enforce_are_reported_not_hidden(
    fake: FakeApiClient, start: Callable[[], Any]
) -> None:
    fake.add(NODES, make_node("n1"))
    p = make_pod("anti")
    p["spec"]["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    fake.add(PODS, p)
    s, rec = await start()
    await eventually(lambda: node_of(fake, "anti") == "n1", "pod bound")
    warnings = [(r, m) for t, r, m in rec.of("anti") if t == "Warning"]
    assert warnings == [("UnsupportedSchedulingConstraint",
                         "kubelite's scheduler does not enforce podAntiAffinity; scheduling without them")]


async def test_a_pod_with_a_malformed_request_gets_a_clear_event_and_others_still_schedule(
    fake: FakeApiClient, start: Callable[[], Any]
) -> None:
    fake.add(NODES, make_node("n1"))
    fake.add(PODS, make_pod("bad", cpu="lots"), make_pod("good", cpu="100m"))
    s, rec = await start()
    await eventually(lambda: node_of(fake, "good") == "n1", "good pod bound")
    assert node_of(fake, "bad") is None
    [(type_, reason, message)] = rec.of("bad")
    assert (type_, reason) == ("Warning", "FailedScheduling")
    assert message.startswith("invalid quantity 'lots' for cpu")
