"""The whole node path: real kubectl -> `kubelite server` -> `kubelite agent` (its kubelet server) ->
the agent's own containerd, with the pod made by the agent from a Pod object.

The agent runs as a child process with its containerd and pods inside a network namespace this
module creates and deletes; it is stopped by PID. Pods are bound with spec.nodeName so that the
test does not depend on the scheduler.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubelite.runtime.images import BUSYBOX_IMAGE
from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer, free_port

pytestmark = pytest.mark.root

NODE = "kl-agent-node"
WEB = "mkdir -p /www && echo hello-from-agent-pod > /www/index.html && echo serving && exec httpd -f -p 80 -h /www"
JOB = "for i in 1 2 3; do echo line $i; sleep 0.3; done"
READY_DEADLINE_SECONDS = 90.0


@dataclass
class Env:
    server: KubeliteServer
    kubectl: Kubectl
    agent_log: Path


def _pod(name: str, script: str, restart: str = "Always") -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "nodeName": NODE, "restartPolicy": restart,
        "containers": [{"name": name, "image": BUSYBOX_IMAGE, "command": ["sh", "-c", script]}]}})


def _wait_phase(env: Env, name: str, phases: set[str]) -> None:
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    phase = ""
    while time.monotonic() < deadline:
        phase = env.kubectl("get", "pod", name, "-o", "jsonpath={.status.phase}").stdout
        if phase in phases:
            return
        time.sleep(0.3)
    log = env.agent_log.read_text(errors="replace")[-3000:]
    pytest.fail(f"pod {name} is {phase!r}, not {phases}, after {READY_DEADLINE_SECONDS}s; agent log:\n{log}")


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    if os.geteuid() != 0:
        pytest.fail("the agent end-to-end test needs root (network namespaces, containerd)")
    for tool in ("containerd", "runc", "nsenter", "ip", "/usr/bin/kubectl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed")
    ns = f"klagt-{uuid.uuid4().hex[:8]}"
    data_dir = Path(f"/tmp/kl-agt-{uuid.uuid4().hex[:8]}")  # short: unix socket paths are limited
    subprocess.run(["ip", "netns", "add", ns], check=True)
    server = kubectl = agent = None
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        server = KubeliteServer().start()
        kubectl = Kubectl(server.kubeconfig)
        data_dir.mkdir()
        log_path = data_dir / "agent.log"
        with open(log_path, "wb") as logf:
            agent = subprocess.Popen(
                [sys.executable, "-m", "kubelite", "agent", "--kubeconfig", str(server.kubeconfig),
                 "--data-dir", str(data_dir / "node"), "--netns", ns, "--node-name", NODE,
                 "--kubelet-port", str(free_port()), "--node-ip", "127.0.0.1", "--pod-cidr", "10.88.12.0/24"],
                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        e = Env(server, kubectl, log_path)
        for name, script, restart in (("web", WEB, "Always"), ("job", JOB, "Never")):
            r = kubectl("create", "-f", "-", stdin=_pod(name, script, restart))
            assert r.rc == 0, r.out
        _wait_phase(e, "web", {"Running"})
        yield e
    finally:
        if agent is not None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(agent.pid, signal.SIGKILL)
                agent.wait()
        if kubectl is not None:
            kubectl.cleanup()
        if server is not None:
            server.cleanup()
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_logs_follow_of_a_pod_the_agent_runs(env: Env) -> None:
    _wait_phase(env, "job", {"Running", "Succeeded"})
    r = env.kubectl("logs", "-f", "job")
    assert (r.rc, r.stdout) == (0, "line 1\nline 2\nline 3\n"), r.out
    assert env.kubectl("logs", "web").stdout == "serving\n"


def test_exec_exit_code_and_output(env: Env) -> None:
    r = env.kubectl("exec", "web", "--", "sh", "-c", "exit 3")
    assert r.rc == 3 and "command terminated with exit code 3" in r.stderr
    r = env.kubectl("exec", "-i", "web", "--", "sh", "-c", "cat /www/index.html; cat", stdin="typed\n")
    assert (r.rc, r.stdout) == (0, "hello-from-agent-pod\ntyped\n"), r.out


def test_port_forward_to_busybox_httpd(env: Env) -> None:
    proc = env.kubectl.popen("port-forward", "pod/web", ":80")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(rb"Forwarding from 127\.0\.0\.1:(\d+) -> 80", line)
        assert match, line
        body = urllib.request.urlopen(f"http://127.0.0.1:{int(match.group(1))}/", timeout=20).read()
        assert body == b"hello-from-agent-pod\n"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait()
