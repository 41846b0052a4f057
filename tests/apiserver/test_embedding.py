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
        assert seen == [tmp_path / "kubeconfig.yaml"]
        cfg = yaml.safe_load(seen[0].read_text())
        assert cfg["clusters"][0]["cluster"]["server"] == server.url
        token = cfg["users"][0]["user"]["token"]
        ctx = ssl.create_default_context(cafile=str(tmp_path / "tls" / "ca.crt"))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
            async with http.get(server.url + "/api/v1/namespaces/kube-system",
                                headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200
                assert (await r.json())["status"]["phase"] == "Active"
    finally:
        await server.stop()
        await store.close()
