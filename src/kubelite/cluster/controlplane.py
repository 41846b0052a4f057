"""The control plane as kubeadm shows it: static pods on the control-plane node, mirrored in kube-system.

kubelite's apiserver, scheduler and controller manager are asyncio tasks of the `kubelite up`
process, not containers, so there is nothing for the kubelet to start. What a user expects to see
is still `kube-apiserver-<node>`, `kube-scheduler-<node>`, `kube-controller-manager-<node>` (and
`etcd-<node>` with an etcd datastore) in kube-system, Running, with a READY column that tells the
truth. We get that the way kubeadm does it, with one difference in what the container is:

- Each component gets a static pod manifest in the control-plane node's manifest directory. The
  kubelet runs it like any static pod and posts its mirror pod; nothing about these pods is
  special-cased in the kubelet or the apiserver.
- The pod is hostNetwork (as kubeadm's are) and its one container is a busybox *sentinel*: a
  shell loop that polls the component's health endpoint and logs every change (so
  `kubectl logs -n kube-system kube-scheduler-<node>` tells the story). The pod's readiness
  and liveness probes are ordinary kubelet httpGet probes on that same endpoint, so READY
  drops to 0/1 within seconds when the component stops answering, and the container is
  restarted (RESTARTS grows) when it stays down.
- The health endpoints are served by this process (`HealthServer`) on 127.0.0.1 *inside the
  control-plane node's network namespace* (a socket created by a thread that joined it), at
  the components' usual ports. Each answers from the real component: the apiserver's by
  calling its own /readyz over HTTPS, the scheduler's by its informers being synced and its
  task alive, the controller manager's by its caches being synced and its task alive, etcd's by
  a read from the store. Plain HTTP, because the kubelet's httpGet probes speak plain HTTP.

Why not a veth from the node namespace to the host: it would add an interface and routes to
the host's network for no gain; a socket bound inside the node namespace needs neither.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from kubelite.runtime.images import BUSYBOX_IMAGE

log = logging.getLogger(__name__)

#: (ok, message): the answer of one health check
Check = Callable[[], Awaitable[tuple[bool, str]]]


@dataclass(frozen=True)
class Component:
    name: str
    port: int
    path: str
    cpu: str
    memory: str | None = None


# ports: the real components' (etcd's plain-HTTP metrics/health port 2381; kube-scheduler 10259;
# kube-controller-manager 10257) and k3s's 6444 for the apiserver, since 6443 is the real API port
APISERVER = Component("kube-apiserver", 6444, "/livez", "250m")
SCHEDULER = Component("kube-scheduler", 10259, "/healthz", "100m")
CONTROLLER_MANAGER = Component("kube-controller-manager", 10257, "/healthz", "200m")
ETCD = Component("etcd", 2381, "/health", "100m", "100Mi")

#: the sentinel's loop: log each change of the component's health
_SENTINEL = """\
url="http://127.0.0.1:{port}{path}"
echo "kubelite {name} sentinel: watching $url"
last=""
while :; do
  if timeout 2 wget -q -O /dev/null "$url" 2>/dev/null; then now=healthy; else now=unhealthy; fi
  if [ "$now" != "$last" ]; then echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) {name} is $now"; last=$now; fi
  sleep 2
done
"""


def manifest(c: Component) -> dict[str, Any]:
    """The static pod of one control-plane component (kubeadm's labels, requests and probe shape)."""
    requests: dict[str, str] = {"cpu": c.cpu}
    if c.memory:
        requests["memory"] = c.memory
    probe = {"httpGet": {"host": "127.0.0.1", "path": c.path, "port": c.port, "scheme": "HTTP"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": c.name,
            "namespace": "kube-system",
            "labels": {"component": c.name, "tier": "control-plane"},
            "annotations": {"kubelite.io/health-endpoint": f"http://127.0.0.1:{c.port}{c.path}"},
        },
        "spec": {
            "hostNetwork": True,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": c.name,
                "image": BUSYBOX_IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", _SENTINEL.format(name=c.name, port=c.port, path=c.path)],
                "resources": {"requests": requests},
                "readinessProbe": {**probe, "periodSeconds": 2, "timeoutSeconds": 2, "failureThreshold": 1},
                "livenessProbe": {**probe, "initialDelaySeconds": 10, "periodSeconds": 10,
                                  "timeoutSeconds": 2, "failureThreshold": 3},
            }],
        },
    }


def components(with_etcd: bool) -> list[Component]:
    return [APISERVER, CONTROLLER_MANAGER, SCHEDULER, *([ETCD] if with_etcd else [])]


def write_manifests(manifest_dir: Path, with_etcd: bool) -> None:
    """Write (or refresh) the control-plane manifests; same bytes -> same static pod. Blocking."""
    manifest_dir.mkdir(parents=True, exist_ok=True)
    wanted = {c.name for c in components(with_etcd)}
    for c in components(with_etcd):
        text = "# written by `kubelite up`: a sentinel for the in-process " + c.name + "\n" + yaml.safe_dump(
            manifest(c), sort_keys=False)
        path = manifest_dir / f"{c.name}.yaml"
        if not path.exists() or path.read_text() != text:
            tmp = path.with_name("." + path.name + ".tmp")
            tmp.write_text(text)
            tmp.replace(path)
    # a cluster moved from etcd back to SQLite has no etcd any more
    for c in (ETCD,):
        if c.name not in wanted:
            (manifest_dir / f"{c.name}.yaml").unlink(missing_ok=True)


class HealthServer:
    """Plain-HTTP health endpoints of the in-process components, listening in the node's netns."""

    def __init__(self, netns: str | None, checks: dict[Component, Check]) -> None:
        self.netns = netns
        self.checks = checks
        self._runners: list[web.AppRunner] = []

    async def start(self) -> None:
        from kubelite.network.netns import bound_socket

        try:
            for component, check in self.checks.items():
                app = web.Application()
                handler = self._handler(component, check)
                for path in {component.path, "/healthz", "/livez", "/readyz", "/health"}:
                    app.router.add_get(path, handler)
                runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
                await runner.setup()
                self._runners.append(runner)
                try:
                    sock = await asyncio.to_thread(bound_socket, self.netns, socket.SOCK_STREAM, "127.0.0.1",
                                                   component.port)
                except OSError as err:
                    where = f"network namespace {self.netns}" if self.netns else "this host"
                    raise OSError(err.errno, f"cannot serve {component.name}'s health endpoint on "
                                  f"127.0.0.1:{component.port} in {where}: {err.strerror}") from None
                await web.SockSite(runner, sock, shutdown_timeout=0.5).start()
        except BaseException:
            await self.stop()
            raise

    @staticmethod
    def _handler(component: Component, check: Check) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                ok, message = await asyncio.wait_for(check(), 3.0)
            except TimeoutError:
                ok, message = False, "health check timed out"
            except Exception as err:  # noqa: BLE001 - any failure is "unhealthy", with its reason
                ok, message = False, str(err) or type(err).__name__
            if component is ETCD:
                return web.json_response({"health": "true" if ok else "false", "reason": "" if ok else message},
                                         status=200 if ok else 503)
            return web.Response(text="ok" if ok else message, status=200 if ok else 500)

        return handle

    async def stop(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()
