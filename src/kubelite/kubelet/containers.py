"""The sync of a running pod against the runtime: sandbox, init containers, containers, restarts.

Kubernetes' counterparts: `SyncPod` / `computePodActions` (pkg/kubelet/kuberuntime/kuberuntime_manager.go),
`startContainer` / `killContainer` with the postStart and preStop hooks
(kuberuntime_container.go), CrashLoopBackOff (the backoff of `doBackOff`), the image pull
(pkg/kubelet/images `EnsureImageExists`) and the container garbage collection of one pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from kubelite.kubelet import spec as S
from kubelite.kubelet.containerconfig import ContainerConfigs
from kubelite.kubelet.probes import LIVENESS, STARTUP
from kubelite.kubelet.state import CONFIG_RETRY, PodState
from kubelite.kubelet.status import (
    now_ts,
)
from kubelite.kubelet.volumes import mounts_for
from kubelite.runtime.images import REGISTRY
from kubelite.runtime.types import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    PodSandboxConfig,
    PodSandboxStatus,
    RuntimeError_,
    SandboxState,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class ImagePullError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _latest(containers: list[ContainerStatus]) -> list[ContainerStatus]:
    return sorted(containers, key=lambda c: (c.attempt, c.created_at), reverse=True)


def _histories(containers: list[ContainerStatus]) -> dict[str, list[ContainerStatus]]:
    """Container name -> its runtime containers, newest first: grouped once per sync for what
    `_act`, `_gc_containers` and `_report` read (history[0] current, history[1] previous)."""
    by_name: dict[str, list[ContainerStatus]] = {}
    for c in containers:
        by_name.setdefault(c.name, []).append(c)
    for name, history in by_name.items():
        if len(history) > 1:
            by_name[name] = _latest(history)
    return by_name


class ContainerManager(ContainerConfigs):
    """Starts, restarts and kills the containers of one pod (see the module docstring)."""

    async def _sync_running(self, pod: Obj, st: PodState, sandboxes: list[PodSandboxStatus],
                            containers: list[ContainerStatus]) -> None:
        spec = pod.get("spec") or {}
        uid = st.uid
        policy = str(spec.get("restartPolicy") or "Always")
        host_network = bool(spec.get("hostNetwork"))
        ready = [s for s in sandboxes if s.state == SandboxState.READY]
        if len(ready) > 1:
            ready.sort(key=lambda s: s.created_at)
        terminal = st.phase in ("Succeeded", "Failed")
        if terminal:
            self._stop_probes(st)
            for sb in ready:
                await self.runtime.stop_pod_sandbox(sb.id)
            sandbox = None
        elif ready:
            sandbox = ready[-1]
            for extra in ready[:-1]:  # a second ready sandbox (e.g. an interrupted run): drop it
                await self.runtime.stop_pod_sandbox(extra.id)
        else:
            sandbox = None
        # the sandbox config is needed only to create a sandbox or a container: most syncs do neither
        built: list[PodSandboxConfig] = []

        def sb_config() -> PodSandboxConfig:
            if not built:
                built.append(self._sandbox_config(pod, len(sandboxes)))
            return built[0]

        if sandbox is None and not terminal:
            # (Re)create the sandbox; containers of an old sandbox are stopped and start again.
            old = [(None, c) for c in containers if c.state in (ContainerState.RUNNING, ContainerState.CREATED)]
            if old:
                await asyncio.gather(*(self.runtime.stop_container(c.id, 0) for _, c in old))
            for sb in sandboxes:
                await self.runtime.stop_pod_sandbox(sb.id)
            try:
                sid = await self.runtime.run_pod_sandbox(sb_config())
            except RuntimeError_ as err:
                self._event(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {err}")
                raise OSError(f"creating the sandbox of {uid} failed: {err}") from None
            sandbox = await self.runtime.pod_sandbox_status(sid)
            if sandboxes:  # old sandboxes and their containers are history now
                containers = await self.runtime.list_containers(labels={S.LABEL_POD_UID: uid})
                for sb in sandboxes:
                    for c in containers:
                        if c.sandbox_id == sb.id:
                            await self.runtime.remove_container(c.id)
                    await self.runtime.remove_pod_sandbox(sb.id)
            containers = []  # a new sandbox has no containers yet
        if st.start_time is None:
            st.start_time = (pod.get("status") or {}).get("startTime") or now_ts()
        pod_ip = ""
        if sandbox is not None:
            if host_network:
                pod_ip = self.node_ip
            elif st.pod_ip[0] == sandbox.id:
                pod_ip = st.pod_ip[1]
            else:
                pod_ip = sandbox.ip or (await self.runtime.pod_sandbox_status(sandbox.id)).ip
                st.pod_ip = (sandbox.id, pod_ip)
        else:
            pod_ip = st.pod_ip[1]
        current = [c for c in containers if sandbox is not None and c.sandbox_id == sandbox.id] \
            if sandbox is not None else containers
        histories = _histories(current)
        acted = False
        if sandbox is not None:
            acted = await self._act(pod, st, policy, sandbox.id, sb_config, pod_ip, histories)
        if acted:
            containers = await self.runtime.list_containers(labels={S.LABEL_POD_UID: uid})
            histories = _histories([c for c in containers if sandbox is not None and c.sandbox_id == sandbox.id])
        await self._gc_containers(histories)
        await self._report(pod, st, policy, sandbox, pod_ip, histories)

    async def _act(self, pod: Obj, st: PodState, policy: str, sandbox_id: str, sb_config: Callable[[], PodSandboxConfig],
                   pod_ip: str, histories: dict[str, list[ContainerStatus]]) -> bool:
        """Start, restart or kill containers; True when something was started or stopped."""
        spec = pod.get("spec") or {}
        acted = False
        loop = asyncio.get_running_loop()
        for c in spec.get("initContainers") or []:
            name = str(c["name"])
            history = histories.get(name, [])
            if not history:
                return await self._start_container(pod, st, c, sandbox_id, sb_config, pod_ip, 0, True) or True
            latest = history[0]
            if latest.state in (ContainerState.RUNNING, ContainerState.UNKNOWN):
                return acted
            if latest.state == ContainerState.CREATED:
                with contextlib.suppress(RuntimeError_):
                    await self.runtime.start_container(latest.id)
                return True
            full = await self.runtime.container_status(latest.id)
            if full.exit_code == 0:
                continue
            if policy == "Never":
                return acted
            return await self._restart(pod, st, c, full, sandbox_id, sb_config, pod_ip, True, loop.time())
        for c in spec.get("containers") or []:
            name = str(c["name"])
            history = histories.get(name, [])
            if not history:
                acted = await self._start_container(pod, st, c, sandbox_id, sb_config, pod_ip, 0, False) or acted
                continue
            latest = history[0]
            if latest.state == ContainerState.CREATED:
                with contextlib.suppress(RuntimeError_):
                    await self.runtime.start_container(latest.id)
                acted = True
                continue
            if latest.state == ContainerState.RUNNING:
                live = self._probe_ok(st, name, LIVENESS, latest.id, True)
                started = self._probe_ok(st, name, STARTUP, latest.id, True)
                if live and started:
                    continue
                kind = "liveness" if not live else "startup"
                await self._stop_containers(pod, [(c, latest)], S.grace_period(pod),
                                            f"Container {name} failed {kind} probe, will be restarted")
                acted = True
            if latest.state == ContainerState.UNKNOWN:
                continue
            full = await self.runtime.container_status(latest.id)
            if full.state != ContainerState.EXITED:
                continue
            if st.seen_exit.get(name) != full.id and full.reason == "OOMKilled":
                self._event(pod, "Warning", "OOMKilling", f"Container {name} was killed: out of memory")
            if not S.should_restart(policy, full.exit_code):
                st.seen_exit[name] = full.id
                continue
            acted = await self._restart(pod, st, c, full, sandbox_id, sb_config, pod_ip, False, loop.time()) or acted
        return acted

    async def _restart(self, pod: Obj, st: PodState, c: Obj, exited: ContainerStatus, sandbox_id: str,
                       sb_config: Callable[[], PodSandboxConfig], pod_ip: str, init: bool, now: float) -> bool:
        name = str(c["name"])
        backoff = st.backoff.setdefault(name, S.Backoff())
        if st.seen_exit.get(name) != exited.id:
            st.seen_exit[name] = exited.id
            if exited.started_at and exited.finished_at:
                backoff.ran_for((exited.finished_at - exited.started_at) / 1e9)
        wait = backoff.remaining(now)
        if wait > 0:
            meta = pod["metadata"]
            message = (f"back-off {int(backoff.delay)}s restarting failed container={name} "
                       f"pod={meta['name']}_{meta.get('namespace')}({st.uid})")
            if st.waiting.get(name, ("", ""))[0] != "CrashLoopBackOff":
                self._event(pod, "Warning", "BackOff", f"Back-off restarting failed container {name} in pod "
                                                       f"{meta['name']}_{meta.get('namespace')}({st.uid})")
            st.waiting[name] = ("CrashLoopBackOff", message)
            self.workers.enqueue_after(st.uid, wait)
            return False
        backoff.restarted(now)
        return await self._start_container(pod, st, c, sandbox_id, sb_config, pod_ip, exited.attempt + 1, init)

    async def _gc_containers(self, histories: dict[str, list[ContainerStatus]]) -> None:
        """Keep the newest two containers per name (current and previous); remove older exited ones."""
        for history in histories.values():
            for old in history[2:]:
                if old.state == ContainerState.EXITED:
                    with contextlib.suppress(RuntimeError_):
                        await self.runtime.remove_container(old.id)

    async def _ensure_image(self, pod: Obj, st: PodState, c: Obj) -> None:
        image = str(c.get("image") or "")
        if not image:
            raise S.SpecError(f"container {c.get('name')} has no image")
        policy = S.effective_pull_policy(c)
        present = await self.runtime.image_status(image)
        local_only = image.startswith(REGISTRY + "/")
        if present is not None and (policy == "IfNotPresent" or policy == "Never" or local_only):
            self._event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine')
            return
        if policy == "Never":
            raise ImagePullError("ErrImageNeverPull",
                                 f'Container image "{image}" is not present with pull policy of Never')
        self._event(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        t0 = time.monotonic()
        try:
            await self.runtime.pull_image(image)
        except RuntimeError_ as err:
            self._event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {err}')
            raise ImagePullError("ErrImagePull", str(err)) from None
        self._event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {time.monotonic() - t0:.3f}s')

    async def _start_container(self, pod: Obj, st: PodState, c: Obj, sandbox_id: str,
                               sandbox_config: Callable[[], PodSandboxConfig],
                               pod_ip: str, attempt: int, init: bool) -> bool:
        """Pull, create and start one container; on failure note a waiting reason and retry later."""
        name = str(c.get("name"))
        uid = st.uid
        meta = pod["metadata"]
        sb_config = sandbox_config()
        try:
            security = self._security(pod, c)
            await self._ensure_image(pod, st, c)
            st.image_failures.pop(name, None)
            volume_paths: dict[str, str] = {}
            etc_hosts: str | None = None
            if self.manage_files:
                volume_paths = await self.volumes.prepare(pod, self.node_allocatable)
                if not (pod.get("spec") or {}).get("hostNetwork"):
                    etc_hosts = await self.volumes.etc_hosts(pod, pod_ip)
            else:
                volume_paths = {str(v.get("name")): "" for v in (pod.get("spec") or {}).get("volumes") or []}
            env = await self._env(pod, c, pod_ip)
            config = ContainerConfig(
                name=name, image=str(c["image"]),
                command=[S.expand(str(a), env) for a in c.get("command") or []],
                args=[S.expand(str(a), env) for a in c.get("args") or []],
                working_dir=str(c.get("workingDir") or ""), envs=env,
                mounts=mounts_for(c, volume_paths, pod, etc_hosts) if self.manage_files else [],
                labels={S.LABEL_POD_UID: uid, S.LABEL_POD_NAME: str(meta["name"]),
                        S.LABEL_POD_NAMESPACE: sb_config.namespace, S.LABEL_CONTAINER_NAME: name,
                        S.LABEL_MANAGED: "true"},
                annotations={**(meta.get("annotations") or {}), S.ANNOTATION_CONTAINER_HASH: S.container_hash(c),
                             **({S.ANNOTATION_INIT: "true"} if init else {})},
                log_path=f"{name}/{attempt}.log", attempt=attempt,
                stdin=bool(c.get("stdin")), stdin_once=bool(c.get("stdinOnce")), tty=bool(c.get("tty")),
                resources=S.linux_resources(c), security=security,
            )
        except S.SpecError as err:
            st.waiting[name] = ("CreateContainerConfigError", str(err))
            self._event(pod, "Warning", "Failed", f"Error: {err}")
            self.workers.enqueue_after(uid, CONFIG_RETRY)
            return False
        except ImagePullError as err:
            n = st.image_failures.get(name, 0) + 1
            st.image_failures[name] = n
            st.waiting[name] = (err.reason, str(err))
            delay = min(S.BACKOFF_MAX, S.BACKOFF_INITIAL * 2 ** (n - 1))
            if n > 1:
                st.waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{c.get("image")}"')
                self._event(pod, "Normal", "BackOff", f'Back-off pulling image "{c.get("image")}"')
            self.workers.enqueue_after(uid, delay)
            return False
        try:
            cid = await self.runtime.create_container(sandbox_id, config, sb_config)
        except RuntimeError_ as err:
            st.waiting[name] = ("CreateContainerError", str(err))
            self._event(pod, "Warning", "Failed", f"Error: {err}")
            self.workers.enqueue_after(uid, CONFIG_RETRY)
            return False
        self._event(pod, "Normal", "Created", f"Created container {name}")
        try:
            await self.runtime.start_container(cid)
        except RuntimeError_ as err:
            st.waiting.pop(name, None)
            self._event(pod, "Warning", "Failed", f"Error: failed to start container {name}: {err}")
            return False
        st.waiting.pop(name, None)
        self._event(pod, "Normal", "Started", f"Started container {name}")
        hook = (c.get("lifecycle") or {}).get("postStart") or {}
        if hook.get("exec"):
            cmd = [str(a) for a in hook["exec"].get("command") or []]
            try:
                result = await self.runtime.exec_sync(cid, cmd, 30)
                failed = f"exit code {result.exit_code}" if result.exit_code != 0 else ""
            except RuntimeError_ as err:
                failed = str(err)
            if failed:
                self._event(pod, "Warning", "FailedPostStartHook", f"PostStartHook failed: {failed}")
                await self.runtime.stop_container(cid, S.grace_period(pod))
        return True

    async def _stop_containers(self, pod: Obj, items: list[tuple[Obj | None, ContainerStatus]], grace: int,
                               reason: str = "") -> None:
        """preStop hooks, then SIGTERM and SIGKILL after what is left of the grace period."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace

        async def one(c: Obj | None, cs: ContainerStatus) -> None:
            self._event(pod, "Normal", "Killing", reason or f"Stopping container {cs.name}")
            hook = ((c or {}).get("lifecycle") or {}).get("preStop") or {}
            try:
                if hook.get("exec"):
                    cmd = [str(a) for a in hook["exec"].get("command") or []]
                    result = await asyncio.wait_for(self.runtime.exec_sync(cs.id, cmd, max(1, grace)), grace or 1)
                    if result.exit_code != 0:
                        self._event(pod, "Warning", "FailedPreStopHook",
                                    f"PreStopHook failed: exit code {result.exit_code}")
                elif hook.get("sleep"):
                    await asyncio.sleep(min(float(hook["sleep"].get("seconds") or 0), grace))
            except (TimeoutError, RuntimeError_) as err:
                self._event(pod, "Warning", "FailedPreStopHook", f"PreStopHook failed: {err}")
            remaining = max(0, int(round(deadline - loop.time())))
            await self.runtime.stop_container(cs.id, remaining)

        await asyncio.gather(*(one(c, cs) for c, cs in items))
