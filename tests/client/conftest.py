"""Fixtures for the client's integration tests: a real `kubelite server` per module, a fresh namespace."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from kubelite.api.resources import NAMESPACES
from kubelite.client.rest import ApiClient
from kubelite.testing.server import KubeliteServer


@pytest.fixture(scope="module")
def server() -> Iterator[KubeliteServer]:
    srv = KubeliteServer().start()
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture
async def client(server: KubeliteServer) -> AsyncIterator[ApiClient]:
    c = ApiClient.from_kubeconfig(str(server.kubeconfig), user_agent="kubelite-client-tests")
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def namespace(client: ApiClient) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name
