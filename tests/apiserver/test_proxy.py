"""pods/log and pods/exec are proxied to the node's kubelet (a stand-in aiohttp kubelet here)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer

NS = "/api/v1/namespaces/default"


class StandInKubelet:
    """Just enough of the kubelet's HTTPS API to see what the apiserver sends it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.auth: list[str] = []
        self.exit_code = 0

    async def logs(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(str(request.rel_url))
        self.auth.append(request.headers.get("Authorization", ""))
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        await resp.write(b"line 1\n")
        if request.query.get("follow") == "true":
            await asyncio.sleep(0.1)
            await resp.write(b"line 2 (followed)\n")
        return resp

    async def exec(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(str(request.rel_url))
        self.auth.append(request.headers.get("Authorization", ""))
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io",))
        await ws.prepare(request)
        command = " ".join(request.query.getall("command"))
        await ws.send_bytes(b"\x01" + f"ran: {command}\n".encode())
        if self.exit_code:
            status = json.dumps({"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode", "message": "exit",
                                 "details": {"causes": [{"reason": "ExitCode", "message": str(self.exit_code)}]}})
        else:
            status = '{"metadata":{},"status":"Success"}'
        await ws.send_bytes(b"\x03" + status.encode())
        await ws.close()
        return ws


@pytest.fixture
async def kubelet(server: KubeliteServer) -> AsyncIterator[tuple[StandInKubelet, int]]:
    stand_in = StandInKubelet()
    app = web.Application()
    app.router.add_get("/containerLogs/{ns}/{pod}/{container}", stand_in.logs)
    app.router.add_get("/exec/{ns}/{pod}/{container}", stand_in.exec)
    runner = web.AppRunner(app)
    await runner.setup()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls = server.data_dir / "tls"
    ctx.load_cert_chain(str(tls / "serving.crt"), str(tls / "serving.key"))
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield stand_in, port
    finally:
        await runner.cleanup()


async def run(k: Kubectl, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(k.binary, *args, env=k.env(), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def node(name: str, port: int | None) -> dict[str, Any]:
    status: dict[str, Any] = {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}
    if port:
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": port}}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": status}


def running_pod(name: str, node_name: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c1", "image": "busybox"}]}
    if node_name:
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def test_logs_and_exec_are_relayed(server: KubeliteServer, kubectl: Kubectl,
                                         kubelet: tuple[StandInKubelet, int]) -> None:
    stand_in, port = kubelet
    assert server.request("POST", "/api/v1/nodes", node("proxied", port))[0] == 201
    assert server.request("POST", f"{NS}/pods", running_pod("p1", "proxied"))[0] == 201
    server.request("PATCH", f"{NS}/pods/p1/status", {"status": {"phase": "Running"}}, "application/merge-patch+json")

    rc, out, err = await run(kubectl, "logs", "p1", "--tail=5")
    assert rc == 0, err
    assert out == "line 1\n"
    assert stand_in.requests[-1].startswith("/containerLogs/default/p1/c1?") and "tailLines=5" in stand_in.requests[-1]

    rc, out, err = await run(kubectl, "logs", "-f", "p1")
    assert rc == 0, err
    assert out == "line 1\nline 2 (followed)\n"

    rc, out, err = await run(kubectl, "exec", "p1", "--", "echo", "hi")
    assert rc == 0, err
    assert out == "ran: echo hi\n"
    assert stand_in.requests[-1].startswith("/exec/default/p1/c1?")

    # the admin token rides along with the client certificate, for kubelets that check tokens
    assert set(stand_in.auth) == {f"Bearer {server.token}"}

    stand_in.exit_code = 3
    rc, out, err = await run(kubectl, "exec", "p1", "--", "false")
    assert rc == 3 and "command terminated with exit code 3" in err


async def test_clear_errors_without_a_kubelet(server: KubeliteServer, kubectl: Kubectl) -> None:
    assert server.request("POST", f"{NS}/pods", running_pod("unscheduled", None))[0] == 201
    rc, _, err = await run(kubectl, "logs", "unscheduled")
    assert rc != 0 and "does not have a host assigned" in err
    assert server.request("POST", "/api/v1/nodes", node("silent", None))[0] == 201
    assert server.request("POST", f"{NS}/pods", running_pod("on-silent", "silent"))[0] == 201
    status, body = server.request("GET", f"{NS}/pods/on-silent/log")
    assert status == 503 and body["message"] == "no kubelet endpoint for node silent"


async def test_exec_needs_websocket(server: KubeliteServer, kubelet: tuple[StandInKubelet, int]) -> None:
    _, port = kubelet
    server.request("POST", "/api/v1/nodes", node("ws-node", port))
    server.request("POST", f"{NS}/pods", running_pod("spdy", "ws-node"))
    status, body = await asyncio.to_thread(server.request, "POST", f"{NS}/pods/spdy/exec?command=ls", b"")
    assert status == 400 and "WebSocket" in body["message"]
