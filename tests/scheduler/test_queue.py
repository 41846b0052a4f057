"""The scheduling queue: order, backoff, and moves on cluster events (time driven by hand)."""

from __future__ import annotations

import asyncio

import pytest

from kubelite.scheduler.queue import QueueClosed, SchedulingQueue
from scheduler.builders import pod_info


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make_queue() -> tuple[SchedulingQueue, Clock]:
    clock = Clock()
    return SchedulingQueue(now=clock), clock


def popped_names(q: SchedulingQueue) -> list[str]:
    out = []
    while (qp := q.pop_nowait()) is not None:
        out.append(qp.info.name)
    return out


def test_higher_priority_pods_come_out_first_then_arrival_order() -> None:
    q, _ = make_queue()
    for name, prio in [("low1", 0), ("high", 100), ("low2", 0), ("mid", 10)]:
        q.add(pod_info(name=name, priority=prio))
    assert popped_names(q) == ["high", "mid", "low1", "low2"]


def test_adding_the_same_pod_twice_queues_it_once() -> None:
    q, _ = make_queue()
    q.add(pod_info(name="a"))
    q.add(pod_info(name="a"))
    assert popped_names(q) == ["a"]


def test_an_unschedulable_pod_waits_until_a_node_is_added() -> None:
    q, clock = make_queue()
    q.add(pod_info(name="a"))
    qp = q.pop_nowait()
    assert qp is not None
    q.requeue_unschedulable(qp)
    assert q.where("default/a") == "unschedulable"
    clock.t += 100
    assert q.flush_backoff_completed() == 0
    assert q.pop_nowait() is None
    q.move_all_to_active_or_backoff()  # e.g. a node was added
    assert q.where("default/a") == "active"
    assert popped_names(q) == ["a"]


def test_a_pod_moved_before_its_backoff_ends_waits_in_backoff() -> None:
    q, clock = make_queue()
    q.add(pod_info(name="a"))
    qp = q.pop_nowait()
    assert qp is not None
    q.requeue_unschedulable(qp)
    clock.t += 0.5  # first backoff is 1 s
    q.move_all_to_active_or_backoff()
    assert q.where("default/a") == "backoff"
    assert q.flush_backoff_completed() == 0
    clock.t += 0.5
    assert q.flush_backoff_completed() == 1
    assert popped_names(q) == ["a"]


def test_backoff_doubles_per_attempt_up_to_ten_seconds() -> None:
    q, _ = make_queue()
    assert [q.backoff_duration(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_an_event_during_the_attempt_sends_the_failed_pod_to_backoff_not_unschedulable() -> None:
    q, clock = make_queue()
    q.add(pod_info(name="a"))
    qp = q.pop_nowait()
    assert qp is not None
    q.move_all_to_active_or_backoff()  # a node arrived while "a" was being scheduled
    q.requeue_unschedulable(qp)
    assert q.where("default/a") == "backoff"
    clock.t += 1
    q.flush_backoff_completed()
    assert popped_names(q) == ["a"]


def test_unschedulable_pods_are_retried_after_the_leftover_timeout() -> None:
    q, clock = make_queue()
    q.add(pod_info(name="a"))
    qp = q.pop_nowait()
    assert qp is not None
    q.requeue_unschedulable(qp)
    clock.t += q.max_unschedulable - 1
    assert q.flush_unschedulable_leftover() == 0
    clock.t += 1
    assert q.flush_unschedulable_leftover() == 1
    assert popped_names(q) == ["a"]


def test_a_spec_change_moves_a_waiting_pod_back_to_active() -> None:
    q, _ = make_queue()
    q.add(pod_info(name="a"))
    qp = q.pop_nowait()
    assert qp is not None
    q.requeue_unschedulable(qp)
    q.add(pod_info(name="a", cpu="1"))
    assert q.where("default/a") == "active"


def test_a_status_refresh_does_not_move_a_waiting_pod() -> None:
    q, _ = make_queue()
    q.add(pod_info(name="a"))
    qp = q.pop_nowait()
    assert qp is not None
    q.requeue_unschedulable(qp)
    q.refresh(pod_info(name="a"))
    assert q.where("default/a") == "unschedulable"


def test_a_deleted_pod_leaves_every_queue_and_is_not_requeued() -> None:
    q, _ = make_queue()
    q.add(pod_info(name="a"))
    q.add(pod_info(name="b"))
    q.delete("default/a")
    qp = q.pop_nowait()
    assert qp is not None and qp.info.name == "b"
    q.delete("default/b")  # deleted while in flight
    q.requeue_unschedulable(qp)
    assert q.where("default/b") is None
    assert q.pop_nowait() is None


async def test_pop_waits_for_a_pod_and_close_wakes_it() -> None:
    q, _ = make_queue()
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add(pod_info(name="a"))
    qp = await asyncio.wait_for(waiter, 5)
    assert qp.info.name == "a"
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    q.close()
    with pytest.raises(QueueClosed):
        await asyncio.wait_for(waiter, 5)
