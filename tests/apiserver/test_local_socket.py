"""The unix socket for components on the server's own host (apiserver/server.py's docstring)."""

from __future__ import annotations

import stat

import aiohttp
import yaml

from kubelite.api.resources import CONFIGMAPS, PODS
from kubelite.client.rest import ApiClient, ApiError
from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer


def _socket_path(server: KubeliteServer) -> str:
    kc = yaml.safe_load(server.local_kubeconfig.read_text())
    url = kc["clusters"][0]["cluster"]["server"]
    assert url.startswith("unix://"), url
    return url[len("unix://"):]


def test_the_socket_is_private_to_the_servers_user(server: KubeliteServer) -> None:
    path = _socket_path(server)
    mode = (server.data_dir / "apiserver.sock").stat().st_mode
    assert path == str(server.data_dir / "apiserver.sock")
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(server.local_kubeconfig.stat().st_mode) == 0o600  # it holds the admin token


async def test_a_client_of_the_local_kubeconfig_reads_writes_and_watches(server: KubeliteServer) -> None:
    client = ApiClient.from_kubeconfig(str(server.local_kubeconfig))
    try:
        created = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "via-socket"}, "data": {"a": "1"}},
                                      "default")
        got = await client.get(CONFIGMAPS, "via-socket", "default")
        assert got["data"] == {"a": "1"}
        rv = created["metadata"]["resourceVersion"]
        await client.patch(CONFIGMAPS, "via-socket", {"data": {"a": "2"}}, "default")
        async for ev in client.watch(CONFIGMAPS, "default", resource_version=rv):
            assert ev.type == "MODIFIED" and ev.object["data"] == {"a": "2"}
            break
        try:
            await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                                       "spec": {"containers": []}}, "default")
        except ApiError as e:  # the same validation as over HTTPS
            assert e.code == 422
            assert "spec.containers" in e.status["message"]
        else:
            raise AssertionError("an invalid pod was accepted over the socket")
    finally:
        await client.close()


async def test_the_socket_still_needs_the_token(server: KubeliteServer) -> None:
    connector = aiohttp.UnixConnector(path=_socket_path(server))
    async with aiohttp.ClientSession(connector=connector) as s:
        async with s.get("http://localhost/api/v1/namespaces") as resp:
            assert resp.status == 401
            assert (await resp.json())["reason"] == "Unauthorized"
        async with s.get("http://localhost/api/v1/namespaces",
                         headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401


def test_kubectl_keeps_the_https_kubeconfig(server: KubeliteServer, kubectl: Kubectl) -> None:
    assert yaml.safe_load(server.kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == server.url
    assert "namespace/kube-system" in kubectl("get", "namespaces", "-o", "name").stdout
