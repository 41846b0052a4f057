"""The official `kubernetes` Python client against a real `kubelite server`."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from kubelite.testing.server import KubeliteServer


@pytest.fixture(scope="module")
def api(server: KubeliteServer) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        yield c


def _pod(name: str, **labels: str) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels=labels or None),
                        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))


def test_pods_create_list_patch_replace_delete(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = core.create_namespaced_pod("default", _pod("py-1", app="py"))
    assert created.metadata.uid and created.status.phase == "Pending"
    assert created.spec.containers[0].image_pull_policy == "Always"  # defaulted (image without tag)
    core.create_namespaced_pod("default", _pod("py-2", app="other"))
    names = [p.metadata.name for p in core.list_namespaced_pod("default", label_selector="app=py").items]
    assert names == ["py-1"]
    patched = core.patch_namespaced_pod("py-1", "default", {"metadata": {"labels": {"extra": "yes"}}})
    assert patched.metadata.labels == {"app": "py", "extra": "yes"}
    patched.metadata.annotations = {"replaced": "true"}
    replaced = core.replace_namespaced_pod("py-1", "default", patched)
    assert replaced.metadata.annotations == {"replaced": "true"}
    assert int(replaced.metadata.resource_version) > int(patched.metadata.resource_version)
    # a PUT with the now-stale resourceVersion loses
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_pod("py-1", "default", patched)
    assert e.value.status == 409
    core.delete_namespaced_pod("py-1", "default")
    core.delete_namespaced_pod("py-2", "default")
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("py-1", "default")
    assert e.value.status == 404


def test_deployments_services_configmaps(api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="py-dep"),
        spec=client.V1DeploymentSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels={"app": "py-dep"}),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"app": "py-dep"}),
                                              spec=client.V1PodSpec(containers=[client.V1Container(
                                                  name="c", image="nginx:1")]))))
    d = apps.create_namespaced_deployment("default", dep)
    assert d.metadata.generation == 1
    scale = apps.patch_namespaced_deployment_scale("py-dep", "default", {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5 and scale.status.selector == "app=py-dep"
    assert apps.read_namespaced_deployment("py-dep", "default").metadata.generation == 2
    # status writes go through /status only
    d = apps.read_namespaced_deployment("py-dep", "default")
    d.status = client.V1DeploymentStatus(replicas=5, ready_replicas=5)
    apps.replace_namespaced_deployment("py-dep", "default", d)
    ignored = apps.read_namespaced_deployment("py-dep", "default").status
    assert ignored is None or ignored.replicas is None
    d = apps.read_namespaced_deployment("py-dep", "default")
    d.status = client.V1DeploymentStatus(replicas=5, ready_replicas=5)
    after = apps.replace_namespaced_deployment_status("py-dep", "default", d)
    assert after.status.ready_replicas == 5 and after.metadata.generation == 2
    svc = core.create_namespaced_service("default", client.V1Service(
        metadata=client.V1ObjectMeta(name="py-svc"),
        spec=client.V1ServiceSpec(selector={"app": "py-dep"}, ports=[client.V1ServicePort(port=80)])))
    assert svc.spec.cluster_ip.startswith("10.43.") and svc.spec.ports[0].target_port == 80
    cm = core.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="py-cm"), data={"a": "1"}))
    assert cm.data == {"a": "1"}
    core.patch_namespaced_config_map("py-cm", "default", {"data": {"b": "2"}})
    assert core.read_namespaced_config_map("py-cm", "default").data == {"a": "1", "b": "2"}
    core.delete_namespaced_config_map("py-cm", "default")
    core.delete_namespaced_service("py-svc", "default")
    apps.delete_namespaced_deployment("py-dep", "default")


def test_watch_stream_sees_changes_and_ends_at_timeout(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    seen: list[tuple[str, str]] = []

    def run() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=2):
            seen.append((ev["type"], ev["object"].metadata.name))

    t = threading.Thread(target=run)
    t.start()
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w1")))
    core.patch_namespaced_config_map("w1", "default", {"data": {"x": "y"}})
    core.delete_namespaced_config_map("w1", "default")
    t.join(30)
    assert not t.is_alive(), "the watch did not end at timeoutSeconds"
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
