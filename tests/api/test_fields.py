"""The fields kubectl and the components select on (?fieldSelector=), per kind."""

import pytest

from kubelite.api.fields import selectable_fields, supported_fields
from kubelite.api.selectors import parse_field_selector

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {"nodeName": "node1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccountName": "default", "hostNetwork": True, "containers": []},
    "status": {"phase": "Running", "podIP": "10.42.0.5"},
}

EVENT = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "web-1.abc", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "u-1",
                       "apiVersion": "v1", "resourceVersion": "7", "fieldPath": "spec.containers{c}"},
    "reason": "Pulled",
    "source": {"component": "kubelet", "host": "node1"},
    "type": "Normal",
    "reportingComponent": "kubelet",
}

CASES = [
    ("every object has its name", "v1", "ConfigMap", {"metadata": {"name": "cm", "namespace": "ns"}},
     {"metadata.name": "cm", "metadata.namespace": "ns"}),
    ("a cluster-scoped object has an empty namespace", "v1", "Namespace", {"metadata": {"name": "ns"},
     "status": {"phase": "Active"}}, {"metadata.name": "ns", "metadata.namespace": "", "status.phase": "Active"}),
    ("a pod exposes its node, phase and IP", "v1", "Pod", POD,
     {"spec.nodeName": "node1", "status.phase": "Running", "status.podIP": "10.42.0.5",
      "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
      "spec.serviceAccountName": "default", "spec.hostNetwork": "true", "status.nominatedNodeName": ""}),
    ("an unscheduled pod has an empty node name", "v1", "Pod", {"metadata": {"name": "p"}, "spec": {}},
     {"spec.nodeName": "", "status.phase": "", "spec.hostNetwork": "false"}),
    ("a v1 event exposes its involved object", "v1", "Event", EVENT,
     {"involvedObject.kind": "Pod", "involvedObject.name": "web-1", "involvedObject.uid": "u-1",
      "involvedObject.namespace": "default", "involvedObject.apiVersion": "v1",
      "involvedObject.resourceVersion": "7", "involvedObject.fieldPath": "spec.containers{c}",
      "reason": "Pulled", "source": "kubelet", "type": "Normal", "reportingComponent": "kubelet"}),
    ("an events.k8s.io event exposes regarding as involvedObject", "events.k8s.io/v1", "Event",
     {"metadata": {"name": "e", "namespace": "d"}, "regarding": {"kind": "Node", "name": "n1"},
      "reason": "Ready", "reportingController": "kubelet", "type": "Normal"},
     {"involvedObject.kind": "Node", "regarding.kind": "Node", "involvedObject.name": "n1",
      "involvedObject.namespace": "", "reason": "Ready", "reportingComponent": "kubelet", "type": "Normal"}),
    ("a node exposes unschedulable as a boolean string", "v1", "Node",
     {"metadata": {"name": "n"}, "spec": {"unschedulable": True}}, {"spec.unschedulable": "true"}),
    ("a schedulable node reads false", "v1", "Node", {"metadata": {"name": "n"}, "spec": {}},
     {"spec.unschedulable": "false"}),
    ("a secret exposes its type", "v1", "Secret", {"metadata": {"name": "s"}, "type": "Opaque"},
     {"type": "Opaque"}),
    ("a replica set exposes status.replicas as a number", "apps/v1", "ReplicaSet",
     {"metadata": {"name": "rs"}, "status": {"replicas": 3}}, {"status.replicas": "3"}),
    ("a new replication controller has zero replicas", "v1", "ReplicationController",
     {"metadata": {"name": "rc"}}, {"status.replicas": "0"}),
    ("a job exposes its succeeded count as status.successful", "batch/v1", "Job",
     {"metadata": {"name": "j"}, "status": {"succeeded": 1}}, {"status.successful": "1"}),
    ("a service exposes its cluster IP and type", "v1", "Service",
     {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.43.0.10", "type": "ClusterIP"}},
     {"spec.clusterIP": "10.43.0.10", "spec.type": "ClusterIP"}),
]


@pytest.mark.parametrize(("case", "api_version", "kind", "obj", "expected"), CASES, ids=[c[0] for c in CASES])
def test_selectable_fields(case: str, api_version: str, kind: str, obj: dict, expected: dict[str, str]) -> None:
    fields = selectable_fields(api_version, kind, obj)
    for k, v in expected.items():
        assert fields[k] == v, k
    assert set(fields) <= supported_fields(api_version, kind)


def test_describe_node_event_query_matches_the_node_event() -> None:
    node_event = {**EVENT, "metadata": {"name": "n1.x", "namespace": "default"},
                  "involvedObject": {"kind": "Node", "name": "node1", "uid": "node1", "namespace": ""}}
    sel = parse_field_selector(
        "involvedObject.kind=Node,involvedObject.uid=node1,involvedObject.name=node1,involvedObject.namespace="
    )
    assert sel.matches(selectable_fields("v1", "Event", node_event))
    assert not sel.matches(selectable_fields("v1", "Event", EVENT))


def test_supported_fields_name_what_the_server_may_reject() -> None:
    assert supported_fields("v1", "ConfigMap") == {"metadata.name", "metadata.namespace"}
    assert {"spec.nodeName", "status.phase", "metadata.name"} <= supported_fields("v1", "Pod")
    assert "spec.nodeName" not in supported_fields("apps/v1", "Deployment")
    assert "involvedObject.uid" in supported_fields("events.k8s.io/v1", "Event")
    assert supported_fields("example.com/v1", "Widget") == {"metadata.name", "metadata.namespace"}


def test_an_object_without_metadata_reads_empty_names() -> None:
    assert selectable_fields("v1", "Pod", {}) == {**selectable_fields("v1", "Pod", {"metadata": {}})}
    assert selectable_fields("v1", "Pod", {})["metadata.name"] == ""
