"""Schemas: unknown-field detection, the /openapi/v3 documents, and `kubectl explain` against a real server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.api import resources
from kubelite.api.schema import KIND_DEFS, openapi_v3_document, openapi_v3_paths, unknown_fields


def test_a_misspelt_container_field_is_reported_with_its_path() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"any": "thing"}},
           "spec": {"containers": [{"name": "c", "imagee": "nginx", "resources": {"limits": {"cpu": "1"}}}]}}
    assert unknown_fields("v1", "Pod", pod) == [".spec.containers[0].imagee"]


def test_free_form_maps_accept_any_key() -> None:
    cm = {"metadata": {"name": "c", "annotations": {"x/y": "z"}}, "data": {"whatever": "1"}}
    assert unknown_fields("v1", "ConfigMap", cm) == []
    dep = {"spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"a": "b"}},
                                                                             "spec": {"nodeSelector": {"k": "v"}}}}}
    assert unknown_fields("apps/v1", "Deployment", dep) == []


def test_unknown_fields_at_every_level_are_listed_in_order() -> None:
    dep = {"metadata": {"nmae": "x"}, "spec": {"replica": 2, "template": {"spec": {"containers": [
        {"name": "a", "ports": [{"containerPort": 80, "proto": "TCP"}]}]}}}, "extra": True}
    assert unknown_fields("apps/v1", "Deployment", dep) == [
        ".metadata.nmae", ".spec.replica", ".spec.template.spec.containers[0].ports[0].proto", ".extra"]


def test_strategic_merge_patch_directives_are_not_unknown_fields() -> None:
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "c"}],
                                            "containers": [{"name": "c", "$patch": "delete"}]}}}}
    assert unknown_fields("apps/v1", "Deployment", patch) == []


def test_every_served_kind_with_a_body_has_a_schema_and_bad_input_is_tolerated() -> None:
    for r in resources.RESOURCES:
        assert (r.api_version, r.kind) in KIND_DEFS, r.kind
        assert unknown_fields(r.api_version, r.kind, {"metadata": "x", "apiVersion": 1}) == []
        assert isinstance(unknown_fields(r.api_version, r.kind, {"spec": [], "status": None, "data": 5}), list)
    assert unknown_fields("v1", "NoSuchKind", {"a": 1}) == []
    assert unknown_fields("v1", "Pod", "not an object") == []


def test_the_openapi_index_lists_every_group_version_with_a_stable_hash() -> None:
    index = openapi_v3_paths()
    assert set(index["paths"]) == {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/coordination.k8s.io/v1",
                                   "apis/discovery.k8s.io/v1", "apis/events.k8s.io/v1"}
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert re.fullmatch(r"/openapi/v3/apis/apps/v1\?hash=[0-9A-F]{128}", url)
    assert openapi_v3_paths() == index


def patch_ops(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [ops["patch"] for ops in doc["paths"].values() if "patch" in ops]


@pytest.mark.parametrize(("gv", "kind"), [("v1", "Pod"), ("apps/v1", "Deployment"), ("batch/v1", "Job"),
                                          ("coordination.k8s.io/v1", "Lease"), ("v1", "ConfigMap")])
def test_each_kind_has_a_patch_operation_with_its_gvk_and_field_validation(gv: str, kind: str) -> None:
    doc = openapi_v3_document(gv)
    assert doc is not None and doc["openapi"].startswith("3.")
    group, _, version = gv.rpartition("/")
    matching = [op for op in patch_ops(doc)
                if op["x-kubernetes-group-version-kind"] == {"group": group, "version": version, "kind": kind}]
    assert matching
    assert all(any(p["name"] == "fieldValidation" for p in op["parameters"]) for op in matching)


def test_documents_are_self_contained_and_describe_kinds() -> None:
    for gv in resources.GROUP_VERSIONS:
        doc = openapi_v3_document(gv)
        assert doc is not None
        schemas = doc["components"]["schemas"]
        refs = set(re.findall(r"#/components/schemas/([\w.]+)", json.dumps(doc)))
        assert refs <= set(schemas), refs - set(schemas)
    core = openapi_v3_document("v1")
    assert core is not None
    pod = core["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "Pod"}]
    assert pod["description"].startswith("Pod is a collection of containers")
    assert pod["properties"]["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]
    assert openapi_v3_document("api/v1") == core
    assert openapi_v3_document("apps/v2") is None


def test_merge_lists_carry_their_patch_keys() -> None:
    doc = openapi_v3_document("v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert (containers["x-kubernetes-patch-merge-key"], containers["x-kubernetes-patch-strategy"]) == ("name", "merge")
    ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    mounts = schemas["io.k8s.api.core.v1.Container"]["properties"]["volumeMounts"]
    assert mounts["x-kubernetes-patch-merge-key"] == "mountPath"
    svc_ports = schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert svc_ports["x-kubernetes-patch-merge-key"] == "port"
    volumes = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"]
    assert volumes["x-kubernetes-patch-strategy"] == "merge,retainKeys"


def test_returned_documents_are_copies() -> None:
    doc = openapi_v3_document("v1")
    assert doc is not None
    doc["paths"].clear()
    again = openapi_v3_document("v1")
    assert again is not None and again["paths"]


# --- end to end: the real kubectl reads the documents through the real server ---------------

@pytest.fixture(scope="module")
def kubectl() -> Iterator[Any]:
    from kubelite.testing.kubectl import Kubectl
    from kubelite.testing.server import KubeliteServer

    with KubeliteServer() as srv:
        k = Kubectl(srv.kubeconfig)
        try:
            yield k
        finally:
            k.cleanup()


def test_kubectl_explain_pod_shows_its_fields(kubectl: Any) -> None:
    r = kubectl("explain", "pod")
    assert r.rc == 0, r.out
    assert "KIND:       Pod" in r.stdout
    assert "spec\t<PodSpec>" in r.stdout


def test_kubectl_explain_a_nested_field(kubectl: Any) -> None:
    r = kubectl("explain", "deployment.spec.replicas")
    assert r.rc == 0, r.out
    assert "FIELD: replicas <integer>" in r.stdout
    r = kubectl("explain", "pod.spec.containers.ports")
    assert r.rc == 0, r.out
    assert "containerPort\t<integer>" in r.stdout


def test_kubectl_apply_is_validated_by_the_server_and_reapplies_with_merge_keys(kubectl: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n"
                   "  - {name: c, imagee: nginx}\n")
    r = kubectl("apply", "-f", str(bad))
    assert r.rc != 0
    assert 'unknown field "spec.containers[0].imagee"' in r.out
    manifest = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
                "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
                "    spec:\n      containers:\n      - name: c\n        image: IMAGE\n"
                "        env: [{name: A, value: 'VALUE'}]\n")
    path = tmp_path / "dep.yaml"
    path.write_text(manifest.replace("IMAGE", "nginx:1").replace("VALUE", "1"))
    assert kubectl("apply", "-f", str(path)).rc == 0
    path.write_text(manifest.replace("IMAGE", "nginx:2").replace("VALUE", "2"))
    r = kubectl("apply", "-f", str(path))
    assert r.rc == 0, r.out
    r = kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} "
                "{.spec.template.spec.containers[0].env[0].value}")
    assert r.stdout == "nginx:2 2"
