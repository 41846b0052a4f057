"""The real kubectl, through a real `kubelite server`, to our kubelet server, to a real containerd pod.

The pod is made directly with the runtime's CRI client inside a network namespace this module
creates (and deletes); the Node and Pod objects that tell the API server where the kubelet is
are written through the API. So the test covers exactly the path of a user's `kubectl logs -f`,
`kubectl exec` and `kubectl port-forward`: kubectl -> apiserver proxy (WebSocket, client cert) ->
KubeletServer (v5.channel.k8s.io, SPDY/3.1) -> containerd's container.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from kubelite.kubelet.server import KubeletServer, PodRef
from kubelite.runtime.containerd import Containerd
from kubelite.runtime.cri import CriRuntime
from kubelite.runtime.images import BUSYBOX_IMAGE, build_images
from kubelite.runtime.types import ContainerConfig, PodSandboxConfig
from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer

pytestmark = [pytest.mark.root, pytest.mark.asyncio(loop_scope="module")]

NODE = "kl-stream-node"
POD_CIDR = "10.88.9.0/24"
WEB_SCRIPT = "mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 80 -h /www"
JOB_SCRIPT = "for i in 1 2 3; do echo line $i; sleep 0.3; done"


def _require_node_tools() -> None:
    if os.geteuid() != 0:
        pytest.fail("the kubelet end-to-end tests need root (network namespaces, containerd)")
    for tool in ("containerd", "runc", "ctr", "nsenter", "ip", "/usr/bin/kubectl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed")


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    _require_node_tools()
    name = f"klsrv-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(scope="module")
def server() -> Iterator[KubeliteServer]:
    srv = KubeliteServer().start()
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture(scope="module")
def kubectl(server: KubeliteServer) -> Iterator[Kubectl]:
    k = Kubectl(server.kubeconfig)
    yield k
    k.cleanup()


@dataclass
class Cluster:
    server: KubeliteServer
    kubectl: Kubectl
    kubelet: KubeletServer
    ref: PodRef


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(netns: str, server: KubeliteServer, kubectl: Kubectl,
                  tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    tmp = tmp_path_factory.mktemp("kubelet-e2e")
    images = await asyncio.to_thread(build_images, tmp / "images")
    data_dir = Path(f"/tmp/kl-srv-{uuid.uuid4().hex[:8]}")  # short: unix socket paths are limited
    node = Containerd(data_dir, netns=netns, pod_cidr=POD_CIDR, images_dir=images[0].path.parent)
    await node.start()
    rt = CriRuntime(node.address)
    kubelet: KubeletServer | None = None
    try:
        uid = str(uuid.uuid4())
        sandbox = PodSandboxConfig(name="web", uid=uid, namespace="default", hostname="web",
                                   log_directory=str(tmp / "logs"))
        sid = await rt.run_pod_sandbox(sandbox)
        ids = {}
        for name, script in (("web", WEB_SCRIPT), ("job", JOB_SCRIPT)):
            cid = await rt.create_container(sid, ContainerConfig(
                name=name, image=BUSYBOX_IMAGE, command=["sh", "-c", script], log_path=f"{name}/0.log"), sandbox)
            await rt.start_container(cid)
            ids[name] = cid
        ref = PodRef(uid=uid, sandbox_id=sid, containers=ids)
        kubelet = KubeletServer(rt, lambda ns, n: ref if (ns, n) == ("default", "web") else None,
                                host="127.0.0.1", port=0, tls_cert_dir=tmp / "pki", ca_file=server.ca_cert,
                                node_name=NODE)
        await kubelet.start()
        await asyncio.to_thread(_register, server, kubelet.port, uid)
        yield Cluster(server, kubectl, kubelet, ref)
    finally:
        if kubelet is not None:
            await kubelet.stop()
        await rt.close()
        await node.stop(remove_pods=True)
        shutil.rmtree(data_dir, ignore_errors=True)


def _call(server: KubeliteServer, method: str, path: str, body: object) -> dict:
    status, doc = server.request(method, path, body)
    assert status in (200, 201), (status, doc)
    assert isinstance(doc, dict)
    return doc


def _register(server: KubeliteServer, port: int, uid: str) -> None:
    """The Node (where its kubelet listens) and the Pod bound to it, Running, as a kubelet would report."""
    node = _call(server, "POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    node["status"] = {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}
    _call(server, "PUT", f"/api/v1/nodes/{NODE}/status", node)
    pod = _call(server, "POST", "/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "annotations": {"kubectl.kubernetes.io/default-container": "web"}},
        "spec": {"nodeName": NODE, "containers": [
            {"name": "web", "image": BUSYBOX_IMAGE, "command": ["sh", "-c", WEB_SCRIPT]},
            {"name": "job", "image": BUSYBOX_IMAGE, "command": ["sh", "-c", JOB_SCRIPT]}]},
    })
    pod["status"] = {"phase": "Running", "podIP": "10.88.9.2"}
    _call(server, "PUT", "/api/v1/namespaces/default/pods/web/status", pod)


async def kubectl_run(c: Cluster, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    r = await asyncio.to_thread(c.kubectl, *args, stdin=stdin)
    return r.rc, r.stdout, r.stderr


async def test_kubectl_logs_follow_streams_until_the_container_exits(cluster: Cluster) -> None:
    rc, out, err = await kubectl_run(cluster, "logs", "-f", "web", "-c", "job")
    assert rc == 0, err
    assert out == "line 1\nline 2\nline 3\n"
    rc, out, err = await kubectl_run(cluster, "logs", "web", "-c", "job", "--tail=1", "--timestamps")
    assert rc == 0, err
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\S+ line 3\n", out), out


async def test_kubectl_exec_runs_in_the_container_and_propagates_the_exit_code(cluster: Cluster) -> None:
    rc, out, err = await kubectl_run(cluster, "exec", "web", "--", "cat", "/www/index.html")
    assert (rc, out) == (0, "hello-from-pod\n"), err
    rc, out, err = await kubectl_run(cluster, "exec", "web", "--", "sh", "-c", "exit 3")
    assert rc == 3
    assert "command terminated with exit code 3" in err
    rc, out, err = await kubectl_run(cluster, "exec", "-i", "web", "--", "sh", "-c", "cat; echo done >&2",
                                     stdin="from stdin\n")
    assert (rc, out) == (0, "from stdin\n"), err
    assert "done" in err
    rc, out, err = await kubectl_run(cluster, "exec", "web", "-c", "nope", "--", "true")
    assert rc != 0 and "nope" in err


async def test_kubectl_port_forward_reaches_the_pods_httpd(cluster: Cluster) -> None:
    proc = cluster.kubectl.popen("port-forward", "pod/web", ":80")
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        match = re.search(rb"Forwarding from 127\.0\.0\.1:(\d+) -> 80", line)
        assert match, line + (proc.stderr.read() if proc.stderr and proc.poll() is not None else b"")
        url = f"http://127.0.0.1:{int(match.group(1))}/index.html"
        for _ in range(2):  # two connections over the same port-forward session
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=20).read())
            assert body == b"hello-from-pod\n"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        await asyncio.to_thread(proc.wait)


async def test_stats_summary_lists_the_running_pod(cluster: Cluster) -> None:
    summary = await cluster.kubelet.stats.summary()
    assert summary["node"]["nodeName"] == NODE
    (pod,) = [p for p in summary["pods"] if p["podRef"]["name"] == "web"]
    names = {c["name"] for c in pod["containers"]}
    assert "web" in names
    web = next(c for c in pod["containers"] if c["name"] == "web")
    assert web["memory"]["workingSetBytes"] > 0 and web["cpu"]["usageCoreNanoSeconds"] > 0


async def test_exec_with_a_tty_through_the_api_server(cluster: Cluster) -> None:
    """What `kubectl exec -it` sends (stdin, stdout, tty; no stderr), spoken by hand through the proxy:
    the command gets a pseudo-terminal, which turns its newlines into CR LF."""
    import ssl

    import aiohttp
    import orjson

    from kubelite.kubelet import streaming

    srv = cluster.server
    ctx = ssl.create_default_context(cafile=str(srv.ca_cert))
    url = (f"{srv.url}/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=test+-t+0+%26%26+echo+terminal%3B"
           "+read+x%3B+echo+got-%24x&container=web&stdin=true&stdout=true&tty=true")
    out, status = b"", None
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {srv.token}"}) as s, \
            s.ws_connect(url, ssl=ctx, protocols=[streaming.V5]) as ws:
        await ws.send_bytes(streaming.frame(streaming.RESIZE, b'{"Width":100,"Height":30}'))
        await ws.send_bytes(streaming.frame(streaming.STDIN, b"abc\r"))
        async for msg in ws:
            channel, payload = streaming.parse_frame(msg.data)
            if channel == streaming.STATUS:
                status = orjson.loads(payload)
            else:
                assert channel == streaming.STDOUT
                out += payload
        assert ws.close_code == 1000
    assert status == {"metadata": {}, "status": "Success"}
    # the terminal echoes the input line; the command's own newlines come out as CR LF
    assert out.startswith(b"terminal\r\n") or out.startswith(b"abc\r\nterminal\r\n"), out
    assert out.endswith(b"got-abc\r\n")
