"""API defaults, as a real apiserver fills them in."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.defaults import apply_defaults


def defaulted(api_version: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    apply_defaults(api_version, kind, obj)
    return obj


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def test_a_minimal_pod_gets_the_pod_spec_defaults() -> None:
    spec = defaulted("v1", "Pod", POD)["spec"]
    assert spec == {
        "containers": [{"name": "c", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}], "resources": {},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "securityContext": {},
        "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler", "enableServiceLinks": True,
        "serviceAccountName": "default", "serviceAccount": "default", "priority": 0,
        "preemptionPolicy": "PreemptLowerPriority",
    }


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("localhost:5000/app", "Always"), ("localhost:5000/app:v2", "IfNotPresent"),
    ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    pod = copy.deepcopy(POD)
    pod["spec"]["containers"][0]["image"] = image
    assert defaulted("v1", "Pod", pod)["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_values_the_user_set_are_kept() -> None:
    pod = copy.deepcopy(POD)
    pod["spec"].update(restartPolicy="Never", terminationGracePeriodSeconds=0, serviceAccountName="builder")
    pod["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    spec = defaulted("v1", "Pod", pod)["spec"]
    assert (spec["restartPolicy"], spec["terminationGracePeriodSeconds"], spec["serviceAccount"]) == ("Never", 0, "builder")
    assert spec["containers"][0]["imagePullPolicy"] == "Never"


def test_requests_default_to_limits_on_pods_only() -> None:
    pod = copy.deepcopy(POD)
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "100m"}}
    res = defaulted("v1", "Pod", pod)["spec"]["containers"][0]["resources"]
    assert res["requests"] == {"cpu": "100m", "memory": "64Mi"}
    dep = {"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": copy.deepcopy(TEMPLATE)}}
    dep["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    res = defaulted("apps/v1", "Deployment", dep)["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert res == {"limits": {"cpu": "1"}}


def test_probes_env_field_refs_and_volumes_get_their_defaults() -> None:
    pod = copy.deepcopy(POD)
    c = pod["spec"]["containers"][0]
    c["livenessProbe"] = {"httpGet": {"port": 80}}
    c["env"] = [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    pod["spec"]["volumes"] = [{"name": "a", "configMap": {"name": "cm"}}, {"name": "b", "secret": {"secretName": "s"}},
                              {"name": "c"}]
    spec = defaulted("v1", "Pod", pod)["spec"]
    assert spec["containers"][0]["livenessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10,
        "successThreshold": 1, "failureThreshold": 3}
    assert spec["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert spec["volumes"] == [{"name": "a", "configMap": {"name": "cm", "defaultMode": 420}},
                               {"name": "b", "secret": {"secretName": "s", "defaultMode": 420}},
                               {"name": "c", "emptyDir": {}}]


def test_a_service_gets_cluster_ip_type_tcp_ports_and_target_port() -> None:
    svc = {"spec": {"selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}
    spec = defaulted("v1", "Service", svc)["spec"]
    assert spec == {"selector": {"app": "web"}, "type": "ClusterIP", "sessionAffinity": "None",
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80},
                              {"port": 53, "protocol": "UDP", "targetPort": "dns"}],
                    "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}


def test_a_node_port_service_gets_an_external_traffic_policy() -> None:
    spec = defaulted("v1", "Service", {"spec": {"type": "NodePort", "ports": [{"port": 80}]}})["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"


def test_a_deployment_gets_one_replica_and_a_25_percent_rolling_update() -> None:
    dep = defaulted("apps/v1", "Deployment", {"spec": {"selector": {"matchLabels": {"app": "web"}},
                                                       "template": TEMPLATE}})
    spec = dep["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    assert "minReadySeconds" not in spec
    tspec = spec["template"]["spec"]
    assert tspec["restartPolicy"] == "Always" and tspec["containers"][0]["imagePullPolicy"] == "Always"
    assert "enableServiceLinks" not in tspec and "serviceAccountName" not in tspec


def test_a_recreate_deployment_gets_no_rolling_update_block() -> None:
    dep = defaulted("apps/v1", "Deployment", {"spec": {"strategy": {"type": "Recreate"}, "template": TEMPLATE}})
    assert dep["spec"]["strategy"] == {"type": "Recreate"}


def test_a_replication_controller_takes_selector_and_labels_from_its_template() -> None:
    rc = defaulted("v1", "ReplicationController", {"metadata": {"name": "rc"}, "spec": {"template": TEMPLATE}})
    assert rc["spec"]["selector"] == {"app": "web"} and rc["metadata"]["labels"] == {"app": "web"}
    assert rc["spec"]["replicas"] == 1


def test_a_daemonset_rolls_one_node_at_a_time() -> None:
    ds = defaulted("apps/v1", "DaemonSet", {"spec": {"template": TEMPLATE}})
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10


def test_a_job_gets_counts_backoff_and_a_generated_selector() -> None:
    job = {"metadata": {"name": "pi", "uid": "u-1"},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}}}}
    out = defaulted("batch/v1", "Job", job)
    spec = out["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert (spec["completionMode"], spec["suspend"], spec["manualSelector"]) == ("NonIndexed", False, False)
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    labels = {"batch.kubernetes.io/controller-uid": "u-1", "controller-uid": "u-1",
              "batch.kubernetes.io/job-name": "pi", "job-name": "pi"}
    assert spec["template"]["metadata"]["labels"] == labels
    assert out["metadata"]["labels"] == labels


def test_a_job_template_gets_no_restart_policy() -> None:
    job = {"metadata": {"name": "pi", "uid": "u"}, "spec": {"template": {"spec": {"containers": []}}}}
    assert "restartPolicy" not in defaulted("batch/v1", "Job", job)["spec"]["template"]["spec"]


def test_a_parallel_job_keeps_completions_unset_and_a_manual_selector_is_kept() -> None:
    job = {"metadata": {"name": "w", "uid": "u", "labels": {"x": "y"}},
           "spec": {"parallelism": 3, "manualSelector": True, "selector": {"matchLabels": {"app": "w"}},
                    "template": {"metadata": {"labels": {"app": "w"}}, "spec": {"restartPolicy": "OnFailure"}}}}
    spec = defaulted("batch/v1", "Job", job)["spec"]
    assert "completions" not in spec and spec["parallelism"] == 3
    assert spec["selector"] == {"matchLabels": {"app": "w"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "w"}


def test_namespaces_secrets_and_unknown_kinds() -> None:
    assert defaulted("v1", "Namespace", {"metadata": {"name": "x"}}) == {
        "metadata": {"name": "x"}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    assert defaulted("v1", "Secret", {"data": {}})["type"] == "Opaque"
    assert defaulted("v1", "ConfigMap", {"data": {"a": "b"}}) == {"data": {"a": "b"}}
    assert defaulted("coordination.k8s.io/v1", "Lease", {"spec": {}}) == {"spec": {}}


def test_malformed_objects_are_left_for_the_validator() -> None:
    for bad in ({"spec": []}, {"spec": {"containers": "nope"}}, {"spec": {"containers": [1, None]}}):
        apply_defaults("v1", "Pod", copy.deepcopy(bad))  # must not raise
    apply_defaults("apps/v1", "Deployment", {"spec": {"template": []}})


def test_replacing_a_service_keeps_its_allocated_cluster_ip_and_node_ports() -> None:
    from kubelite.api.defaults import apply_update_defaults

    old = defaulted("v1", "Service", {"spec": {"type": "NodePort", "clusterIP": "10.43.0.9",
                                               "ports": [{"port": 80, "nodePort": 30080}]}})
    new = defaulted("v1", "Service", {"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 81}]}})
    apply_update_defaults("v1", "Service", new, old)
    assert new["spec"]["clusterIP"] == "10.43.0.9" and new["spec"]["clusterIPs"] == ["10.43.0.9"]
    assert [p.get("nodePort") for p in new["spec"]["ports"]] == [30080, None]
    untouched = {"spec": {"clusterIP": "10.43.0.7"}}
    apply_update_defaults("v1", "ConfigMap", untouched, old)
    assert untouched == {"spec": {"clusterIP": "10.43.0.7"}}
