"""Fixtures for the scheduler's integration tests: a real `kubelite server` per module, kubectl."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer


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
