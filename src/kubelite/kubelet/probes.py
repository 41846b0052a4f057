"""Liveness, readiness and startup probes: one small asyncio loop per probed container.

A probe must reach the container from inside the pod's network namespace (the pod network may
live in a namespace the agent is not in). exec probes run through the runtime's ExecSync;
httpGet and tcpSocket probes open a TCP connection through the runtime's `port_forward`, which
connects to the port from inside the pod's own network namespace, exactly where the container
listens. A runtime that cannot forward (the simulated one) counts as success: nothing real
listens there.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from kubelite.kubelet.spec import Obj, SpecError, named_port
from kubelite.kubelet.state import KubeletBase, PodState
from kubelite.runtime.types import ContainerStatus, Runtime, RuntimeError_, UnsupportedError

LIVENESS = "Liveness"
READINESS = "Readiness"
STARTUP = "Startup"


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str = ""


async def _http(runtime: Runtime, sandbox_id: str, port: int, get: Obj, read_timeout: float) -> ProbeResult:
    reader, writer = await runtime.port_forward(sandbox_id, port)
    try:
        path = str(get.get("path") or "/")
        host = str(get.get("host") or "localhost")
        headers = "".join(f"{h.get('name')}: {h.get('value')}\r\n" for h in get.get("httpHeaders") or [])
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.32\r\n"
                     f"Accept: */*\r\n{headers}Connection: close\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), read_timeout)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    parts = line.decode(errors="replace").split()
    if len(parts) < 2 or not parts[1].isdigit():
        return ProbeResult(False, f'Get "http://localhost:{port}{path}": malformed HTTP response')
    code = int(parts[1])
    if 200 <= code < 400:
        return ProbeResult(True)
    return ProbeResult(False, f"HTTP probe failed with statuscode: {code}")


async def run_probe(runtime: Runtime, probe: Obj, container: Obj, container_id: str, sandbox_id: str) -> ProbeResult:
    """Run one probe attempt; never raises."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if probe.get("exec"):
            cmd = [str(a) for a in (probe["exec"].get("command") or [])]
            result = await runtime.exec_sync(container_id, cmd, max(1, int(timeout)))
            if result.exit_code == 0:
                return ProbeResult(True)
            out = (result.stdout + result.stderr).decode(errors="replace").strip()
            return ProbeResult(False, f"command {cmd!r} exited with {result.exit_code}: {out}".strip())
        if probe.get("httpGet"):
            port = named_port(container, probe["httpGet"].get("port"))
            return await asyncio.wait_for(_http(runtime, sandbox_id, port, probe["httpGet"], timeout), timeout)
        if probe.get("tcpSocket"):
            port = named_port(container, probe["tcpSocket"].get("port"))
            _, writer = await asyncio.wait_for(runtime.port_forward(sandbox_id, port), timeout)
            writer.close()
            return ProbeResult(True)
        if probe.get("grpc"):
            return ProbeResult(False, "grpc probes are not supported by kubelite")
        return ProbeResult(False, "probe has no handler")
    except UnsupportedError:
        return ProbeResult(True)
    except TimeoutError:
        return ProbeResult(False, f"probe timed out after {timeout:g}s")
    except SpecError as err:
        return ProbeResult(False, str(err))
    except (RuntimeError_, OSError, ConnectionError) as err:
        return ProbeResult(False, str(err) or type(err).__name__)


PROBE_KEYS = ((LIVENESS, "livenessProbe"), (READINESS, "readinessProbe"), (STARTUP, "startupProbe"))


class Prober(KubeletBase):
    """One probe loop per probed container of a pod; their results, read by the sync (pkg/kubelet/prober's
    manager and worker)."""

    def _stop_probes(self, st: PodState, keep: set[str] | None = None) -> None:
        for key, (cid, task) in list(st.probes.items()):
            if keep is None or cid not in keep:
                task.cancel()
                del st.probes[key]

    def _ensure_probes(self, pod: Obj, st: PodState, c: Obj, running: ContainerStatus, sandbox_id: str) -> None:
        for kind, key in PROBE_KEYS:
            probe = c.get(key)
            if not probe:
                continue
            current = st.probes.get((str(c["name"]), kind))
            if current is not None and current[0] == running.id:
                continue
            if current is not None:
                current[1].cancel()
            task = asyncio.create_task(self._probe_loop(pod, st, c, kind, probe, running.id, sandbox_id),
                                       name=f"probe:{st.uid}:{c['name']}:{kind}")
            st.probes[(str(c["name"]), kind)] = (running.id, task)

    def _probe_ok(self, st: PodState, name: str, kind: str, cid: str, default: bool) -> bool:
        result = st.probe_result.get((name, kind))
        if result is None or result[0] != cid:
            return default
        return result[1]

    async def _probe_loop(self, pod: Obj, st: PodState, c: Obj, kind: str, probe: Obj, cid: str,
                          sandbox_id: str) -> None:
        name = str(c["name"])
        period = max(1.0, float(probe.get("periodSeconds") or 10))
        success_threshold = int(probe.get("successThreshold") or 1)
        failure_threshold = int(probe.get("failureThreshold") or 3)
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        successes = failures = 0
        while True:
            if kind != STARTUP and c.get("startupProbe") and not self._probe_ok(st, name, STARTUP, cid, False):
                await asyncio.sleep(min(period, 1.0))
                continue
            result = await run_probe(self.runtime, probe, c, cid, sandbox_id)
            if result.ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                self._event(pod, "Warning", "Unhealthy", f"{kind} probe failed: {result.message}")
            current = st.probe_result.get((name, kind))
            value = current[1] if current is not None and current[0] == cid else None
            if result.ok and successes >= success_threshold:
                value_new: bool | None = True
            elif not result.ok and failures >= failure_threshold:
                value_new = False
            else:
                value_new = value
            if value_new is not None and value_new != value:
                st.probe_result[(name, kind)] = (cid, value_new)
                self.workers.enqueue(st.uid)
            if kind == STARTUP and value_new is True:
                return
            if kind in (LIVENESS, STARTUP) and value_new is False:
                return
            await asyncio.sleep(period)
