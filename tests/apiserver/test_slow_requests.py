"""The slow-request trace: a request slower than the threshold logs one warning line naming what it
was and where its time went (priority seat, body, store, handler, write); one that is still in
progress past the stuck limit is logged as stuck, naming the phase it waits in."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.api.resources import CONFIGMAPS
from kubelite.apiserver import ApiServer, ServerConfig
from kubelite.apiserver.priority import FlowControlConfig
from kubelite.client.rest import ApiClient, ApiError
from kubelite.storage import Store, open_store

THRESHOLD = 0.2
LOGGER = "kubelite.apiserver.http"


class GatedStore:
    """A store whose writes wait while the gate is closed: a datastore on a disk that stalls."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = 0

    async def _wait(self) -> None:
        self.waiting += 1
        try:
            await self.gate.wait()
        finally:
            self.waiting -= 1

    async def create(self, key: str, value: bytes) -> int:
        await self._wait()
        return await self.inner.create(key, value)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        await self._wait()
        return await self.inner.update(key, value, expected_revision)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def gated(tmp_path: Path) -> AsyncIterator[tuple[ApiServer, ApiClient, GatedStore]]:
    """An in-process API server over a gated store, one seat per priority level, a low threshold."""
    store = GatedStore(await open_store("memory://"))
    server = ApiServer(ServerConfig(data_dir=tmp_path, port=0, store=store,  # type: ignore[arg-type]
                                    flow_control=FlowControlConfig(1, 0), slow_request=THRESHOLD,
                                    stuck_request=0.6))
    await server.start()
    client = ApiClient.from_kubeconfig(str(server.local_kubeconfig), user_agent="slow-test/1.0")
    try:
        yield server, client, store
    finally:
        store.gate.set()
        await client.close()
        await server.stop()
        await store.inner.close()


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}}


def phases(line: str) -> dict[str, float]:
    """The seconds of each phase named in a trace line."""
    out = {name: float(v) for name, v in re.findall(r"(queued on its connection|priority seat|body|store|handler|"
                                                     r"write) ([0-9.]+)s", line)}
    out["total"] = float(re.search(r"\): ([0-9.]+)s:", line).group(1))  # type: ignore[union-attr]
    return out


def slow_lines(caplog: pytest.LogCaptureFixture, prefix: str = "slow request: ") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.getMessage().startswith(prefix)]


async def until(cond: Any, what: str) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_slow_store_and_full_priority_level_are_named(
        gated: tuple[ApiServer, ApiClient, GatedStore], caplog: pytest.LogCaptureFixture) -> None:
    server, client, store = gated
    caplog.set_level(logging.WARNING, logger=LOGGER)
    await client.create(CONFIGMAPS, configmap("held"), "default")
    assert slow_lines(caplog) == []  # a fast request logs nothing

    store.gate.clear()
    # the first write holds the workload level's only seat while its store call waits;
    # the second waits for that seat
    first = asyncio.create_task(client.patch(CONFIGMAPS, "held", {"data": {"b": "2"}}, "default"))
    await until(lambda: store.waiting == 1, "the PATCH reached the store")
    second = asyncio.create_task(client.get(CONFIGMAPS, "held", "default"))
    workload = server.flow_control.levels["workload-low"]
    await until(lambda: len(workload.queue) == 1, "the GET queued for a seat")
    await asyncio.sleep(THRESHOLD * 2)
    store.gate.set()
    assert (await first)["data"] == {"a": "1", "b": "2"}
    assert (await second)["metadata"]["name"] == "held"

    lines = slow_lines(caplog)
    patch = [line for line in lines if line.startswith("slow request: patch configmaps default/held ")]
    get = [line for line in lines if line.startswith("slow request: get configmaps default/held ")]
    assert len(patch) == 1 and len(get) == 1, lines
    assert "'slow-test/1.0'" in patch[0] and patch[0].endswith("; answered 200")
    p, g = phases(patch[0]), phases(get[0])
    assert p["store"] >= THRESHOLD * 2 and "in 1 call(s)" in patch[0]  # the write waited in the store
    assert p["priority seat"] < p["store"]
    assert g["priority seat"] >= THRESHOLD * 2  # the read waited for its seat, not in the store
    assert g["store"] < g["priority seat"]
    for ph in (p, g):
        assert abs(sum(v for k, v in ph.items() if k != "total") - ph["total"]) < 0.01  # every second named


async def test_a_request_whose_client_gave_up_is_stuck_then_slow(
        gated: tuple[ApiServer, ApiClient, GatedStore], caplog: pytest.LogCaptureFixture) -> None:
    server, client, store = gated
    caplog.set_level(logging.WARNING, logger=LOGGER)
    store.gate.clear()
    with pytest.raises(ApiError) as e:  # the client's time limit ends first, as the scale stall's did
        await client.request("POST", "/api/v1/namespaces/default/configmaps", body=configmap("late"),
                             request_timeout=THRESHOLD)
    assert "time limit" in str(e.value)
    await until(lambda: slow_lines(caplog, "stuck request"), "the stuck request was logged")
    stuck = slow_lines(caplog, "stuck request")
    assert len(stuck) == 1, stuck
    assert stuck[0].startswith("stuck request, still store: create configmaps in default ")
    assert stuck[0].endswith("in progress (its client has gone)")
    assert phases(stuck[0])["store"] >= 0.6 and "in 0 call(s)" in stuck[0]  # the call it waits in counts
    store.gate.set()
    await until(lambda: slow_lines(caplog), "the slow line at the end")
    (line,) = slow_lines(caplog)
    assert line.startswith("slow request: create configmaps in default ")
    assert "the client had gone: answer not sent" in line
    assert phases(line)["store"] >= 0.6


async def test_a_watch_is_long_by_design_and_never_logged(
        gated: tuple[ApiServer, ApiClient, GatedStore], caplog: pytest.LogCaptureFixture) -> None:
    server, client, store = gated
    caplog.set_level(logging.WARNING, logger=LOGGER)
    body = await client.request_raw("GET", "/api/v1/namespaces/default/configmaps",
                                    params={"watch": "1", "timeoutSeconds": "1"})  # 5x the threshold
    assert body == b""  # no configmap: the watch ended at its timeout with no event
    await asyncio.sleep(0.7)  # past the stuck limit too
    assert slow_lines(caplog) == [] and slow_lines(caplog, "stuck request") == []


async def test_a_request_whose_client_gave_up_in_the_priority_queue_is_never_run(
        gated: tuple[ApiServer, ApiClient, GatedStore], caplog: pytest.LogCaptureFixture) -> None:
    """The client's time limit ends while its create waits for a seat: the create is dropped from the
    queue (no seat taken from a live request) and never written (its client was told it failed)."""
    server, client, store = gated
    caplog.set_level(logging.WARNING, logger=LOGGER)
    store.gate.clear()
    holder = asyncio.create_task(client.create(CONFIGMAPS, configmap("holder"), "default"))
    await until(lambda: store.waiting == 1, "the first create holds the only workload seat")
    workload = server.flow_control.levels["workload-low"]
    with pytest.raises(ApiError) as e:
        await client.request("POST", "/api/v1/namespaces/default/configmaps", body=configmap("abandoned"),
                             request_timeout=THRESHOLD * 2)
    assert "time limit" in str(e.value)
    await until(lambda: not workload.queue, "the abandoned create left the queue")
    store.gate.set()
    await holder
    names = [cm["metadata"]["name"] for cm in (await client.list(CONFIGMAPS, "default"))["items"]]
    assert names == ["holder"]
    (line,) = [x for x in slow_lines(caplog) if "cancelled" in x]
    assert line.startswith("slow request: create configmaps in default ")
    assert line.endswith("cancelled: the client had gone") and phases(line)["priority seat"] >= THRESHOLD * 2
