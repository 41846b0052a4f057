"""Server-side printing: the Table columns and cells of `kubectl get`, as the real apiserver makes them.

kubectl does not compute columns itself: it asks for `as=Table` and prints what the server sends,
so the column definitions and the cell text here follow Kubernetes' printers.go (1.32) one for one.
The real server always generates the wide cells (columns with priority 1 are hidden by kubectl
unless `-o wide`), so `table_cells` always returns every column.

Pure functions over plain JSON dicts; the caller passes `now` so output is deterministic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubelite.api.meta import format_age, human_duration, parse_time

Obj = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# Column descriptions (the API's field docs, as the real server sends them).

NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATED_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients may "
    "not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
    "Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_CONTAINERS_DOC = "Names of each container in the template."
_IMAGES_DOC = "Images referenced by each container in the template."
_SELECTOR_DOC = (
    "A label query over pods that should match the replica count. It must match the pod template's "
    "labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_EVENT_TS_DOC = "The time at which the most recent occurrence of this event was recorded."


def _col(name: str, typ: str, desc: str, priority: int = 0, fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


def _name_col(priority: int = 0) -> dict[str, Any]:
    return _col("Name", "string", NAME_DOC, priority, "name")


def _age_col() -> dict[str, Any]:
    return _col("Age", "string", CREATED_DOC)


def _template_cols(selector: bool = True) -> list[dict[str, Any]]:
    cols = [_col("Containers", "string", _CONTAINERS_DOC, 1), _col("Images", "string", _IMAGES_DOC, 1)]
    if selector:
        cols.append(_col("Selector", "string", _SELECTOR_DOC, 1))
    return cols


_POD_COLUMNS = [
    _name_col(),
    _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", "string", "The aggregate status of the containers in this pod."),
    _col("Restarts", "string", "The number of times the containers in this pod have been restarted "
         "and when the last container in this pod has restarted."),
    _age_col(),
    _col("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. "
         "Empty if not yet allocated.", 1),
    _col("Node", "string", "NodeName indicates in which node this pod is scheduled. If empty, this pod "
         "is a candidate for scheduling by the scheduler defined in schedulerName.", 1),
    _col("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods "
         "on the node, but it cannot be scheduled right away as preemption victims receive their "
         "graceful termination periods.", 1),
    _col("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod "
         "readiness. A pod is ready when all its containers are ready AND all conditions specified in "
         "the readiness gates have status equal to \"True\"", 1),
]

_NODE_COLUMNS = [
    _name_col(),
    _col("Status", "string", "The status of the node"),
    _col("Roles", "string", "The roles of the node"),
    _age_col(),
    _col("Version", "string", "Kubelet Version reported by the node."),
    _col("Internal-IP", "string", "List of addresses reachable to the node.", 1),
    _col("External-IP", "string", "List of addresses reachable to the node.", 1),
    _col("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
    _col("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
    _col("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime "
         "remote API (e.g. containerd://1.4.2).", 1),
]

_SERVICE_COLUMNS = [
    _name_col(),
    _col("Type", "string", "type determines how the Service is exposed. Defaults to ClusterIP. Valid "
         "options are ExternalName, ClusterIP, NodePort, and LoadBalancer."),
    _col("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
    _col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster "
         "will also accept traffic for this service."),
    _col("Port(s)", "string", "The list of ports that are exposed by this service."),
    _age_col(),
    _col("Selector", "string", "Route service traffic to pods with label keys and values matching this "
         "selector.", 1),
]

_DEPLOYMENT_COLUMNS = [
    _name_col(),
    _col("Ready", "string", "Number of the pod with ready state"),
    _col("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that "
         "have the desired template spec."),
    _col("Available", "string", "Total number of available pods (ready for at least minReadySeconds) "
         "targeted by this deployment."),
    _age_col(),
    *_template_cols(),
]

_REPLICAS_COLUMNS = [
    _name_col(),
    _col("Desired", "integer", "Replicas is the number of desired replicas."),
    _col("Current", "integer", "Replicas is the most recently observed number of replicas."),
    _col("Ready", "integer", "The number of ready replicas for this replica set."),
    _age_col(),
    *_template_cols(),
]

_DAEMONSET_COLUMNS = [
    _name_col(),
    _col("Desired", "integer", "The total number of nodes that should be running the daemon pod "
         "(including nodes correctly running the daemon pod)."),
    _col("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are "
         "supposed to run the daemon pod."),
    _col("Ready", "integer", "The number of nodes that should be running the daemon pod and have one "
         "or more of the daemon pod running and ready."),
    _col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    _col("Available", "integer", "The number of nodes that should be running the daemon pod and have "
         "one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
    _col("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit "
         "on a node."),
    _age_col(),
    *_template_cols(),
]

_JOB_COLUMNS = [
    _name_col(),
    _col("Status", "string", "Status of the job."),
    _col("Completions", "string", "The number of pods which reached phase Succeeded."),
    _col("Duration", "string", "Time required to complete the job."),
    _age_col(),
    *_template_cols(),
]

_EVENT_COLUMNS = [
    _col("Last Seen", "string", _EVENT_TS_DOC),
    _col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
    _col("Reason", "string", "This should be a short, machine understandable string that gives the "
         "reason for the transition into the object's current status."),
    _col("Object", "string", "The object that this event is about."),
    _col("Subobject", "string", "If referring to a piece of an object instead of an entire object, this "
         "string should contain a valid JSON/Go field access statement, such as "
         "desiredState.manifest.containers[2].", 1),
    _col("Source", "string", "The component reporting this event. Should be a short machine "
         "understandable string.", 1),
    _col("Message", "string", "A human-readable description of the status of this operation."),
    _col("First Seen", "string", "The time at which the event was first recorded. (Time of server "
         "receipt is in TypeMeta.)", 1),
    _col("Count", "string", "The number of times this event has occurred.", 1),
    _name_col(priority=1),
]

_COLUMNS: dict[str, list[dict[str, Any]]] = {
    "Pod": _POD_COLUMNS,
    "Node": _NODE_COLUMNS,
    "Service": _SERVICE_COLUMNS,
    "Deployment": _DEPLOYMENT_COLUMNS,
    "ReplicaSet": _REPLICAS_COLUMNS,
    "ReplicationController": _REPLICAS_COLUMNS,
    "DaemonSet": _DAEMONSET_COLUMNS,
    "Job": _JOB_COLUMNS,
    "Event": _EVENT_COLUMNS,
    "Namespace": [_name_col(), _col("Status", "string", "The status of the namespace"), _age_col()],
    "Endpoints": [_name_col(), _col("Endpoints", "string", "The set of all endpoints is the union of "
                                    "all subsets."), _age_col()],
    "EndpointSlice": [
        _name_col(),
        _col("AddressType", "string", "addressType specifies the type of address carried by this "
             "EndpointSlice. All addresses in this slice must be the same type."),
        _col("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in "
             "this slice."),
        _col("Endpoints", "string", "endpoints is a list of unique endpoints in this slice."),
        _age_col(),
    ],
    "Lease": [_name_col(), _col("Holder", "string", "holderIdentity contains the identity of the holder "
                                "of a current lease."), _age_col()],
    "ConfigMap": [_name_col(), _col("Data", "string", "Data contains the configuration data."), _age_col()],
    "Secret": [
        _name_col(),
        _col("Type", "string", "Used to facilitate programmatic handling of secret data."),
        _col("Data", "string", "Data contains the secret data."),
        _age_col(),
    ],
    "ServiceAccount": [_name_col(), _col("Secrets", "string", "Secrets is a list of the secrets in the "
                                         "same namespace that pods running using this ServiceAccount "
                                         "are allowed to use."), _age_col()],
    "PodTemplate": [
        _name_col(),
        _col("Containers", "string", _CONTAINERS_DOC),
        _col("Images", "string", _IMAGES_DOC),
        _col("Pod Labels", "string", "The labels for the pod template."),
    ],
    "ControllerRevision": [
        _name_col(),
        _col("Controller", "string", "Controller of the object"),
        _col("Revision", "string", "Revision indicates the revision of the state represented by Data."),
        _age_col(),
    ],
}

_DEFAULT_COLUMNS = [_name_col(), _col("Created At", "date", CREATED_DOC)]

#: (apiVersion, kind) pairs with a dedicated printer; anything else gets the default columns.
_PRINTED_KINDS = {
    ("v1", "Pod"), ("v1", "Node"), ("v1", "Service"), ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"), ("v1", "ReplicationController"), ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"), ("v1", "Event"), ("events.k8s.io/v1", "Event"), ("v1", "Namespace"),
    ("v1", "Endpoints"), ("discovery.k8s.io/v1", "EndpointSlice"), ("coordination.k8s.io/v1", "Lease"),
    ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "PodTemplate"),
    ("apps/v1", "ControllerRevision"),
}


def table_columns(api_version: str, kind: str) -> list[dict[str, Any]]:
    """The Table `columnDefinitions` the real apiserver sends for this kind (fresh copies)."""
    cols = _COLUMNS[kind] if (api_version, kind) in _PRINTED_KINDS else _DEFAULT_COLUMNS
    return [dict(c) for c in cols]


def table_cells(api_version: str, kind: str, obj: Obj, now: datetime | None = None) -> list[Any]:
    """One Table row's cells for `obj`, formatted exactly as the real apiserver does."""
    if now is None:
        now = datetime.now(UTC)
    if not isinstance(obj, dict):
        raise TypeError("table_cells needs a JSON object (dict)")
    if (api_version, kind) not in _PRINTED_KINDS:
        return _default_cells(obj)
    if api_version == "events.k8s.io/v1":
        return _event_cells(_event_from_events_v1(obj), now)
    return _PRINTERS[kind](obj, now)


# ---------------------------------------------------------------------------------------------
# Small accessors: tolerate missing or null fields the way Go's zero values do.


def _d(obj: Any, *path: str) -> dict[str, Any]:
    cur = obj
    for p in path:
        cur = cur.get(p) if isinstance(cur, dict) else None
    return cur if isinstance(cur, dict) else {}


def _l(obj: Any, key: str) -> list[Any]:
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, list) else []


def _s(obj: Any, key: str) -> str:
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, str) else ""


def _i(obj: Any, key: str, default: int = 0) -> int:
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def _name(obj: Obj) -> str:
    return _s(_d(obj, "metadata"), "name")


def _age(obj: Obj, now: datetime) -> str:
    return format_age(_d(obj, "metadata").get("creationTimestamp"), now)


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: sorted `k=v` joined by commas, `<none>` when empty."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def selector_string(selector: Any) -> str:
    """metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key; "" for none."""
    if not isinstance(selector, dict):
        return ""
    reqs: list[tuple[str, str]] = []
    for k, v in _d(selector, "matchLabels").items():
        reqs.append((k, f"{k}={v}"))
    for expr in _l(selector, "matchExpressions"):
        if not isinstance(expr, dict):
            continue
        key, op = _s(expr, "key"), _s(expr, "operator")
        values = ",".join(sorted(str(v) for v in _l(expr, "values")))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op)
        if text is None:
            return "<error>"
        reqs.append((key, text))
    reqs.sort(key=lambda r: r[0])
    return ",".join(text for _, text in reqs)


def format_label_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector: like selector_string but `<none>` when it selects everything."""
    return selector_string(selector) or "<none>"


def _containers_cells(pod_spec: dict[str, Any]) -> list[str]:
    containers = [c for c in _l(pod_spec, "containers") if isinstance(c, dict)]
    return [",".join(_s(c, "name") for c in containers), ",".join(_s(c, "image") for c in containers)]


def _default_cells(obj: Obj) -> list[Any]:
    t = parse_time(_d(obj, "metadata").get("creationTimestamp"))
    created = t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else "0001-01-01T00:00:00Z"
    return [_name(obj), created]


# ---------------------------------------------------------------------------------------------
# Pods


def _is_restartable_init(container: Any) -> bool:
    return isinstance(container, dict) and container.get("restartPolicy") == "Always"


def _condition_true(conditions: list[Any], ctype: str) -> bool:
    return any(isinstance(c, dict) and c.get("type") == ctype and c.get("status") == "True" for c in conditions)


def pod_status_reason(pod: Obj) -> tuple[str, int, int, int, datetime | None]:
    """printPod's core: (STATUS text, ready containers, total containers, restarts, last restart)."""
    spec, status = _d(pod, "spec"), _d(pod, "status")
    conditions = _l(status, "conditions")
    restarts = 0
    sidecar_restarts = 0
    total = len(_l(spec, "containers"))
    ready = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    phase = _s(status, "phase")
    reason = _s(status, "reason") or phase
    for cond in conditions:
        if isinstance(cond, dict) and cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs: dict[str, Any] = {}
    init_containers = _l(spec, "initContainers")
    for c in init_containers:
        if isinstance(c, dict):
            init_specs[_s(c, "name")] = c
            if _is_restartable_init(c):
                total += 1

    def later(a: datetime | None, b: datetime | None) -> datetime | None:
        if b is None:
            return a
        return b if a is None or a < b else a

    initializing = False
    for i, cs in enumerate(_l(status, "initContainerStatuses")):
        if not isinstance(cs, dict):
            continue
        restarts += _i(cs, "restartCount")
        last_term = _d(cs, "lastState", "terminated")
        finished = parse_time(last_term.get("finishedAt")) if last_term else None
        last_restart = later(last_restart, finished)
        sidecar = _is_restartable_init(init_specs.get(_s(cs, "name")))
        if sidecar:
            sidecar_restarts += _i(cs, "restartCount")
            last_sidecar_restart = later(last_sidecar_restart, finished)
        state = _d(cs, "state")
        terminated = state.get("terminated") if isinstance(state.get("terminated"), dict) else None
        waiting = state.get("waiting") if isinstance(state.get("waiting"), dict) else None
        if terminated is not None and _i(terminated, "exitCode") == 0:
            continue
        if sidecar and cs.get("started") is True:
            if cs.get("ready") is True:
                ready += 1
            continue
        if terminated is not None:
            if not _s(terminated, "reason"):
                if _i(terminated, "signal") != 0:
                    reason = f"Init:Signal:{_i(terminated, 'signal')}"
                else:
                    reason = f"Init:ExitCode:{_i(terminated, 'exitCode')}"
            else:
                reason = "Init:" + _s(terminated, "reason")
        elif waiting is not None and _s(waiting, "reason") and _s(waiting, "reason") != "PodInitializing":
            reason = "Init:" + _s(waiting, "reason")
        else:
            reason = f"Init:{i}/{len(init_containers)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        statuses = [cs for cs in _l(status, "containerStatuses") if isinstance(cs, dict)]
        for cs in reversed(statuses):
            restarts += _i(cs, "restartCount")
            last_term = _d(cs, "lastState", "terminated")
            if last_term:
                last_restart = later(last_restart, parse_time(last_term.get("finishedAt")))
            state = _d(cs, "state")
            waiting = state.get("waiting") if isinstance(state.get("waiting"), dict) else None
            terminated = state.get("terminated") if isinstance(state.get("terminated"), dict) else None
            if waiting is not None and _s(waiting, "reason"):
                reason = _s(waiting, "reason")
            elif terminated is not None and _s(terminated, "reason"):
                reason = _s(terminated, "reason")
            elif terminated is not None:
                if _i(terminated, "signal") != 0:
                    reason = f"Signal:{_i(terminated, 'signal')}"
                else:
                    reason = f"ExitCode:{_i(terminated, 'exitCode')}"
            elif cs.get("ready") is True and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    deleting = bool(_d(pod, "metadata").get("deletionTimestamp"))
    if deleting and _s(status, "reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def _pod_cells(pod: Obj, now: datetime) -> list[Any]:
    reason, ready, total, restarts, last_restart = pod_status_reason(pod)
    restarts_text = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    spec, status = _d(pod, "spec"), _d(pod, "status")
    pod_ip = ""
    pod_ips = _l(status, "podIPs")
    if pod_ips and isinstance(pod_ips[0], dict):
        pod_ip = _s(pod_ips[0], "ip")
    gates = "<none>"
    readiness_gates = _l(spec, "readinessGates")
    if readiness_gates:
        true_count = 0
        for gate in readiness_gates:
            ctype = _s(gate, "conditionType")
            for cond in _l(status, "conditions"):
                if isinstance(cond, dict) and cond.get("type") == ctype:
                    if cond.get("status") == "True":
                        true_count += 1
                    break
        gates = f"{true_count}/{len(readiness_gates)}"
    return [
        _name(pod), f"{ready}/{total}", reason, restarts_text, _age(pod, now),
        pod_ip or "<none>", _s(spec, "nodeName") or "<none>",
        _s(status, "nominatedNodeName") or "<none>", gates,
    ]


# ---------------------------------------------------------------------------------------------
# Nodes, services, workloads


def _node_cells(node: Obj, now: datetime) -> list[Any]:
    status = _d(node, "status")
    parts: list[str] = []
    ready_cond = None
    for cond in _l(status, "conditions"):
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            ready_cond = cond  # the last one wins, as with Go's map
    if ready_cond is not None:
        parts.append("Ready" if ready_cond.get("status") == "True" else "NotReady")
    if not parts:
        parts.append("Unknown")
    if _d(node, "spec").get("unschedulable") is True:
        parts.append("SchedulingDisabled")
    roles: set[str] = set()
    for k, v in _d(node, "metadata", "labels").items():
        if k.startswith("node-role.kubernetes.io/"):
            role = k[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif k == "kubernetes.io/role" and isinstance(v, str) and v:
            roles.add(v)
    info = _d(status, "nodeInfo")

    def address(kind: str) -> str:
        for a in _l(status, "addresses"):
            if isinstance(a, dict) and a.get("type") == kind:
                return _s(a, "address")
        return "<none>"

    return [
        _name(node), ",".join(parts), ",".join(sorted(roles)) or "<none>", _age(node, now),
        _s(info, "kubeletVersion"), address("InternalIP"), address("ExternalIP"),
        _s(info, "osImage") or "<unknown>", _s(info, "kernelVersion") or "<unknown>",
        _s(info, "containerRuntimeVersion") or "<unknown>",
    ]


def _service_external_ip(svc: Obj) -> str:
    spec = _d(svc, "spec")
    external_ips = [str(x) for x in _l(spec, "externalIPs")]
    svc_type = _s(spec, "type")
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) if external_ips else "<none>"
    if svc_type == "LoadBalancer":
        found: set[str] = set()
        for ing in _l(_d(svc, "status", "loadBalancer"), "ingress"):
            if isinstance(ing, dict):
                if _s(ing, "ip"):
                    found.add(_s(ing, "ip"))
                elif _s(ing, "hostname"):
                    found.add(_s(ing, "hostname"))
        lb = sorted(found)
        if external_ips:
            return ",".join(lb + external_ips)
        return ",".join(lb) if lb else "<pending>"
    if svc_type == "ExternalName":
        return _s(spec, "externalName")
    return "<unknown>"


def _service_cells(svc: Obj, now: datetime) -> list[Any]:
    spec = _d(svc, "spec")
    cluster_ips = _l(spec, "clusterIPs")
    internal = str(cluster_ips[0]) if cluster_ips else (_s(spec, "clusterIP") or "<none>")
    pieces = []
    for p in _l(spec, "ports"):
        if not isinstance(p, dict):
            continue
        port, proto, node_port = _i(p, "port"), _s(p, "protocol"), _i(p, "nodePort")
        pieces.append(f"{port}:{node_port}/{proto}" if node_port > 0 else f"{port}/{proto}")
    return [
        _name(svc), _s(spec, "type"), internal, _service_external_ip(svc), ",".join(pieces) or "<none>",
        _age(svc, now), format_labels(spec.get("selector")),
    ]


def _deployment_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj, "spec"), _d(obj, "status")
    return [
        _name(obj), f"{_i(status, 'readyReplicas')}/{_i(spec, 'replicas', 1)}",
        _i(status, "updatedReplicas"), _i(status, "availableReplicas"), _age(obj, now),
        *_containers_cells(_d(spec, "template", "spec")), selector_string(spec.get("selector")),
    ]


def _replicaset_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj, "spec"), _d(obj, "status")
    return [
        _name(obj), _i(spec, "replicas", 1), _i(status, "replicas"), _i(status, "readyReplicas"),
        _age(obj, now), *_containers_cells(_d(spec, "template", "spec")),
        format_label_selector(spec.get("selector")),
    ]


def _rc_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj, "spec"), _d(obj, "status")
    return [
        _name(obj), _i(spec, "replicas", 1), _i(status, "replicas"), _i(status, "readyReplicas"),
        _age(obj, now), *_containers_cells(_d(spec, "template", "spec")),
        format_labels(spec.get("selector")),
    ]


def _daemonset_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj, "spec"), _d(obj, "status")
    return [
        _name(obj), _i(status, "desiredNumberScheduled"), _i(status, "currentNumberScheduled"),
        _i(status, "numberReady"), _i(status, "updatedNumberScheduled"), _i(status, "numberAvailable"),
        format_labels(_d(spec, "template", "spec").get("nodeSelector")), _age(obj, now),
        *_containers_cells(_d(spec, "template", "spec")), format_label_selector(spec.get("selector")),
    ]


def _job_condition(conditions: list[Any], ctype: str) -> bool:
    for c in conditions:
        if isinstance(c, dict) and c.get("type") == ctype:
            return bool(c.get("status") == "True")
    return False


def _job_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj, "spec"), _d(obj, "status")
    succeeded = _i(status, "succeeded")
    if isinstance(spec.get("completions"), int):
        completions = f"{succeeded}/{spec['completions']}"
    else:
        parallelism = _i(spec, "parallelism")
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start = parse_time(status.get("startTime"))
    end = parse_time(status.get("completionTime"))
    duration = "" if start is None else human_duration((end or now) - start)
    conditions = _l(status, "conditions")
    if _job_condition(conditions, "Complete"):
        state = "Complete"
    elif _job_condition(conditions, "Failed"):
        state = "Failed"
    elif _d(obj, "metadata").get("deletionTimestamp"):
        state = "Terminating"
    elif _job_condition(conditions, "Suspended"):
        state = "Suspended"
    elif _job_condition(conditions, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    return [
        _name(obj), state, completions, duration, _age(obj, now),
        *_containers_cells(_d(spec, "template", "spec")), format_label_selector(spec.get("selector")),
    ]


# ---------------------------------------------------------------------------------------------
# Events (core/v1, and events.k8s.io/v1 converted to the core shape as the server does)


def _event_from_events_v1(ev: Obj) -> Obj:
    """events.k8s.io/v1 Event -> the core/v1 field names printEvent reads."""
    out: Obj = {
        "metadata": ev.get("metadata") or {},
        "involvedObject": ev.get("regarding") or {},
        "message": ev.get("note", ""),
        "type": ev.get("type", ""),
        "reason": ev.get("reason", ""),
        "firstTimestamp": ev.get("deprecatedFirstTimestamp"),
        "lastTimestamp": ev.get("deprecatedLastTimestamp"),
        "count": ev.get("deprecatedCount", 0),
        "source": ev.get("deprecatedSource") or {},
        "eventTime": ev.get("eventTime"),
        "reportingComponent": ev.get("reportingController", ""),
        "reportingInstance": ev.get("reportingInstance", ""),
    }
    if isinstance(ev.get("series"), dict):
        out["series"] = ev["series"]
    return out


def _event_cells(ev: Obj, now: datetime) -> list[Any]:
    first = format_age(ev.get("firstTimestamp"), now)
    if parse_time(ev.get("firstTimestamp")) is None:
        first = format_age(ev.get("eventTime"), now)
    last = format_age(ev.get("lastTimestamp"), now)
    if parse_time(ev.get("lastTimestamp")) is None:
        last = first
    count = _i(ev, "count")
    series = ev.get("series")
    if isinstance(series, dict):
        last = format_age(series.get("lastObservedTime"), now)
        count = _i(series, "count")
    elif count == 0:
        count = 1
    involved = _d(ev, "involvedObject")
    kind = _s(involved, "kind").lower()
    target = f"{kind}/{_s(involved, 'name')}" if _s(involved, "name") else kind
    source = _d(ev, "source")
    component = _s(source, "component") or _s(ev, "reportingComponent")
    instance = _s(source, "host") or _s(ev, "reportingInstance")
    source_text = f"{component}, {instance}" if instance else component
    return [
        last, _s(ev, "type"), _s(ev, "reason"), target, _s(involved, "fieldPath"), source_text,
        _s(ev, "message").strip(), first, count, _name(ev),
    ]


# ---------------------------------------------------------------------------------------------
# Everything else


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _endpoints_cells(obj: Obj, now: datetime) -> list[Any]:
    subsets = [s for s in _l(obj, "subsets") if isinstance(s, dict)]
    if not subsets:
        return [_name(obj), "<none>", _age(obj, now)]
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addresses = [a for a in _l(ss, "addresses") if isinstance(a, dict)]
        ports = [p for p in _l(ss, "ports") if isinstance(p, dict)]
        if not ports:
            count += len(addresses)
            for a in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_s(a, "ip"))
            continue
        for p in ports:
            count += len(addresses)
            for a in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_join_host_port(_s(a, "ip"), _i(p, "port")))
    text = ",".join(shown)
    if more:
        text = f"{text} + {count - limit} more..."
    return [_name(obj), text, _age(obj, now)]


def _list_with_more(items: list[str], total: int, limit: int = 3) -> str:
    text = ",".join(items[:limit])
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or "<unset>"


def _endpointslice_cells(obj: Obj, now: datetime) -> list[Any]:
    ports = []
    for p in _l(obj, "ports"):
        if not isinstance(p, dict):
            continue
        if isinstance(p.get("port"), int):
            ports.append(str(p["port"]))
        elif isinstance(p.get("name"), str):
            ports.append(p["name"])
        else:
            ports.append("*")
    addresses = [str(a) for e in _l(obj, "endpoints") if isinstance(e, dict) for a in _l(e, "addresses")]
    return [
        _name(obj), _s(obj, "addressType"), _list_with_more(ports, len(ports)),
        _list_with_more(addresses, len(addresses)), _age(obj, now),
    ]


def _controllerrevision_cells(obj: Obj, now: datetime) -> list[Any]:
    controller = "<none>"
    for ref in _l(_d(obj, "metadata"), "ownerReferences"):
        if isinstance(ref, dict) and ref.get("controller") is True:
            api_version = _s(ref, "apiVersion")
            group = api_version.split("/", 1)[0] if "/" in api_version else ""
            kind = _s(ref, "kind")
            group_kind = f"{kind}.{group}" if group else kind
            controller = f"{group_kind.lower()}/{_s(ref, 'name')}" if group_kind else _s(ref, "name")
            break
    return [_name(obj), controller, _i(obj, "revision"), _age(obj, now)]


def _podtemplate_cells(obj: Obj, now: datetime) -> list[Any]:
    template = _d(obj, "template")
    return [_name(obj), *_containers_cells(_d(template, "spec")), format_labels(_d(template, "metadata").get("labels"))]


_PRINTERS: dict[str, Any] = {
    "Pod": _pod_cells,
    "Node": _node_cells,
    "Service": _service_cells,
    "Deployment": _deployment_cells,
    "ReplicaSet": _replicaset_cells,
    "ReplicationController": _rc_cells,
    "DaemonSet": _daemonset_cells,
    "Job": _job_cells,
    "Event": _event_cells,
    "Namespace": lambda o, now: [_name(o), _s(_d(o, "status"), "phase"), _age(o, now)],
    "Endpoints": _endpoints_cells,
    "EndpointSlice": _endpointslice_cells,
    "Lease": lambda o, now: [_name(o), _s(_d(o, "spec"), "holderIdentity"), _age(o, now)],
    "ConfigMap": lambda o, now: [_name(o), len(_d(o, "data")) + len(_d(o, "binaryData")), _age(o, now)],
    "Secret": lambda o, now: [_name(o), _s(o, "type"), len(_d(o, "data")), _age(o, now)],
    "ServiceAccount": lambda o, now: [_name(o), len(_l(o, "secrets")), _age(o, now)],
    "PodTemplate": _podtemplate_cells,
    "ControllerRevision": _controllerrevision_cells,
}
