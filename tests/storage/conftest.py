"""Fixtures for the store tests: one `store` fixture run against every backend.

etcd is a real Debian etcd started once per session (a few tests start their own cluster); each
test works under its own key prefix, so tests never see each other's keys on the shared etcd.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from kubelite.storage import Store, open_store
from kubelite.testing.etcd import EtcdCluster

BACKENDS = ["memory", "sqlite", "etcd"]


@pytest.fixture(scope="session")
def etcd_cluster() -> Iterator[EtcdCluster]:
    with EtcdCluster(size=1) as cluster:
        yield cluster


def store_url(backend: str, tmp_path: object, request: pytest.FixtureRequest) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite://{tmp_path}/state.db"
    cluster: EtcdCluster = request.getfixturevalue("etcd_cluster")
    return cluster.url


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Store]:
    s = await open_store(store_url(request.param, tmp_path, request))
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own (the session etcd is shared)."""
    return f"/registry/t{uuid.uuid4().hex[:12]}/"
