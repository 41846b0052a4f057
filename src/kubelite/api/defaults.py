"""API defaulting: the fields the real apiserver fills in when a client leaves them out.

Mirrors Kubernetes' `SetDefaults_*` functions (pkg/apis/*/v1/defaults.go) plus the few defaults
that Kubernetes applies in the create path of a resource's strategy or in always-on admission
(Pod serviceAccountName, priority; Namespace finalizers; Job selector), because a kubectl user
sees them all the same in `get -o yaml` and `describe`. Nothing else is added: an object
round-trips through kubelite looking like it does on a real cluster.

Pod specs inside templates get only the PodSpec defaults, as in Kubernetes: `enableServiceLinks`,
requests-from-limits, the service account and priority are set on Pods alone.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

DEFAULT_TERMINATION_GRACE_PERIOD = 30
DEFAULT_FILE_MODE = 0o644  # 420
LABEL_VALUE_MAX = 63


def apply_defaults(api_version: str, kind: str, obj: Obj) -> None:
    """Fill in the defaults for `obj` (mutated in place). Unknown kinds are left alone.

    Malformed input (a list where an object belongs, ...) is skipped, never raised on: the
    validator reports it with a field path.
    """
    if not isinstance(obj, dict):
        return
    fn = _DEFAULTERS.get((api_version, kind))
    if fn is not None:
        fn(obj)


# ---------------------------------------------------------------------------------------------
# helpers


def _obj(parent: Any, key: str) -> Obj | None:
    """parent[key] when it is an object, creating it when absent; None if it holds something else."""
    if not isinstance(parent, dict):
        return None
    v = parent.get(key)
    if v is None:
        v = {}
        parent[key] = v
    return v if isinstance(v, dict) else None


def _existing(parent: Any, key: str) -> Obj | None:
    v = parent.get(key) if isinstance(parent, dict) else None
    return v if isinstance(v, dict) else None


def _items(parent: Any, key: str) -> list[Obj]:
    v = parent.get(key) if isinstance(parent, dict) else None
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _setdefault(d: Obj, key: str, value: Any) -> None:
    if d.get(key) is None or d.get(key) == "":
        d[key] = value


# ---------------------------------------------------------------------------------------------
# Pods and pod templates


def image_pull_policy(image: str) -> str:
    """Always for `:latest` or an untagged image, else IfNotPresent (digests count as pinned).

    An empty or unparsable image gets IfNotPresent, as in Kubernetes (validation reports it).
    """
    if "@" in image or not image.strip():
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    _setdefault(probe, "timeoutSeconds", 1)
    _setdefault(probe, "periodSeconds", 10)
    _setdefault(probe, "successThreshold", 1)
    _setdefault(probe, "failureThreshold", 3)
    _default_handler(probe)


def _default_handler(handler: Any) -> None:
    http = _existing(handler, "httpGet")
    if http is not None:
        _setdefault(http, "path", "/")
        _setdefault(http, "scheme", "HTTP")


def _default_container(c: Obj, host_network: bool) -> None:
    image = c.get("image")
    _setdefault(c, "imagePullPolicy", image_pull_policy(image if isinstance(image, str) else ""))
    _setdefault(c, "terminationMessagePath", "/dev/termination-log")
    _setdefault(c, "terminationMessagePolicy", "File")
    if c.get("resources") is None:
        c["resources"] = {}
    for port in _items(c, "ports"):
        _setdefault(port, "protocol", "TCP")
        if host_network and port.get("hostPort") in (None, 0) and isinstance(port.get("containerPort"), int):
            port["hostPort"] = port["containerPort"]
    for env in _items(c, "env"):
        field_ref = _existing(_existing(env, "valueFrom"), "fieldRef")
        if field_ref is not None:
            _setdefault(field_ref, "apiVersion", "v1")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(key))
    lifecycle = _existing(c, "lifecycle")
    if lifecycle is not None:
        _default_handler(lifecycle.get("postStart"))
        _default_handler(lifecycle.get("preStop"))


def _default_volume(v: Obj) -> None:
    sources = [k for k in v if k != "name"]
    if not sources:
        v["emptyDir"] = {}
        return
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        src = _existing(v, key)
        if src is not None:
            _setdefault(src, "defaultMode", DEFAULT_FILE_MODE)
    downward = _existing(v, "downwardAPI")
    for item in _items(downward, "items"):
        field_ref = _existing(item, "fieldRef")
        if field_ref is not None:
            _setdefault(field_ref, "apiVersion", "v1")
    host_path = _existing(v, "hostPath")
    if host_path is not None and "type" not in host_path:
        host_path["type"] = ""


def default_pod_spec(spec: Obj, *, default_restart_policy: bool = True) -> None:
    """SetDefaults_PodSpec and the per-container/volume defaults below it."""
    _setdefault(spec, "dnsPolicy", "ClusterFirst")
    if default_restart_policy:
        _setdefault(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    _setdefault(spec, "terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD)
    _setdefault(spec, "schedulerName", "default-scheduler")
    host_network = spec.get("hostNetwork") is True
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in _items(spec, key):
            _default_container(c, host_network)
    for v in _items(spec, "volumes"):
        _default_volume(v)
    # The deprecated `serviceAccount` field mirrors serviceAccountName (set by conversion).
    sa = spec.get("serviceAccountName")
    if isinstance(sa, str) and sa and not spec.get("serviceAccount"):
        spec["serviceAccount"] = sa


def _default_template(parent: Any, *, default_restart_policy: bool = True) -> None:
    template = _existing(parent, "template")
    if template is None:
        return
    spec = _existing(template, "spec")
    if spec is not None:
        default_pod_spec(spec, default_restart_policy=default_restart_policy)


def _default_pod(pod: Obj) -> None:
    spec = _obj(pod, "spec")
    if spec is None:
        return
    default_pod_spec(spec)
    _setdefault(spec, "enableServiceLinks", True)
    # ServiceAccount and Priority admission (always on in a real cluster).
    _setdefault(spec, "serviceAccountName", "default")
    if not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    if spec.get("priority") is None:
        spec["priority"] = 0
    _setdefault(spec, "preemptionPolicy", "PreemptLowerPriority")
    # Requests default to limits for each resource given only a limit.
    for key in ("initContainers", "containers"):
        for c in _items(spec, key):
            resources = _existing(c, "resources")
            limits = _existing(resources, "limits")
            if resources is None or not limits:
                continue
            requests = resources.get("requests")
            if requests is None:
                requests = resources["requests"] = {}
            if isinstance(requests, dict):
                for name, value in limits.items():
                    requests.setdefault(name, value)


def _default_pod_template(obj: Obj) -> None:
    _default_template(obj)


# ---------------------------------------------------------------------------------------------
# Services, endpoints


def _default_service(svc: Obj) -> None:
    spec = _obj(svc, "spec")
    if spec is None:
        return
    _setdefault(spec, "type", "ClusterIP")
    _setdefault(spec, "sessionAffinity", "None")
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = _obj(spec, "sessionAffinityConfig")
        client_ip = _obj(cfg, "clientIP")
        if client_ip is not None:
            _setdefault(client_ip, "timeoutSeconds", 10800)
    for port in _items(spec, "ports"):
        _setdefault(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and isinstance(port.get("port"), int):
            port["targetPort"] = port["port"]
    svc_type = spec.get("type")
    if svc_type in ("NodePort", "LoadBalancer"):
        _setdefault(spec, "externalTrafficPolicy", "Cluster")
    if svc_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if svc_type != "ExternalName":
        _setdefault(spec, "internalTrafficPolicy", "Cluster")
        _setdefault(spec, "ipFamilies", ["IPv4"])
        _setdefault(spec, "ipFamilyPolicy", "SingleStack")
        cluster_ip = spec.get("clusterIP")
        if isinstance(cluster_ip, str) and cluster_ip and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [cluster_ip]


def _default_endpoints(ep: Obj) -> None:
    for subset in _items(ep, "subsets"):
        for port in _items(subset, "ports"):
            _setdefault(port, "protocol", "TCP")


def _default_endpointslice(es: Obj) -> None:
    for port in _items(es, "ports"):
        _setdefault(port, "protocol", "TCP")
        if port.get("name") is None:
            port["name"] = ""


# ---------------------------------------------------------------------------------------------
# Workloads


def _default_deployment(d: Obj) -> None:
    spec = _obj(d, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _obj(spec, "strategy")
    if strategy is not None:
        _setdefault(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = _obj(strategy, "rollingUpdate")
            if ru is not None:
                _setdefault(ru, "maxUnavailable", "25%")
                _setdefault(ru, "maxSurge", "25%")
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _default_template(spec)


def _default_replicaset(rs: Obj) -> None:
    spec = _obj(rs, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_template(spec)


def _default_replicationcontroller(rc: Obj) -> None:
    spec = _obj(rc, "spec")
    if spec is None:
        return
    template = _existing(spec, "template")
    labels = _existing(_existing(template, "metadata"), "labels")
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = _obj(rc, "metadata")
        if meta is not None and not meta.get("labels"):
            meta["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_template(spec)


def _default_daemonset(ds: Obj) -> None:
    spec = _obj(ds, "spec")
    if spec is None:
        return
    strategy = _obj(spec, "updateStrategy")
    if strategy is not None:
        _setdefault(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = _obj(strategy, "rollingUpdate")
            if ru is not None:
                _setdefault(ru, "maxUnavailable", 1)
                if ru.get("maxSurge") is None:
                    ru["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _default_template(spec)


def _default_job(job: Obj) -> None:
    spec = _obj(job, "spec")
    meta = _obj(job, "metadata")
    if spec is None or meta is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    _setdefault(spec, "completionMode", "NonIndexed")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    _setdefault(spec, "podReplacementPolicy",
                "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed")
    template = _existing(spec, "template")
    user_labels = _existing(_existing(template, "metadata"), "labels")
    user_labels = dict(user_labels) if user_labels else None
    _generate_job_selector(job, spec, meta)
    # Job labels default to the template's (the user's, else the generated ones).
    if not meta.get("labels"):
        labels = user_labels or _existing(_existing(template, "metadata"), "labels")
        if labels:
            meta["labels"] = dict(labels)
    _default_template(spec, default_restart_policy=False)


def _generate_job_selector(job: Obj, spec: Obj, meta: Obj) -> None:
    """Job strategy generateSelector: select on the controller uid unless manualSelector is true."""
    uid, name = meta.get("uid"), meta.get("name")
    if spec.get("manualSelector") is True or not isinstance(uid, str) or not uid:
        return
    template = _obj(spec, "template")
    tmeta = _obj(template, "metadata")
    if tmeta is None:
        return
    labels = _obj(tmeta, "labels")
    if labels is None:
        return
    labels.setdefault("batch.kubernetes.io/controller-uid", uid)
    labels.setdefault("controller-uid", uid)
    if isinstance(name, str) and name and len(name) <= LABEL_VALUE_MAX:
        labels.setdefault("batch.kubernetes.io/job-name", name)
        labels.setdefault("job-name", name)
    if spec.get("selector") is None:
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}


# ---------------------------------------------------------------------------------------------
# Cluster objects and config


def _default_namespace(ns: Obj) -> None:
    spec = _obj(ns, "spec")
    if spec is not None and not spec.get("finalizers"):
        spec["finalizers"] = ["kubernetes"]
    status = _obj(ns, "status")
    if status is not None:
        _setdefault(status, "phase", "Active")


def _default_node(node: Obj) -> None:
    status = _existing(node, "status")
    if status is not None and status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])


def _default_secret(secret: Obj) -> None:
    _setdefault(secret, "type", "Opaque")


_DEFAULTERS: dict[tuple[str, str], Any] = {
    ("v1", "Pod"): _default_pod,
    ("v1", "PodTemplate"): _default_pod_template,
    ("v1", "Service"): _default_service,
    ("v1", "Endpoints"): _default_endpoints,
    ("v1", "ReplicationController"): _default_replicationcontroller,
    ("v1", "Namespace"): _default_namespace,
    ("v1", "Node"): _default_node,
    ("v1", "Secret"): _default_secret,
    ("apps/v1", "Deployment"): _default_deployment,
    ("apps/v1", "ReplicaSet"): _default_replicaset,
    ("apps/v1", "DaemonSet"): _default_daemonset,
    ("batch/v1", "Job"): _default_job,
    ("discovery.k8s.io/v1", "EndpointSlice"): _default_endpointslice,
}


def apply_update_defaults(api_version: str, kind: str, obj: Obj, old: Obj) -> None:
    """Carry server-allocated values that an update left out over from `old` (mutates `obj`).

    Kubernetes does this for Services so that `kubectl replace -f svc.yaml` (a manifest without
    clusterIP or nodePort) keeps the allocated IP and node ports instead of failing validation.
    Call it after `apply_defaults` and before `validate_update`.
    """
    if (api_version, kind) != ("v1", "Service") or not isinstance(obj, dict) or not isinstance(old, dict):
        return
    spec, old_spec = _existing(obj, "spec"), _existing(old, "spec")
    if spec is None or old_spec is None or spec.get("type") == "ExternalName":
        return
    if not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        if old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if not spec.get("clusterIPs") and isinstance(spec.get("clusterIP"), str) and spec["clusterIP"]:
        spec["clusterIPs"] = [spec["clusterIP"]]
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        old_ports = {(p.get("port"), p.get("protocol")): p.get("nodePort") for p in _items(old_spec, "ports")}
        for port in _items(spec, "ports"):
            allocated = old_ports.get((port.get("port"), port.get("protocol")))
            if port.get("nodePort") in (None, 0) and allocated:
                port["nodePort"] = allocated
        if spec.get("healthCheckNodePort") in (None, 0) and old_spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
