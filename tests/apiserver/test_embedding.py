"""`kubelite up` embeds ApiServer in its own event loop: start/stop and the post-start hook."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
import yaml

from kubelite.apiserver import ApiServer, ServerConfig
from kubelite.storage import open_store


async def test_embedded_server_runs_post_start_hooks(tmp_path: Path) -> None:
    seen: list[Path] = []
    done = asyncio.Event()

    async def component(kubeconfig: Path) -> None:
        seen.append(kubeconfig)
        done.set()
        await asyncio.Event().wait()  # a long-running controller; cancelled by stop()

    store = await open_store("memory://")
    server = ApiServer(ServerConfig(data_dir=tmp_path, port=0, store=store, post_start=[component]))
    await server.start()
    try:
        await asyncio.wait_for(done.wait(), 10)
        # the hook gets the local kubeconfig (the unix socket); the HTTPS one stays for kubectl
        assert seen == [tmp_path / "kubeconfig-local.yaml"]
        cfg = yaml.safe_load(seen[0].read_text())
        assert cfg["clusters"][0]["cluster"]["server"] == f"unix://{tmp_path / 'apiserver.sock'}"
        token = cfg["users"][0]["user"]["token"]
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(str(tmp_path / "apiserver.sock"))) as http:
            async with http.get("http://localhost/api/v1/namespaces/kube-system",
                                headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200
                assert (await r.json())["status"]["phase"] == "Active"
        https = yaml.safe_load((tmp_path / "kubeconfig.yaml").read_text())
        assert https["clusters"][0]["cluster"]["server"] == server.url
        ctx = ssl.create_default_context(cafile=str(tmp_path / "tls" / "ca.crt"))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
            async with http.get(server.url + "/api/v1/namespaces/kube-system",
                                headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200
    finally:
        await server.stop()
        await store.close()
    assert not (tmp_path / "apiserver.sock").exists()  # stop() removes it


async def test_a_data_dir_too_long_for_a_unix_socket_falls_back_to_https(tmp_path: Path) -> None:
    data_dir = tmp_path / ("d" * 120)
    store = await open_store("memory://")
    server = ApiServer(ServerConfig(data_dir=data_dir, port=0, store=store))
    await server.start()
    try:
        cfg = yaml.safe_load(server.local_kubeconfig.read_text())
        assert cfg["clusters"][0]["cluster"]["server"] == server.url
        assert not (data_dir / "apiserver.sock").exists()
    finally:
        await server.stop()
        await store.close()
