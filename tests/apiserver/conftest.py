"""Fixtures: one real `kubelite server` subprocess per test module, a kubectl with a private HOME."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture(scope="module")
def kubectl(server: KubeliteServer) -> Iterator[Kubectl]:
    k = Kubectl(server.kubeconfig)
    yield k
    k.cleanup()


def etcd_available() -> bool:
    return os.path.exists("/usr/bin/etcd") and shutil.which("etcd") is not None
