"""What the runtime is given to create a sandbox or a container: sandbox config, environment, security.

Kubernetes' counterparts: `generatePodSandboxConfig` (pkg/kubelet/kuberuntime/kuberuntime_sandbox.go),
`makeEnvironmentVariables` (pkg/kubelet/kubelet_pods.go: env, envFrom, configMap/secret keys,
the downward API) and the security context of kuberuntime_container.go's `generateContainerConfig`.
"""

from __future__ import annotations

import logging
from typing import Any

from kubelite.kubelet import spec as S
from kubelite.kubelet.statusmanager import StatusManager
from kubelite.runtime.types import (
    DNSConfig,
    LinuxSandboxOptions,
    PodSandboxConfig,
    PortMapping,
    Protocol_,
    SecurityContext,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]





class ContainerConfigs(StatusManager):
    """Builds the runtime's configs from a pod (see the module docstring)."""

    def _sandbox_config(self, pod: Obj, attempt: int) -> PodSandboxConfig:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid, ns, name = str(meta["uid"]), str(meta.get("namespace") or "default"), str(meta["name"])
        host_network = bool(spec.get("hostNetwork"))
        policy = spec.get("dnsPolicy") or "ClusterFirst"
        if host_network and policy == "ClusterFirst":
            policy = "Default"
        dns: DNSConfig | None = None
        if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and self.cluster_dns:
            d = self.cluster_domain
            dns = DNSConfig([self.cluster_dns], [f"{ns}.svc.{d}", f"svc.{d}", d], ["ndots:5"])
        custom = spec.get("dnsConfig") or {}
        if custom or policy == "None":
            dns = dns or DNSConfig()
            dns.servers += [str(s) for s in custom.get("nameservers") or []]
            dns.searches += [str(s) for s in custom.get("searches") or []]
            dns.options += [f"{o['name']}:{o['value']}" if o.get("value") else str(o.get("name"))
                            for o in custom.get("options") or []]
        ports = [
            PortMapping(container_port=int(p["containerPort"]), host_port=int(p.get("hostPort") or 0),
                        protocol=Protocol_(p.get("protocol") or "TCP"), host_ip=str(p.get("hostIP") or ""))
            for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort")
        ]
        psc = spec.get("securityContext") or {}
        return PodSandboxConfig(
            name=name, uid=uid, namespace=ns, attempt=attempt,
            hostname="" if host_network else str(spec.get("hostname") or name)[:63],
            log_directory=f"{self._logs_dir}/{ns}_{name}_{uid}",
            dns=dns, port_mappings=ports,
            labels={S.LABEL_POD_UID: uid, S.LABEL_POD_NAME: name, S.LABEL_POD_NAMESPACE: ns, S.LABEL_MANAGED: "true"},
            annotations=dict(meta.get("annotations") or {}),
            linux=LinuxSandboxOptions(host_network=host_network, host_pid=bool(spec.get("hostPID")),
                                      host_ipc=bool(spec.get("hostIPC")), run_as_user=psc.get("runAsUser")),
        )

    def _status_pod(self, pod: Obj, pod_ip: str) -> Obj:
        """The pod as the downward API sees it (status.podIP and hostIP filled in)."""
        view = dict(pod)
        view["status"] = {**(pod.get("status") or {}), "podIP": pod_ip, "hostIP": self.node_ip,
                          "podIPs": [{"ip": pod_ip}] if pod_ip else []}
        return view

    async def _env(self, pod: Obj, c: Obj, pod_ip: str) -> dict[str, str]:
        ns = str(pod["metadata"].get("namespace") or "default")
        env: dict[str, str] = {}
        for src in c.get("envFrom") or []:
            prefix = str(src.get("prefix") or "")
            for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
                ref = src.get(key)
                if ref:
                    data = await self.volumes.config_data(kind, ns, str(ref.get("name")), bool(ref.get("optional")))
                    for k, v in (data or {}).items():
                        env[prefix + k] = v.decode(errors="replace")
        for e in c.get("env") or []:
            name = str(e.get("name"))
            vf = e.get("valueFrom")
            if not vf:
                env[name] = S.expand(str(e.get("value") or ""), env)
            elif vf.get("fieldRef"):
                env[name] = S.field_ref_value(self._status_pod(pod, pod_ip), vf["fieldRef"])
            elif vf.get("resourceFieldRef"):
                env[name] = S.resource_field_value(pod, str(c.get("name")), vf["resourceFieldRef"],
                                                   self.node_allocatable)
            else:
                for kind, key in (("configmap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                    ref = vf.get(key)
                    if not ref:
                        continue
                    optional = bool(ref.get("optional"))
                    data = await self.volumes.config_data(kind, ns, str(ref.get("name")), optional)
                    if data is None:
                        break
                    if ref.get("key") not in data:
                        if optional:
                            break
                        raise S.SpecError(f"couldn't find key {ref.get('key')} in {kind} {ns}/{ref.get('name')}")
                    env[name] = data[str(ref["key"])].decode(errors="replace")
        return env

    def _security(self, pod: Obj, c: Obj) -> SecurityContext:
        psc = (pod.get("spec") or {}).get("securityContext") or {}
        csc = c.get("securityContext") or {}
        privileged = bool(csc.get("privileged"))
        if privileged and not self.allow_privileged:
            raise S.SpecError(f"container {c.get('name')}: privileged containers are not allowed on node "
                              f"{self.node_name} (start the agent with --allow-privileged)")
        caps = csc.get("capabilities") or {}
        run_as_user = csc.get("runAsUser", psc.get("runAsUser"))
        run_as_group = csc.get("runAsGroup", psc.get("runAsGroup"))
        return SecurityContext(
            run_as_user=int(run_as_user) if run_as_user is not None else None,
            run_as_group=int(run_as_group) if run_as_group is not None else None,
            privileged=privileged, readonly_rootfs=bool(csc.get("readOnlyRootFilesystem")),
            add_capabilities=[str(x) for x in caps.get("add") or []],
            drop_capabilities=[str(x) for x in caps.get("drop") or []],
        )
