"""LeaderElector on the fake client: one leader at a time, hand-over on release and on expiry."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from client.waiting import eventually
from kubelite.api.resources import LEASES
from kubelite.client.fake import FakeApiClient
from kubelite.client.leaderelection import LeaderElector

FAST = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.1}


def elector(fake: FakeApiClient, identity: str, **kw: object) -> LeaderElector:
    args = dict(FAST)
    args.update(kw)  # type: ignore[arg-type]
    return LeaderElector(fake, lease_name="lock", namespace="kube-system", identity=identity, **args)  # type: ignore[arg-type]


async def test_only_one_of_two_candidates_leads_and_the_other_takes_over_on_release() -> None:
    fake = FakeApiClient()
    leading: list[str] = []
    stopped: list[str] = []
    a, b = elector(fake, "a"), elector(fake, "b")

    def work(name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            leading.append(name)
            await asyncio.Event().wait()
        return run

    ta = asyncio.create_task(a.run(work("a"), lambda: stopped.append("a")))
    await eventually(lambda: leading == ["a"], what="a leads")
    tb = asyncio.create_task(b.run(work("b"), lambda: stopped.append("b")))
    await asyncio.sleep(0.5)
    assert leading == ["a"] and a.is_leader and not b.is_leader
    lease = fake.object(LEASES, "lock", "kube-system")
    assert lease is not None and lease["spec"]["holderIdentity"] == "a"
    ta.cancel()  # graceful stop: releases the lease
    with contextlib.suppress(asyncio.CancelledError):
        await ta
    assert stopped == ["a"]
    await eventually(lambda: leading == ["a", "b"], what="b takes over")
    lease = fake.object(LEASES, "lock", "kube-system")
    assert lease is not None and lease["spec"]["holderIdentity"] == "b"
    assert lease["spec"]["leaseTransitions"] >= 1
    tb.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tb


async def test_a_crashed_leaders_lease_is_taken_after_it_expires() -> None:
    fake = FakeApiClient()
    a = elector(fake, "a", release_on_cancel=False)
    started = asyncio.Event()

    async def lead() -> None:
        started.set()
        await asyncio.Event().wait()

    ta = asyncio.create_task(a.run(lead))
    await asyncio.wait_for(started.wait(), 10)
    ta.cancel()  # a "crash": no release
    with contextlib.suppress(asyncio.CancelledError):
        await ta
    b = elector(fake, "b")
    b_started = asyncio.Event()

    async def lead_b() -> None:
        b_started.set()
        await asyncio.Event().wait()

    tb = asyncio.create_task(b.run(lead_b))
    await asyncio.wait_for(b_started.wait(), 10)
    assert fake.object(LEASES, "lock", "kube-system")["spec"]["holderIdentity"] == "b"  # type: ignore[index]
    tb.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tb


async def test_leader_steps_down_when_it_cannot_renew() -> None:
    fake = FakeApiClient()
    a = elector(fake, "a")
    cancelled = asyncio.Event()

    async def lead() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.create_task(a.run(lead))
    await eventually(lambda: a.is_leader, what="a leads")

    def unreachable(action: object) -> None:
        from kubelite.client.rest import ApiError
        raise ApiError.make(0, "ConnectionError", "refused")

    fake.prepend_reactor("*", "leases", unreachable)
    await asyncio.wait_for(task, 10)  # run() returns after losing the lease
    assert cancelled.is_set() and not a.is_leader


def test_bad_timings_are_rejected() -> None:
    with pytest.raises(ValueError):
        LeaderElector(FakeApiClient(), lease_name="x", identity="a", lease_duration=5, renew_deadline=10)
