"""Validation causes: field paths and messages as a real apiserver words them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.defaults import apply_defaults
from kubelite.api.validation import Cause, validate_create, validate_update


def pod(**spec: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    p["spec"].update(spec)
    apply_defaults("v1", "Pod", p)
    return p


def deployment(**spec: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"metadata": {"name": "web", "namespace": "default"},
                         "spec": {"selector": {"matchLabels": {"app": "web"}},
                                  "template": {"metadata": {"labels": {"app": "web"}},
                                               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    d["spec"].update(spec)
    apply_defaults("apps/v1", "Deployment", d)
    return d


def messages(causes: list[Cause]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def test_a_minimal_defaulted_pod_is_valid() -> None:
    assert validate_create("v1", "Pod", pod()) == []


def test_a_pod_with_no_containers_is_invalid() -> None:
    assert messages(validate_create("v1", "Pod", pod(containers=[]))) == ["spec.containers: Required value"]


def test_a_container_without_an_image_is_reported_with_its_path() -> None:
    p = pod()
    del p["spec"]["containers"][0]["image"]
    causes = validate_create("v1", "Pod", p)
    assert causes == [Cause("FieldValueRequired", "spec.containers[0].image", "Required value")]
    assert causes[0].as_dict() == {"reason": "FieldValueRequired", "message": "Required value",
                                   "field": "spec.containers[0].image"}


def test_a_name_with_an_underscore_is_not_a_dns_subdomain() -> None:
    p = pod()
    p["metadata"]["name"] = "Foo_bar"
    assert messages(validate_create("v1", "Pod", p)) == [
        "metadata.name: Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower case "
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]


def test_a_missing_name_needs_name_or_generate_name() -> None:
    p = pod()
    del p["metadata"]["name"]
    assert messages(validate_create("v1", "Pod", p)) == ["metadata.name: Required value: name or generateName is required"]
    p["metadata"]["generateName"] = "web-"
    assert validate_create("v1", "Pod", p) == []
    p["metadata"]["generateName"] = "Web-"
    assert [c.field for c in validate_create("v1", "Pod", p)] == ["metadata.generateName"]


def test_namespaces_services_and_containers_need_dns_labels() -> None:
    assert [c.field for c in validate_create("v1", "Namespace", {"metadata": {"name": "a.b"}})] == ["metadata.name"]
    svc = {"metadata": {"name": "1web", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}}
    apply_defaults("v1", "Service", svc)
    assert "a DNS-1035 label must consist" in validate_create("v1", "Service", svc)[0].message
    p = pod(containers=[{"name": "My_C", "image": "x"}])
    assert [c.field for c in validate_create("v1", "Pod", p)] == ["spec.containers[0].name"]


def test_a_namespaced_object_needs_a_namespace_and_a_cluster_object_may_not_have_one() -> None:
    p = pod()
    del p["metadata"]["namespace"]
    assert messages(validate_create("v1", "Pod", p)) == ["metadata.namespace: Required value"]
    assert messages(validate_create("v1", "Node", {"metadata": {"name": "n", "namespace": "x"}})) == [
        "metadata.namespace: Forbidden: not allowed on this type"]


def test_bad_label_keys_and_values_are_reported_at_metadata_labels() -> None:
    p = pod()
    p["metadata"]["labels"] = {"good": "ok", "bad key": "v", "k": "-bad-"}
    causes = validate_create("v1", "Pod", p)
    assert [c.field for c in causes] == ["metadata.labels", "metadata.labels"]
    assert causes[0].message.startswith('Invalid value: "bad key": name part must consist of alphanumeric')
    assert causes[1].message.startswith('Invalid value: "-bad-": a valid label must be an empty string')


def test_annotations_may_not_exceed_256_kib() -> None:
    p = pod()
    p["metadata"]["annotations"] = {"big": "x" * (256 * 1024)}
    assert messages(validate_create("v1", "Pod", p)) == [
        "metadata.annotations: Too long: may not be more than 262144 bytes"]


def test_an_unknown_restart_policy_lists_the_supported_values() -> None:
    assert messages(validate_create("v1", "Pod", pod(restartPolicy="Sometimes"))) == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"']


@pytest.mark.parametrize(("change", "expected"), [
    ({"dnsPolicy": "Magic"}, 'spec.dnsPolicy: Unsupported value: "Magic": supported values: "ClusterFirst", '
                             '"ClusterFirstWithHostNet", "Default", "None"'),
    ({"terminationGracePeriodSeconds": -1}, "spec.terminationGracePeriodSeconds: Invalid value: -1: "
                                            "must be greater than or equal to 0"),
    ({"containers": [{"name": "c", "image": "x", "imagePullPolicy": "Sometimes"}]},
     'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", '
     '"IfNotPresent", "Never"'),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 70000}]}]},
     "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]},
     'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'),
    ({"containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]},
     'spec.containers[1].name: Duplicate value: "c"'),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": 80},
                                                           {"name": "http", "containerPort": 81}]}]},
     'spec.containers[0].ports[1].name: Duplicate value: "http"'),
    ({"containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]},
     'spec.containers[0].volumeMounts[0].name: Not found: "data"'),
    ({"containers": [{"name": "c", "image": "x", "env": [{"name": "1X", "value": "v"}]}]},
     "spec.containers[0].env[0].name: Invalid value: \"1X\": a valid environment variable name must consist of "
     "alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or "
     "'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"),
])
def test_bad_pod_fields(change: dict[str, Any], expected: str) -> None:
    assert messages(validate_create("v1", "Pod", pod(**change))) == [expected]


def test_resource_quantities_must_parse_and_requests_may_not_exceed_limits() -> None:
    p = pod(containers=[{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}])
    assert messages(validate_create("v1", "Pod", p)) == [
        'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1']
    p = pod(containers=[{"name": "c", "image": "x", "resources": {"limits": {"memory": "lots"}}}])
    causes = validate_create("v1", "Pod", p)
    assert [c.field for c in causes] == ["spec.containers[0].resources.limits[memory]",
                                         "spec.containers[0].resources.requests[memory]"]  # copied by defaulting
    assert "quantities must match the regular expression" in causes[0].message
    p = pod(containers=[{"name": "c", "image": "x", "resources": {"requests": {"cpu": "-1"}}}])
    assert messages(validate_create("v1", "Pod", p)) == [
        'spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0']


def test_a_defaulted_deployment_is_valid() -> None:
    assert validate_create("apps/v1", "Deployment", deployment()) == []


def test_deployment_replicas_must_not_be_negative() -> None:
    assert messages(validate_create("apps/v1", "Deployment", deployment(replicas=-1))) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"]


def test_a_deployment_needs_a_selector_that_matches_its_template() -> None:
    d = deployment()
    del d["spec"]["selector"]
    assert messages(validate_create("apps/v1", "Deployment", d)) == ["spec.selector: Required value"]
    d = deployment(selector={"matchLabels": {"app": "other"}})
    assert messages(validate_create("apps/v1", "Deployment", d)) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`"]
    d = deployment(selector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]})
    assert validate_create("apps/v1", "Deployment", d) == []


def test_a_deployment_template_must_restart_always() -> None:
    d = deployment()
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert messages(validate_create("apps/v1", "Deployment", d)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']


def test_a_rolling_update_may_not_have_zero_surge_and_zero_unavailable() -> None:
    d = deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}})
    assert messages(validate_create("apps/v1", "Deployment", d)) == [
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0']
    d = deployment(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}})
    assert messages(validate_create("apps/v1", "Deployment", d)) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]


def job(restart: str | None) -> dict[str, Any]:
    j: dict[str, Any] = {"metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
                         "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}}
    if restart:
        j["spec"]["template"]["spec"]["restartPolicy"] = restart
    apply_defaults("batch/v1", "Job", j)
    return j


def test_a_job_template_must_restart_on_failure_or_never() -> None:
    assert validate_create("batch/v1", "Job", job("Never")) == []
    assert messages(validate_create("batch/v1", "Job", job("Always"))) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "Never", "OnFailure"']
    assert messages(validate_create("batch/v1", "Job", job(None))) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']


def svc(**spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"metadata": {"name": "web", "namespace": "default"},
                         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    s["spec"].update(spec)
    apply_defaults("v1", "Service", s)
    return s


def test_services() -> None:
    assert validate_create("v1", "Service", svc()) == []
    assert messages(validate_create("v1", "Service", svc(ports=[]))) == ["spec.ports: Required value"]
    assert messages(validate_create("v1", "Service", svc(type="Fancy"))) == [
        'spec.type: Unsupported value: "Fancy": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
        '"NodePort"']
    assert messages(validate_create("v1", "Service", svc(type="NodePort", ports=[{"port": 80, "nodePort": 80}]))) == [
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767"]
    assert validate_create("v1", "Service", svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}])) == []
    assert messages(validate_create("v1", "Service", svc(ports=[{"port": 80}, {"port": 81}]))) == [
        "spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]
    assert messages(validate_create("v1", "Service", svc(ports=[{"port": 0}]))) == ["spec.ports[0].port: Required value"]


def test_leases_and_nodes() -> None:
    lease = {"metadata": {"name": "n1", "namespace": "kube-node-lease"},
             "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2024-05-01T10:00:00.000000Z"}}
    assert validate_create("coordination.k8s.io/v1", "Lease", lease) == []
    lease["spec"]["leaseDurationSeconds"] = 0
    lease["spec"]["renewTime"] = "yesterday"
    assert [c.field for c in validate_create("coordination.k8s.io/v1", "Lease", lease)] == [
        "spec.leaseDurationSeconds", "spec.renewTime"]
    node = {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.42.1.0/24", "podCIDRs": ["10.42.1.0/24"]}}
    assert validate_create("v1", "Node", node) == []
    node["spec"] = {"podCIDR": "10.42.1.0"}
    assert messages(validate_create("v1", "Node", node)) == [
        'spec.podCIDR: Invalid value: "10.42.1.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']


def test_configmap_and_secret_keys() -> None:
    cm = {"metadata": {"name": "c", "namespace": "d"}, "data": {"ok.key": "v", "bad key": "v"}}
    assert [c.field for c in validate_create("v1", "ConfigMap", cm)] == ["data[bad key]"]
    secret = {"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque", "data": {"a": "not base64!"}}
    assert [c.field for c in validate_create("v1", "Secret", secret)] == ["data[a]"]
    tls = {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}
    assert messages(validate_create("v1", "Secret", tls)) == ["data[tls.key]: Required value"]


def test_non_objects_give_causes_not_tracebacks() -> None:
    for bad in ([], {"metadata": []}, {"metadata": {"name": 5, "namespace": "d"}, "spec": "x"},
                {"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": ["x", None]}}):
        assert validate_create("v1", "Pod", bad)
        assert validate_create("apps/v1", "Deployment", bad)
        assert validate_update("v1", "Pod", bad, bad) is not None


# --- updates --------------------------------------------------------------------------------

def test_a_pod_may_change_its_image_but_not_its_command() -> None:
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    assert validate_update("v1", "Pod", new, old) == []
    new["spec"]["containers"][0]["command"] = ["sh"]
    causes = validate_update("v1", "Pod", new, old)
    assert [c.field for c in causes] == ["spec"]
    assert causes[0].message.startswith("Forbidden: pod updates may not change fields other than")


def test_a_pod_may_add_tolerations_and_be_bound_once() -> None:
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    new["spec"]["nodeName"] = "node1"
    assert validate_update("v1", "Pod", new, old) == []
    newer = copy.deepcopy(new)
    newer["spec"]["nodeName"] = "node2"
    assert [c.field for c in validate_update("v1", "Pod", newer, new)] == ["spec"]


def test_names_and_uids_are_immutable() -> None:
    old = pod()
    old["metadata"]["uid"] = "a"
    new = copy.deepcopy(old)
    new["metadata"]["uid"] = "b"
    assert messages(validate_update("v1", "Pod", new, old)) == ['metadata.uid: Invalid value: "b": field is immutable']


def test_workload_selectors_and_job_templates_are_immutable() -> None:
    old = deployment()
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    assert validate_update("apps/v1", "Deployment", new, old) == []
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "x": "y"}}
    new["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert [c.field for c in validate_update("apps/v1", "Deployment", new, old)] == ["spec.selector"]
    old_job = job("Never")
    new_job = copy.deepcopy(old_job)
    new_job["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:2"
    assert [c.field for c in validate_update("batch/v1", "Job", new_job, old_job)] == ["spec.template"]


def test_a_service_cluster_ip_may_not_change_once_set() -> None:
    old = svc(clusterIP="10.43.0.10", clusterIPs=["10.43.0.10"])
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.43.0.11"
    new["spec"]["clusterIPs"] = ["10.43.0.11"]
    assert messages(validate_update("v1", "Service", new, old)) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.43.0.11"}: may not change once set']


def test_an_immutable_configmap_cannot_change_its_data() -> None:
    old = {"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}, "immutable": True}
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    assert messages(validate_update("v1", "ConfigMap", new, old)) == [
        "data: Forbidden: field is immutable when `immutable` is set"]
