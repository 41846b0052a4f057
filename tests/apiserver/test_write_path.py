"""The hot paths of a busy cluster, as a kubelet and the scheduler use them.

Per-node pod watches (`fieldSelector=spec.nodeName=X`, indexed by node in the watch cache),
a kubelet's LIST of its node's pods (served from the watch cache), pods/status merge PATCHes
(applied without copying the whole pod), strategic merge of Node conditions, Lease renewals
by PUT, and Event watches through both Event APIs.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import orjson

from kubelite.testing.server import KubeliteServer

PODS = "/api/v1/namespaces/default/pods"
MERGE = {"Content-Type": "application/merge-patch+json"}


def pod(name: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    if node is not None:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


async def call(http: aiohttp.ClientSession, method: str, path: str, body: Any = None, want: int = 200,
               headers: dict[str, str] | None = None) -> dict[str, Any]:
    data = orjson.dumps(body) if body is not None else None
    async with http.request(method, path, data=data,
                            headers=headers or {"Content-Type": "application/json"}) as r:
        text = await r.read()
        assert r.status == want, text
        out: dict[str, Any] = orjson.loads(text)
        return out


async def watch(http: aiohttp.ClientSession, query: str, until: int) -> list[tuple[str, str]]:
    """(type, pod name) of the first `until` events of a pod watch."""
    out: list[tuple[str, str]] = []
    async with http.get(f"/api/v1/pods?watch=true&{query}") as resp:
        assert resp.status == 200
        async with asyncio.timeout(30):
            async for line in resp.content:
                ev = orjson.loads(line)
                out.append((ev["type"], ev["object"]["metadata"]["name"]))
                if len(out) >= until:
                    break
    return out


async def test_each_node_watch_sees_only_its_own_pods(http: aiohttp.ClientSession) -> None:
    rv = (await call(http, "GET", PODS))["metadata"]["resourceVersion"]
    sel = "resourceVersion=" + rv + "&fieldSelector=spec.nodeName%3D"
    # the last event each watcher expects is on its own node (or, for "all", the final delete)
    watches = {
        "a": asyncio.create_task(watch(http, sel + "nw-node-a", 1)),
        "b": asyncio.create_task(watch(http, sel + "nw-node-b", 3)),
        "b2": asyncio.create_task(watch(http, sel + "nw-node-b%2Cstatus.phase%3DRunning", 2)),
        "unscheduled": asyncio.create_task(watch(http, sel + "%2Cmetadata.namespace%3Ddefault", 2)),
        "all": asyncio.create_task(watch(http, "resourceVersion=" + rv + "&labelSelector=", 5)),
    }
    await asyncio.sleep(0.3)  # (the result is the same if a watch starts later: it replays from rv)

    await call(http, "POST", PODS, pod("nw-1"), 201)
    await call(http, "POST", f"{PODS}/nw-1/binding",
               {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "nw-1"},
                "target": {"apiVersion": "v1", "kind": "Node", "name": "nw-node-a"}}, 201)
    await call(http, "POST", PODS, pod("nw-2", "nw-node-b"), 201)
    await call(http, "PATCH", f"{PODS}/nw-2/status", {"status": {"phase": "Running"}}, headers=MERGE)
    await call(http, "DELETE", f"{PODS}/nw-2?gracePeriodSeconds=0")

    got = {k: await t for k, t in watches.items()}
    assert got["a"] == [("ADDED", "nw-1")]
    assert got["b"] == [("ADDED", "nw-2"), ("MODIFIED", "nw-2"), ("DELETED", "nw-2")]
    # a pod that starts matching is ADDED, one that stops matching DELETED
    assert got["b2"] == [("ADDED", "nw-2"), ("DELETED", "nw-2")]
    assert got["unscheduled"] == [("ADDED", "nw-1"), ("DELETED", "nw-1")]
    assert got["all"] == [("ADDED", "nw-1"), ("MODIFIED", "nw-1"), ("ADDED", "nw-2"), ("MODIFIED", "nw-2"),
                          ("DELETED", "nw-2")]


async def test_a_node_watch_from_now_starts_with_that_nodes_pods(http: aiohttp.ClientSession) -> None:
    for name, node in (("ni-1", "ni-node-a"), ("ni-2", "ni-node-b"), ("ni-3", "ni-node-a")):
        await call(http, "POST", PODS, pod(name, node), 201)
    for rv in ("0", ""):
        got = await watch(http, f"resourceVersion={rv}&fieldSelector=spec.nodeName%3Dni-node-a", 2)
        assert got == [("ADDED", "ni-1"), ("ADDED", "ni-3")]
    # the watch goes on live: a new pod on the node arrives, one on another node does not
    task = asyncio.create_task(watch(http, "resourceVersion=0&fieldSelector=spec.nodeName%3Dni-node-a", 3))
    await asyncio.sleep(0.3)
    await call(http, "POST", PODS, pod("ni-4", "ni-node-b"), 201)
    await call(http, "POST", PODS, pod("ni-5", "ni-node-a"), 201)
    assert await task == [("ADDED", "ni-1"), ("ADDED", "ni-3"), ("ADDED", "ni-5")]


async def test_a_kubelets_list_of_its_pods(http: aiohttp.ClientSession) -> None:
    for i in range(3):
        await call(http, "POST", PODS, pod(f"kl-{i}", "kl-node"), 201)
    await call(http, "POST", PODS, pod("kl-other", "kl-node-2"), 201)
    path = "/api/v1/pods?fieldSelector=spec.nodeName%3Dkl-node"
    listed = await call(http, "GET", path)
    assert [p["metadata"]["name"] for p in listed["items"]] == ["kl-0", "kl-1", "kl-2"]
    assert listed["kind"] == "PodList" and int(listed["metadata"]["resourceVersion"]) > 0
    assert all(p["metadata"]["resourceVersion"] for p in listed["items"])
    # read-your-writes: a pod just created is in the next list
    await call(http, "POST", PODS, pod("kl-3", "kl-node"), 201)
    names = [p["metadata"]["name"] for p in (await call(http, "GET", path))["items"]]
    assert names == ["kl-0", "kl-1", "kl-2", "kl-3"]
    # paging still works (limit smaller than the node's pods)
    first = await call(http, "GET", path + "&limit=3")
    assert len(first["items"]) == 3 and first["metadata"]["continue"]
    rest = await call(http, "GET", path + "&limit=3&continue=" + first["metadata"]["continue"])
    assert [p["metadata"]["name"] for p in first["items"] + rest["items"]] == names
    # a watch from the list's revision sees what came after it
    rv = listed["metadata"]["resourceVersion"]
    assert await watch(http, f"resourceVersion={rv}&fieldSelector=spec.nodeName%3Dkl-node", 1) == [
        ("ADDED", "kl-3")]
    # other selectors combine with the node
    one = await call(http, "GET", "/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Dkl-node%2C"
                                  "metadata.name%3Dkl-1")
    assert [p["metadata"]["name"] for p in one["items"]] == ["kl-1"]


async def test_status_merge_patch_changes_only_what_it_names(http: aiohttp.ClientSession) -> None:
    created = await call(http, "POST", PODS, pod("sp-1", "sp-node"), 201)
    status = {"phase": "Running", "podIP": "10.42.0.9", "hostIP": "172.16.0.1",
              "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None,
                              "lastTransitionTime": "2026-01-01T00:00:00Z"}],
              "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0,
                                     "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}
    body = orjson.dumps({"status": status})
    patched = await call(http, "PATCH", f"{PODS}/sp-1/status", orjson.loads(body), headers=MERGE)
    assert patched["status"]["phase"] == "Running" and patched["status"]["podIP"] == "10.42.0.9"
    assert patched["status"]["conditions"] == status["conditions"]
    assert patched["spec"] == created["spec"]
    assert patched["metadata"]["generation"] == created["metadata"]["generation"]
    # null deletes, a list is replaced whole, a nested map merges
    patched = await call(http, "PATCH", f"{PODS}/sp-1/status", {"status": {
        "podIP": None, "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "c", "ready": False, "restartCount": 1,
                               "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}, headers=MERGE)
    assert "podIP" not in patched["status"]
    assert patched["status"]["conditions"] == [{"type": "Ready", "status": "False"}]
    assert patched["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "CrashLoopBackOff"}}
    assert patched["status"]["hostIP"] == "172.16.0.1"
    got = await call(http, "GET", f"{PODS}/sp-1")
    assert got["status"] == patched["status"] and got["spec"] == created["spec"]
    # a patch that changes nothing writes nothing
    again = await call(http, "PATCH", f"{PODS}/sp-1/status", {"status": {"hostIP": "172.16.0.1"}},
                       headers=MERGE)
    assert again["metadata"]["resourceVersion"] == got["metadata"]["resourceVersion"]
    # a status patch cannot change the spec
    spec_try = await call(http, "PATCH", f"{PODS}/sp-1/status", {"spec": {"nodeName": "elsewhere"}},
                          headers=MERGE)
    assert spec_try["spec"]["nodeName"] == "sp-node"


async def test_node_conditions_merge_by_type(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", "/api/v1/nodes", {"metadata": {"name": "smp-node"}}, 201)
    smp = {"Content-Type": "application/strategic-merge-patch+json"}
    conds = [{"type": t, "status": "False", "reason": "ok"} for t in ("MemoryPressure", "DiskPressure")]
    await call(http, "PATCH", "/api/v1/nodes/smp-node/status", {"status": {"conditions": conds}}, headers=smp)
    out = await call(http, "PATCH", "/api/v1/nodes/smp-node/status", {"status": {"conditions": [
        {"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "True"}]}}, headers=smp)
    got = {c["type"]: c["status"] for c in out["status"]["conditions"]}
    assert got == {"MemoryPressure": "False", "DiskPressure": "True", "Ready": "True"}


async def test_lease_renewal_by_put(http: aiohttp.ClientSession) -> None:
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    lease = await call(http, "POST", path, {"metadata": {"name": "lr-node"}, "spec": {
        "holderIdentity": "lr-node", "leaseDurationSeconds": 40,
        "renewTime": "2026-01-01T00:00:00.000000Z"}}, 201)
    for i in range(1, 4):
        lease["spec"]["renewTime"] = f"2026-01-01T00:00:0{i}.000000Z"
        renewed = await call(http, "PUT", f"{path}/lr-node", lease)
        assert int(renewed["metadata"]["resourceVersion"]) > int(lease["metadata"]["resourceVersion"])
        assert renewed["spec"]["renewTime"] == lease["spec"]["renewTime"]
        lease = renewed
    # a renewal from a stale copy is a conflict, as for the real kubelet
    lease["metadata"]["resourceVersion"] = "1"
    await call(http, "PUT", f"{path}/lr-node", lease, 409)


async def test_event_watches_through_both_event_apis(http: aiohttp.ClientSession) -> None:
    core = "/api/v1/namespaces/default/events"
    rv = (await call(http, "GET", core))["metadata"]["resourceVersion"]

    async def first(path: str) -> dict[str, Any]:
        async with http.get(path) as resp:
            assert resp.status == 200
            async with asyncio.timeout(30):
                async for line in resp.content:
                    return dict(orjson.loads(line))
        raise AssertionError("no event")
    a = asyncio.create_task(first(f"{core}?watch=true&resourceVersion={rv}"
                                  "&fieldSelector=involvedObject.name%3Dev-pod"))
    b = asyncio.create_task(first(f"/apis/events.k8s.io/v1/namespaces/default/events?watch=true"
                                  f"&resourceVersion={rv}&fieldSelector=regarding.name%3Dev-pod"))
    await asyncio.sleep(0.3)
    await call(http, "POST", core, {"metadata": {"name": "ev-pod.1"}, "reason": "Started", "type": "Normal",
                                    "message": "Started container c",
                                    "involvedObject": {"kind": "Pod", "name": "ev-pod", "namespace": "default"}},
               201)
    got_core, got_new = await a, await b
    assert got_core["object"]["involvedObject"]["name"] == "ev-pod"
    assert got_new["object"]["regarding"]["name"] == "ev-pod" and got_new["object"]["note"] == "Started container c"


async def test_status_writes_still_check_what_node_validation_reads(http: aiohttp.ClientSession) -> None:
    """Pod status writes skip spec validation (it cannot have changed); a Node's status is
    validated (its capacity quantities), so a bad one is still a 422."""
    await call(http, "POST", "/api/v1/nodes", {"metadata": {"name": "sv-node"}}, 201)
    bad = await call(http, "PATCH", "/api/v1/nodes/sv-node/status",
                     {"status": {"capacity": {"cpu": "lots"}}}, 422, headers=MERGE)
    assert any(c.get("field") == "status.capacity[cpu]" for c in bad["details"]["causes"]), bad
    ok = await call(http, "PATCH", "/api/v1/nodes/sv-node/status",
                    {"status": {"capacity": {"cpu": "4", "pods": "110"}}}, headers=MERGE)
    assert ok["status"]["allocatable"] == {"cpu": "4", "pods": "110"}  # defaulted from capacity
    created = await call(http, "POST", PODS, pod("sv-pod"), 201)
    patched = await call(http, "PATCH", f"{PODS}/sv-pod/status", {"status": {"phase": "Running"}},
                         headers=MERGE)
    assert patched["status"]["phase"] == "Running" and patched["spec"] == created["spec"]
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


async def test_expect_100_continue(server: KubeliteServer) -> None:
    """curl sends `Expect: 100-continue` before a body over 1 KiB: the server answers
    `100 Continue`, then reads the body and creates the object."""
    ctx = ssl.create_default_context(cafile=str(server.ca_cert))
    host, port = server.url.removeprefix("https://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port), ssl=ctx)
    try:
        obj = pod("ex-pod")
        obj["metadata"]["annotations"] = {"pad": "x" * 2000}
        body = orjson.dumps(obj)
        writer.write((f"POST {PODS} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {server.token}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                      "Expect: 100-continue\r\n\r\n").encode())
        await writer.drain()
        async with asyncio.timeout(30):
            interim = await reader.readuntil(b"\r\n\r\n")
            assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
            writer.write(body)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 201"), head
    finally:
        writer.close()
