"""`kubelite scheduler --kubeconfig F` as its own process against a real server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubelite.api.resources import NODES, PODS
from kubelite.client.rest import ApiClient
from kubelite.testing.server import KubeliteServer
from scheduler.builders import make_node, make_pod

NAME = "kubelite-cmd-scheduler"


@pytest.fixture
async def client(server: KubeliteServer) -> AsyncIterator[ApiClient]:
    c = ApiClient.from_kubeconfig(str(server.kubeconfig))
    yield c
    await c.close()


def spawn(server: KubeliteServer, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """Output to a file: an unread pipe could fill up and block the scheduler."""
    with open(log, "wb") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "kubelite", "scheduler", "--kubeconfig", str(server.kubeconfig), *args],
            stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], log: Path) -> tuple[int, str]:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, log.read_text(errors="replace")


async def test_the_scheduler_command_binds_pods_and_stops_cleanly_on_sigterm(
    server: KubeliteServer, client: ApiClient, tmp_path: Path
) -> None:
    log = tmp_path / "scheduler.log"
    await client.create(NODES, make_node("cmd-node"))
    p = make_pod("cmd-pod", scheduler_name=NAME)
    del p["metadata"]["uid"]
    await client.create(PODS, p, "default")
    proc = spawn(server, log, "--leader-elect", "--scheduler-name", NAME)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        node = None
        while node is None and loop.time() < deadline and proc.poll() is None:
            node = (await client.get(PODS, "cmd-pod", "default"))["spec"].get("nodeName")
            await asyncio.sleep(0.1)
        assert node == "cmd-node"
    finally:
        rc, err = stop(proc, log)
        await client.delete(PODS, "cmd-pod", "default", grace_period_seconds=0)
        await client.delete(NODES, "cmd-node")
    assert rc == 0, err
    assert "Traceback" not in err


def test_a_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "kubelite", "scheduler", "--kubeconfig", str(tmp_path / "nope")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "does not exist" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_broken_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "kubeconfig"
    bad.write_text("this: [is not a kubeconfig\n")
    r = subprocess.run([sys.executable, "-m", "kubelite", "scheduler", "--kubeconfig", str(bad)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "Error" in r.stderr
    assert "Traceback" not in r.stderr
