"""Informers, leader election and events against a real `kubelite server`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from client.builders import configmap, pod
from client.waiting import eventually
from kubelite.api.resources import CONFIGMAPS, EVENTS, LEASES, PODS
from kubelite.client.events import EventRecorder
from kubelite.client.informer import Informer
from kubelite.client.leaderelection import LeaderElector
from kubelite.client.rest import ApiClient
from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer


class Recorder:
    def __init__(self, inf: Informer) -> None:
        self.events: list[tuple[str, str]] = []
        inf.add_handler(lambda o: self.events.append(("add", o["metadata"]["name"])),
                        lambda old, new: self.events.append(("update", new["metadata"]["name"])),
                        lambda o: self.events.append(("delete", o["metadata"]["name"])))


async def test_informer_sees_adds_updates_and_deletes(client: ApiClient, namespace: str) -> None:
    await client.create(CONFIGMAPS, configmap("before", namespace))
    inf = Informer(client, CONFIGMAPS, namespace)
    rec = Recorder(inf)
    await inf.start()
    try:
        assert await inf.wait_synced(20)
        assert rec.events == [("add", "before")]
        await client.create(CONFIGMAPS, configmap("after", namespace))
        await client.patch(CONFIGMAPS, "before", {"data": {"k": "v"}}, namespace)
        await client.delete(CONFIGMAPS, "after", namespace)
        await eventually(lambda: len(rec.events) == 4, what="three more events")
        assert rec.events[1:] == [("add", "after"), ("update", "before"), ("delete", "after")]
        assert inf.store.keys() == [f"{namespace}/before"]
        assert inf.store.get_by(namespace, "before")["data"] == {"k": "v"}  # type: ignore[index]
    finally:
        await inf.stop()


async def test_informer_with_a_field_selector_follows_its_node(client: ApiClient, namespace: str) -> None:
    inf = Informer(client, PODS, field_selector="spec.nodeName=node-a")
    await inf.start()
    try:
        assert await inf.wait_synced(20)
        await client.create(PODS, pod("elsewhere", namespace, node="node-b"))
        await client.create(PODS, pod("here", namespace))
        await client.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "here"},
                                   "target": {"kind": "Node", "name": "node-a"}},
                            namespace, subresource="binding", name="here")
        await eventually(lambda: inf.store.get_by(namespace, "here") is not None, what="bound pod")
        assert inf.store.get_by(namespace, "elsewhere") is None
    finally:
        await inf.stop()


async def test_informer_resumes_after_the_server_restarts() -> None:
    srv = KubeliteServer()
    await asyncio.to_thread(srv.start)
    try:
        async with ApiClient.from_kubeconfig(str(srv.kubeconfig)) as client:
            await client.create(CONFIGMAPS, configmap("one"))
            inf = Informer(client, CONFIGMAPS, "default")
            inf.min_backoff = 0.1
            rec = Recorder(inf)
            await inf.start()
            try:
                assert await inf.wait_synced(20)
                await asyncio.to_thread(srv.stop)
                await asyncio.to_thread(srv.start)
                await client.create(CONFIGMAPS, configmap("two"))
                await client.delete(CONFIGMAPS, "one", "default")
                await eventually(lambda: inf.store.keys() == ["default/two"], limit=60, what="changes after restart")
                assert rec.events == [("add", "one"), ("add", "two"), ("delete", "one")]
            finally:
                await inf.stop()
    finally:
        await asyncio.to_thread(srv.cleanup)


async def test_informer_relists_after_410_and_reports_the_differences() -> None:
    srv = KubeliteServer(extra_args=["--watch-cache-size", "10"])
    await asyncio.to_thread(srv.start)
    try:
        async with ApiClient.from_kubeconfig(str(srv.kubeconfig)) as client:
            for name in ("gone", "changed", "same"):
                await client.create(CONFIGMAPS, configmap(name))
            inf = Informer(client, CONFIGMAPS, "default")
            rec = Recorder(inf)
            await inf.start()
            assert await inf.wait_synced(20)
            await inf.stop()  # the informer falls behind...
            await client.delete(CONFIGMAPS, "gone", "default")
            await client.patch(CONFIGMAPS, "changed", {"data": {"v": "2"}}, "default")
            for i in range(15):  # ...by more than the server's watch history
                await client.create(CONFIGMAPS, configmap(f"new{i}"))
            rec.events.clear()
            await inf.start()  # resumes from its old resourceVersion: 410, so it re-lists
            try:
                await eventually(lambda: inf.list_count == 2 and len(rec.events) == 17, what="re-list deltas")
                assert ("delete", "gone") in rec.events and ("update", "changed") in rec.events
                assert ("update", "same") not in rec.events
                assert sum(1 for kind, _ in rec.events if kind == "add") == 15
                assert len(inf.store) == 17
            finally:
                await inf.stop()
    finally:
        await asyncio.to_thread(srv.cleanup)


async def test_leader_hand_over_when_the_leader_is_killed(server: KubeliteServer, client: ApiClient) -> None:
    lease_name = f"hand-over-{os.getpid()}"
    timings = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5}
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("elector_child.py")), str(server.kubeconfig), lease_name,
        "leader-a", *(str(v) for v in timings.values()), stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    standby_task: asyncio.Task[None] | None = None
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line.strip() == b"LEADING"
        standby = LeaderElector(client, lease_name=lease_name, identity="leader-b", lease_duration=3.0,
                                renew_deadline=2.0, retry_period=0.5)
        took_over = asyncio.Event()

        async def lead() -> None:
            took_over.set()
            await asyncio.Event().wait()

        standby_task = asyncio.create_task(standby.run(lead))
        await asyncio.sleep(2 * timings["retry_period"] + 0.5)
        assert not standby.is_leader, "the standby must wait while the leader renews"
        lease = await client.get(LEASES, lease_name, "kube-system")
        assert lease["spec"]["holderIdentity"] == "leader-a"

        os.kill(child.pid, signal.SIGKILL)  # a crash: no release
        killed_at = time.monotonic()
        await asyncio.wait_for(took_over.wait(), 15)
        assert time.monotonic() - killed_at < 15
        lease = await client.get(LEASES, lease_name, "kube-system")
        assert lease["spec"]["holderIdentity"] == "leader-b"
        assert lease["spec"]["leaseTransitions"] == 1
    finally:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
        await child.wait()
        if standby_task is not None:
            standby_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await standby_task


async def test_the_same_event_three_times_is_one_event_with_count_3(server: KubeliteServer, client: ApiClient,
                                                                     namespace: str) -> None:
    target = await client.create(PODS, pod("web", namespace))
    recorder = EventRecorder(client, "client-tests", "host-1")
    await recorder.start()
    for _ in range(3):
        recorder.event(target, "Warning", "FailedScheduling", "0/3 nodes are available")
    await recorder.stop()
    events: list[dict[str, Any]] = (await client.list(EVENTS, namespace))["items"]
    assert len(events) == 1
    ev = events[0]
    assert ev["count"] == 3 and ev["reason"] == "FailedScheduling" and ev["type"] == "Warning"
    assert ev["involvedObject"]["uid"] == target["metadata"]["uid"]
    assert ev["involvedObject"]["kind"] == "Pod"
    assert ev["metadata"]["name"].startswith("web.")
    assert ev["source"] == {"component": "client-tests", "host": "host-1"}

    kubectl = Kubectl(server.kubeconfig)
    try:
        result = await asyncio.to_thread(kubectl, "get", "events", "-n", namespace, "-o",
                                         "custom-columns=REASON:.reason,COUNT:.count,OBJECT:.involvedObject.name")
    finally:
        kubectl.cleanup()
    assert result.rc == 0, result.out
    assert result.stdout.split() == ["REASON", "COUNT", "OBJECT", "FailedScheduling", "3", "web"]
