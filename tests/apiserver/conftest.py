"""Fixtures: one real `kubelite server` subprocess per test module, a kubectl with a private HOME."""

from __future__ import annotations

import os
import shutil
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from kubelite.apiserver import ApiServer, ServerConfig
from kubelite.client.rest import ApiClient
from kubelite.storage import open_store
from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer

MANIFESTS = Path(__file__).parent / "manifests"


@pytest.fixture(scope="module")
def server() -> Iterator[KubeliteServer]:
    srv = KubeliteServer(extra_args=["--bookmark-interval", "0.5"]).start()
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture
async def http(server: KubeliteServer) -> AsyncIterator[aiohttp.ClientSession]:
    """Raw HTTPS to the module's server as the admin (no connection limit: tests queue requests)."""
    ctx = ssl.create_default_context(cafile=str(server.ca_cert))
    async with aiohttp.ClientSession(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"},
                                     connector=aiohttp.TCPConnector(ssl=ctx, limit=0)) as s:
        yield s


@pytest.fixture(scope="module")
def kubectl(server: KubeliteServer) -> Iterator[Kubectl]:
    k = Kubectl(server.kubeconfig)
    yield k
    k.cleanup()


def etcd_available() -> bool:
    return os.path.exists("/usr/bin/etcd") and shutil.which("etcd") is not None


@pytest.fixture
async def in_process_api(tmp_path: Path) -> AsyncIterator[tuple[ApiServer, ApiClient]]:
    """An API server in the test's own process (memory store), so a test can look at its watch cache
    and metrics, and a client on its unix socket."""
    server = ApiServer(ServerConfig(data_dir=tmp_path, port=0, store=await open_store("memory://")))
    await server.start()
    client = ApiClient.from_kubeconfig(str(server.local_kubeconfig))
    try:
        yield server, client
    finally:
        await client.close()
        await server.stop()
