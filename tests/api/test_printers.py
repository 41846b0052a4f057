"""Table columns and cells, compared with what the real apiserver prints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubelite.api.meta import format_age, human_duration
from kubelite.api.printers import table_cells, table_columns

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(**kw: float) -> str:
    return (NOW - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def names(api_version: str, kind: str) -> list[str]:
    return [c["name"] for c in table_columns(api_version, kind)]


def running(name: str = "c", restarts: int = 0, ready: bool = True) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": ago(minutes=1)}}}


def pod(statuses: list[dict[str, Any]] | None = None, containers: int = 1, **extra: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "metadata": {"name": "web-1", "creationTimestamp": ago(minutes=5)},
        "spec": {"containers": [{"name": f"c{i}", "image": "busybox"} for i in range(containers)]},
        "status": {"phase": "Running", "containerStatuses": statuses or []},
    }
    for k, v in extra.items():
        p[k].update(v)
    return p


# --- ages -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(seconds=0), "0s"),
    (timedelta(seconds=-1.5), "0s"),
    (timedelta(seconds=-3), "<invalid>"),
    (timedelta(seconds=59), "59s"),
    (timedelta(seconds=119), "119s"),
    (timedelta(minutes=2), "2m"),
    (timedelta(minutes=4, seconds=5), "4m5s"),
    (timedelta(minutes=10, seconds=30), "10m"),
    (timedelta(minutes=179), "179m"),
    (timedelta(hours=3, minutes=20), "3h20m"),
    (timedelta(hours=5), "5h"),
    (timedelta(hours=30), "30h"),
    (timedelta(days=2, hours=3), "2d3h"),
    (timedelta(days=7), "7d"),
    (timedelta(days=100, hours=5), "100d"),
    (timedelta(days=365 * 3 + 10), "3y10d"),
    (timedelta(days=365 * 9), "9y"),
])
def test_ages_follow_kubernetes_human_duration(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text


def test_a_missing_or_garbled_timestamp_has_an_unknown_age() -> None:
    assert format_age(None, NOW) == "<unknown>"
    assert format_age("yesterday", NOW) == "<unknown>"
    assert format_age(ago(minutes=5), NOW) == "5m"
    assert format_age("2024-05-01T11:55:00.123456Z", NOW) == "4m59s"


# --- columns --------------------------------------------------------------------------------

@pytest.mark.parametrize(("api_version", "kind", "expected"), [
    ("v1", "Pod", ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]),
    ("v1", "Node", ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image",
                    "Kernel-Version", "Container-Runtime"]),
    ("v1", "Service", ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]),
    ("apps/v1", "Deployment", ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]),
    ("apps/v1", "ReplicaSet", ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"]),
    ("batch/v1", "Job", ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"]),
    ("v1", "Event", ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen",
                     "Count", "Name"]),
    ("events.k8s.io/v1", "Event", ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
                                   "First Seen", "Count", "Name"]),
    ("v1", "ConfigMap", ["Name", "Data", "Age"]),
    ("v1", "Secret", ["Name", "Type", "Data", "Age"]),
    ("v1", "ServiceAccount", ["Name", "Secrets", "Age"]),
    ("coordination.k8s.io/v1", "Lease", ["Name", "Holder", "Age"]),
    ("v1", "Binding", ["Name", "Created At"]),
])
def test_columns_match_the_real_apiserver(api_version: str, kind: str, expected: list[str]) -> None:
    assert names(api_version, kind) == expected


def test_wide_only_columns_have_priority_one() -> None:
    cols = {c["name"]: c for c in table_columns("v1", "Pod")}
    assert [n for n, c in cols.items() if c["priority"] == 1] == ["IP", "Node", "Nominated Node", "Readiness Gates"]
    assert cols["Name"]["format"] == "name"
    assert all(set(c) == {"name", "type", "format", "description", "priority"} for c in cols.values())


def test_every_printer_returns_one_cell_per_column() -> None:
    for api_version, kind in [("v1", "Pod"), ("v1", "Node"), ("v1", "Service"), ("apps/v1", "Deployment"),
                              ("apps/v1", "ReplicaSet"), ("v1", "ReplicationController"), ("apps/v1", "DaemonSet"),
                              ("batch/v1", "Job"), ("v1", "Event"), ("events.k8s.io/v1", "Event"),
                              ("v1", "Namespace"), ("v1", "Endpoints"), ("discovery.k8s.io/v1", "EndpointSlice"),
                              ("coordination.k8s.io/v1", "Lease"), ("v1", "ConfigMap"), ("v1", "Secret"),
                              ("v1", "ServiceAccount"), ("v1", "PodTemplate"), ("apps/v1", "ControllerRevision"),
                              ("v1", "Binding")]:
        assert len(table_cells(api_version, kind, {"metadata": {"name": "x"}}, NOW)) == len(
            table_columns(api_version, kind)), kind


# --- pods -----------------------------------------------------------------------------------

def pod_status(p: dict[str, Any]) -> list[Any]:
    return table_cells("v1", "Pod", p, NOW)[1:4]


def test_a_running_ready_pod_prints_1_of_1_running_0() -> None:
    assert table_cells("v1", "Pod", pod([running()]), NOW)[:5] == ["web-1", "1/1", "Running", "0", "5m"]


def test_a_crash_looping_pod_with_3_restarts_4_minutes_ago_prints_3_4m_ago() -> None:
    cs = {"name": "c0", "ready": False, "restartCount": 3,
          "state": {"waiting": {"reason": "CrashLoopBackOff"}},
          "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(minutes=4)}}}
    assert pod_status(pod([cs])) == ["0/1", "CrashLoopBackOff", "3 (4m ago)"]


def test_a_pending_pod_with_no_statuses_prints_pending() -> None:
    p = pod()
    p["status"] = {"phase": "Pending"}
    assert pod_status(p) == ["0/1", "Pending", "0"]


def test_a_pod_whose_container_is_being_created_prints_container_creating() -> None:
    cs = {"name": "c0", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
    assert pod_status(pod([cs], status={"phase": "Pending"})) == ["0/1", "ContainerCreating", "0"]


def test_a_finished_pod_prints_completed() -> None:
    cs = {"name": "c0", "ready": False, "restartCount": 0,
          "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    assert pod_status(pod([cs], status={"phase": "Succeeded"})) == ["0/1", "Completed", "0"]


def test_a_container_killed_without_reason_prints_its_exit_code_or_signal() -> None:
    assert pod_status(pod([{"name": "c0", "state": {"terminated": {"exitCode": 2}}}]))[1] == "ExitCode:2"
    assert pod_status(pod([{"name": "c0", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]))[1] == "Signal:9"


def test_a_completed_container_next_to_a_running_one_prints_running_or_not_ready() -> None:
    done = {"name": "c0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    p = pod([running("c1"), done], containers=2)
    assert pod_status(p)[:2] == ["1/2", "NotReady"]
    p["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert pod_status(p)[:2] == ["1/2", "Running"]


def test_a_pod_running_its_second_init_container_prints_init_1_of_2() -> None:
    p = pod([{"name": "c0", "state": {"waiting": {"reason": "PodInitializing"}}}], status={"phase": "Pending"})
    p["spec"]["initContainers"] = [{"name": "i0", "image": "x"}, {"name": "i1", "image": "x"}]
    p["status"]["initContainerStatuses"] = [
        {"name": "i0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "i1", "state": {"running": {}}},
    ]
    assert pod_status(p) == ["0/1", "Init:1/2", "0"]


def test_a_failing_init_container_prints_its_reason_with_init_prefix() -> None:
    p = pod([], status={"phase": "Pending"})
    p["spec"]["initContainers"] = [{"name": "i0", "image": "x"}]
    p["status"]["initContainerStatuses"] = [
        {"name": "i0", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(seconds=30)}}}]
    assert pod_status(p) == ["0/1", "Init:CrashLoopBackOff", "2 (30s ago)"]
    p["status"]["initContainerStatuses"][0]["state"] = {"terminated": {"exitCode": 3}}
    assert pod_status(p)[1] == "Init:ExitCode:3"


def test_a_sidecar_init_container_counts_as_a_container() -> None:
    p = pod([running("c0")])
    p["spec"]["initContainers"] = [{"name": "side", "image": "x", "restartPolicy": "Always"}]
    p["status"]["initContainerStatuses"] = [
        {"name": "side", "ready": True, "started": True, "restartCount": 1, "state": {"running": {}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(hours=2)}}}]
    p["status"]["conditions"] = [{"type": "Initialized", "status": "True"}]
    assert pod_status(p) == ["2/2", "Running", "1 (120m ago)"]


def test_a_pod_being_deleted_prints_terminating() -> None:
    p = pod([running()])
    p["metadata"]["deletionTimestamp"] = ago(seconds=5)
    assert pod_status(p)[1] == "Terminating"


def test_a_deleted_pod_on_a_lost_node_prints_unknown() -> None:
    p = pod([running()], status={"reason": "NodeLost"})
    p["metadata"]["deletionTimestamp"] = ago(seconds=5)
    assert pod_status(p)[1] == "Unknown"


def test_an_evicted_pod_prints_the_status_reason() -> None:
    p = pod([], status={"phase": "Failed", "reason": "Evicted"})
    assert pod_status(p)[1] == "Evicted"


def test_a_scheduling_gated_pod_prints_scheduling_gated() -> None:
    p = pod([], status={"phase": "Pending", "conditions": [{"type": "PodScheduled", "reason": "SchedulingGated"}]})
    assert pod_status(p)[1] == "SchedulingGated"


def test_pod_wide_cells_show_ip_node_and_none_placeholders() -> None:
    p = pod([running()])
    assert table_cells("v1", "Pod", p, NOW)[5:] == ["<none>", "<none>", "<none>", "<none>"]
    p["spec"]["nodeName"] = "node1"
    p["status"]["podIPs"] = [{"ip": "10.42.0.5"}]
    p["spec"]["readinessGates"] = [{"conditionType": "x/ready"}]
    p["status"]["conditions"] = [{"type": "x/ready", "status": "True"}]
    assert table_cells("v1", "Pod", p, NOW)[5:] == ["10.42.0.5", "node1", "<none>", "1/1"]


# --- nodes ----------------------------------------------------------------------------------

def node(ready: str | None = "True", **spec: Any) -> dict[str, Any]:
    n: dict[str, Any] = {
        "metadata": {"name": "node1", "creationTimestamp": ago(days=2, hours=3), "labels": {}},
        "spec": dict(spec),
        "status": {"nodeInfo": {"kubeletVersion": "v1.32.0-kubelite"},
                   "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
                   "conditions": [] if ready is None else [{"type": "Ready", "status": ready}]},
    }
    return n


@pytest.mark.parametrize(("ready", "unschedulable", "text"), [
    ("True", False, "Ready"),
    ("False", False, "NotReady"),
    ("Unknown", False, "NotReady"),
    (None, False, "Unknown"),
    ("True", True, "Ready,SchedulingDisabled"),
])
def test_node_status(ready: str | None, unschedulable: bool, text: str) -> None:
    assert table_cells("v1", "Node", node(ready, unschedulable=unschedulable), NOW)[1] == text


def test_node_roles_come_from_role_labels_or_none() -> None:
    n = node()
    assert table_cells("v1", "Node", n, NOW)[:5] == ["node1", "Ready", "<none>", "2d3h", "v1.32.0-kubelite"]
    n["metadata"]["labels"] = {"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "true",
                               "kubernetes.io/role": "edge"}
    assert table_cells("v1", "Node", n, NOW)[2] == "control-plane,edge,worker"


def test_node_wide_cells() -> None:
    assert table_cells("v1", "Node", node(), NOW)[5:] == ["192.168.1.10", "<none>", "<unknown>", "<unknown>", "<unknown>"]


# --- services -------------------------------------------------------------------------------

def svc(type_: str = "ClusterIP", ports: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "creationTimestamp": ago(hours=1)},
            "spec": {"type": type_, "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
                     "ports": ports if ports is not None else [{"port": 80, "protocol": "TCP"}], **spec}}


def test_a_cluster_ip_service_prints_none_external_ip_and_80_tcp() -> None:
    assert table_cells("v1", "Service", svc(selector={"app": "web"}), NOW) == [
        "web", "ClusterIP", "10.43.0.10", "<none>", "80/TCP", "60m", "app=web"]


def test_a_node_port_service_prints_port_and_node_port() -> None:
    s = svc("NodePort", [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}])
    assert table_cells("v1", "Service", s, NOW)[3:5] == ["<none>", "80:30080/TCP,53/UDP"]


def test_a_load_balancer_without_ingress_is_pending() -> None:
    s = svc("LoadBalancer")
    assert table_cells("v1", "Service", s, NOW)[3] == "<pending>"
    s["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example"}]}}
    assert table_cells("v1", "Service", s, NOW)[3] == "1.2.3.4,lb.example"


def test_a_service_without_ports_and_selector() -> None:
    s = svc(ports=[])
    cells = table_cells("v1", "Service", s, NOW)
    assert cells[4] == "<none>" and cells[6] == "<none>"
    assert table_cells("v1", "Service", svc("ExternalName", externalName="db.example"), NOW)[3] == "db.example"


# --- workloads ------------------------------------------------------------------------------

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "busybox"}]}}


def test_deployment_cells() -> None:
    d = {"metadata": {"name": "web", "creationTimestamp": ago(minutes=3)},
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
         "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert table_cells("apps/v1", "Deployment", d, NOW) == [
        "web", "2/3", 3, 2, "3m", "a,b", "nginx:1,busybox", "app=web"]


def test_replicaset_selector_with_expressions_and_empty_status() -> None:
    rs = {"metadata": {"name": "web-abc"},
          "spec": {"replicas": 2, "template": TEMPLATE, "selector": {
              "matchLabels": {"tier": "fe"},
              "matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]},
                                   {"key": "zz", "operator": "DoesNotExist"}]}}}
    assert table_cells("apps/v1", "ReplicaSet", rs, NOW) == [
        "web-abc", 2, 0, 0, "<unknown>", "a,b", "nginx:1,busybox", "app in (api,web),tier=fe,!zz"]


def test_replication_controller_and_daemonset_cells() -> None:
    rc = {"metadata": {"name": "rc"}, "spec": {"replicas": 1, "selector": {"app": "web"}, "template": TEMPLATE},
          "status": {"replicas": 1, "readyReplicas": 1}}
    assert table_cells("v1", "ReplicationController", rc, NOW)[:4] == ["rc", 1, 1, 1]
    assert table_cells("v1", "ReplicationController", rc, NOW)[-1] == "app=web"
    ds = {"metadata": {"name": "ds"}, "spec": {"selector": {"matchLabels": {"app": "ds"}}, "template": TEMPLATE},
          "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                     "updatedNumberScheduled": 2, "numberAvailable": 1}}
    assert table_cells("apps/v1", "DaemonSet", ds, NOW)[:8] == ["ds", 2, 2, 1, 2, 1, "<none>", "<unknown>"]


@pytest.mark.parametrize(("spec", "status", "deleting", "expected"), [
    ({"completions": 1}, {"succeeded": 1, "startTime": "2024-05-01T11:50:00Z", "completionTime": "2024-05-01T11:50:12Z",
                          "conditions": [{"type": "Complete", "status": "True"}]}, False, ["Complete", "1/1", "12s"]),
    ({"completions": 3}, {"succeeded": 1, "startTime": "2024-05-01T11:55:00Z"}, False, ["Running", "1/3", "5m"]),
    ({"parallelism": 4}, {}, False, ["Running", "0/1 of 4", ""]),
    ({}, {"conditions": [{"type": "Failed", "status": "True"}]}, False, ["Failed", "0/1", ""]),
    ({"completions": 1}, {}, True, ["Terminating", "0/1", ""]),
    ({"completions": 1}, {"conditions": [{"type": "Suspended", "status": "True"}]}, False, ["Suspended", "0/1", ""]),
])
def test_job_status_completions_and_duration(spec: dict[str, Any], status: dict[str, Any], deleting: bool,
                                             expected: list[str]) -> None:
    job: dict[str, Any] = {"metadata": {"name": "pi"}, "spec": {**spec, "template": TEMPLATE}, "status": status}
    if deleting:
        job["metadata"]["deletionTimestamp"] = ago(seconds=1)
    assert table_cells("batch/v1", "Job", job, NOW)[1:4] == expected


# --- events ---------------------------------------------------------------------------------

def test_a_core_event_prints_last_seen_object_and_message() -> None:
    ev = {"metadata": {"name": "web-1.17c"}, "type": "Normal", "reason": "Scheduled",
          "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{c}"},
          "source": {"component": "default-scheduler"}, "message": " Successfully assigned default/web-1 \n",
          "firstTimestamp": ago(minutes=10), "lastTimestamp": ago(minutes=2), "count": 3}
    assert table_cells("v1", "Event", ev, NOW) == [
        "2m", "Normal", "Scheduled", "pod/web-1", "spec.containers{c}", "default-scheduler",
        "Successfully assigned default/web-1", "10m", 3, "web-1.17c"]


def test_a_new_style_event_uses_event_time_series_and_reporting_controller() -> None:
    ev = {"metadata": {"name": "e"}, "type": "Warning", "reason": "BackOff", "involvedObject": {"kind": "Node"},
          "eventTime": "2024-05-01T11:59:00.000001Z", "reportingComponent": "kubelet", "reportingInstance": "node1"}
    assert table_cells("v1", "Event", ev, NOW) == [
        "59s", "Warning", "BackOff", "node", "", "kubelet, node1", "", "59s", 1, "e"]
    ev["series"] = {"count": 7, "lastObservedTime": "2024-05-01T11:59:50.000000Z"}
    cells = table_cells("v1", "Event", ev, NOW)
    assert cells[0] == "10s" and cells[8] == 7


def test_an_events_k8s_io_event_prints_like_a_core_event() -> None:
    ev = {"metadata": {"name": "e"}, "type": "Normal", "reason": "Pulled", "note": "pulled image",
          "regarding": {"kind": "Pod", "name": "web-1"}, "eventTime": "2024-05-01T11:58:00.000000Z",
          "reportingController": "kubelet", "reportingInstance": "node1"}
    assert table_cells("events.k8s.io/v1", "Event", ev, NOW) == [
        "2m", "Normal", "Pulled", "pod/web-1", "", "kubelet, node1", "pulled image", "2m", 1, "e"]


# --- the rest -------------------------------------------------------------------------------

def test_small_kinds() -> None:
    meta = {"name": "x", "creationTimestamp": ago(seconds=30)}
    assert table_cells("v1", "Namespace", {"metadata": meta, "status": {"phase": "Active"}}, NOW) == ["x", "Active", "30s"]
    assert table_cells("v1", "ConfigMap", {"metadata": meta, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}},
                       NOW) == ["x", 3, "30s"]
    assert table_cells("v1", "Secret", {"metadata": meta, "type": "Opaque", "data": {"a": "MQ=="}}, NOW) == [
        "x", "Opaque", 1, "30s"]
    assert table_cells("v1", "ServiceAccount", {"metadata": meta}, NOW) == ["x", 0, "30s"]
    assert table_cells("coordination.k8s.io/v1", "Lease", {"metadata": meta, "spec": {"holderIdentity": "n1"}},
                       NOW) == ["x", "n1", "30s"]
    assert table_cells("v1", "PodTemplate", {"metadata": meta, "template": TEMPLATE}, NOW) == [
        "x", "a,b", "nginx:1,busybox", "app=web"]


def test_endpoints_show_three_addresses_and_how_many_more() -> None:
    ep = {"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": f"10.42.0.{i}"} for i in range(1, 6)], "ports": [{"port": 80}]}]}
    assert table_cells("v1", "Endpoints", ep, NOW)[1] == "10.42.0.1:80,10.42.0.2:80,10.42.0.3:80 + 2 more..."
    assert table_cells("v1", "Endpoints", {"metadata": {"name": "web"}}, NOW)[1] == "<none>"


def test_endpointslice_cells() -> None:
    es = {"metadata": {"name": "web-x"}, "addressType": "IPv4", "ports": [{"port": 80, "name": "http"}, {}],
          "endpoints": [{"addresses": ["10.42.0.1"]}, {"addresses": ["10.42.0.2"]}]}
    assert table_cells("discovery.k8s.io/v1", "EndpointSlice", es, NOW)[:4] == [
        "web-x", "IPv4", "80,*", "10.42.0.1,10.42.0.2"]
    assert table_cells("discovery.k8s.io/v1", "EndpointSlice", {"metadata": {"name": "e"}}, NOW)[2:4] == [
        "<unset>", "<unset>"]


def test_controller_revision_names_its_controller() -> None:
    cr = {"metadata": {"name": "ds-1", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "controller": True}]}, "revision": 2}
    assert table_cells("apps/v1", "ControllerRevision", cr, NOW)[:3] == ["ds-1", "daemonset.apps/ds", 2]


def test_any_other_kind_prints_name_and_created_at() -> None:
    assert table_cells("v1", "Binding", {"metadata": {"name": "b", "creationTimestamp": "2024-05-01T10:00:00Z"}},
                       NOW) == ["b", "2024-05-01T10:00:00Z"]
