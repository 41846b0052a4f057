"""A written object is encoded once: the store's bytes (resourceVersion spliced in) are also the
answer and the watch line, and the watch cache takes the writer's decoded object instead of
decoding the bytes again. A kubelet's status PATCH is merged beside the stored pod, sharing its
untouched parts. What clients see must be exactly what they saw before."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from kubelite.api.resources import CONFIGMAPS, EVENTS, PODS
from kubelite.apiserver import ApiServer
from kubelite.apiserver.watchcache import WatchCache
from kubelite.client.rest import ApiClient, ApiError
from kubelite.storage import EventType, StoreUnavailableError, open_store

POD_KEY = "/registry/pods/default/p"


def _cache(server: ApiServer) -> WatchCache:
    assert server.rest is not None
    cache = server.rest.cache_for(PODS)
    assert cache is not None
    return cache


async def _caught_up(server: ApiServer, rv: str) -> None:
    cache = _cache(server)
    for _ in range(300):
        if cache.revision >= int(rv):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the watch cache never reached {rv}")


async def _pod(client: ApiClient) -> dict[str, Any]:
    return await client.create(PODS, {"metadata": {"name": "p", "labels": {"app": "a"}},
                                      "spec": {"containers": [{"name": "c", "image": "x"}]}}, "default")


async def test_the_answer_to_each_write_is_the_object_get_and_watch_then_show(
        in_process_api: tuple[ApiServer, ApiClient]) -> None:
    server, client = in_process_api
    lines: list[tuple[str, dict[str, Any]]] = []

    async def watch() -> None:
        async for ev in client.watch(PODS, "default", resource_version="1"):
            lines.append((ev.type, ev.object))

    watching = asyncio.create_task(watch())
    try:
        answers = [await _pod(client)]
        answers.append(await client.patch(PODS, "p", {"status": {"phase": "Running", "podIP": "10.42.0.9"}},
                                          "default", subresource="status"))
        answers.append(await client.patch(PODS, "p", {"metadata": {"labels": {"b": "2"}}}, "default"))
        current = await client.get(PODS, "p", "default")
        assert current == answers[-1]
        for _ in range(300):
            if len(lines) >= len(answers):
                break
            await asyncio.sleep(0.01)
        assert [obj for _, obj in lines] == answers
        assert [type_ for type_, _ in lines] == ["ADDED", "MODIFIED", "MODIFIED"]
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    assert answers[1]["status"]["podIP"] == "10.42.0.9" and answers[1]["spec"] == answers[0]["spec"]
    assert answers[2]["metadata"]["labels"] == {"app": "a", "b": "2"}
    # the cache's facts are those of the written objects (here: the labels a selector matches)
    assert _cache(server).objects[POD_KEY].labels == {"app": "a", "b": "2"}


async def test_a_status_patch_changes_the_status_only_and_the_stored_pod_stays_as_it_was(
        in_process_api: tuple[ApiServer, ApiClient]) -> None:
    server, client = in_process_api
    created = await _pod(client)
    await _caught_up(server, created["metadata"]["resourceVersion"])
    out = await client.patch(PODS, "p", {"metadata": {"labels": {"x": "y"}}, "spec": {"nodeName": "n9"},
                                         "status": {"phase": "Running", "conditions": [{"type": "Ready",
                                                                                        "status": "True"}]}},
                             "default", subresource="status")
    assert out["metadata"]["labels"] == {"app": "a"} and out["spec"] == created["spec"]
    assert out["status"] == {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    # the version it started from (the cache's entry, the bytes of the first write) is unchanged
    assert server.store is not None
    stored = await server.store.list("/registry/pods/default/")
    assert [orjson.loads(kv.value)["status"]["phase"] for kv in stored.items] == ["Running"]
    # a status patch on a cache that is behind the store retries on the stored pod with the same patch
    entry = _cache(server).objects[POD_KEY]
    await client.patch(PODS, "p", {"status": {"podIP": "10.42.0.7"}}, "default", subresource="status")
    _cache(server).objects[POD_KEY] = entry
    again = await client.patch(PODS, "p", {"status": {"hostIP": "10.0.0.1", "phase": "Succeeded"}}, "default",
                               subresource="status")
    assert again["status"] == {"phase": "Succeeded", "podIP": "10.42.0.7", "hostIP": "10.0.0.1",
                               "conditions": [{"type": "Ready", "status": "True"}]}
    assert await client.get(PODS, "p", "default") == again


async def test_converted_answers_are_encoded_for_their_version(in_process_api: tuple[ApiServer, ApiClient]) -> None:
    """events.k8s.io Events are stored as core Events: their answer is not the stored bytes."""
    _, client = in_process_api
    from kubelite.api.resources import lookup
    new_events = lookup("events.k8s.io", "v1", "events")
    assert new_events is not None
    out = await client.create(new_events, {"metadata": {"name": "e1"}, "regarding": {"kind": "Pod", "name": "p"},
                                           "reason": "Started", "note": "hi", "type": "Normal",
                                           "eventTime": "2026-01-01T00:00:00.000000Z",
                                           "reportingController": "me", "reportingInstance": "me-1",
                                           "action": "Start"}, "default")
    assert out["apiVersion"] == "events.k8s.io/v1" and out["note"] == "hi" and "message" not in out
    core = await client.get(EVENTS, "e1", "default")
    assert core["message"] == "hi" and core["metadata"]["resourceVersion"] == out["metadata"]["resourceVersion"]


async def test_a_configmap_put_answers_what_get_returns(in_process_api: tuple[ApiServer, ApiClient]) -> None:
    _, client = in_process_api
    cm = await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {"a": "1"}}, "default")
    cm["data"]["b"] = "2"
    put = await client.replace(CONFIGMAPS, cm, "default")
    assert put == await client.get(CONFIGMAPS, "cm", "default")
    assert int(put["metadata"]["resourceVersion"]) > int(cm["metadata"]["resourceVersion"])


async def test_the_cache_uses_the_writers_object_only_for_the_bytes_it_was_told_about() -> None:
    store = await open_store("memory://")
    cache = WatchCache(store, "/registry/pods/")
    await cache.start()
    try:
        value = orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"from": "bytes"}}})
        told = {"metadata": {"name": "p", "labels": {"from": "writer"}}}
        cache.expect(POD_KEY, value, told)
        cache._apply(EventType.PUT, POD_KEY, value, 10)
        assert cache.objects[POD_KEY].labels == {"from": "writer"}
        # equal bytes in another object (etcd's events carry copies): still the writer's object
        cache.expect(POD_KEY, value, told)
        cache._apply(EventType.PUT, POD_KEY, bytes(bytearray(value)), 11)
        assert cache.objects[POD_KEY].labels == {"from": "writer"}
        # other bytes (another writer won): decoded
        cache.expect(POD_KEY, value, told)
        cache._apply(EventType.PUT, POD_KEY, value.replace(b"bytes", b"other"), 12)
        assert cache.objects[POD_KEY].labels == {"from": "other"}
        assert not cache._expected  # (each event takes its key's expectation away)
        # expectations of writes that never land do not pile up
        from kubelite.apiserver import watchcache
        for i in range(watchcache._MAX_EXPECTED + 5):
            cache.expect(f"/registry/pods/default/x{i}", value, told)
        assert len(cache._expected) <= watchcache._MAX_EXPECTED
    finally:
        await cache.stop()
        await store.close()


async def test_a_write_without_a_query_string_still_rejects_unknown_fields(in_process_api: tuple[ApiServer, ApiClient]) -> None:
    """fieldValidation=Strict is the default: the options of a write with no query string are
    the defaults, not nothing."""
    from kubelite.client.rest import ApiError
    _, client = in_process_api
    with pytest.raises(ApiError) as bad:
        await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {}, "bogus": 1}, "default")
    assert bad.value.code == 400 and 'unknown field "bogus"' in str(bad.value)
    await _pod(client)
    with pytest.raises(ApiError) as bad_status:
        await client.patch(PODS, "p", {"status": {"phase": "Running", "bogus": 1}}, "default", subresource="status")
    assert bad_status.value.code == 400 and 'unknown field "status.bogus"' in str(bad_status.value)


async def test_an_unavailable_datastore_is_a_500_and_one_log_line(
        in_process_api: tuple[ApiServer, ApiClient], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """etcd past its deadline (or a dying disk) is the datastore's trouble, not a bug of the server: the
    client gets a 500 Status naming it, the log one warning line, no traceback."""
    server, client = in_process_api
    assert server.store is not None

    async def unavailable(key: str, value: bytes) -> int:
        raise StoreUnavailableError("etcd /registry/configmaps/default/x: DEADLINE_EXCEEDED: Deadline Exceeded")
    monkeypatch.setattr(server.store.inner, "create", unavailable)  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="kubelite.apiserver.server"):
        with pytest.raises(ApiError) as err:
            await client.create(CONFIGMAPS, {"metadata": {"name": "x"}, "data": {}}, "default")
    assert err.value.code == 500 and "DEADLINE_EXCEEDED" in err.value.message
    lines = [r for r in caplog.records if r.name == "kubelite.apiserver.server"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING and lines[0].exc_info is None
    assert "datastore unavailable serving POST /api/v1/namespaces/default/configmaps" in lines[0].getMessage()
