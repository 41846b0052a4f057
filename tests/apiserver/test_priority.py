"""API priority and fairness: a flood of workload requests queues and gets 429, node heartbeats
(Leases in kube-node-lease) and watches go through, FIFO order within a level."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest

from kubelite.api.resources import CONFIGMAPS as CONFIGMAPS_RES
from kubelite.apiserver.errors import ApiError
from kubelite.apiserver.priority import (
    LEADER_ELECTION,
    NODE_HIGH,
    WORKLOAD,
    FlowControl,
    FlowControlConfig,
    Level,
    classify,
)
from kubelite.client.rest import ApiClient
from kubelite.testing.server import KubeliteServer

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
NODE_LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
JSON = {"Content-Type": "application/json"}


# -- classification -------------------------------------------------------------------------------

@pytest.mark.parametrize(("plural", "ns", "name", "sub", "verb", "want"), [
    ("leases", "kube-node-lease", "n1", None, "update", NODE_HIGH),
    ("leases", "kube-node-lease", None, None, "create", NODE_HIGH),
    ("leases", "kube-system", "kube-scheduler", None, "update", LEADER_ELECTION),
    ("leases", "default", "mine", None, "update", WORKLOAD),
    ("nodes", None, "n1", "status", "patch", NODE_HIGH),
    ("nodes", None, "n1", None, "get", NODE_HIGH),
    ("nodes", None, None, None, "list", WORKLOAD),
    ("pods", "default", None, None, "create", WORKLOAD),
    ("pods", "default", "p", "status", "patch", WORKLOAD),
    ("events", "default", None, None, "create", WORKLOAD),
    ("pods", None, None, None, "watch", None),
    ("leases", "kube-node-lease", None, None, "watch", None),
    ("pods", "default", "p", "log", "get", None),
    ("pods", "default", "p", "exec", "create", None),
    ("pods", "default", "p", "attach", "create", None),
    ("pods", "default", "p", "portforward", "create", None),
    ("nodes", None, "n1", "proxy", "get", None),
])
def test_classify(plural: str, ns: str | None, name: str | None, sub: str | None, verb: str,
                  want: str | None) -> None:
    assert classify(plural, ns, name, sub, verb) == want


def test_default_limits_share_kubernetes_total_by_shares() -> None:
    fc = FlowControl()
    limits = {n: lv.limit for n, lv in fc.levels.items()}
    assert sum(limits.values()) >= 600
    assert limits[WORKLOAD] > limits[NODE_HIGH] > limits[LEADER_ELECTION] >= 1
    assert fc.level("pods", "default", None, None, "create") is fc.levels[WORKLOAD]


def test_zero_turns_flow_control_off_and_bad_config_is_refused() -> None:
    fc = FlowControl(FlowControlConfig(0, 0))
    assert fc.level("pods", "default", None, None, "create") is None
    with pytest.raises(ValueError, match="in flight"):
        FlowControlConfig(-1, 0)
    with pytest.raises(ValueError, match="queue wait"):
        FlowControlConfig(queue_wait=0)


async def test_a_queued_request_times_out_with_429_and_frees_its_place() -> None:
    lv = Level("workload-low", 1, 5, 0.05)
    await lv.acquire()
    with pytest.raises(ApiError) as e:
        await lv.acquire()
    assert e.value.code == 429 and "timed out" in e.value.message
    assert lv.rejected["time-out"] == 1 and not lv.queue
    lv.release()
    await lv.acquire()  # the seat is free again
    assert lv.executing == 1


async def test_a_cancelled_waiter_neither_leaks_a_seat_nor_blocks_the_queue() -> None:
    lv = Level("workload-low", 1, 5, 60)
    await lv.acquire()
    gone = asyncio.create_task(lv.acquire())
    nxt = asyncio.create_task(lv.acquire())
    await asyncio.sleep(0)
    assert len(lv.queue) == 2
    gone.cancel()
    lv.release()  # hands the seat past the cancelled waiter to the next one
    await nxt
    assert lv.executing == 1 and not lv.queue
    lv.release()
    assert lv.executing == 0


async def test_the_queue_is_bounded() -> None:
    lv = Level("workload-low", 1, 1, 60)
    await lv.acquire()
    waiter = asyncio.create_task(lv.acquire())
    await asyncio.sleep(0)
    with pytest.raises(ApiError) as e:
        await lv.acquire()
    assert e.value.code == 429 and e.value.reason == "TooManyRequests"
    assert lv.rejected["queue-full"] == 1
    lv.release()
    await waiter
    lv.release()


# -- a real server with a tiny limit ------------------------------------------------------------------

@pytest.fixture(scope="module")
def server() -> Iterator[KubeliteServer]:
    # one seat per level, three queued workload requests at most
    srv = KubeliteServer(extra_args=["--max-requests-inflight", "1", "--max-mutating-requests-inflight", "0",
                                     "--flowcontrol-queue-length", "3", "--flowcontrol-queue-wait", "120s"]).start()
    try:
        yield srv
    finally:
        srv.cleanup()


async def flowcontrol(http: aiohttp.ClientSession, metric: str, level: str, reason: str | None = None) -> float:
    async with http.get("/metrics") as r:
        text = await r.text()
    labels = f'priority_level="{level}"' + (f',reason="{reason}"' if reason else "")
    m = re.search(rf"^apiserver_flowcontrol_{metric}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    assert m is not None, f"{metric}{{{labels}}} missing from /metrics"
    return float(m.group(1))


async def until(http: aiohttp.ClientSession, metric: str, level: str, want: float) -> None:
    """Poll /metrics until a level's gauge reads `want` (the server gives no event for it)."""
    async with asyncio.timeout(30):
        while True:
            if await flowcontrol(http, metric, level) == want:
                return
            await asyncio.sleep(0.02)


async def send(http: aiohttp.ClientSession, method: str, path: str, body: Any = None
               ) -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
    data = orjson.dumps(body) if body is not None else None
    async with http.request(method, path, data=data, headers=JSON) as r:
        return r.status, orjson.loads(await r.read()), r.headers


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def lease(name: str, holder: str) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 40}}


@dataclass
class FullWorkloadLevel:
    """The workload level's one seat held by a create whose body is held back, and its queue full."""
    queued: list[asyncio.Task[tuple[int, dict[str, Any], Any]]]
    #: sends the rest of the held body; returns the held create's response head
    release: Callable[[], Awaitable[bytes]]


@contextlib.asynccontextmanager
async def workload_level_full(server: KubeliteServer, http: aiohttp.ClientSession,
                              prefix: str) -> AsyncIterator[FullWorkloadLevel]:
    body = orjson.dumps(configmap(f"{prefix}-holder"))
    host, port = server.url.removeprefix("https://").rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(server.ca_cert))
    reader, writer = await asyncio.open_connection(host, int(port), ssl=ctx)
    try:
        writer.write((f"POST {CONFIGMAPS} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {server.token}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                     + body[:10])
        await writer.drain()
        await until(http, "current_executing_requests", WORKLOAD, 1)

        # Three more workload writes wait in the queue, in order; the queue is then full.
        queued = []
        for i in range(3):
            queued.append(asyncio.create_task(send(http, "POST", CONFIGMAPS, configmap(f"{prefix}-{i}"))))
            await until(http, "current_inqueue_requests", WORKLOAD, i + 1)

        async def release() -> bytes:
            writer.write(body[10:])
            await writer.drain()
            return await reader.readuntil(b"\r\n\r\n")

        yield FullWorkloadLevel(queued, release)
    finally:
        writer.close()


async def test_workload_flood_queues_and_gets_429_while_node_leases_and_watches_go_through(
        server: KubeliteServer, http: aiohttp.ClientSession) -> None:
    # The workload level's one seat is held by a create whose body arrives slowly; three writes queue.
    async with workload_level_full(server, http, "q") as full:
        # The next workload request (a write or a LIST) is refused at once with a proper Status.
        code, status, headers = await send(http, "POST", CONFIGMAPS, configmap("rejected"))
        assert code == 429
        assert headers["Retry-After"] == "1"
        assert status["kind"] == "Status" and status["reason"] == "TooManyRequests" and status["code"] == 429
        assert status["details"]["retryAfterSeconds"] == 1
        code, _, _ = await send(http, "GET", CONFIGMAPS)
        assert code == 429
        assert await flowcontrol(http, "rejected_requests_total", WORKLOAD, "queue-full") == 2

        # A node's heartbeat is another level: its Lease is created and renewed meanwhile.
        code, created, _ = await send(http, "POST", NODE_LEASES, lease("node-1", "node-1"))
        assert code == 201, created
        created["spec"]["renewTime"] = "2026-01-01T00:00:00.000000Z"
        code, renewed, _ = await send(http, "PUT", f"{NODE_LEASES}/node-1", created)
        assert code == 200, renewed
        # so are a control-plane Lease and a node's status, and a watch is not limited at all
        code, _, _ = await send(http, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
                                lease("kube-scheduler", "me"))
        assert code == 201
        async with http.get(f"{CONFIGMAPS}?watch=true") as w:
            assert w.status == 200
        assert not any(t.done() for t in full.queued)

        # The held request completes; the queued ones then run one at a time, first in first out.
        head = await full.release()
        assert head.startswith(b"HTTP/1.1 201"), head
        results = await asyncio.gather(*full.queued)
    assert [c for c, _, _ in results] == [201, 201, 201]
    revisions = [int(obj["metadata"]["resourceVersion"]) for _, obj, _ in results]
    assert revisions == sorted(revisions)
    assert int(renewed["metadata"]["resourceVersion"]) < revisions[0]
    assert await flowcontrol(http, "current_inqueue_requests", WORKLOAD) == 0
    assert await flowcontrol(http, "current_executing_requests", WORKLOAD) == 0
    assert await flowcontrol(http, "dispatched_requests_total", NODE_HIGH) >= 2


async def test_kubelites_own_client_waits_out_a_429_and_its_write_lands(
        server: KubeliteServer, http: aiohttp.ClientSession) -> None:
    """Controllers and kubelets must not fail a write because the server asked them to come back later."""
    rejected_before = await flowcontrol(http, "rejected_requests_total", WORKLOAD, "queue-full")
    async with ApiClient(server.url, token=server.token, ca_file=str(server.ca_cert)) as client, \
            workload_level_full(server, http, "r") as full:
        # the queue is full: kubelite's client is refused, and retries after Retry-After
        write = asyncio.create_task(client.create(CONFIGMAPS_RES, configmap("patient"), "default"))
        async with asyncio.timeout(30):
            while True:
                if await flowcontrol(http, "rejected_requests_total", WORKLOAD, "queue-full") > rejected_before:
                    break
                await asyncio.sleep(0.02)
        assert not write.done()
        await full.release()  # the server frees up
        await asyncio.gather(*full.queued)
        created = await write
    assert created["metadata"]["name"] == "patient"
    status, got, _ = await send(http, "GET", f"{CONFIGMAPS}/patient")
    assert status == 200 and got["data"] == {"k": "v"}
