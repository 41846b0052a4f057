"""Informer logic against the in-memory FakeApiClient: handlers, resume, re-list deltas."""

from __future__ import annotations

from typing import Any

from client.builders import pod
from client.waiting import eventually
from kubelite.api.resources import PODS
from kubelite.client.fake import FakeApiClient
from kubelite.client.informer import Informer, InformerFactory


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def add(self, obj: dict[str, Any]) -> None:
        self.events.append(("add", obj["metadata"]["name"]))

    def update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.events.append(("update", new["metadata"]["name"]))

    def delete(self, obj: dict[str, Any]) -> None:
        self.events.append(("delete", obj["metadata"]["name"]))

    def attach(self, inf: Informer) -> None:
        inf.add_handler(self.add, self.update, self.delete)


async def test_informer_lists_then_follows_changes() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("a"))
    inf = Informer(fake, PODS)
    rec = Recorder()
    rec.attach(inf)
    await inf.start()
    try:
        assert await inf.wait_synced(10)
        assert rec.events == [("add", "a")]
        assert inf.store.get("default/a")["kind"] == "Pod"  # type: ignore[index]
        await fake.create(PODS, pod("b"))
        await fake.patch(PODS, "a", {"metadata": {"labels": {"x": "1"}}}, "default")
        await fake.delete(PODS, "b", "default")
        await eventually(lambda: len(rec.events) == 4, what="three watch events")
        assert rec.events[1:] == [("add", "b"), ("update", "a"), ("delete", "b")]
        assert inf.store.keys() == ["default/a"]
        assert inf.store.get("default/a")["metadata"]["labels"] == {"x": "1"}  # type: ignore[index]
    finally:
        await inf.stop()


async def test_informer_resumes_from_its_last_version_when_the_stream_ends() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("a"))
    inf = Informer(fake, PODS)
    rec = Recorder()
    rec.attach(inf)
    await inf.start()
    try:
        assert await inf.wait_synced(10)
        fake.close_watches()
        await fake.create(PODS, pod("b"))  # happens while no stream is open
        await eventually(lambda: inf.store.get("default/b") is not None, what="b after resume")
        assert rec.events == [("add", "a"), ("add", "b")]  # no replays
        assert inf.list_count == 1
        watches = [a for a in fake.actions if a.verb == "watch"]
        assert len(watches) == 2 and watches[1].body["resourceVersion"] == watches[0].body["resourceVersion"]
    finally:
        await inf.stop()


async def test_informer_relists_after_410_and_reports_only_the_differences() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("gone"), pod("changed"), pod("same"))
    inf = Informer(fake, PODS)
    rec = Recorder()
    rec.attach(inf)
    await inf.start()
    try:
        assert await inf.wait_synced(10)
        rec.events.clear()
        # the stream breaks, things change, and the history is compacted before we come back
        fake.close_watches()
        await fake.delete(PODS, "gone", "default")
        await fake.patch(PODS, "changed", {"metadata": {"labels": {"v": "2"}}}, "default")
        await fake.create(PODS, pod("new"))
        fake.compact()
        await eventually(lambda: inf.list_count == 2 and len(rec.events) == 3, what="re-list deltas")
        assert sorted(rec.events) == [("add", "new"), ("delete", "gone"), ("update", "changed")]
        assert inf.store.keys() == ["default/changed", "default/new", "default/same"]
    finally:
        await inf.stop()


async def test_a_handler_added_after_sync_gets_the_cached_objects() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("a"), pod("b"))
    inf = Informer(fake, PODS)
    await inf.start()
    try:
        assert await inf.wait_synced(10)
        rec = Recorder()
        rec.attach(inf)
        assert rec.events == [("add", "a"), ("add", "b")]
    finally:
        await inf.stop()


async def test_a_failing_handler_does_not_stop_the_informer() -> None:
    fake = FakeApiClient()
    inf = Informer(fake, PODS)

    def boom(obj: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    inf.add_handler(on_add=boom)
    rec = Recorder()
    rec.attach(inf)
    await inf.start()
    try:
        assert await inf.wait_synced(10)
        await fake.create(PODS, pod("a"))
        await fake.create(PODS, pod("b"))
        await eventually(lambda: len(rec.events) == 2, what="both adds")
    finally:
        await inf.stop()


async def test_field_selected_informer_sees_only_matching_objects() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("mine", node="n1"), pod("theirs", node="n2"))
    inf = Informer(fake, PODS, field_selector="spec.nodeName=n1")
    await inf.start()
    try:
        assert await inf.wait_synced(10)
        assert inf.store.keys() == ["default/mine"]
    finally:
        await inf.stop()


async def test_factory_shares_informers_and_syncs_them_all() -> None:
    fake = FakeApiClient()
    fake.add(PODS, pod("a", "ns1"))
    factory = InformerFactory(fake)
    one = factory.informer(PODS)
    assert factory.informer(PODS) is one
    other = factory.informer(PODS, "ns1")
    assert other is not one
    await factory.start()
    try:
        assert await factory.wait_synced(10)
        assert one.has_synced and other.has_synced
        late = factory.informer(PODS, label_selector="x=y")  # created after start: starts at once
        assert await late.wait_synced(10)
    finally:
        await factory.stop()


async def test_wait_synced_times_out_when_the_server_never_answers() -> None:
    fake = FakeApiClient()

    def unreachable(action: object) -> None:
        from kubelite.client.rest import ApiError
        raise ApiError.make(0, "ConnectionError", "connection refused")

    fake.prepend_reactor("list", "pods", unreachable)
    inf = Informer(fake, PODS)
    await inf.start()
    try:
        assert await inf.wait_synced(0.3) is False
        assert not inf.has_synced
    finally:
        await inf.stop()


async def test_a_large_list_hands_the_event_loop_back_while_it_loads() -> None:
    """Loading 100,000 pods must not take a process's loop for seconds (a sim fleet's Lease
    renewals timed out that way): other tasks run between chunks of the list."""
    import asyncio

    from kubelite.client.informer import YIELD_EVERY

    fake = FakeApiClient()
    total = YIELD_EVERY * 6
    for i in range(total):
        fake.add(PODS, pod(f"p{i}"))
    inf = Informer(fake, PODS)
    seen: list[int] = []
    done = False

    async def other_work() -> None:
        while not done:
            seen.append(len(inf.store.keys()))
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    await inf.start()
    try:
        assert await inf.wait_synced(30)
        done = True
        await other
        assert len(inf.store.keys()) == total
        assert any(0 < n < total for n in seen)  # ran while the cache was half loaded
    finally:
        await inf.stop()


async def test_a_paged_list_whose_snapshot_expires_is_done_as_one_whole_list() -> None:
    """A list of 100,000 pods on a busy server can outlast the store's history: its continue token
    then answers 410. Starting over in pages fails the same way forever (a scale run's informers
    did); the informer lists everything at once instead, as client-go's pager does."""
    from kubelite.client.informer import LIST_PAGE_SIZE
    from kubelite.client.rest import ApiError

    class ExpiringPages(FakeApiClient):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[tuple[int | None, str | None]] = []

        async def list(self, res: Any, namespace: str | None = None, **kw: Any) -> dict[str, Any]:
            limit, token = kw.get("limit"), kw.get("continue_token")
            self.calls.append((limit, token))
            whole = await super().list(res, namespace, label_selector=kw.get("label_selector"),
                                       field_selector=kw.get("field_selector"))
            if not limit:
                return whole
            if token is not None:  # every continue token has expired by the time it is used
                raise ApiError.make(410, "Expired", "The provided continue parameter is too old")
            return {**whole, "items": whole["items"][:limit], "metadata": {**whole["metadata"], "continue": "c1"}}

    fake = ExpiringPages()
    total = LIST_PAGE_SIZE + 10
    for i in range(total):
        fake.add(PODS, pod(f"p{i}"))
    inf = Informer(fake, PODS)
    await inf.start()
    try:
        assert await inf.wait_synced(30)
        assert len(inf.store.keys()) == total
        assert fake.calls == [(LIST_PAGE_SIZE, None), (LIST_PAGE_SIZE, "c1"), (None, None)]
    finally:
        await inf.stop()
