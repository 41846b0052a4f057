"""Watch and list semantics over raw HTTP: initial events, resume, 410, bookmarks, selectors, paging."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest

from kubelite.testing.server import KubeliteServer

CMS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(scope="module")
def server() -> Iterator[KubeliteServer]:
    srv = KubeliteServer(extra_args=["--bookmark-interval", "0.2", "--watch-cache-size", "50"]).start()
    try:
        yield srv
    finally:
        srv.cleanup()


async def events(http: aiohttp.ClientSession, path: str, until: int, headers: dict[str, str] | None = None,
                 ) -> list[dict[str, Any]]:
    """Read watch events until `until` arrived or the server ends the stream."""
    out: list[dict[str, Any]] = []
    async with http.get(path, headers=headers) as resp:
        assert resp.status == 200
        async with asyncio.timeout(30):
            async for line in resp.content:
                out.append(orjson.loads(line))
                if len(out) >= until:
                    break
    return out


async def create_cm(http: aiohttp.ClientSession, name: str, **labels: str) -> dict[str, Any]:
    async with http.post(CMS, json={"metadata": {"name": name, "labels": labels}}) as r:
        assert r.status == 201, await r.text()
        body: dict[str, Any] = await r.json()
        return body


async def patch_cm(http: aiohttp.ClientSession, name: str, patch: dict[str, Any]) -> dict[str, Any]:
    async with http.patch(f"{CMS}/{name}", data=orjson.dumps(patch),
                          headers={"Content-Type": "application/merge-patch+json"}) as r:
        assert r.status == 200, await r.text()
        body: dict[str, Any] = await r.json()
        return body


async def test_rv0_watch_sends_current_state_then_live_events(http: aiohttp.ClientSession) -> None:
    await create_cm(http, "initial-1", suite="rv0")
    task = asyncio.create_task(events(http, f"{CMS}?watch=true&resourceVersion=0&labelSelector=suite%3Drv0", 2))
    await asyncio.sleep(0.2)
    await create_cm(http, "initial-2", suite="rv0")
    got = await task
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [("ADDED", "initial-1"),
                                                                         ("ADDED", "initial-2")]
    assert all(e["object"]["kind"] == "ConfigMap" and e["object"]["apiVersion"] == "v1" for e in got)


async def test_resume_from_resource_version(http: aiohttp.ClientSession) -> None:
    first = await create_cm(http, "resume-1", suite="resume")
    await create_cm(http, "resume-2", suite="resume")
    await patch_cm(http, "resume-1", {"data": {"a": "b"}})
    rv = first["metadata"]["resourceVersion"]
    got = await events(http, f"{CMS}?watch=1&resourceVersion={rv}&labelSelector=suite%3Dresume", 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [("ADDED", "resume-2"),
                                                                         ("MODIFIED", "resume-1")]


async def test_too_old_resource_version_is_410_expired(http: aiohttp.ClientSession) -> None:
    first = await create_cm(http, "old-0", suite="old")
    for i in range(1, 60):  # more than the cache's 50-event history
        await patch_cm(http, "old-0", {"data": {"n": str(i)}})
    got = await events(http, f"{CMS}?watch=true&resourceVersion={first['metadata']['resourceVersion']}", 1)
    assert got[0]["type"] == "ERROR"
    assert got[0]["object"]["code"] == 410 and got[0]["object"]["reason"] == "Expired"


async def test_bookmarks_only_when_asked(http: aiohttp.ClientSession) -> None:
    cm = await create_cm(http, "bm", suite="bm")
    rv = cm["metadata"]["resourceVersion"]
    got = await events(http, f"{CMS}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true", 1)
    assert got[0]["type"] == "BOOKMARK"
    assert got[0]["object"]["kind"] == "ConfigMap" and int(got[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)
    plain = await events(http, f"{CMS}?watch=true&resourceVersion={rv}&timeoutSeconds=1", 100)
    assert plain == []


async def test_timeout_seconds_ends_the_stream(http: aiohttp.ClientSession) -> None:
    got = await events(http, f"{CMS}?watch=true&resourceVersion=0&labelSelector=suite%3Dnone&timeoutSeconds=1", 10)
    assert got == []


async def test_object_leaving_a_selector_is_deleted_for_that_watcher(http: aiohttp.ClientSession) -> None:
    cm = await create_cm(http, "sel", tier="a")
    path = f"{CMS}?watch=true&resourceVersion={cm['metadata']['resourceVersion']}&labelSelector=tier%3Da"
    task = asyncio.create_task(events(http, path, 2))
    await asyncio.sleep(0.2)
    await patch_cm(http, "sel", {"metadata": {"labels": {"tier": "b"}}})
    await patch_cm(http, "sel", {"metadata": {"labels": {"tier": "a"}}})
    got = await task
    assert [e["type"] for e in got] == ["DELETED", "ADDED"]
    assert got[0]["object"]["metadata"]["labels"] == {"tier": "b"}


async def test_field_selector_on_name_and_many_watchers(http: aiohttp.ClientSession) -> None:
    path = f"{CMS}?watch=true&fieldSelector=metadata.name%3Dfan&resourceVersion=0"
    tasks = [asyncio.create_task(events(http, path, 1)) for _ in range(50)]
    await asyncio.sleep(0.5)
    await create_cm(http, "other-name")
    await create_cm(http, "fan")
    results = await asyncio.gather(*tasks)
    assert all([(e["type"], e["object"]["metadata"]["name"]) for e in r] == [("ADDED", "fan")] for r in results)


async def test_table_watch_rows(http: aiohttp.ClientSession) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    task = asyncio.create_task(events(http, f"{CMS}?watch=true&fieldSelector=metadata.name%3Dtbl", 1,
                                      {"Accept": accept}))
    await asyncio.sleep(0.2)
    await create_cm(http, "tbl")
    got = await task
    obj = got[0]["object"]
    assert obj["kind"] == "Table" and obj["rows"][0]["cells"][0] == "tbl"
    assert obj["rows"][0]["object"]["metadata"]["name"] == "tbl"


async def test_limit_and_continue_pages_through_everything(http: aiohttp.ClientSession) -> None:
    for i in range(7):
        await create_cm(http, f"page-{i}", suite="page")
    names: list[str] = []
    token = ""
    pages = 0
    while True:
        url = f"{CMS}?limit=3&labelSelector=suite%3Dpage" + (f"&continue={token}" if token else "")
        async with http.get(url) as r:
            body = await r.json()
        pages += 1
        names += [o["metadata"]["name"] for o in body["items"]]
        token = body["metadata"].get("continue", "")
        if not token:
            break
    assert names == [f"page-{i}" for i in range(7)] and pages == 3
    async with http.get(f"{CMS}?resourceVersion=0&labelSelector=suite%3Dpage") as r:
        cached = await r.json()
    assert [o["metadata"]["name"] for o in cached["items"]] == names


async def test_core_and_events_k8s_io_events_are_the_same_objects(http: aiohttp.ClientSession) -> None:
    ev = {"metadata": {"name": "ev1"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
          "reason": "Started", "message": "hello", "type": "Normal", "count": 1}
    async with http.post("/api/v1/namespaces/default/events", json=ev) as r:
        assert r.status == 201, await r.text()
    async with http.get("/apis/events.k8s.io/v1/namespaces/default/events/ev1") as r:
        new = await r.json()
    assert new["apiVersion"] == "events.k8s.io/v1" and new["note"] == "hello"
    assert new["regarding"]["name"] == "p"
    async with http.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dp") as r:
        core = await r.json()
    assert [e["metadata"]["name"] for e in core["items"]] == ["ev1"]


async def test_legacy_watch_path_for_one_object(http: aiohttp.ClientSession) -> None:
    task = asyncio.create_task(events(http, "/api/v1/watch/namespaces/default/configmaps/legacy", 1))
    await asyncio.sleep(0.2)
    await create_cm(http, "not-legacy")
    await create_cm(http, "legacy")
    got = await task
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [("ADDED", "legacy")]
