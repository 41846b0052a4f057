"""Fixes reported by the other parts: Job defaulting needs the uid, `kubectl replace` of a Service,
jobs/status writes, Service name clashes, namespace finalize, mirror pods, WebSocket close codes."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from kubelite.apiserver.certs import issue_client_certificate
from kubelite.apiserver.proxy import wire_close_code
from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer

NS = "/api/v1/namespaces/default"
JOBS = "/apis/batch/v1/namespaces/default/jobs"
MERGE = "application/merge-patch+json"


def ok(result: tuple[int, Any], code: int = 200) -> Any:
    status, body = result
    assert status == code, body
    return body


def test_kubectl_create_job_stores_a_selector_and_template_labels(server: KubeliteServer, kubectl: Kubectl) -> None:
    r = kubectl("create", "job", "j1", "--image=busybox")
    assert r.rc == 0, r.out
    job = ok(server.request("GET", f"{JOBS}/j1"))
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/controller-uid"] == uid and labels["controller-uid"] == uid
    assert labels["batch.kubernetes.io/job-name"] == "j1" and labels["job-name"] == "j1"


def test_a_generated_job_name_is_the_one_in_its_labels(server: KubeliteServer) -> None:
    job = ok(server.request("POST", JOBS, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "generateName": "gen-"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "busybox"}]}}}}), 201)
    name = job["metadata"]["name"]
    assert name.startswith("gen-") and len(name) > 4
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == name
    assert job["metadata"]["labels"]["job-name"] == name


def test_job_status_writes_keep_the_spec(server: KubeliteServer) -> None:
    job = ok(server.request("POST", JOBS, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "st"},
                                           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                                               {"name": "c", "image": "busybox"}]}}}}), 201)
    patched = ok(server.request("PATCH", f"{JOBS}/st/status", {"status": {"active": 1}}, MERGE))
    assert patched["status"]["active"] == 1 and patched["spec"] == job["spec"]
    patched["status"] = {"succeeded": 1, "startTime": "2024-01-01T00:00:00Z"}
    put = ok(server.request("PUT", f"{JOBS}/st/status", patched))
    assert put["status"]["succeeded"] == 1 and put["spec"] == job["spec"]
    # a status write cannot change the spec either
    put["spec"]["parallelism"] = 7
    put["status"]["succeeded"] = 2
    again = ok(server.request("PUT", f"{JOBS}/st/status", put))
    assert again["spec"]["parallelism"] == job["spec"]["parallelism"] and again["status"]["succeeded"] == 2


def test_kubectl_replace_of_a_service_keeps_its_cluster_ip(server: KubeliteServer, kubectl: Kubectl,
                                                             tmp_path: Path) -> None:
    manifest = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "rep", "namespace": "default"},
                "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80}]}}
    f = tmp_path / "svc.yaml"
    f.write_text(yaml.safe_dump(manifest))
    assert kubectl("create", "-f", str(f)).rc == 0
    before = ok(server.request("GET", f"{NS}/services/rep"))
    manifest["metadata"]["labels"] = {"replaced": "yes"}
    f.write_text(yaml.safe_dump(manifest))
    r = kubectl("replace", "-f", str(f))
    assert r.rc == 0, r.out
    after = ok(server.request("GET", f"{NS}/services/rep"))
    assert after["metadata"]["labels"] == {"replaced": "yes"}
    assert after["spec"]["clusterIP"] == before["spec"]["clusterIP"]
    assert after["spec"]["ports"][0]["nodePort"] == before["spec"]["ports"][0]["nodePort"]


def test_creating_an_existing_service_with_a_fixed_ip_is_already_exists(server: KubeliteServer,
                                                                         kubectl: Kubectl) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fixed"},
           "spec": {"clusterIP": "10.43.0.77", "ports": [{"port": 53, "protocol": "UDP"}]}}
    ok(server.request("POST", f"{NS}/services", svc), 201)
    status, body = server.request("POST", f"{NS}/services", svc)
    assert status == 409 and body["reason"] == "AlreadyExists", body
    r = kubectl("create", "-f", "-", stdin=json.dumps(svc))
    assert r.rc != 0 and 'services "fixed" already exists' in r.stderr
    assert ok(server.request("GET", f"{NS}/services/fixed"))["spec"]["clusterIP"] == "10.43.0.77"


def test_finalize_is_not_undone_by_later_writes(server: KubeliteServer) -> None:
    ok(server.request("POST", "/api/v1/namespaces", {"metadata": {"name": "hold-ns",
                                                                  "finalizers": ["example.com/hold"]}}), 201)
    ns = ok(server.request("DELETE", "/api/v1/namespaces/hold-ns"))
    ns["spec"]["finalizers"] = []
    done = ok(server.request("PUT", "/api/v1/namespaces/hold-ns/finalize", ns))
    assert done["spec"]["finalizers"] == []
    # a status write and a label patch keep the emptied list (defaulting must not refill it)
    ok(server.request("PATCH", "/api/v1/namespaces/hold-ns/status",
                      {"status": {"conditions": [{"type": "NamespaceContentRemaining", "status": "False"}]}}, MERGE))
    ok(server.request("PATCH", "/api/v1/namespaces/hold-ns", {"metadata": {"labels": {"a": "b"}}}, MERGE))
    assert ok(server.request("GET", "/api/v1/namespaces/hold-ns"))["spec"]["finalizers"] == []
    # removing the last metadata finalizer lets it go
    ok(server.request("PATCH", "/api/v1/namespaces/hold-ns", {"metadata": {"finalizers": None}}, MERGE))
    assert server.request("GET", "/api/v1/namespaces/hold-ns")[0] == 404


def _as_user(server: KubeliteServer, cert: tuple[Path, Path], method: str, path: str, body: Any,
             content_type: str = MERGE) -> tuple[int, Any]:
    ctx = ssl.create_default_context(cafile=str(server.ca_cert))
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    req = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_mirror_pods_belong_to_their_node(server: KubeliteServer, kubectl: Kubectl, tmp_path: Path) -> None:
    mirror = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "static-web-n1", "annotations": {"kubernetes.io/config.mirror": "abc",
                                                 "kubernetes.io/config.source": "file"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "nginx:1"}]}}
    ok(server.request("POST", f"{NS}/pods", mirror), 201)

    r = kubectl("set", "image", "pod/static-web-n1", "web=nginx:2")
    assert r.rc != 0 and "forbidden" in r.stderr.lower(), r.out
    r = kubectl("annotate", "pod", "static-web-n1", "--overwrite", "kubernetes.io/config.mirror=other")
    assert r.rc != 0 and "may not remove or update mirror pod annotation" in r.stderr, r.out
    r = kubectl("annotate", "pod", "static-web-n1", "kubernetes.io/config.mirror-")
    assert r.rc != 0 and "may not remove or update mirror pod annotation" in r.stderr, r.out
    assert kubectl("label", "pod", "static-web-n1", "tier=web").rc == 0  # metadata stays editable

    node_cert = issue_client_certificate(server.data_dir, "system:node:n1", ["system:nodes"], tmp_path)
    status, body = _as_user(server, node_cert, "PATCH", f"{NS}/pods/static-web-n1",
                            {"spec": {"containers": [{"name": "web", "image": "nginx:3"}]}},
                            "application/strategic-merge-patch+json")
    assert status == 200 and body["spec"]["containers"][0]["image"] == "nginx:3", body
    other_cert = issue_client_certificate(server.data_dir, "system:node:n2", ["system:nodes"], tmp_path)
    status, body = _as_user(server, other_cert, "PATCH", f"{NS}/pods/static-web-n1",
                            {"spec": {"containers": [{"name": "web", "image": "nginx:4"}]}},
                            "application/strategic-merge-patch+json")
    assert status == 403 and body["reason"] == "Forbidden", body

    ok(server.request("POST", f"{NS}/pods", {"metadata": {"name": "plain"}, "spec": {
        "containers": [{"name": "c", "image": "busybox"}]}}), 201)
    status, body = server.request("PATCH", f"{NS}/pods/plain", {"metadata": {"annotations": {
        "kubernetes.io/config.mirror": "x"}}}, MERGE)
    assert status == 422 and "may not add mirror pod annotation" in body["message"], body


def test_websocket_close_codes_sent_are_valid_on_the_wire() -> None:
    assert wire_close_code(None) == 1000
    assert wire_close_code(1005) == 1000 and wire_close_code(1006) == 1000
    assert wire_close_code(1000) == 1000 and wire_close_code(1011) == 1011 and wire_close_code(4000) == 4000
    assert wire_close_code(1015) == 1011 and wire_close_code(2000) == 1011
