"""Bad requests get the right Status code and reason, the server stays up, nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from kubelite.testing.server import KubeliteServer

PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def revision(server: KubeliteServer) -> str:
    status, body = server.request("GET", "/api/v1/namespaces")
    assert status == 200
    return str(body["metadata"]["resourceVersion"])


@pytest.fixture(scope="module")
def unchanged(server: KubeliteServer) -> Iterator[None]:
    """Every test in this module must leave the store exactly as it found it."""
    server.request("POST", CMS, {"metadata": {"name": "existing"}, "data": {"a": "1"}})
    before = revision(server)
    yield
    assert server.request("GET", "/readyz", auth=False)[0] == 200
    assert revision(server) == before


def expect(result: tuple[int, Any], code: int, reason: str) -> dict[str, Any]:
    status, body = result
    assert status == code, body
    assert isinstance(body, dict) and body.get("kind") == "Status", body
    assert body["reason"] == reason and body["code"] == code, body
    return body


def test_malformed_json(server: KubeliteServer, unchanged: None) -> None:
    expect(server.request("POST", PODS, b'{"metadata": {"name": '), 400, "BadRequest")


def test_malformed_yaml(server: KubeliteServer, unchanged: None) -> None:
    expect(server.request("POST", PODS, b"metadata: [unclosed\n  name: x", "application/yaml"), 400, "BadRequest")


def test_body_that_is_not_an_object(server: KubeliteServer, unchanged: None) -> None:
    expect(server.request("POST", PODS, b"[1, 2]"), 400, "BadRequest")


def test_wrong_kind_for_url(server: KubeliteServer, unchanged: None) -> None:
    body = expect(server.request("POST", PODS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
                  400, "BadRequest")
    assert "ConfigMap" in body["message"]
    expect(server.request("POST", PODS, {**pod("x"), "apiVersion": "apps/v1"}), 400, "BadRequest")


def test_namespace_mismatch(server: KubeliteServer, unchanged: None) -> None:
    obj = pod("x")
    obj["metadata"]["namespace"] = "kube-system"
    expect(server.request("POST", PODS, obj), 400, "BadRequest")


def test_invalid_names(server: KubeliteServer, unchanged: None) -> None:
    for name in ("Bad_Name", "-leading", "x" * 254, "a..b"):
        body = expect(server.request("POST", PODS, pod(name)), 422, "Invalid")
        assert body["details"]["kind"] == "Pod"
        assert any(c["field"] == "metadata.name" for c in body["details"]["causes"])
    expect(server.request("POST", CMS, {"metadata": {}}), 422, "Invalid")


def test_invalid_spec_names_each_bad_field(server: KubeliteServer, unchanged: None) -> None:
    body = expect(server.request("POST", PODS, {"metadata": {"name": "noimage"}, "spec": {"containers": [{"name": "c"}]}}),
                  422, "Invalid")
    assert "spec.containers[0].image" in [c["field"] for c in body["details"]["causes"]]
    assert body["message"].startswith('Pod "noimage" is invalid: ')


def test_negative_replicas(server: KubeliteServer, unchanged: None) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "neg"},
           "spec": {"replicas": -1, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    body = expect(server.request("POST", DEPLOYS, dep), 422, "Invalid")
    assert "spec.replicas" in [c["field"] for c in body["details"]["causes"]]


def test_negative_scale(server: KubeliteServer, unchanged: None) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "scalebad"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    # creating and deleting changes the revision: do it via dryRun so the store stays untouched
    status, _ = server.request("POST", DEPLOYS + "?dryRun=All", dep)
    assert status == 201
    expect(server.request("GET", DEPLOYS + "/scalebad"), 404, "NotFound")


def test_unknown_fields_strict(server: KubeliteServer, unchanged: None) -> None:
    obj = pod("strict")
    obj["spec"]["bogus"] = 1
    body = expect(server.request("POST", PODS + "?fieldValidation=Strict", obj), 400, "BadRequest")
    assert 'unknown field "spec.bogus"' in body["message"]


def test_body_over_3_mib(server: KubeliteServer, unchanged: None) -> None:
    big = {"metadata": {"name": "big"}, "data": {"a": "x" * (3 * 1024 * 1024 + 10)}}
    expect(server.request("POST", CMS, json.dumps(big).encode()), 413, "RequestEntityTooLarge")


def test_configmap_over_one_mib(server: KubeliteServer, unchanged: None) -> None:
    big = {"metadata": {"name": "big"}, "data": {"a": "x" * (2 * 1024 * 1024)}}
    expect(server.request("POST", CMS, big), 422, "Invalid")


def test_wrong_content_types(server: KubeliteServer, unchanged: None) -> None:
    expect(server.request("POST", PODS, b"name: x", "text/plain"), 415, "UnsupportedMediaType")
    expect(server.request("PATCH", CMS + "/existing", {"data": {"a": "2"}}, "application/json"),
           415, "UnsupportedMediaType")
    expect(server.request("POST", PODS, b"k8s\x00garbage", "application/vnd.kubernetes.protobuf"), 400, "BadRequest")


def test_stale_resource_version(server: KubeliteServer, unchanged: None) -> None:
    _, cm = server.request("GET", CMS + "/existing")
    cm["metadata"]["resourceVersion"] = "1"
    body = expect(server.request("PUT", CMS + "/existing", cm), 409, "Conflict")
    assert "the object has been modified" in body["message"]
    body = expect(server.request("DELETE", CMS + "/existing", {"preconditions": {"uid": "not-the-uid"}}),
                  409, "Conflict")
    assert "Precondition failed" in body["message"]


def test_unknown_resources_and_paths(server: KubeliteServer, unchanged: None) -> None:
    expect(server.request("GET", "/api/v1/namespaces/default/widgets"), 404, "NotFound")
    expect(server.request("GET", "/apis/nope.example.com/v1/things"), 404, "NotFound")
    expect(server.request("GET", "/not/an/api"), 404, "NotFound")
    body = expect(server.request("GET", PODS + "/missing"), 404, "NotFound")
    assert body["message"] == 'pods "missing" not found' and body["details"]["kind"] == "pods"
    expect(server.request("GET", PODS + "/missing/status"), 404, "NotFound")
    expect(server.request("POST", "/api/v1/namespaces/nope/configmaps", {"metadata": {"name": "x"}}),
           404, "NotFound")


def test_unsupported_verbs(server: KubeliteServer, unchanged: None) -> None:
    expect(server.request("PUT", PODS, pod("x")), 405, "MethodNotAllowed")
    expect(server.request("DELETE", "/api/v1/namespaces"), 405, "MethodNotAllowed")
    expect(server.request("GET", PODS + "/x/binding"), 405, "MethodNotAllowed")
    expect(server.request("PATCH", "/api/v1/namespaces/default/bindings/x", {}, "application/merge-patch+json"),
           405, "MethodNotAllowed")


def test_bad_query_parameters(server: KubeliteServer, unchanged: None) -> None:
    body = expect(server.request("GET", PODS + "?fieldSelector=spec.bogus%3Dx"), 400, "BadRequest")
    assert "field label not supported: spec.bogus" in body["message"]
    expect(server.request("GET", PODS + "?labelSelector=a%20in%20(b"), 400, "BadRequest")
    expect(server.request("GET", PODS + "?limit=1&continue=garbage"), 400, "BadRequest")
    expect(server.request("GET", PODS + "?limit=abc"), 400, "BadRequest")
    expect(server.request("POST", PODS + "?dryRun=Some", pod("x")), 400, "BadRequest")
    expect(server.request("DELETE", CMS + "/existing", {"propagationPolicy": "Sideways"}), 400, "BadRequest")


def test_protected_namespace(server: KubeliteServer, unchanged: None) -> None:
    expect(server.request("DELETE", "/api/v1/namespaces/default"), 403, "Forbidden")


def test_authentication(server: KubeliteServer, unchanged: None) -> None:
    expect(server.request("GET", PODS, auth=False), 401, "Unauthorized")
    expect(server.request("GET", PODS, auth=False, headers={"Authorization": "Bearer wrong"}), 401, "Unauthorized")
    for path in ("/healthz", "/livez", "/readyz"):
        assert server.request("GET", path, auth=False) == (200, b"ok")
    status, body = server.request("GET", "/version", auth=False)
    assert status == 200 and body["major"] == "1" and body["minor"] == "32"
