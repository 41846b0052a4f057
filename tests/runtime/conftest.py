"""Fixtures for the runtime tests: image tars, a test-made network namespace, one containerd."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kubelite.runtime.containerd import Containerd
from kubelite.runtime.cri import CriRuntime
from kubelite.runtime.images import BuiltImage, build_images

POD_CIDR = "10.88.7.0/24"


def _require_node_tools() -> None:
    if os.geteuid() != 0:
        pytest.fail("the containerd tests need root (network namespaces, cgroups)")
    for tool in ("containerd", "runc", "ctr", "nsenter", "ip"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (see docs/runtime.md)")


@pytest.fixture(scope="session")
def built_images(tmp_path_factory: pytest.TempPathFactory) -> list[BuiltImage]:
    return build_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    """A network namespace of the test's own, deleted afterwards: the host network is untouched."""
    _require_node_tools()
    name = f"kltest-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def containerd(
    netns: str, built_images: list[BuiltImage], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Containerd]:
    # a short path: unix socket paths are limited to 108 bytes
    data_dir = Path(f"/tmp/kl-rt-{uuid.uuid4().hex[:8]}")
    node = Containerd(data_dir, netns=netns, pod_cidr=POD_CIDR, images_dir=built_images[0].path.parent)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rt(containerd: Containerd) -> AsyncIterator[CriRuntime]:
    client = CriRuntime(containerd.address)
    try:
        yield client
    finally:
        await client.close()
